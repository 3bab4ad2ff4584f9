//! Real network peers for delivery tests: an SMTP sink that records what arrives (and can
//! refuse on purpose), and an HTTP receiver for webhooks that records requests, dedupes by
//! idempotency key and answers from a script of failures.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A throwaway CA and a `localhost` certificate it signed, as PEM (written to `dir`).
pub struct TestPki {
    pub ca_file: std::path::PathBuf,
    pub cert_file: std::path::PathBuf,
    pub key_file: std::path::PathBuf,
}

impl TestPki {
    pub fn create(dir: &std::path::Path) -> TestPki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        let pki = TestPki {
            ca_file: dir.join("ca.pem"),
            cert_file: dir.join("cert.pem"),
            key_file: dir.join("key.pem"),
        };
        std::fs::write(&pki.ca_file, ca_cert.pem()).unwrap();
        std::fs::write(&pki.cert_file, cert.pem()).unwrap();
        std::fs::write(&pki.key_file, key.serialize_pem()).unwrap();
        pki
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        use rustls::pki_types::pem::PemObject;
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(&self.cert_file)
            .unwrap()
            .map(|c| c.unwrap())
            .collect();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&self.key_file).unwrap();
        let cfg = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
    }
}
use tokio::net::TcpListener;

/// One message the sink accepted.
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub raw: String,
    /// Whether it came over TLS (after STARTTLS).
    pub tls: bool,
    /// The AUTH user, if the client authenticated.
    pub authed_as: Option<String>,
}

impl Received {
    /// The first header with this name (unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or("");
        let mut out: Option<String> = None;
        let mut current = false;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if current && let Some(o) = out.as_mut() {
                    o.push(' ');
                    o.push_str(line.trim());
                }
                continue;
            }
            if out.is_some() && current {
                break;
            }
            current = false;
            if let Some((n, v)) = line.split_once(':')
                && n.eq_ignore_ascii_case(name)
            {
                out = Some(v.trim().to_string());
                current = true;
            }
        }
        out
    }

    /// The parsed message (bodies decoded).
    pub fn parsed(&self) -> mail_parser::Message<'static> {
        mail_parser::MessageParser::default()
            .parse(self.raw.as_bytes())
            .expect("parse sent mail")
            .into_owned()
    }
}

/// SMTP replies to use instead of success, one per message, in order.
#[derive(Clone, Copy, Debug)]
pub enum Refuse {
    Temporary,
    Permanent,
}

#[derive(Default)]
struct SinkState {
    received: Vec<Received>,
    refusals: VecDeque<Refuse>,
}

/// STARTTLS and AUTH settings of a sink that demands both.
#[derive(Clone)]
pub struct Secure {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub user: String,
    pub password: String,
}

/// A local SMTP server.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    state: Arc<Mutex<SinkState>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        Self::start_with(None).await
    }

    /// A sink that offers STARTTLS and refuses mail until the client has both upgraded and
    /// authenticated with `user`/`password`.
    pub async fn start_with(secure: Option<Secure>) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(SinkState::default()));
        let st = state.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (st, secure) = (st.clone(), secure.clone());
                tokio::spawn(async move {
                    let upgrade = commands(sock, st.clone(), secure.clone(), false).await;
                    if let (Ok(Some(plain)), Some(sec)) = (upgrade, secure.clone())
                        && let Ok(tls) = sec.acceptor.accept(plain).await
                    {
                        let _ = commands(tls, st, secure, true).await;
                    }
                });
            }
        });
        SmtpSink { port, state }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn refuse_next(&self, r: Refuse) {
        self.state.lock().unwrap().refusals.push_back(r);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until at least `n` messages arrived (10 s at most).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..1500 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "expected {n} messages, got {:?}",
            self.received()
                .iter()
                .map(|r| r.header("Subject"))
                .collect::<Vec<_>>()
        );
    }
}

