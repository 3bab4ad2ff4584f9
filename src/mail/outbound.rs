//! Sending: a rendered e-mail (stored in its job, so a retry sends the same bytes with the same
//! Message-ID) becomes a multipart/alternative message with threading headers, and goes out over
//! SMTP. Permanent SMTP errors kill the job; transient ones retry.

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::jobs::queue::Outcome;

/// Everything needed to send one e-mail to one recipient.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutgoingEmail {
    /// Template it was rendered from (shown in the delivery log).
    pub template: String,
    /// Recipient address.
    pub to: String,
    /// Recipient name.
    pub to_name: String,
    /// Subject, tag included.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// Message-ID without brackets.
    pub message_id: String,
    /// Message this one answers.
    pub in_reply_to: Option<String>,
    /// Thread, oldest first.
    pub references: Vec<String>,
    /// Reply-to (the ticket's plus-address).
    pub reply_to: Option<String>,
    /// RFC 3834 `Auto-Submitted` value for automatic mail (acknowledgements, notices).
    pub auto_submitted: Option<String>,
}

impl OutgoingEmail {
    /// An automatic message outside any ticket thread (summary, password reset).
    pub fn notice(
        template: &str,
        to: &str,
        to_name: &str,
        rendered: super::templates::Rendered,
        message_id: String,
    ) -> OutgoingEmail {
        OutgoingEmail {
            template: template.to_string(),
            to: to.to_string(),
            to_name: to_name.to_string(),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            message_id,
            in_reply_to: None,
            references: Vec::new(),
            reply_to: None,
            auto_submitted: Some("auto-generated".into()),
        }
    }

    /// The delivery job for this e-mail: keyed by its Message-ID, so a bounce finds it and a
    /// second enqueue is a no-op.
    pub fn into_job(
        self,
        ticket_id: Option<i64>,
        max_attempts: i32,
        now: i64,
    ) -> crate::jobs::NewJob {
        crate::jobs::NewJob {
            kind: format!("email.{}", self.template),
            channel: crate::jobs::Channel::Email,
            target: Some(self.to.clone()),
            ticket_id,
            key: self.message_id.clone(),
            payload: serde_json::to_value(&self).unwrap_or_default(),
            run_at: now,
            max_attempts,
        }
    }
}

/// The TLS mode the URL asks for, trusting the extra CA file as well as the public roots.
fn private_ca_tls(url: &str, ca_file: &str) -> anyhow::Result<Tls> {
    let parsed = reqwest::Url::parse(url)?;
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("TRIAGE_SMTP_URL needs a host"))?
        .to_string();
    let pem = std::fs::read(ca_file)
        .map_err(|e| anyhow::anyhow!("cannot read TRIAGE_TLS_CA_FILE {ca_file}: {e}"))?;
    let params = TlsParameters::builder(host)
        .add_root_certificate(Certificate::from_pem(&pem)?)
        .build_rustls()?;
    let mode = parsed
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.to_string());
    Ok(match (parsed.scheme(), mode.as_deref()) {
        ("smtps", _) => Tls::Wrapper(params),
        (_, Some("required")) => Tls::Required(params),
        (_, Some("opportunistic")) => Tls::Opportunistic(params),
        _ => Tls::None,
    })
}

macro_rules! text_header {
    ($ty:ident, $name:literal) => {
        #[derive(Clone)]
        struct $ty(String);
        impl Header for $ty {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }
            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok($ty(s.to_string()))
            }
            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

text_header!(AutoSubmitted, "Auto-Submitted");
text_header!(TriageLoop, "X-Triage-Loop");
text_header!(AutoResponseSuppress, "X-Auto-Response-Suppress");

/// The SMTP side: a pooled transport and the sender, or nothing when e-mail is off.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Option<Mailbox>,
    loop_tag: String,
}

impl Mailer {
    /// Builds the transport from `smtp_url`; e-mail is off when it is empty.
    pub fn from_config(config: &Config) -> anyhow::Result<Mailer> {
        let domain = super::ids::domain(
            &config.mail_from,
            &config.support_address,
            &config.public_base_url(),
        );
        if config.smtp_url.trim().is_empty() {
            return Ok(Mailer {
                transport: None,
                from: None,
                loop_tag: domain,
            });
        }
        let sender = if config.mail_from.trim().is_empty() {
            config.support_address.trim()
        } else {
            config.mail_from.trim()
        };
        let from: Mailbox = sender.parse().map_err(|e| {
            anyhow::anyhow!("TRIAGE_MAIL_FROM ({sender:?}) is not a valid address: {e}")
        })?;
        let timeout = std::time::Duration::from_secs(config.delivery_timeout_secs.max(1));
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp_url)
            .map_err(|e| anyhow::anyhow!("TRIAGE_SMTP_URL is not usable: {e}"))?
            .timeout(Some(timeout));
        if !config.tls_ca_file.trim().is_empty() {
            builder = builder.tls(private_ca_tls(&config.smtp_url, &config.tls_ca_file)?);
        }
        let transport = builder.build();
        Ok(Mailer {
            transport: Some(transport),
            from: Some(from),
            loop_tag: domain,
        })
    }

    /// Whether e-mail is configured.
    pub fn enabled(&self) -> bool {
        self.transport.is_some()
    }

    /// Builds the MIME message (exposed for tests and the fuzz target).
    pub fn build(&self, e: &OutgoingEmail) -> Result<Message, String> {
        let from = self.from.clone().ok_or("e-mail is off")?;
        let to = Mailbox::new(
            (!e.to_name.trim().is_empty()).then(|| e.to_name.clone()),
            e.to.parse()
                .map_err(|err| format!("bad recipient {:?}: {err}", e.to))?,
        );
        let mut b = Message::builder()
            .from(from)
            .to(to)
            .subject(e.subject.clone())
            .message_id(Some(format!("<{}>", e.message_id)))
            .header(TriageLoop(self.loop_tag.clone()))
            .header(AutoResponseSuppress("All".into()));
        if let Some(r) = &e.reply_to
            && let Ok(addr) = r.parse()
        {
            b = b.reply_to(Mailbox::new(None, addr));
        }
        if let Some(irt) = &e.in_reply_to {
            b = b.in_reply_to(format!("<{irt}>"));
        }
        if !e.references.is_empty() {
            let refs: Vec<String> = e.references.iter().map(|r| format!("<{r}>")).collect();
            b = b.references(refs.join(" "));
        }
        if let Some(a) = &e.auto_submitted {
            b = b.header(AutoSubmitted(a.clone()));
        }
        b.multipart(MultiPart::alternative_plain_html(
            e.text.clone(),
            e.html.clone(),
        ))
        .map_err(|err| format!("cannot build the message: {err}"))
    }

    /// Sends one e-mail and says how the job ends.
    pub async fn send(&self, e: &OutgoingEmail) -> Outcome {
        let Some(transport) = &self.transport else {
            return Outcome::Skipped("e-mail is off (TRIAGE_SMTP_URL is not set)".into());
        };
        let msg = match self.build(e) {
            Ok(m) => m,
            Err(why) => return Outcome::Fail(why),
        };
        match transport.send(msg).await {
            Ok(resp) => Outcome::Done(format!(
                "{} {}",
                resp.code(),
                resp.message().collect::<Vec<_>>().join(" ")
            )),
            Err(err) if err.is_permanent() => Outcome::Fail(format!("SMTP refused: {err}")),
            Err(err) => Outcome::Retry {
                error: format!("SMTP: {err}"),
                after_secs: None,
            },
        }
    }
}
