//! The IMAP poller: every `imap_poll_secs` it logs in, takes unseen mail from the folder,
//! feeds each message to intake, then moves it to `imap_processed_folder` or marks it `\Seen`.
//! A message intake refuses (unparseable) is flagged and set aside so it cannot stall the
//! mailbox; a temporary failure (database down) leaves it unseen for the next poll.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::inbound;
use crate::context::Ctx;
use crate::error::Error;

/// Where and how to poll.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// `imaps` (TLS) or plain `imap` (local servers only).
    pub tls: bool,
    /// Login name.
    pub user: String,
    /// Password (never logged).
    password: String,
    /// Folder to read.
    pub folder: String,
}

impl Settings {
    /// Parses `imaps://user:pass@host:993/INBOX` (user and password percent-encoded).
    pub fn from_url(raw: &str) -> anyhow::Result<Settings> {
        let url = reqwest::Url::parse(raw.trim())
            .map_err(|e| anyhow::anyhow!("TRIAGE_IMAP_URL is not a URL: {e}"))?;
        let tls = match url.scheme() {
            "imaps" => true,
            "imap" => false,
            other => anyhow::bail!("TRIAGE_IMAP_URL scheme must be imaps or imap, not {other}"),
        };
        let decode = |s: &str| {
            percent_decode(s)
                .ok_or_else(|| anyhow::anyhow!("TRIAGE_IMAP_URL has bad percent-encoding"))
        };
        let folder = url.path().trim_matches('/');
        Ok(Settings {
            host: url
                .host_str()
                .ok_or_else(|| anyhow::anyhow!("TRIAGE_IMAP_URL needs a host"))?
                .to_string(),
            port: url.port().unwrap_or(if tls { 993 } else { 143 }),
            tls,
            user: decode(url.username())?,
            password: decode(url.password().unwrap_or(""))?,
            folder: if folder.is_empty() {
                "INBOX".into()
            } else {
                decode(folder)?
            },
        })
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What one poll did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollReport {
    /// Messages taken in (any outcome but a temporary failure).
    pub processed: usize,
    /// Messages refused as unreadable and set aside.
    pub rejected: usize,
    /// Messages left for the next poll after a temporary failure.
    pub deferred: usize,
}

/// Polls until `stop` is cancelled; errors are logged and the next poll tries again.
pub async fn run(ctx: Ctx, settings: Settings, stop: CancellationToken) {
    let every = Duration::from_secs(ctx.config.imap_poll_secs.max(5));
    loop {
        match poll_once(&ctx, &settings).await {
            Ok(r) if r != PollReport::default() => {
                tracing::info!(?r, folder = %settings.folder, "IMAP poll")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, host = %settings.host, "IMAP poll failed"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Connects, drains the folder once and logs out.
pub async fn poll_once(ctx: &Ctx, s: &Settings) -> anyhow::Result<PollReport> {
    let tcp = tokio::time::timeout(
        Duration::from_secs(20),
        TcpStream::connect((s.host.as_str(), s.port)),
    )
    .await
    .map_err(|_| anyhow::anyhow!("connecting to {}:{} timed out", s.host, s.port))??;
    if s.tls {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let ca_file = ctx.config.tls_ca_file.trim();
        if !ca_file.is_empty() {
            use rustls::pki_types::pem::PemObject;
            for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca_file)? {
                roots.add(cert?)?;
            }
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(s.host.clone())?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await?;
        drain(ctx, s, stream).await
    } else {
        drain(ctx, s, tcp).await
    }
}

async fn drain<S>(ctx: &Ctx, s: &Settings, stream: S) -> anyhow::Result<PollReport>
where
    S: AsyncRead + AsyncWrite + Unpin + Debug + Send,
{
    let mut client = async_imap::Client::new(stream);
    client
        .read_response()
        .await?
        .ok_or_else(|| anyhow::anyhow!("the server closed the connection before its greeting"))?;
    let mut session = client
        .login(&s.user, &s.password)
        .await
        .map_err(|(e, _)| anyhow::anyhow!("IMAP login failed: {e}"))?;
    session.select(&s.folder).await?;
    let mut uids: Vec<u32> = session
        .uid_search("UNSEEN UNFLAGGED")
        .await?
        .into_iter()
        .collect();
    uids.sort_unstable();
    let target = ctx.config.imap_processed_folder.trim().to_string();
    if !target.is_empty() {
        // Creating an existing folder fails harmlessly.
        let _ = session.create(&target).await;
    }
    let mut report = PollReport::default();
    for uid in uids {
        let raw = {
            let mut fetch = session
                .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
                .await?;
            let mut body = None;
            while let Some(item) = fetch.next().await {
                let item = item?;
                if let Some(b) = item.body() {
                    body = Some(b.to_vec());
                }
            }
            body
        };
        let Some(raw) = raw else { continue };
        let settle = match inbound::receive(ctx, &raw).await {
            Ok(out) => {
                tracing::info!(uid, outcome = out.name(), ticket = ?out.ticket_id(), "IMAP message taken in");
                report.processed += 1;
                Some(false)
            }
            Err(Error::Validation { errors, .. }) => {
                tracing::warn!(uid, ?errors, "IMAP message refused; flagged and left aside");
                report.rejected += 1;
                Some(true)
            }
            Err(e) => {
                tracing::warn!(uid, error = %e, "IMAP message deferred to the next poll");
                report.deferred += 1;
                None
            }
        };
        match settle {
            Some(false) if !target.is_empty() => {
                session.uid_mv(uid.to_string(), &target).await?;
            }
            Some(flag) => {
                let flags = if flag {
                    "+FLAGS (\\Seen \\Flagged)"
                } else {
                    "+FLAGS (\\Seen)"
                };
                let updates = session.uid_store(uid.to_string(), flags).await?;
                let _: Vec<_> = updates.collect().await;
            }
            None => {}
        }
    }
    session.logout().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let s = Settings::from_url("imaps://help%40acme.test:p%40ss@mail.acme.test/Support%20In")
            .unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("mail.acme.test", 993, true)
        );
        assert_eq!(
            (s.user.as_str(), s.password.as_str()),
            ("help@acme.test", "p@ss")
        );
        assert_eq!(s.folder, "Support In");
        let p = Settings::from_url("imap://u:p@127.0.0.1:1143").unwrap();
        assert_eq!((p.port, p.tls, p.folder.as_str()), (1143, false, "INBOX"));
        assert!(Settings::from_url("pop3://x@y").is_err());
    }
}
