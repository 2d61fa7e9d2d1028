//! Checks the Python string primitives in [`super::text`] against the
//! Python interpreter itself, for every code point it knows (run through
//! `tests/vader_reference.py --unicode`). Characters newer than that
//! Python's Unicode tables are skipped: the reference cannot have an
//! opinion on them.

/// Characters whose Lowercase property changed in Unicode 15.0 (U+0295
/// became Lo; the others joined Other_Lowercase). Rust follows the newer
/// tables, as does CPython from 3.12; CPython 3.11 (Unicode 14) disagrees on
/// these alone, and only inside an otherwise ALL-CAPS word can it matter.
const CHANGED_IN_UNICODE_15: &[u32] = &[0x0295, 0x10FC, 0xA7F2, 0xA7F3, 0xA7F4, 0xAB69];

use super::text::{is_python_space, is_python_upper, is_titlecase, python_lower};
use crate::python_reference;

fn in_ranges(ranges: &[(u32, u32)], code_point: u32) -> bool {
    let at = ranges.partition_point(|&(_, end)| end < code_point);
    ranges
        .get(at)
        .is_some_and(|&(start, _)| start <= code_point)
}

fn ranges(facts: &serde_json::Value, key: &str) -> Vec<(u32, u32)> {
    facts[key]
        .as_array()
        .expect("array of ranges")
        .iter()
        .map(|pair| {
            let start = pair[0].as_u64().expect("start") as u32;
            let end = pair[1].as_u64().expect("end") as u32;
            (start, end)
        })
        .collect()
}

#[test]
fn string_primitives_agree_with_cpython_on_every_code_point() {
    let script = python_reference::crate_dir().join("tests/vader_reference.py");
    let Some(output) = python_reference::run_python("unicode facts", &script, &["--unicode"], b"")
    else {
        return;
    };
    let facts: serde_json::Value = serde_json::from_str(&output).expect("json");
    let assigned = ranges(&facts, "assigned");
    let space = ranges(&facts, "space");
    let upper = ranges(&facts, "upper");
    let lower = ranges(&facts, "lower");
    let title = ranges(&facts, "title");
    let lower_map: std::collections::HashMap<u32, String> = facts["lower_map"]
        .as_array()
        .expect("lower_map")
        .iter()
        .map(|pair| {
            (
                pair[0].as_u64().expect("cp") as u32,
                pair[1].as_str().expect("str").to_string(),
            )
        })
        .collect();

    let version = facts["unicode_version"].as_str().unwrap_or("?").to_string();
    let before_15 = version
        .split('.')
        .next()
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major < 15);
    let mut failures = Vec::new();
    let mut checked = 0usize;
    for &(start, end) in &assigned {
        for code_point in start..=end {
            let Some(c) = char::from_u32(code_point) else {
                continue;
            };
            checked += 1;
            let single = c.to_string();
            let expected_lower = lower_map
                .get(&code_point)
                .cloned()
                .unwrap_or_else(|| single.clone());
            let checks = [
                ("isspace", is_python_space(c), in_ranges(&space, code_point)),
                (
                    "isupper",
                    is_python_upper(&single),
                    in_ranges(&upper, code_point),
                ),
                ("islower", c.is_lowercase(), in_ranges(&lower, code_point)),
                ("istitle", is_titlecase(c), in_ranges(&title, code_point)),
                ("lower", python_lower(&single) == expected_lower, true),
            ];
            let known_change = before_15 && CHANGED_IN_UNICODE_15.contains(&code_point);
            for (name, ours, theirs) in checks {
                if ours != theirs && !(known_change && matches!(name, "islower" | "isupper")) {
                    failures.push(format!(
                        "U+{code_point:04X} {name}: rust {ours}, python {theirs}"
                    ));
                }
            }
        }
    }
    for (text, expected) in facts["samples"].as_object().expect("samples") {
        if python_lower(text) != expected.as_str().expect("str") {
            failures.push(format!(
                "lower({text:?}): rust {:?}, python {expected}",
                python_lower(text)
            ));
        }
    }
    eprintln!("checked {checked} code points against Python's Unicode {version}");
    assert!(
        checked > 100_000,
        "python reported only {checked} assigned code points"
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}
