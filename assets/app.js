// Triage page enhancements. Every page works without this file; it adds live validation,
// submission without reload, drag and drop, screenshots, live updates and shortcuts.
document.documentElement.classList.add("js");

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

// The same rules as the API (tickets::validate, users::check_*).
const RULES = {
  name: (v) => (v.trim().length >= 1 && v.trim().length <= 100 ? "" : "must be 1 to 100 characters"),
  email: (v) => (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v.trim()) ? "" : "must be a valid email address"),
  subject: (v) => (v.trim().length >= 3 && v.trim().length <= 200 ? "" : "must be 3 to 200 characters"),
  message: (v) => (v.trim().length >= 10 && v.trim().length <= 5000 ? "" : "must be 10 to 5000 characters"),
};

function showError(form, field, text) {
  const p = $(`.err[data-for="${field}"]`, form);
  if (p) p.textContent = text || "";
  const wrap = p ? p.closest(".field") : null;
  if (wrap) wrap.classList.toggle("invalid", Boolean(text));
  const input = form.elements[field];
  if (input && input.setAttribute) input.setAttribute("aria-invalid", text ? "true" : "false");
}

function validate(form, only) {
  let ok = true;
  for (const [field, rule] of Object.entries(RULES)) {
    if (only && only !== field) continue;
    const input = form.elements[field];
    if (!input) continue;
    const msg = rule(input.value);
    showError(form, field, msg);
    if (msg) ok = false;
  }
  if (!only || only === "category") {
    const picked = $$('input[name="category"]', form).some((r) => r.checked);
    showError(form, "category", picked ? "" : "please choose a category");
    ok = ok && picked;
  }
  return ok;
}

function supportForm() {
  const form = $("#support-form");
  if (!form) return;
  const files = new DataTransfer();
  const input = $("#attachments");
  const list = $("#file-list");
  $("#page_url").value ||= document.referrer || location.href;
  $("#browser_info").value = `${navigator.userAgent} | ${screen.width}x${screen.height} | ${navigator.language}`;
  const render = () => {
    list.replaceChildren(...Array.from(files.files).map((f, i) => {
      const li = document.createElement("li");
      li.textContent = `${f.name} (${Math.ceil(f.size / 1024)} KB) `;
      const rm = document.createElement("button");
      rm.type = "button"; rm.className = "link"; rm.textContent = "remove";
      rm.setAttribute("aria-label", `remove ${f.name}`);
      rm.addEventListener("click", () => { files.items.remove(i); input.files = files.files; render(); });
      li.append(rm);
      return li;
    }));
    input.files = files.files;
  };
  const add = (list) => { for (const f of list) files.items.add(f); render(); };
  input.addEventListener("change", () => { const picked = Array.from(input.files); files.items.clear(); add(picked); });
  const drop = $(".drop", form);
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); add(e.dataTransfer.files); });
  // Help articles matching what the user types, so some tickets never need filing.
  const box = $("#suggestions");
  let timer = 0, last = "";
  const suggest = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = `${$("#subject").value} ${$("#message").value}`.trim().slice(0, 500);
      if (q === last) return;
      last = q;
      if (q.length < 4) { box.hidden = true; return; }
      try {
        const res = await fetch(`/api/v1/articles?limit=5&q=${encodeURIComponent(q)}`);
        const found = res.ok ? await res.json() : [];
        if (q !== last) return;
        $("ul", box).replaceChildren(...found.map((a) => {
          const li = document.createElement("li");
          const link = document.createElement("a");
          link.href = `/help/${a.slug}`; link.target = "_blank"; link.rel = "noopener";
          link.textContent = a.title;
          const p = document.createElement("span");
          p.className = "hint"; p.textContent = ` ${a.excerpt}`;
          li.append(link, p);
          return li;
        }));
        box.hidden = found.length === 0;
      } catch { box.hidden = true; }
    }, 300);
  };
  $("#subject").addEventListener("input", suggest);
  $("#message").addEventListener("input", suggest);
  const shot = $("#screenshot");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) shot.hidden = true;
  shot.addEventListener("click", async () => {
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: true });
      const video = document.createElement("video");
      video.srcObject = stream; await video.play();
      const canvas = document.createElement("canvas");
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      stream.getTracks().forEach((t) => t.stop());
      const blob = await new Promise((r) => canvas.toBlob(r, "image/png"));
      add([new File([blob], "screenshot.png", { type: "image/png" })]);
    } catch (err) {
      $("#form-error").textContent = "The screenshot was cancelled or is not allowed in this browser.";
    }
  });
  const count = $('[data-count-for="message"]');
  form.elements.message.addEventListener("input", () => {
    count.textContent = `${form.elements.message.value.trim().length} / 5000 characters`;
  });
  for (const f of Object.keys(RULES)) {
    const el = form.elements[f];
    el.addEventListener("blur", () => validate(form, f));
    el.addEventListener("input", () => { if (el.getAttribute("aria-invalid") === "true") validate(form, f); });
  }
  // Picking a category clears its "please choose" message at once.
  for (const r of $$('input[name="category"]', form)) r.addEventListener("change", () => validate(form, "category"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    $("#form-error").textContent = "";
    if (!validate(form)) { const bad = $('[aria-invalid="true"]', form); if (bad) bad.focus(); return; }
    const btn = $("#submit");
    btn.setAttribute("aria-busy", "true"); btn.disabled = true; btn.textContent = "Sending…";
    const data = new FormData(form);
    data.delete("_csrf");
    try {
      const res = await fetch("/api/v1/tickets/submit", { method: "POST", body: data });
      const body = await res.json().catch(() => ({}));
      if (res.status === 201) {
        const box = $("#confirmation");
        const link = new URL(body.tracking_url).pathname + new URL(body.tracking_url).search;
        box.innerHTML = "";
        const h = document.createElement("h2"); h.textContent = "Thank you, we got it";
        const p = document.createElement("p"); p.append("Your ticket number is ");
        const strong = document.createElement("strong"); strong.className = "mono"; strong.id = "ticket-number"; strong.textContent = body.ticket_id;
        p.append(strong, ". We will reply by e-mail.");
        const a = document.createElement("a"); a.href = link; a.className = "button primary"; a.id = "tracking-link"; a.textContent = "Follow your ticket";
        box.append(h, p, a); box.hidden = false; form.hidden = true; box.focus();
        return;
      }
      if (body.errors) for (const [k, v] of Object.entries(body.errors)) showError(form, k, v[0]);
      $("#form-error").textContent = res.status === 429
        ? "Too many requests from your network; please wait a minute and try again."
        : body.message || "Something went wrong; please try again.";
    } catch (err) {
      $("#form-error").textContent = "We could not reach the server. Check your connection and try again.";
    } finally {
      btn.removeAttribute("aria-busy"); btn.disabled = false; btn.textContent = "Send request";
    }
  });
}