/// Runs SMTP commands until QUIT; returns the raw stream when the client asked for STARTTLS.
async fn commands<S>(
    stream: S,
    st: Arc<Mutex<SinkState>>,
    secure: Option<Secure>,
    tls: bool,
) -> std::io::Result<Option<S>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use base64::Engine;
    let mut r = BufReader::new(stream);
    if !tls {
        r.get_mut().write_all(b"220 sink.test ESMTP\r\n").await?;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut authed: Option<String> = None;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let w = r.get_mut();
        if upper.starts_with("EHLO") {
            let mut ext = String::from("250-sink.test\r\n250-8BITMIME\r\n");
            if secure.is_some() && !tls {
                ext.push_str("250-STARTTLS\r\n");
            }
            if secure.is_some() && tls {
                ext.push_str("250-AUTH PLAIN LOGIN\r\n");
            }
            ext.push_str("250 SMTPUTF8\r\n");
            w.write_all(ext.as_bytes()).await?;
        } else if upper.starts_with("HELO") {
            w.write_all(b"250 sink.test\r\n").await?;
        } else if upper == "STARTTLS" && secure.is_some() && !tls {
            w.write_all(b"220 2.0.0 ready to start TLS\r\n").await?;
            return Ok(Some(r.into_inner()));
        } else if upper.starts_with("AUTH PLAIN") && tls {
            let b64 = cmd.split_whitespace().nth(2).unwrap_or("").to_string();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default();
            let parts: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).to_string())
                .collect();
            let sec = secure.as_ref().unwrap();
            if parts.len() == 3 && parts[1] == sec.user && parts[2] == sec.password {
                authed = Some(parts[1].clone());
                w.write_all(b"235 2.7.0 authenticated\r\n").await?;
            } else {
                w.write_all(b"535 5.7.8 bad credentials\r\n").await?;
            }
        } else if upper.starts_with("MAIL FROM:") {
            if secure.is_some() && authed.is_none() {
                w.write_all(b"530 5.7.0 authentication required\r\n")
                    .await?;
                continue;
            }
            from = cmd[10..].trim().trim_matches(['<', '>']).to_string();
            to.clear();
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(cmd[8..].trim().trim_matches(['<', '>']).to_string());
            w.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            w.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await? == 0 {
                    return Ok(None);
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let l = line.strip_prefix('.').unwrap_or(&line);
                data.push_str(l);
            }
            let refusal = st.lock().unwrap().refusals.pop_front();
            let w = r.get_mut();
            match refusal {
                Some(Refuse::Temporary) => w.write_all(b"451 4.3.0 try again later\r\n").await?,
                Some(Refuse::Permanent) => w.write_all(b"550 5.1.1 no such user\r\n").await?,
                None => {
                    st.lock().unwrap().received.push(Received {
                        from: from.clone(),
                        to: to.clone(),
                        raw: data,
                        tls,
                        authed_as: authed.clone(),
                    });
                    w.write_all(b"250 2.0.0 queued as 42\r\n").await?;
                }
            }
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(None);
        } else if upper == "RSET" || upper == "NOOP" {
            w.write_all(b"250 OK\r\n").await?;
        } else {
            w.write_all(b"502 not implemented\r\n").await?;
        }
    }
}

/// One request the webhook receiver got.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("json body")
    }
}

/// Scripted answers: (status, Retry-After).
#[derive(Default)]
struct HookState {
    hits: Vec<Hit>,
    script: VecDeque<(u16, Option<String>)>,
    delay: Option<Duration>,
}

/// A local HTTP server standing in for Discord, Slack and generic receivers.
#[derive(Clone)]
pub struct HookReceiver {
    pub base: String,
    state: Arc<Mutex<HookState>>,
}

impl HookReceiver {
    pub async fn start() -> HookReceiver {
        use axum::routing::post;
        let state = Arc::new(Mutex::new(HookState::default()));
        let st = state.clone();
        let app = axum::Router::new().route(
            "/{*path}",
            post(
                move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
                    let st = st.clone();
                    async move {
                        let delay = st.lock().unwrap().delay;
                        if let Some(d) = delay {
                            tokio::time::sleep(d).await;
                        }
                        let mut s = st.lock().unwrap();
                        s.hits.push(Hit {
                            path: uri.path().to_string(),
                            headers: headers
                                .iter()
                                .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
                                .collect(),
                            body,
                        });
                        let (code, retry) = s.script.pop_front().unwrap_or((204, None));
                        let mut resp = axum::response::Response::new(axum::body::Body::from("ok"));
                        *resp.status_mut() = axum::http::StatusCode::from_u16(code).unwrap();
                        if let Some(r) = retry {
                            resp.headers_mut().insert("retry-after", r.parse().unwrap());
                        }
                        resp
                    }
                },
            ),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind hooks");
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HookReceiver { base, state }
    }

    pub fn answer(&self, status: u16, retry_after: Option<&str>) {
        self.state
            .lock()
            .unwrap()
            .script
            .push_back((status, retry_after.map(str::to_string)));
    }

    pub fn slow(&self, d: Duration) {
        self.state.lock().unwrap().delay = Some(d);
    }

    pub fn hits(&self, path: &str) -> Vec<Hit> {
        self.state
            .lock()
            .unwrap()
            .hits
            .iter()
            .filter(|h| h.path == path)
            .cloned()
            .collect()
    }

    pub async fn wait_for(&self, path: &str, n: usize) -> Vec<Hit> {
        for _ in 0..1500 {
            let got = self.hits(path);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "expected {n} requests to {path}, got {}",
            self.hits(path).len()
        );
    }
}
