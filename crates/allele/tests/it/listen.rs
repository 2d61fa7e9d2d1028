//! Sentiment over HTTP and the CLI: the same scores in the same order, the
//! limits, and the reference package's answers.

use crate::common::{Server, bin, client, read, require_tool};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

const TEXTS: &[&str] = &[
    "I love this!!!",
    "this is not good :(",
    "The service was OK, but the food was AMAZING",
    "",
    "meh 😐",
];

fn cli_scores(input: &[u8]) -> Vec<Value> {
    let mut child = Command::new(bin())
        .arg("sentiment")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    let out = child.wait_with_output().expect("output");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[test]
fn sentiment_http_and_cli_agree_with_the_reference() {
    let server = Server::start();
    let (status, body) = read(
        client()
            .post(format!("{}/v1/sentiment", server.url))
            .bearer_auth(&server.admin_key)
            .json(&json!({"texts": TEXTS}))
            .send()
            .expect("post"),
    );
    assert_eq!(status, 200, "{body}");
    let http = body["scores"].as_array().expect("scores").clone();
    let cli = cli_scores(format!("{}\n", TEXTS.join("\n")).as_bytes());
    assert_eq!(http, cli);
    assert_eq!(
        http[3],
        json!({"neg": 0.0, "neu": 0.0, "pos": 0.0, "compound": 0.0})
    );
    // Not UTF-8: the line still gets an answer, in place.
    assert_eq!(cli_scores(b"good\n\xff\xfe\nbad\n").len(), 3);

    let too_many = vec!["x"; 1_001];
    let (status, err) = read(
        client()
            .post(format!("{}/v1/sentiment", server.url))
            .bearer_auth(&server.admin_key)
            .json(&json!({"texts": too_many}))
            .send()
            .expect("post"),
    );
    assert_eq!(status, 400, "{err}");
    let (status, _) = read(
        client()
            .post(format!("{}/v1/sentiment", server.url))
            .bearer_auth(&server.write_key)
            .json(&json!({"texts": ["x"]}))
            .send()
            .expect("post"),
    );
    assert_eq!(status, 403);

    let has_reference = Command::new("python3")
        .args(["-c", "import vaderSentiment"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !require_tool(has_reference, "python package vaderSentiment==3.3.2") {
        return;
    }
    let script = "import json,sys\nfrom vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer as S\ns=S()\nprint(json.dumps([s.polarity_scores(t) for t in json.load(sys.stdin)]))";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(json!(TEXTS).to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("python");
    let reference: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(http, reference);
}