// Live updates: the server says when the ticket changed; the thread is re-fetched and swapped.
function live() {
  const host = $("[data-live]");
  if (!host || !host.dataset.live || !window.EventSource) return;
  const es = new EventSource(host.dataset.live);
  es.addEventListener("changed", async () => {
    const res = await fetch(location.href, { headers: { "X-Partial": "thread" } });
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = $("#thread", doc);
    const old = $("#thread");
    if (fresh && old) old.replaceWith(fresh);
    const status = $(".status-line", doc);
    if (status && $(".status-line")) $(".status-line").replaceWith(status);
  });
}

// Agent console: select all, shortcuts, Markdown preview.
function agent() {
  const all = $("#select-all");
  if (all) all.addEventListener("change", () => $$('input[name="ids"]').forEach((c) => { c.checked = all.checked; }));
  const rows = $$("tr[data-href]");
  let at = -1;
  const move = (d) => {
    if (!rows.length) return;
    if (at >= 0) rows[at].classList.remove("current");
    at = Math.max(0, Math.min(rows.length - 1, at + d));
    rows[at].classList.add("current");
    rows[at].scrollIntoView({ block: "nearest" });
  };
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key;
    if (key === "j") move(1);
    else if (key === "k") move(-1);
    else if (key === "Enter" && at >= 0) location.href = rows[at].dataset.href;
    else if (key === "r" && $("#reply-body")) { e.preventDefault(); $("#internal").checked = false; $("#reply-body").focus(); }
    else if (key === "n" && $("#reply-body")) { e.preventDefault(); $("#internal").checked = true; $("#reply-body").focus(); }
    else if (key === "/" && $("#q")) { e.preventDefault(); $("#q").focus(); }
    else if (key === "?") { const help = $("#shortcuts"); if (help) help.open = !help.open; }
  });
  // Reply templates: fetch the filled-in text and insert it at the cursor, keeping the draft.
  const picker = $("#template-picker");
  if (picker) picker.addEventListener("submit", async (e) => {
    const id = $("#template").value;
    if (!id || $("#tq").value !== (new URLSearchParams(location.search).get("tq") || "")) return;
    e.preventDefault();
    const res = await fetch(`/agent/tickets/${picker.dataset.number}/template/${id}`);
    if (!res.ok) { picker.submit(); return; }
    const text = await res.text();
    const box = $("#reply-body");
    const at = box.selectionStart ?? box.value.length;
    box.value = box.value.slice(0, at) + text + box.value.slice(box.selectionEnd ?? at);
    box.focus();
    box.setSelectionRange(at + text.length, at + text.length);
  });
  // SLA timers: wall-clock time left (or overdue) next to each running due time.
  const timers = $$("time.due");
  const tick = () => timers.forEach((t) => {
    const out = t.parentElement.querySelector(".countdown");
    if (!out || !["running", "warning", "breached"].includes(t.dataset.state)) return;
    const ms = Date.parse(t.getAttribute("datetime")) - Date.now();
    if (Number.isNaN(ms)) return;
    const mins = Math.round(Math.abs(ms) / 60000);
    const span = mins >= 120 ? `${Math.round(mins / 60)} h` : `${mins} min`;
    out.textContent = ms >= 0 ? `(in ${span})` : `(${span} overdue)`;
  });
  if (timers.length) { tick(); setInterval(tick, 30000); }
  const btn = $("#preview-btn");
  if (btn) btn.addEventListener("click", async () => {
    const data = new URLSearchParams({ body: $("#reply-body").value, _csrf: $('input[name="_csrf"]').value });
    const res = await fetch("/agent/preview", { method: "POST", body: data });
    $("#preview").innerHTML = res.ok ? await res.text() : "Preview failed.";
    $("#preview").hidden = false;
  });
}

supportForm();
live();
agent();
