//! Feeds arbitrary bytes to every pure step of mail intake: it must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;
use triage::auth::tokens::Keys;

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    // libfuzzer-sys installs a hook that aborts on any panic, before `catch_unwind` can act.
    // Intake deliberately catches panics inside the third-party MIME parser (see
    // `mail::parse::parse`), so keep the default report-only hook; a panic anywhere else still
    // unwinds out of this closure and libfuzzer-sys aborts on it.
    let _ = std::panic::take_hook();
    Keys::new("fuzz-secret")
});

fuzz_target!(|data: &[u8]| {
    let _ = triage::mail::examine(data, &KEYS, "TKT");
});
