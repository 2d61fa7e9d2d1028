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
    // Not English: VADER knows none of the words, exactly as the reference.
    "これは素晴らしい製品です",
    "tämä on huono tuote :(",
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
    assert_eq!(http[5]["compound"], 0.0, "unknown words are neutral");
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

#[test]
fn sentiment_and_influence_reports() {
    let server = Server::start();
    let prefix = crate::common::unique("social");
    let hub = format!("{prefix}-hub");
    let mut posts = Vec::new();
    for i in 0..6 {
        let author = format!("{prefix}-fan{i}");
        let (text, day) = if i < 3 {
            ("I love this brand!!!", "2026-05-01")
        } else {
            ("worst service ever :(", "2026-05-02")
        };
        posts.push(json!({"type": "track", "userId": author, "event": "Social Post Observed", "timestamp": format!("{day}T12:00:00Z"),
                          "properties": {"text": text, "mentions": [hub], "reply_to": if i > 0 { Value::String(format!("{prefix}-fan{}", i - 1)) } else { Value::Null }}}));
    }
    posts.push(json!({"type": "track", "userId": hub, "event": "Social Post Observed", "timestamp": "2026-05-02T13:00:00Z",
                      "properties": {"text": "thanks everyone", "mentions": [format!("{prefix}-fan0")]}}));
    assert_eq!(server.post("/v1/batch", &json!({"batch": posts})).0, 200);

    let (status, report) = server.admin_get("/v1/reports/sentiment");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["posts"], 7);
    let days = report["days"].as_array().expect("days");
    assert_eq!(days.len(), 2);
    assert_eq!(
        (
            days[0]["date"].as_str(),
            days[0]["posts"].as_u64(),
            days[0]["positive"].as_u64()
        ),
        (Some("2026-05-01"), Some(3), Some(3))
    );
    assert_eq!(days[1]["negative"], 3);
    let love = allele_listen::polarity_scores("I love this brand!!!").compound;
    assert!((days[0]["mean_compound"].as_f64().expect("mean") - love).abs() < 1e-12);

    let (status, influence) = server.admin_get("/v1/reports/influence?limit=3");
    assert_eq!(status, 200, "{influence}");
    assert_eq!(
        influence["people"][0]["user_id"],
        hub.as_str(),
        "the most mentioned ranks first: {influence}"
    );
    assert_eq!(
        influence["people"][0]["reach"], 6,
        "all six fans mention the hub"
    );
    assert_eq!(influence["edges"], 6 + 5 + 1);
    assert_eq!(influence["people"].as_array().map(Vec::len), Some(3));
}

