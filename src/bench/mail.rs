//! The `mail` scenario: inbound e-mail through the same intake `triage mailgate` and the IMAP
//! poller use (parse, classify, de-duplicate, thread or create, insert), from K concurrent
//! tasks in the bench process against the server's database. A realistic mix: new requests
//! (some multipart with HTML), customers replying to their own threads (In-Reply-To and
//! References, quoted history), and auto-replies. Each outcome is checked, so a misfiled
//! message counts as an error, not as throughput.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use rand::rngs::SmallRng;

use super::load::Workload;
use crate::context::Ctx;
use crate::demo::text::{CUSTOMER_REPLIES, DETAILS, FIRST, LAST, SAMPLES};
use crate::mail::inbound::{Intake, receive};

/// Threads remembered for replies (older ones are replaced at random).
const MAX_THREADS: usize = 20_000;

/// A message the bench sent that opened a ticket: replies refer to it.
struct Thread {
    message_id: String,
    customer: usize,
    subject: String,
}

/// Inbound mail load on the server's database.
pub struct MailLoad {
    ctx: Ctx,
    run: String,
    sent: AtomicU64,
    threads: Mutex<Vec<Thread>>,
}

/// What a generated message should become.
#[derive(Debug, PartialEq)]
enum Expect {
    Created,
    Threaded,
    Ignored,
}

impl MailLoad {
    /// A mail load writing through `ctx` (its own connections, as a mailgate process has).
    pub fn new(ctx: Ctx) -> MailLoad {
        MailLoad {
            ctx,
            run: format!("{:x}", chrono::Utc::now().timestamp_micros()),
            sent: AtomicU64::new(0),
            threads: Mutex::new(Vec::new()),
        }
    }

    fn next_message(&self, rng: &mut SmallRng) -> (String, Expect, Option<Thread>) {
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        let message_id = format!("bench-{}-{n}@mail.bench.example", self.run);
        let roll = rng.random_range(0..100);
        if roll < 10 {
            let customer = rng.random_range(0..5_000);
            return (auto_reply(&message_id, customer), Expect::Ignored, None);
        }
        if roll < 45 {
            let parent = self.threads.lock().ok().and_then(|t| {
                (!t.is_empty()).then(|| {
                    let p = &t[rng.random_range(0..t.len())];
                    (p.message_id.clone(), p.customer, p.subject.clone())
                })
            });
            if let Some((parent, customer, subject)) = parent {
                let text = CUSTOMER_REPLIES[rng.random_range(0..CUSTOMER_REPLIES.len())];
                return (
                    reply(&message_id, customer, &parent, &subject, text),
                    Expect::Threaded,
                    None,
                );
            }
        }
        let customer = rng.random_range(0..5_000);
        let (_, subject, description) = SAMPLES[rng.random_range(0..SAMPLES.len())];
        let detail = DETAILS[rng.random_range(0..DETAILS.len())];
        let body = format!(
            "Hello,\n\n{description} {detail}\n\nThanks,\n{}",
            name(customer)
        );
        let raw = if n.is_multiple_of(10) {
            new_html(&message_id, customer, subject, &body)
        } else {
            new_plain(&message_id, customer, subject, &body)
        };
        let thread = Thread {
            message_id,
            customer,
            subject: subject.to_string(),
        };
        (raw, Expect::Created, Some(thread))
    }

    fn remember(&self, t: Thread, rng: &mut SmallRng) {
        if let Ok(mut threads) = self.threads.lock() {
            if threads.len() < MAX_THREADS {
                threads.push(t);
            } else {
                let i = rng.random_range(0..threads.len());
                threads[i] = t;
            }
        }
    }
}

impl Workload for MailLoad {
    type Client = ();

    async fn one(&self, _: &mut (), _scenario: &str, rng: &mut SmallRng) -> Result<(), String> {
        let (raw, expect, thread) = self.next_message(rng);
        let out = receive(&self.ctx, raw.as_bytes())
            .await
            .map_err(|e| format!("mail: {e}"))?;
        let got = match out {
            Intake::Created { .. } => Expect::Created,
            Intake::Threaded { .. } => Expect::Threaded,
            Intake::Ignored { .. } => Expect::Ignored,
            other => return Err(format!("mail: expected {expect:?}, got {other:?}")),
        };
        if got != expect {
            return Err(format!("mail: expected {expect:?}, got {out:?}"));
        }
        if let Some(t) = thread {
            self.remember(t, rng);
        }
        Ok(())
    }
}

fn name(customer: usize) -> String {
    format!(
        "{} {}",
        FIRST[customer % FIRST.len()],
        LAST[(customer / FIRST.len()) % LAST.len()]
    )
}

fn address(customer: usize) -> String {
    format!("mail-customer{customer}@bench.example")
}

fn headers(message_id: &str, customer: usize, subject: &str) -> String {
    format!(
        "From: \"{}\" <{}>\r\nTo: Support <support@bench.triage.dev>\r\nSubject: {subject}\r\n\
         Message-ID: <{message_id}>\r\nDate: {}\r\nMIME-Version: 1.0\r\n",
        name(customer),
        address(customer),
        chrono::Utc::now().to_rfc2822(),
    )
}

fn new_plain(message_id: &str, customer: usize, subject: &str, body: &str) -> String {
    format!(
        "{}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
        headers(message_id, customer, subject),
        body.replace('\n', "\r\n")
    )
}

fn new_html(message_id: &str, customer: usize, subject: &str, body: &str) -> String {
    let html: String = body
        .split("\n\n")
        .map(|p| format!("<p>{}</p>", p.replace('\n', "<br>")))
        .collect();
    format!(
        "{}Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n--b1\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>{html}</body></html>\r\n--b1--\r\n",
        headers(message_id, customer, subject),
        body.replace('\n', "\r\n")
    )
}

fn reply(message_id: &str, customer: usize, parent: &str, subject: &str, text: &str) -> String {
    format!(
        "{}In-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\r\n\
         On Mon, 30 Nov 2026 at 10:00, Support <support@bench.triage.dev> wrote:\r\n\
         > Thanks for reaching out. We are looking into this now.\r\n> \r\n> Support\r\n",
        headers(message_id, customer, &format!("Re: {subject}")),
    )
}

fn auto_reply(message_id: &str, customer: usize) -> String {
    format!(
        "{}Auto-Submitted: auto-replied\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         I am out of the office until Monday and will answer your message when I return.\r\n",
        headers(message_id, customer, "Out of office"),
    )
}
