//! Running the Python reference scripts from Rust tests.
//!
//! Missing Python or a missing reference package is a loud skip on a
//! developer machine and a failure when `CI=true`, so CI can never pass by
//! comparing against nothing. Also compiled into the crate's unit tests
//! (see `src/lib.rs`), hence no dependency beyond std.

#![allow(
    dead_code,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: each binary uses a subset, and failing loudly is the point"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Exit status the reference scripts use for "package not installed".
const MISSING_PACKAGE: i32 = 3;

/// `crates/allele-listen`.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

/// Skips (returns `None`) or, under `CI=true`, fails the test.
pub fn unavailable(what: &str, reason: &str) -> Option<String> {
    if in_ci() {
        panic!("{what}: reference unavailable under CI=true: {reason}");
    }
    eprintln!();
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    eprintln!("!!! SKIPPED {what}: {reason}");
    eprintln!("!!! install: pip install vaderSentiment==3.3.2 networkx scipy numpy");
    eprintln!("!!! (with CI=true this is a failure, not a skip)");
    eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
    None
}

/// Runs `python3 script args…` with `input` on stdin and returns stdout, or
/// `None` after a loud skip when Python or the package is missing.
pub fn run_python(what: &str, script: &Path, args: &[&str], input: &[u8]) -> Option<String> {
    let child = Command::new(python())
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => return unavailable(what, &format!("cannot run `{}`: {error}", python())),
    };
    // write from a thread: the script answers while it reads, and a full
    // stdout pipe would otherwise deadlock both sides
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("python ran");
    let written = writer.join().expect("writer thread");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if output.status.code() == Some(MISSING_PACKAGE) {
        return unavailable(what, stderr.trim());
    }
    assert!(
        output.status.success(),
        "{what}: reference script failed: {stderr}"
    );
    written.expect("stdin written");
    Some(String::from_utf8(output.stdout).expect("reference prints UTF-8"))
}
