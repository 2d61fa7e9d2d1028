//! Segment-Spec conformance as data: every `tests/conformance/*.yaml` case
//! is a request, the status and body it must get, and the effects that must
//! then be visible through the profile API. Any server can be run against
//! these files; here it is a fresh `allele serve`.
//!
//! In strings: `$U` is a prefix unique to the case, `$WRITE_KEY`/`$ADMIN_KEY`
//! the server's keys, `$PAD(n)` n filler bytes, `$I` the index of a repeated
//! batch element.

use crate::common::{Server, client, read};
use serde::Deserialize;
use serde_json::Value;
use std::io::Write;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    request: Request,
    expect: Expect,
    #[serde(default)]
    then: Vec<Check>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    #[serde(default = "post")]
    method: String,
    path: String,
    #[serde(default = "write")]
    auth: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    body: Option<Value>,
    raw: Option<String>,
    /// Repeat the single element of `body.batch` this many times.
    repeat: Option<usize>,
    /// `true` to gzip the body, `corrupt` to send bytes that are not gzip.
    gzip: Option<Value>,
    /// Send the same request this many times (all must match `expect`).
    #[serde(default = "one")]
    times: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    status: u16,
    body: Option<Value>,
    contains: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    get: String,
    status: u16,
    contains: Option<Value>,
    /// The number of events the profile's timeline must hold.
    events: Option<usize>,
}

fn post() -> String {
    "POST".into()
}
fn write() -> String {
    "write".into()
}
fn one() -> usize {
    1
}

fn substitute(text: &str, server: &Server, unique: &str) -> String {
    let mut out = text
        .replace("$U", unique)
        .replace("$WRITE_KEY", &server.write_key)
        .replace("$ADMIN_KEY", &server.admin_key);
    while let Some(start) = out.find("$PAD(") {
        let Some(end) = out[start..].find(')') else {
            break;
        };
        let n: usize = out[start + 5..start + end].parse().expect("pad size");
        out.replace_range(start..start + end + 1, &"x".repeat(n));
    }
    out
}

fn substitute_json(value: &Value, server: &Server, unique: &str) -> Value {
    match value {
        Value::String(s) => Value::String(substitute(s, server, unique)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute_json(v, server, unique))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    (
                        substitute(k, server, unique),
                        substitute_json(v, server, unique),
                    )
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `expected` is a subset of `actual`: objects by key, arrays element-wise.
pub fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, ev)| a.get(k).is_some_and(|av| contains(av, ev))),
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(av, ev)| contains(av, ev))
        }
        (Value::Number(a), Value::Number(e)) => a.as_f64() == e.as_f64(),
        _ => actual == expected,
    }
}

fn body_bytes(request: &Request, server: &Server, unique: &str) -> Vec<u8> {
    if let Some(raw) = &request.raw {
        return substitute(raw, server, unique).into_bytes();
    }
    let Some(body) = &request.body else {
        return Vec::new();
    };
    let mut body = substitute_json(body, server, unique);
    if let Some(times) = request.repeat {
        let template = body["batch"][0].clone();
        let items = (0..times)
            .map(|i| {
                let text = serde_json::to_string(&template)
                    .expect("json")
                    .replace("$I", &i.to_string());
                serde_json::from_str::<Value>(&text).expect("json")
            })
            .collect();
        body["batch"] = Value::Array(items);
    }
    serde_json::to_vec(&body).expect("json")
}

fn run_case(server: &Server, case: &Case, file: &str) -> Result<(), String> {
    let unique = crate::common::unique("c");
    let request = &case.request;
    let mut bytes = body_bytes(request, server, &unique);
    let mut headers = request.headers.clone();
    match &request.gzip {
        Some(Value::Bool(true)) => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&bytes).map_err(|e| e.to_string())?;
            bytes = encoder.finish().map_err(|e| e.to_string())?;
            headers.insert("Content-Encoding".into(), "gzip".into());
        }
        Some(Value::String(s)) if s == "corrupt" => {
            bytes = b"\x1f\x8b\x08\x00garbage".to_vec();
            headers.insert("Content-Encoding".into(), "gzip".into());
        }
        _ => {}
    }
    for attempt in 0..request.times {
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut builder = client().request(
            method,
            format!(
                "{}{}",
                server.url,
                substitute(&request.path, server, &unique)
            ),
        );
        builder = match request.auth.as_str() {
            "write" => builder.basic_auth(&server.write_key, Some("")),
            "admin" => builder.bearer_auth(&server.admin_key),
            "admin_basic" => builder.basic_auth(&server.admin_key, Some("")),
            "none" | "write_in_body" => builder,
            other if other.starts_with("basic:") => {
                builder.basic_auth(substitute(&other[6..], server, &unique), Some(""))
            }
            other if other.starts_with("header:") => {
                builder.header("Authorization", substitute(&other[7..], server, &unique))
            }
            other => return Err(format!("unknown auth `{other}`")),
        };
        if !headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header("Content-Type", "application/json");
        }
        for (name, value) in &headers {
            builder = builder.header(name, substitute(value, server, &unique));
        }
        let (status, body) = read(
            builder
                .body(bytes.clone())
                .send()
                .map_err(|e| e.to_string())?,
        );
        let context = format!(
            "{file}: `{}` (attempt {attempt}): got {status} {body}",
            case.name
        );
        if status != case.expect.status {
            return Err(format!("{context}: expected status {}", case.expect.status));
        }
        if let Some(expected) = &case.expect.body
            && substitute_json(expected, server, &unique) != body
        {
            return Err(format!("{context}: expected body {expected}"));
        }
        if let Some(expected) = &case.expect.contains
            && !contains(&body, &substitute_json(expected, server, &unique))
        {
            return Err(format!("{context}: expected body to contain {expected}"));
        }
        if status >= 400 {
            for field in ["message", "code", "type", "link"] {
                if !body[field].is_string() {
                    return Err(format!("{context}: error body lacks `{field}`"));
                }
            }
        }
    }
    for check in &case.then {
        let path = substitute(&check.get, server, &unique);
        let (status, body) = server.admin_get(&path);
        let context = format!(
            "{file}: `{}` then GET {path}: got {status} {body}",
            case.name
        );
        if status != check.status {
            return Err(format!("{context}: expected status {}", check.status));
        }
        if let Some(expected) = &check.contains
            && !contains(&body, &substitute_json(expected, server, &unique))
        {
            return Err(format!("{context}: expected to contain {expected}"));
        }
        if let Some(count) = check.events {
            let reference = path.trim_start_matches("/v1/profiles/");
            let events = server.all_events(reference);
            if events.len() != count {
                return Err(format!(
                    "{context}: expected {count} events, timeline has {}",
                    events.len()
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn segment_spec_conformance() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("conformance dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let server = Server::start();
    let mut failures = Vec::new();
    let mut total = 0;
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(path).expect("read case file");
        let cases: Vec<Case> =
            serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        for case in &cases {
            total += 1;
            if let Err(failure) = run_case(&server, case, &file) {
                failures.push(failure);
            }
        }
    }
    assert!(
        total >= 40,
        "expected at least 40 conformance cases, found {total}"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} conformance cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
