//! The official CEL conformance suite (google/cel-spec `tests/simple/testdata`,
//! vendored under `tests/cel-spec/`) run against allele's compiler and
//! evaluator.
//!
//! Every case either passes or is covered by `tests/cel-spec/skip.txt`, which
//! gives a reason for each case or group outside the subset the compiler
//! documents. The test fails on a case that is neither, on an individually
//! listed case that passes, on a listed group where every case passes, and on
//! a pattern that matches nothing: the list stays honest.
//!
//! An expected error passes on any compile or evaluation error (the suite's
//! messages are implementation-specific). `CEL_SPEC_VERBOSE=1` prints every
//! unlisted failure with what came back.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use allele_engine::cel::value::MapKey;
use allele_engine::cel::{Activation, Expression, Resolver, SlotPath, SlotTable, Value};

use super::textproto::{self, Field, Message};

struct NoInput;

impl Resolver for NoInput {
    fn resolve(&self, _path: &SlotPath) -> Option<Value> {
        None
    }
}

struct Case {
    id: String,
    expr: String,
    test: Message,
}

fn load_cases(dir: &Path) -> Vec<Case> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "textproto"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let file = textproto::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for section in file.messages("section") {
            let section_name = section.string("name").unwrap_or_default();
            for test in section.messages("test") {
                let name = test.string("name").unwrap_or_default();
                cases.push(Case {
                    id: format!("{stem}/{section_name}/{name}"),
                    expr: test.string("expr").unwrap_or_default(),
                    test: test.clone(),
                });
            }
        }
    }
    cases
}

/// What the case expects, in the engine's own values.
enum Expected {
    Value(Value),
    Error,
}

fn expected(test: &Message) -> Result<Expected, String> {
    for unsupported in ["type_env", "bindings", "container"] {
        if test.get(unsupported).is_some() {
            return Err(format!("uses `{unsupported}`"));
        }
    }
    for flag in ["disable_macros", "check_only"] {
        if test.flag(flag) {
            return Err(format!("sets `{flag}`"));
        }
    }
    if test.get("eval_error").is_some() || test.get("any_eval_errors").is_some() {
        return Ok(Expected::Error);
    }
    if let Some(value) = test.message("value") {
        return value_of(value).map(Expected::Value);
    }
    if let Some(typed) = test.message("typed_result") {
        let result = typed
            .message("result")
            .ok_or("a typed result without a value")?;
        return value_of(result).map(Expected::Value);
    }
    if test.get("unknown").is_some() || test.get("any_unknowns").is_some() {
        return Err("expects unknowns".into());
    }
    // no result named: the suite's default is `true`
    Ok(Expected::Value(Value::Bool(true)))
}

fn scalar(field: &Field) -> Result<&str, String> {
    match field {
        Field::Scalar(s) => Ok(s),
        _ => Err("expected a scalar".into()),
    }
}

fn value_of(msg: &Message) -> Result<Value, String> {
    let Some((kind, field)) = msg.fields.first() else {
        return Err("an empty value".into());
    };
    let number = |f: &Field| -> Result<String, String> { scalar(f).map(str::to_string) };
    Ok(match kind.as_str() {
        "null_value" => Value::Null,
        "bool_value" => Value::Bool(scalar(field)? == "true"),
        "int64_value" => Value::Int(number(field)?.parse().map_err(|e| format!("{e}"))?),
        "uint64_value" => Value::Uint(number(field)?.parse().map_err(|e| format!("{e}"))?),
        "double_value" => Value::Double(parse_double(scalar(field)?)?),
        "string_value" => match field {
            Field::Str(bytes) => Value::String(Arc::from(
                std::str::from_utf8(bytes).map_err(|e| e.to_string())?,
            )),
            _ => return Err("a string value that is not a string".into()),
        },
        "list_value" => {
            let Field::Message(list) = field else {
                return Err("a list that is not a message".into());
            };
            let items: Result<Vec<Value>, String> = list.messages("values").map(value_of).collect();
            Value::List(Arc::from(items?))
        }
        "map_value" => {
            let Field::Message(map) = field else {
                return Err("a map that is not a message".into());
            };
            let mut entries = BTreeMap::new();
            for entry in map.messages("entries") {
                let key = value_of(entry.message("key").ok_or("a map entry without a key")?)?;
                let value = value_of(
                    entry
                        .message("value")
                        .ok_or("a map entry without a value")?,
                )?;
                let key = MapKey::from_value(&key).ok_or("a map key of an unsupported type")?;
                entries.insert(key, value);
            }
            Value::Map(Arc::new(entries))
        }
        "object_value" => {
            let Field::Message(any) = field else {
                return Err("an object that is not a message".into());
            };
            let Some((type_url, Field::Message(body))) = any.fields.first() else {
                return Err("an object without a type".into());
            };
            let seconds: i128 = body
                .string("seconds")
                .unwrap_or_default()
                .parse()
                .unwrap_or(0);
            let nanos: i128 = body
                .string("nanos")
                .unwrap_or_default()
                .parse()
                .unwrap_or(0);
            let total = seconds * 1_000_000_000 + nanos;
            match type_url.as_str() {
                "[type.googleapis.com/google.protobuf.Timestamp]" => Value::Timestamp(total),
                "[type.googleapis.com/google.protobuf.Duration]" => Value::Duration(total),
                other => return Err(format!("expects a protobuf message {other}")),
            }
        }
        other => return Err(format!("expects a `{other}`")),
    })
}

