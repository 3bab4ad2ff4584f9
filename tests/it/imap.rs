//! The IMAP poller against a real Dovecot (Debian's dovecot-imapd, started by the test in a
//! temporary directory): new mail becomes tickets, replies thread, automatic mail is dropped,
//! processed mail moves to a folder, an unreadable message is flagged and set aside.

use crate::harness::*;
use crate::on_both;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use triage::tickets::model::Role;

/// A Dovecot instance with one mailbox, `support@acme.test` / `secret`.
pub struct Dovecot {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const NOBODY: u32 = 65534;

impl Dovecot {
    pub async fn start() -> Dovecot {
        Self::start_with(None).await
    }

    /// With a certificate, the server listens for IMAPS (implicit TLS) instead of plain IMAP.
    pub async fn start_with(pki: Option<&crate::sinks::TestPki>) -> Dovecot {
        let bin = ["/usr/sbin/dovecot", "/usr/bin/dovecot"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("Dovecot is not installed: .ci/run installs Debian's dovecot-imapd");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path().display();
        let (ssl, imap_port, imaps_port) = match pki {
            Some(p) => (
                format!(
                    "ssl = required\nssl_cert = <{}\nssl_key = <{}\n",
                    p.cert_file.display(),
                    p.key_file.display()
                ),
                0,
                port,
            ),
            None => ("ssl = no\n".to_string(), port, 0),
        };
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\nprotocols = imap\nlisten = 127.0.0.1\n{ssl}\
             disable_plaintext_auth = no\nauth_mechanisms = plain login\nmail_location = maildir:{d}/home/%u/Maildir\n\
             passdb {{\n driver = passwd-file\n args = scheme=PLAIN username_format=%u {d}/passwd\n}}\n\
             userdb {{\n driver = static\n args = uid={NOBODY} gid={NOBODY} home={d}/home/%u\n}}\n\
             service imap-login {{\n inet_listener imap {{\n address = 127.0.0.1\n port = {imap_port}\n }}\n inet_listener imaps {{\n address = 127.0.0.1\n port = {imaps_port}\n }}\n chroot =\n}}\n\
             service anvil {{\n chroot =\n}}\n"
        );
        std::fs::write(dir.path().join("dovecot.conf"), conf).unwrap();
        std::fs::write(
            dir.path().join("passwd"),
            "support@acme.test:{PLAIN}secret\n",
        )
        .unwrap();
        let md = Self::maildir_of(dir.path());
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(md.join(sub)).unwrap();
        }
        let home = dir.path().join("home");
        Command::new("chown")
            .arg("-R")
            .arg(format!("{NOBODY}:{NOBODY}"))
            .arg(&home)
            .status()
            .unwrap();
        let child = Command::new(bin)
            .arg("-F")
            .arg("-c")
            .arg(dir.path().join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dovecot");
        // Owned at once, so Drop stops it whatever happens next.
        let server = Dovecot { port, dir, child };
        for _ in 0..400 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "dovecot did not start: {}",
            std::fs::read_to_string(server.dir.path().join("dovecot.log")).unwrap_or_default()
        );
    }

    fn maildir_of(root: &Path) -> PathBuf {
        root.join("home").join("support@acme.test").join("Maildir")
    }

    pub fn url(&self) -> String {
        format!(
            "imap://support%40acme.test:secret@127.0.0.1:{}/INBOX",
            self.port
        )
    }

    /// Drops a message into the inbox the way an MTA delivers to a Maildir.
    pub fn deliver(&self, name: &str, raw: &str) {
        let md = Self::maildir_of(self.dir.path());
        let tmp = md.join("tmp").join(name);
        std::fs::write(&tmp, raw.replace('\n', "\r\n")).unwrap();
        std::os::unix::fs::chown(&tmp, Some(NOBODY), Some(NOBODY)).unwrap();
        std::fs::rename(&tmp, md.join("new").join(name)).unwrap();
    }

    /// File names in a folder's new+cur (INBOX when `folder` is empty).
    pub fn files(&self, folder: &str) -> Vec<String> {
        let mut md = Self::maildir_of(self.dir.path());
        if !folder.is_empty() {
            md = md.join(format!(".{folder}"));
        }
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(md.join(sub)) {
                out.extend(rd.map(|e| e.unwrap().file_name().to_string_lossy().to_string()));
            }
        }
        out
    }
}

fn mail(id: &str, from: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From: {from}\nTo: support@acme.test\nSubject: {subject}\nMessage-ID: <{id}>\nDate: Sat, 21 Nov 2026 10:00:00 +0000\n{extra}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    )
}