#[test]
fn ideas_board_votes_once_ranks_by_wilson_and_respects_the_author() {
    let server = Server::start();
    let prefix = crate::common::unique("ideas");
    let mut tokens = Vec::new();
    for i in 0..4 {
        let user = format!("{prefix}-{i}");
        assert_eq!(server.post("/v1/identify", &json!({"userId": user})).0, 200);
        let (_, issued) = server.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
        tokens.push(issued["token"].as_str().expect("token").to_string());
    }
    let call = |token: &str, method: reqwest::Method, path: &str, body: Value| {
        read(
            client()
                .request(method, format!("{}{path}", server.url))
                .bearer_auth(token)
                .json(&body)
                .send()
                .expect("request"),
        )
    };
    let post = |token: &str, title: &str, public: bool| {
        let (status, body) = call(
            token,
            reqwest::Method::POST,
            "/v1/me/ideas",
            json!({"title": title, "body": "details", "public": public}),
        );
        assert_eq!(status, 200, "{body}");
        body["id"].as_str().expect("id").to_string()
    };
    let popular = post(&tokens[0], "Click and collect", true);
    let niche = post(&tokens[1], "Green packaging", true);
    let private = post(&tokens[2], "Private thought", false);
    // Three up-votes of three beat one of one; voting again changes, not adds.
    for token in &tokens[1..4] {
        assert_eq!(
            call(
                token,
                reqwest::Method::POST,
                &format!("/v1/me/ideas/{popular}/vote"),
                json!({"up": true})
            )
            .0,
            200
        );
    }
    assert_eq!(
        call(
            &tokens[0],
            reqwest::Method::POST,
            &format!("/v1/me/ideas/{niche}/vote"),
            json!({"up": true})
        )
        .0,
        200
    );
    assert_eq!(
        call(
            &tokens[0],
            reqwest::Method::POST,
            &format!("/v1/me/ideas/{niche}/vote"),
            json!({"up": true})
        )
        .0,
        200
    );
    assert_eq!(
        call(
            &tokens[3],
            reqwest::Method::POST,
            &format!("/v1/me/ideas/{niche}/comments"),
            json!({"body": "yes please"})
        )
        .0,
        200
    );
    let (status, listed) = call(&tokens[3], reqwest::Method::GET, "/v1/ideas", json!({}));
    assert_eq!(status, 200, "{listed}");
    let ideas = listed["ideas"].as_array().expect("ideas");
    let ids: Vec<&str> = ideas.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(
        ids,
        [popular.as_str(), niche.as_str()],
        "ranked, and the private idea is not shown: {listed}"
    );
    assert_eq!(ideas[1]["votes"], 1, "one vote per person");
    assert_eq!(ideas[1]["comments"], 1);
    let expected = allele_listen::wilson_lower_bound(3, 3, 0.95).expect("wilson");
    assert_eq!(ideas[0]["score"].as_f64(), Some(expected));
    // Its author still sees the private idea; the admin report sees all.
    let (_, own) = call(&tokens[2], reqwest::Method::GET, "/v1/ideas", json!({}));
    assert!(own.to_string().contains(&private));
    // Moderation: hidden ideas vanish for customers; status is visible.
    let moderate = |id: &str, body: Value| {
        read(
            client()
                .post(format!("{}/v1/ideas/{id}/moderate", server.url))
                .bearer_auth(&server.admin_key)
                .json(&body)
                .send()
                .expect("moderate"),
        )
    };
    assert_eq!(moderate(&niche, json!({"hidden": true})).0, 200);
    assert_eq!(moderate(&popular, json!({"status": "planned"})).0, 200);
    assert_eq!(moderate(&popular, json!({"status": "someday"})).0, 400);
    let (_, after) = call(&tokens[3], reqwest::Method::GET, "/v1/ideas", json!({}));
    assert_eq!(after["ideas"].as_array().map(Vec::len), Some(1));
    assert_eq!(after["ideas"][0]["status"], "planned");
    let (status, report) = server.admin_get("/v1/reports/ideas");
    assert_eq!(status, 200);
    assert_eq!(report["total"], 3);
    assert_eq!(report["by_status"]["planned"], 1);
    // An admin key is not a customer.
    assert_eq!(
        call(
            &server.admin_key,
            reqwest::Method::POST,
            "/v1/me/ideas",
            json!({"title": "x", "body": "y"})
        )
        .0,
        403
    );
}

#[test]
fn sentiment_bad_input_gets_clear_answers() {
    let server = Server::start();
    let post = |body: Vec<u8>| {
        read(
            client()
                .post(format!("{}/v1/sentiment", server.url))
                .bearer_auth(&server.admin_key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .expect("post"),
        )
    };
    // A text just under the request limit is scored like any other.
    let long = "good ".repeat(200_000);
    let (status, body) = post(json!({"texts": [long]}).to_string().into_bytes());
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scores"][0],
        serde_json::to_value(allele_listen::polarity_scores(&long)).expect("json")
    );
    // Over 1 MB: refused whole, with the limit named.
    let huge = "x".repeat(1 << 20);
    let (status, body) = post(json!({"texts": [huge]}).to_string().into_bytes());
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["code"], "batch_too_large");
    // Invalid UTF-8 inside the JSON: a 400 that says what is wrong.
    let (status, body) = post(b"{\"texts\": [\"bad \xff\xfe\"]}".to_vec());
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("texts")),
        "{body}"
    );
    let (status, body) = post(b"{\"texts\": \"not a list\"}".to_vec());
    assert_eq!(status, 400, "{body}");
}