fn parse_double(text: &str) -> Result<f64, String> {
    match text.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => Ok(f64::INFINITY),
        "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
        "nan" => Ok(f64::NAN),
        other => other.parse().map_err(|e| format!("`{text}`: {e}")),
    }
}

/// Strict equality: the type must match too (`1` is not `1.0` here).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Runs one case: `Ok` if it passes, else what went wrong.
fn run(case: &Case) -> Result<(), String> {
    let expected = expected(&case.test)?;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut slots = SlotTable::default();
        let expression = Expression::compile(&case.expr, &mut slots)
            .map_err(|e| format!("compile: {}", e.message))?;
        let mut activation = Activation::new(&slots, &NoInput, 0);
        expression
            .evaluate(&mut activation)
            .map_err(|e| format!("eval: {}", e.message))
    }))
    .map_err(|_| "panicked".to_string())?;
    match (expected, outcome) {
        (Expected::Error, Err(_)) => Ok(()),
        (Expected::Error, Ok(value)) => Err(format!("expected an error, got {value:?}")),
        (Expected::Value(want), Ok(got)) if same(&want, &got) => Ok(()),
        (Expected::Value(want), Ok(got)) => Err(format!("expected {want:?}, got {got:?}")),
        (Expected::Value(want), Err(err)) => Err(format!("expected {want:?}, got {err}")),
    }
}

struct Pattern {
    pattern: String,
    reason: String,
    matched: usize,
    passed: usize,
}

fn load_skips(path: &Path) -> Vec<Pattern> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (pattern, reason) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("skip.txt: `{line}` needs `pattern: reason`"));
            assert!(
                !reason.trim().is_empty(),
                "skip.txt: `{pattern}` has no reason"
            );
            Pattern {
                pattern: pattern.trim().to_string(),
                reason: reason.trim().to_string(),
                matched: 0,
                passed: 0,
            }
        })
        .collect()
}

/// `file`, `file/section` or `file/section/test`; the most specific wins.
fn covering<'p>(skips: &'p mut [Pattern], id: &str) -> Option<&'p mut Pattern> {
    skips
        .iter_mut()
        .filter(|p| id == p.pattern || id.starts_with(&format!("{}/", p.pattern)))
        .max_by_key(|p| p.pattern.len())
}

#[test]
fn cel_spec_conformance() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cel-spec");
    let cases = load_cases(&root.join("testdata"));
    let mut skips = load_skips(&root.join("skip.txt"));
    let verbose = std::env::var_os("CEL_SPEC_VERBOSE").is_some();
    assert!(cases.len() > 1000, "only {} cases read", cases.len());

    let (mut passed, mut skipped) = (0usize, 0usize);
    let mut unlisted = Vec::new();
    let mut per_file: HashMap<String, (usize, usize)> = HashMap::new();
    for case in &cases {
        let result = run(case);
        let file = case.id.split('/').next().unwrap_or_default().to_string();
        let tally = per_file.entry(file).or_default();
        match covering(&mut skips, &case.id) {
            Some(pattern) => {
                pattern.matched += 1;
                skipped += 1;
                if result.is_ok() {
                    pattern.passed += 1;
                }
            }
            None => match result {
                Ok(()) => {
                    if verbose {
                        eprintln!("PASS {}", case.id);
                    }
                    passed += 1;
                    tally.0 += 1;
                }
                Err(why) => {
                    if verbose {
                        eprintln!("FAIL {} `{}`: {why}", case.id, case.expr);
                    }
                    unlisted.push(format!("{}: {why}", case.id));
                }
            },
        }
        tally.1 += 1;
    }

    let mut files: Vec<_> = per_file.into_iter().collect();
    files.sort();
    for (file, (pass, total)) in &files {
        eprintln!("cel-spec {file:<16} {pass:>4} passed of {total:>4}");
    }
    let passed_in_listed: usize = skips.iter().map(|p| p.passed).sum();
    eprintln!(
        "cel-spec: {passed} passed, {skipped} listed as outside the subset ({passed_in_listed} of \
         them pass anyway, mostly expected errors met for another reason), {} unlisted \
         failures, {} cases",
        unlisted.len(),
        cases.len()
    );

    let mut problems = unlisted;
    for pattern in &skips {
        let exact = pattern.pattern.matches('/').count() == 2;
        if pattern.matched == 0 {
            problems.push(format!("skip `{}` matches no case", pattern.pattern));
        } else if pattern.passed == pattern.matched {
            let what = if exact {
                "case"
            } else {
                "every case of the group"
            };
            problems.push(format!(
                "skip `{}` ({}): {what} passes now; remove it",
                pattern.pattern, pattern.reason
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} conformance problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(passed > 500, "only {passed} cases pass");
}