on_both!(poller_drains_a_real_mailbox, |backend| async move {
    let dove = Dovecot::start().await;
    dove.deliver(
        "1.m",
        &mail(
            "first@example.com",
            "Ada <ada@example.com>",
            "Printer offline",
            "",
            "The office printer shows offline since Monday.",
        ),
    );
    dove.deliver(
        "2.m",
        &mail(
            "vac@example.com",
            "Bob <bob@example.com>",
            "Out of office",
            "Auto-Submitted: auto-replied\n",
            "I am away.",
        ),
    );
    dove.deliver("3.m", "this is not a mail message at all\n");
    let url = dove.url();
    let app = TestApp::spawn_with(backend, move |c| {
        c.imap_url = url;
        c.imap_processed_folder = "Processed".into();
        c.imap_poll_secs = 3600;
    })
    .await;
    let (_, admin) = app.user(Role::Admin, "Boss").await;
    // The background poller runs once at start; wait for all of its work (ticket, moves and
    // the flag on the unreadable message, which may land last) before looking.
    let mut list = Value::Null;
    for _ in 0..1000 {
        list = app.get("/api/v1/tickets", &admin).await.ok(200).clone();
        let flagged = dove
            .files("")
            .iter()
            .any(|f| f.contains(":2,") && f.contains('F'));
        if !list["data"].as_array().unwrap().is_empty()
            && dove.files("Processed").len() == 2
            && flagged
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tickets = list["data"].as_array().unwrap().clone();
    assert_eq!(tickets.len(), 1, "one ticket; the auto-reply made none");
    assert_eq!(tickets[0]["subject"], "Printer offline");
    assert_eq!(tickets[0]["requester"]["email"], "ada@example.com");
    assert_eq!(
        dove.files("Processed").len(),
        2,
        "taken-in mail moved out of the inbox"
    );
    let inbox = dove.files("");
    assert_eq!(inbox.len(), 1, "the unreadable message stays: {inbox:?}");
    assert!(
        inbox[0].contains(":2,") && inbox[0].contains('F'),
        "and is flagged: {inbox:?}"
    );

    // Next poll: a reply threads, a redelivered copy is recognised, the flagged one is skipped.
    dove.deliver(
        "4.m",
        &mail(
            "reply@example.com",
            "Ada <ada@example.com>",
            "Re: Printer offline",
            "In-Reply-To: <first@example.com>\n",
            "Now it prints blank pages.",
        ),
    );
    dove.deliver(
        "5.m",
        &mail(
            "first@example.com",
            "Ada <ada@example.com>",
            "Printer offline",
            "",
            "The office printer shows offline since Monday.",
        ),
    );
    let settings = triage::mail::imap::Settings::from_url(&dove.url()).unwrap();
    let report = triage::mail::imap::poll_once(&app.ctx, &settings)
        .await
        .expect("poll");
    assert_eq!(
        (report.processed, report.rejected, report.deferred),
        (2, 0, 0)
    );
    let n = tickets[0]["number"].as_str().unwrap();
    let thread = app
        .get(&format!("/api/v1/tickets/{n}/comments"), &admin)
        .await;
    let msgs = thread.ok(200).as_array().unwrap().clone();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["body"], "Now it prints blank pages.");
    assert_eq!(
        app.get("/api/v1/tickets", &admin).await.ok(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let log = app.get("/api/v1/mail/inbound", &admin).await;
    let outcomes: Vec<String> = log
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_string())
        .collect();
    assert!(
        outcomes.contains(&"ignored".to_string()) && outcomes.contains(&"threaded".to_string()),
        "{outcomes:?}"
    );
});

on_both!(imaps_with_a_private_ca, |backend| async move {
    let certs = tempfile::tempdir().unwrap();
    let pki = crate::sinks::TestPki::create(certs.path());
    let dove = Dovecot::start_with(Some(&pki)).await;
    dove.deliver(
        "1.m",
        &mail(
            "tls-1@example.com",
            "Ada <ada@example.com>",
            "Over IMAPS",
            "",
            "Fetched over TLS.",
        ),
    );
    let ca = pki.ca_file.display().to_string();
    let app = TestApp::spawn_with(backend, move |c| c.tls_ca_file = ca).await;
    let url = format!(
        "imaps://support%40acme.test:secret@localhost:{}/INBOX",
        dove.port
    );
    let settings = triage::mail::imap::Settings::from_url(&url).unwrap();
    let report = triage::mail::imap::poll_once(&app.ctx, &settings)
        .await
        .expect("poll over TLS");
    assert_eq!(report.processed, 1);
    // Without the CA the server's certificate is refused: nothing is read.
    let strict = TestApp::spawn(backend).await;
    dove.deliver(
        "2.m",
        &mail(
            "tls-2@example.com",
            "Ada <ada@example.com>",
            "Second",
            "",
            "Not fetched without trust.",
        ),
    );
    let err = triage::mail::imap::poll_once(&strict.ctx, &settings)
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    assert_eq!(
        dove.files("")
            .iter()
            .filter(|f| !f.contains(":2,S"))
            .count(),
        1,
        "the second message is still unread"
    );
});
