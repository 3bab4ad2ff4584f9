//! A server stopped gracefully closes its database: on SQLite the WAL is copied back into
//! the file, so the next start does not wait for it.

use triage::app::Application;
use triage::clock::Clock;
use triage::config::Config;
use triage::tickets::model::Role;
use triage::users::service::{self as users, NewUser};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_leaves_no_wal_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        secret_key: "test-secret".into(),
        daily_summary_hour: -1,
        ..Config::default()
    };
    let app = Application::build(config, Clock::default())
        .await
        .expect("build app");
    let ctx = app.ctx.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));
    for i in 0..20 {
        users::create(
            &ctx,
            NewUser {
                email: format!("stop{i}@example.test"),
                name: format!("Stop {i}"),
                role: Role::Agent,
                password: None,
            },
        )
        .await
        .expect("create user");
    }
    let wal = dir.path().join("triage.db-wal");
    let wal_len = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert!(wal_len() > 0, "the writes are in the WAL");
    stop.send(()).expect("server still running");
    server.await.expect("server task").expect("serve");
    // `ctx` still holds the pools, so no closing connection checkpoints on its own: only
    // the server's `Db::close` can have emptied the WAL.
    assert_eq!(wal_len(), 0, "the WAL was copied back at the stop");
    drop(ctx);
    let db = rusqlite::Connection::open(dir.path().join("triage.db")).expect("open");
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM users WHERE email LIKE 'stop%'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(n, 20);
}
