//! The fuzz targets' checks (`fuzz/src/checks.rs`) over every committed
//! corpus file: the short fuzzing run CI can afford on stable Rust. The
//! corpora hold what long libFuzzer runs found interesting (and any input
//! that once crashed), so a regression in a parser fails here.

#[path = "../../../../fuzz/src/checks.rs"]
mod checks;

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("corpus `{}`: {err}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let bytes = std::fs::read(&path).expect("corpus file");
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

fn replay(target: &str, check: fn(&[u8]), at_least: usize) {
    let files = corpus(target);
    assert!(
        files.len() >= at_least,
        "`{target}` corpus has {} files",
        files.len()
    );
    for (path, bytes) in &files {
        let outcome = std::panic::catch_unwind(|| check(bytes));
        assert!(outcome.is_ok(), "`{target}` fails on {}", path.display());
    }
}

#[test]
fn segment_payload_corpus() {
    replay("segment_payload", checks::segment_payload, 100);
}

#[test]
fn csv_mapping_corpus() {
    replay("csv_mapping", checks::csv_mapping, 100);
}

#[test]
fn policy_corpus() {
    replay("policy", checks::policy, 100);
}

#[test]
fn tc_string_corpus() {
    replay("tc_string", checks::tc_string, 100);
}

#[test]
fn email_template_corpus() {
    replay("email_template", checks::email_template, 5);
}
