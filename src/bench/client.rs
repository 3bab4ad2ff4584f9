//! One load client's HTTP/1.1 connection, kept across its requests.
//!
//! The bench and the server share the machine's cores, so what the client spends per request
//! is taken from the server. A pooled general-purpose client (reqwest) parsed the URL and
//! checked a connection out of its pool for every request, and drove the connection in a task
//! of its own: about 35 µs of CPU per get, a fifth of all the machine spent on it. Here each
//! client owns one connection and drives it in its own task, with the request's fixed headers
//! built once.

use std::pin::Pin;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What every request of a run carries: where it goes and who sends it.
pub struct Endpoint {
    /// `host:port` to connect to.
    addr: String,
    /// The `Host` header.
    host: HeaderValue,
    /// `Bearer …`.
    authorization: HeaderValue,
}

impl Endpoint {
    /// The endpoint of `base` (`http://host:port`) for a caller with `token`; `None` for
    /// what a plain connection cannot reach (`https://`, a path after the port).
    pub fn new(base: &str, token: &str) -> Option<Endpoint> {
        let addr = base.strip_prefix("http://")?.trim_end_matches('/');
        if addr.contains('/') {
            return None;
        }
        Some(Endpoint {
            host: HeaderValue::try_from(addr).ok()?,
            authorization: HeaderValue::try_from(format!("Bearer {token}")).ok()?,
            addr: addr.to_string(),
        })
    }
}

type Conn = Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// An open connection: its request handle and the connection to drive.
type Open = (SendRequest<Full<Bytes>>, Pin<Box<Conn>>);

/// A client's connection, opened on its first request and again after a failure.
#[derive(Default)]
pub struct Client {
    open: Option<Open>,
}

impl Client {
    /// Sends `method path` (with a JSON `body` when given) and reads the whole answer.
    pub async fn send(
        &mut self,
        to: &Endpoint,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Bytes), String> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, to.host.clone())
            .header(AUTHORIZATION, to.authorization.clone());
        if body.is_some() {
            req = req.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        // A connection the server has closed since (keep-alive ended) is replaced before
        // anything is sent on it, so that is not counted as a failed request.
        if self.open.as_ref().is_some_and(|(s, _)| s.is_closed()) {
            self.open = None;
        }
        let (sender, conn) = match &mut self.open {
            Some(open) => open,
            None => self.open.insert(connect(to).await?),
        };
        let (outcome, ended) = {
            let exchange = async {
                sender.ready().await.map_err(|e| e.to_string())?;
                let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
                let status = resp.status().as_u16();
                let body = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>((status, body.to_bytes()))
            };
            // The connection is driven here, beside the exchange, rather than by a task of its own.
            tokio::pin!(exchange);
            tokio::select! {
                r = &mut exchange => (r, false),
                end = conn.as_mut() => match end {
                    // It finished its last exchange (`connection: close`): the answer is in hand.
                    Ok(()) => (exchange.await, true),
                    Err(e) => (Err(e.to_string()), true),
                },
            }
        };
        if ended || outcome.is_err() {
            self.open = None;
        }
        outcome
    }
}

async fn connect(to: &Endpoint) -> Result<Open, String> {
    let tcp = TcpStream::connect(&to.addr)
        .await
        .map_err(|e| format!("connect {}: {e}", to.addr))?;
    let _ = tcp.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| e.to_string())?;
    Ok((sender, Box::pin(conn)))
}
