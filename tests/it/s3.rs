//! Attachments on S3-compatible storage: a real S3 API (moto's server from PyPI, which
//! `.ci/run` installs) on a free local port; uploads, mail parts and downloads go through it and
//! nothing lands in the data directory.

use crate::attachments::{PNG, fetch, file, send};
use crate::harness::*;
use crate::on_both;
use reqwest::multipart::Form;
use sha2::{Digest, Sha256};
use std::process::{Child, Command, Stdio};
use triage::tickets::model::Role;

/// A moto S3 server on its own port, stopped on drop.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
}

impl S3Server {
    /// Starts `moto_server` (from `TRIAGE_TEST_MOTO_SERVER`, `PATH`, or `.ci/run`'s venv).
    pub async fn start() -> S3Server {
        let bin = std::env::var("TRIAGE_TEST_MOTO_SERVER")
            .ok()
            .or_else(|| {
                let home = std::env::var("HOME").ok()?;
                let venv = format!("{home}/.cache/triage-ci/moto/bin/moto_server");
                std::path::Path::new(&venv).exists().then_some(venv)
            })
            .unwrap_or_else(|| "moto_server".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin} ({e}): .ci/run installs moto[server] from PyPI")
            });
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client.get(&server.endpoint).send().await.is_ok() {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("moto_server did not answer on {} in 30 s", server.endpoint);
    }

    /// Creates a bucket (moto accepts unsigned requests).
    pub async fn bucket(&self, name: &str) {
        let r = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert!(r.status().is_success(), "create bucket: {}", r.status());
    }

    /// The keys stored in a bucket.
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let xml = reqwest::Client::new()
            .get(format!("{}/{bucket}?list-type=2", self.endpoint))
            .send()
            .await
            .expect("list bucket")
            .text()
            .await
            .expect("list body");
        let mut keys: Vec<String> = xml
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect();
        keys.sort();
        keys
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key_of(bytes: &[u8]) -> String {
    let sha = hex::encode(Sha256::digest(bytes));
    format!("triage/{}/{}", &sha[..2], &sha[2..])
}

/// Files under the data directory's attachment store (the upload spool excluded).
fn local_blobs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("attachments")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

on_both!(
    attachments_live_in_an_s3_bucket,
    |backend: Backend| async move {
        let s3 = S3Server::start().await;
        let bucket = format!(
            "triage-{}",
            if backend == Backend::Sqlite {
                "lite"
            } else {
                "pg"
            }
        );
        s3.bucket(&bucket).await;
        let endpoint = s3.endpoint.clone();
        let app = TestApp::spawn_with(backend, move |c| {
            c.storage_url = format!("s3://{bucket}/triage");
            for (k, v) in [
                ("aws_endpoint", endpoint.as_str()),
                ("aws_region", "us-east-1"),
                ("aws_access_key_id", "test"),
                ("aws_secret_access_key", "test"),
                ("aws_allow_http", "true"),
            ] {
                c.storage_options.insert(k.into(), v.into());
            }
        })
        .await;
        let bucket = app
            .ctx
            .config
            .storage_url
            .trim_start_matches("s3://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        let (_, admin) = app.user(Role::Admin, "Boss").await;

        // Bigger than one 5 MiB part: goes up as a multipart upload.
        let big: Vec<u8> = (0..6 * 1024 * 1024u32)
            .map(|i| b"helpdesk log line\n"[(i % 18) as usize])
            .collect();
        let form = Form::new()
            .text("subject", "Crash log and screenshot")
            .text("description", "Both files attached.")
            .text("category", "bug")
            .text("priority", "high")
            .part("attachments", file("crash.png", PNG, "image/png"))
            .part("attachments", file("app.log", &big, "text/plain"));
        let created = send(&app, "/api/v1/tickets", Some(&admin), form).await;
        let number = created.ok(201)["number"].as_str().unwrap().to_string();
        let files = created.body["attachments"].as_array().unwrap().clone();
        assert_eq!(files.len(), 2, "{}", created.text);

        // The same screenshot again, on a reply: stored once.
        let reply = Form::new()
            .text("body", "Same screenshot again.")
            .part("attachments", file("again.png", PNG, "image/png"));
        let path = format!("/api/v1/tickets/{number}/comments");
        send(&app, &path, Some(&admin), reply).await.ok(201);

        // A mailed-in attachment goes to the bucket too.
        let report = b"order,total\n1001,42.00\n";
        let raw = format!(
            "From: Grace <grace@example.com>\r\nTo: support@acme.test\r\nSubject: Invoice question\r\n\
             Message-ID: <s3-test@example.com>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
             Content-Type: text/plain\r\n\r\nPlease check the attached report.\r\n--b1\r\n\
             Content-Type: text/csv; name=\"report.csv\"\r\nContent-Disposition: attachment; filename=\"report.csv\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
            base64_encode(report)
        );
        app.inbound(&admin, raw).await.ok(200);

        let keys = s3.keys(&bucket).await;
        for bytes in [PNG, &big[..], &report[..]] {
            assert!(
                keys.contains(&key_of(bytes)),
                "{} missing from {keys:?}",
                key_of(bytes)
            );
        }
        let pngs = keys.iter().filter(|k| **k == key_of(PNG)).count();
        assert_eq!(pngs, 1, "content-addressed: one object per content");
        assert!(
            local_blobs(&app.ctx.config.data_dir).is_empty(),
            "nothing stays on local disk: {:?}",
            local_blobs(&app.ctx.config.data_dir)
        );

        // Downloads stream back from the bucket, byte for byte.
        for (i, expected) in [(0, PNG), (1, &big[..])] {
            let path = format!("/api/v1/tickets/{number}/attachments/{}", files[i]["id"]);
            let got = fetch(&app, &path, Some(&admin)).await;
            assert_eq!(got.status(), 200);
            assert_eq!(got.bytes().await.unwrap().as_ref(), expected);
        }

        // Bytes gone from the bucket: a clear 404, not a 500.
        reqwest::Client::new()
            .delete(format!("{}/{bucket}/{}", s3.endpoint, key_of(&big)))
            .send()
            .await
            .unwrap();
        let gone = app
            .get(
                &format!("/api/v1/tickets/{number}/attachments/{}", files[1]["id"]),
                &admin,
            )
            .await;
        gone.err(404, "NOT_FOUND");
    }
);

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
