//! The console's pages over HTTP: a session for every page, the session's
//! CSRF token on every post (refused posts change nothing), real numbers on
//! every page, customer text rendered inert, and the policy editor's check,
//! publish and rollback.

use crate::common::{Server, client, read, unique};
use serde_json::{Value, json};

const POLICY: &str = r#"holdout: { universal: 0.0, salt: "console" }
selection: top
actions:
  - id: gold_card
    channels: [email, web]
    purpose: dpv:DirectMarketing
    kind: marketing
    value: 120.0
    eligibility: 'profile.traits.age >= 18'
    propensity: { expression: "0.05" }
"#;

const PAGES: &[&str] = &[
    "/",
    "/profiles",
    "/policies",
    "/decisions",
    "/experiments",
    "/learning",
    "/edges",
    "/segments",
    "/attribution",
    "/funnels",
    "/listening",
    "/ideas",
    "/privacy",
];

/// A logged-in browser: the session cookie, the page's CSRF token, and the
/// Origin a same-origin form post carries.
pub struct Browser {
    http: reqwest::blocking::Client,
    base: String,
    cookie: String,
    pub csrf: String,
}

fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    html[start..].split('"').next().expect("token").to_string()
}

impl Browser {
    pub fn login(server: &Server) -> Browser {
        let http = no_redirects();
        let response = http
            .post(format!("{}/login", server.url))
            .header("origin", &server.url)
            .form(&[("key", server.admin_key.as_str())])
            .send()
            .expect("login");
        assert_eq!(response.status(), 303);
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .split(';')
            .next()
            .expect("pair")
            .to_string();
        let mut browser = Browser {
            http,
            base: server.url.clone(),
            cookie,
            csrf: String::new(),
        };
        let (status, overview) = browser.get("/");
        assert_eq!(status, 200);
        browser.csrf = csrf_of(&overview);
        browser
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .expect("get");
        let status = response.status().as_u16();
        (status, response.text().expect("html"))
    }

    /// A form post as the browser sends it: cookie, Origin, fields.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("origin", &self.base)
            .form(fields)
            .send()
            .expect("post");
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().expect("ascii").to_string())
            .unwrap_or_default();
        (status, response.text().expect("body"), location)
    }
}

fn publish(server: &Server, policy: &str) -> Value {
    let (status, body) = read(
        client()
            .put(format!("{}/v1/policies", server.url))
            .bearer_auth(&server.admin_key)
            .header("content-type", "application/yaml")
            .body(policy.to_string())
            .send()
            .expect("publish"),
    );
    assert_eq!(status, 200, "{body}");
    body
}

fn active_version(server: &Server) -> u64 {
    let (status, body) = read(
        client()
            .get(format!("{}/v1/bundles/latest", server.url))
            .bearer_auth(&server.admin_key)
            .send()
            .expect("latest"),
    );
    assert_eq!(status, 200, "{body}");
    body["version"].as_u64().expect("version")
}

fn customer_token(server: &Server, user: &str) -> String {
    let (_, issued) = server.admin_post(&format!("/v1/profiles/user_id:{user}/tokens"), None);
    issued["token"].as_str().expect("token").to_string()
}

fn post_idea(server: &Server, token: &str, title: &str) -> String {
    let (status, body) = read(
        client()
            .post(format!("{}/v1/me/ideas", server.url))
            .bearer_auth(token)
            .json(&json!({"title": title, "body": "<img src=x onerror=alert(2)>", "public": true}))
            .send()
            .expect("idea"),
    );
    assert_eq!(status, 200, "{body}");
    body["id"].as_str().expect("id").to_string()
}

fn idea_state(server: &Server, id: &str) -> Value {
    let (_, report) = server.admin_get("/v1/reports/ideas");
    report["ideas"]
        .as_array()
        .expect("ideas")
        .iter()
        .find(|idea| idea["id"] == id)
        .cloned()
        .expect("the idea")
}

#[test]
fn every_page_needs_a_session_and_every_post_the_sessions_token() {
    let server = Server::start();
    let user = unique("guard");
    assert_eq!(
        server
            .post(
                "/v1/identify",
                &json!({"userId": user, "traits": {"age": 30}})
            )
            .0,
        200
    );
    publish(&server, POLICY);
    publish(&server, POLICY);
    let idea = post_idea(&server, &customer_token(&server, &user), "Guarded idea");
    let http = no_redirects();
    // No session, or an API key instead of one: every page and every post
    // sends you to the login form.
    for path in PAGES {
        for bearer in [None, Some(server.admin_key.as_str())] {
            let mut request = http.get(format!("{}{path}", server.url));
            if let Some(key) = bearer {
                request = request.bearer_auth(key);
            }
            let response = request.send().expect("get");
            assert_eq!(response.status(), 303, "{path} with {bearer:?}");
            assert_eq!(response.headers()["location"], "/login", "{path}");
        }
    }
    let posts: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "/policies",
            vec![
                ("source", POLICY.replace("0.05", "0.5")),
                ("intent", "publish".into()),
            ],
        ),
        ("/policies/activate", vec![("version", "1".into())]),
        (
            "/ideas/moderate",
            vec![
                ("id", idea.clone()),
                ("hidden", "1".into()),
                ("status", "declined".into()),
            ],
        ),
        (
            "/profiles/unmerge",
            vec![("reference", format!("user_id:{user}"))],
        ),
        ("/logout", vec![]),
    ];
    for (path, fields) in &posts {
        let response = http
            .post(format!("{}{path}", server.url))
            .header("origin", &server.url)
            .form(fields)
            .send()
            .expect("post");
        assert_eq!(response.status(), 303, "{path} without a session");
        assert_eq!(response.headers()["location"], "/login");
    }
    let browser = Browser::login(&server);
    assert_eq!(browser.csrf.len(), 32);
    // With a session, a post without the token, with a wrong one, or from
    // another site is refused with the JSON error and changes nothing.
    for (path, fields) in &posts {
        let wrong = "0".repeat(32);
        for (token, origin) in [
            (None, server.url.as_str()),
            (Some(wrong.as_str()), server.url.as_str()),
            (Some(browser.csrf.as_str()), "https://evil.example"),
        ] {
            let mut form: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            if let Some(token) = token {
                form.push(("csrf", token));
            }
            let response = browser
                .http
                .post(format!("{}{path}", server.url))
                .header("cookie", &browser.cookie)
                .header("origin", origin)
                .form(&form)
                .send()
                .expect("post");
            let (status, body) = read(response);
            assert_eq!(status, 403, "{path} with {token:?} from {origin}: {body}");
            assert_eq!(body["code"], "csrf_rejected", "{path}: {body}");
        }
    }
    assert_eq!(active_version(&server), 2, "no publish, no rollback");
    let untouched = idea_state(&server, &idea);
    assert_eq!(
        (untouched["hidden"].as_bool(), untouched["status"].as_str()),
        (Some(false), Some("open"))
    );
    // The session is still open: refused posts did not log out either.
    assert_eq!(browser.get("/ideas").0, 200);
    // The right token and origin do what the form says.
    let (status, _, location) = browser.post(
        "/ideas/moderate",
        &[
            ("csrf", &browser.csrf),
            ("id", &idea),
            ("flagged", "1"),
            ("status", "planned"),
        ],
    );
    assert_eq!((status, location.as_str()), (303, "/ideas"));
    let moderated = idea_state(&server, &idea);
    assert_eq!(
        (
            moderated["hidden"].as_bool(),
            moderated["flagged"].as_bool(),
            moderated["status"].as_str()
        ),
        (Some(false), Some(true), Some("planned"))
    );
    let (status, _, location) = browser.post("/logout", &[("csrf", &browser.csrf)]);
    assert_eq!((status, location.as_str()), (303, "/login"));
    let (status, _) = browser.get("/");
    assert_eq!(status, 303, "the session ended");
}

#[test]
fn pages_show_what_they_were_fed_and_customer_text_stays_inert() {
    let server = Server::start();
    let user = unique("fed");
    let xss = "<script>alert('trait')</script>";
    let batch: Vec<Value> = vec![
        json!({"type": "identify", "userId": user, "traits": {"age": 40, "nickname": xss, "email": format!("{user}@x.test")}}),
        json!({"type": "track", "userId": user, "event": "Signup", "context": {"campaign": {"source": "newsletter"}}}),
        json!({"type": "track", "userId": user, "event": "Experiment Viewed", "properties": {"experiment_id": "exp_console", "variation_id": "control"}}),
        json!({"type": "track", "userId": user, "event": "Purchase", "properties": {"revenue": 10}}),
        json!({"type": "track", "userId": user, "event": "Social Post Observed", "properties": {"text": "I love this shop, great service!"}}),
        json!({"type": "track", "userId": "fed_other", "event": "Experiment Viewed", "properties": {"experiment_id": "exp_console", "variation_id": "treatment"}}),
        json!({"type": "track", "userId": "fed_other", "event": "Signup"}),
    ];
    assert_eq!(server.post("/v1/batch", &json!({"batch": batch})).0, 200);
    let (status, _) = read(
        client()
            .put(format!("{}/v1/profiles/user_id:{user}/consent", server.url))
            .bearer_auth(&server.admin_key)
            .json(&json!({"purpose": "dpv:DirectMarketing", "channel": "email", "status": "given"}))
            .send()
            .expect("consent"),
    );
    assert_eq!(status, 200);
    publish(&server, POLICY);
    let (status, decision) = read(
        client()
            .post(format!("{}/v1/decide", server.url))
            .bearer_auth(&server.admin_key)
            .json(&json!({"user_id": user, "touchpoint": "web", "channel": "email"}))
            .send()
            .expect("decide"),
    );
    assert_eq!(status, 200, "{decision}");
    let decision_id = decision["decision_id"].as_str().expect("id").to_string();
    assert_eq!(
        decision["actions"][0]["action_id"], "gold_card",
        "{decision}"
    );
    let (status, body) = read(
        client()
            .post(format!("{}/v1/outcomes", server.url))
            .bearer_auth(&server.admin_key)
            .json(&json!({"decision_id": decision_id, "action_id": "gold_card", "revenue": 42.5}))
            .send()
            .expect("outcome"),
    );
    assert_eq!(status, 200, "{body}");
    let idea_xss = "<script>alert('idea')</script>";
    post_idea(&server, &customer_token(&server, &user), idea_xss);
    let browser = Browser::login(&server);

    let (_, overview) = browser.get("/");
    for needle in [
        "<th scope=\"row\">events</th><td class=\"n\">9</td>",
        "<th scope=\"row\">profiles</th><td class=\"n\">2</td>",
        "<th scope=\"row\">decisions</th><td class=\"n\">1</td>",
        "<th scope=\"row\">outcomes</th><td class=\"n\">1</td>",
        "<th scope=\"row\">revenue</th><td class=\"n\">42.50</td>",
        "<th scope=\"row\">consent records</th><td class=\"n\">1</td>",
        "<html lang=\"en\">",
        "<caption>Events per hour by event time (UTC)</caption>",
        "/assets/uPlot.iife.min.js",
    ] {
        assert!(
            overview.contains(needle),
            "overview lacks `{needle}`:\n{overview}"
        );
    }
    // This hour's row counts every event sent just now (9: the batch, the
    // decision's exposure is not an event, the outcome is).
    let hour_rows = overview.matches("<tr data-x=").count();
    assert_eq!(hour_rows, 48, "{overview}");
    assert!(overview.contains("data-y=\"9\""), "{overview}");

    let (_, profile) = browser.get(&format!("/profiles?q=email:{user}@x.test"));
    assert!(
        profile.contains(&user)
            && profile.contains("dpv:DirectMarketing")
            && profile.contains("given")
    );
    assert!(profile.contains("Purchase") && profile.contains("<label for=\"q\">"));
    assert!(
        !profile.contains("<script>alert"),
        "trait must be inert:\n{profile}"
    );
    assert!(
        profile.contains("&#60;script&#62;alert(&#39;trait&#39;)&#60;/script&#62;"),
        "{profile}"
    );

    let (_, decisions) = browser.get(&format!(
        "/decisions?profile=user_id:{user}&action=gold_card"
    ));
    assert!(decisions.contains(&decision_id), "{decisions}");
    assert!(decisions.contains("<td>gold_card</td>") && decisions.contains("not held out"));
    assert!(
        decisions.contains("Explanation trace")
            && decisions.contains("<td>selection</td><td>selected</td>"),
        "{decisions}"
    );
    let (_, none) = browser.get("/decisions?action=no_such_action");
    assert!(none.contains("0 decision(s)") && !none.contains(&decision_id));

    let (_, experiment) =
        browser.get("/experiments?experiment_id=exp_console&metric=Purchase&control=control");
    assert!(
        experiment.contains("<td>treatment</td><td class=\"num\">1</td><td class=\"num\">0</td>"),
        "{experiment}"
    );
    assert!(experiment.contains("<td>control</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">1.0000</td>"), "{experiment}");
    assert!(
        experiment.contains("Against control") && experiment.contains("-1.0000"),
        "{experiment}"
    );
    let (_, missing) = browser.get("/experiments?experiment_id=nope&metric=Purchase");
    assert!(
        missing.contains("no `Experiment Viewed` event names experiment `nope`"),
        "{missing}"
    );
    let (_, holdout) = browser.get("/experiments?holdout_metric=Decision%20Outcome");
    assert!(
        holdout.contains("<td>all actions</td>") && holdout.contains("<td>gold_card</td>"),
        "{holdout}"
    );
    assert!(
        holdout.contains("1 of 1 (1.0000)"),
        "one treated, converted: {holdout}"
    );

    let (_, funnel) = browser.get("/funnels?steps=Signup,Purchase");
    assert!(
        funnel.contains("<td>Signup</td><td class=\"num\">2</td>"),
        "{funnel}"
    );
    assert!(
        funnel.contains("<td>Purchase</td><td class=\"num\">1</td><td class=\"num\">0.500</td>"),
        "{funnel}"
    );
    let (_, attribution) = browser.get("/attribution?conversion=Purchase&model=linear");
    assert!(
        attribution.contains("1 conversions worth")
            && attribution.contains("<td>newsletter</td><td class=\"num\">1.00</td>"),
        "{attribution}"
    );

    let (_, listening) = browser.get("/listening");
    assert!(listening.contains("1 post(s)"), "{listening}");
    assert_eq!(listening.matches("<tr data-x=").count(), 1, "{listening}");

    let (_, ideas) = browser.get("/ideas");
    assert!(
        !ideas.contains("<script>alert") && !ideas.contains("<img src=x"),
        "{ideas}"
    );
    assert!(
        ideas.contains("&#60;script&#62;alert(&#39;idea&#39;)"),
        "{ideas}"
    );

    let (_, privacy) = browser.get("/privacy");
    assert!(
        privacy.contains("<td>dpv:DirectMarketing</td><td>email</td><td>given</td><td class=\"num\">1</td><td class=\"num\">1</td>"),
        "{privacy}"
    );
    // The profile page's read is in the access log.
    let size: u64 = privacy
        .split("<td id=\"tree-size\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|n| n.parse().ok())
        .expect("tree size");
    assert!(size >= 1, "{privacy}");

    for asset in [
        "/assets/htmx.min.js",
        "/assets/uPlot.iife.min.js",
        "/assets/console.js",
        "/assets/htmx.LICENSE",
        "/assets/uPlot.LICENSE",
    ] {
        let response = client()
            .get(format!("{}{asset}", server.url))
            .send()
            .expect("asset");
        assert_eq!(response.status(), 200, "{asset}");
        assert!(response.text().expect("text").len() > 100, "{asset}");
    }
    assert_eq!(
        read(
            client()
                .get(format!("{}/assets/nope.js", server.url))
                .send()
                .expect("asset")
        )
        .0,
        404
    );
}

#[test]
fn the_policy_editor_checks_publishes_and_rolls_back() {
    let server = Server::start();
    assert_eq!(
        server
            .post(
                "/v1/identify",
                &json!({"userId": unique("pol"), "traits": {"age": 30}})
            )
            .0,
        200
    );
    publish(&server, POLICY);
    let browser = Browser::login(&server);
    let (_, page) = browser.get("/policies");
    assert!(
        page.contains("<strong id=\"active-version\">1</strong>"),
        "{page}"
    );
    assert!(
        page.contains("propensity: { expression: &#34;0.05&#34; }"),
        "the source: {page}"
    );

    // A value of the wrong type on line 8: shown with its place, not published.
    let broken = POLICY.replace("value: 120.0", "value: lots");
    for intent in ["check", "publish"] {
        let (status, html, _) = browser.post(
            "/policies",
            &[
                ("csrf", &browser.csrf),
                ("source", &broken),
                ("intent", intent),
            ],
        );
        assert_eq!(status, 200, "{intent}");
        assert!(html.contains("nothing was published"), "{intent}: {html}");
        assert!(
            html.contains("<strong>line 8, column 12</strong>"),
            "{intent}: {html}"
        );
        assert!(
            html.contains("<tr class=\"del\"><td>-</td><td><pre>    value: 120.0</pre></td></tr>"),
            "{html}"
        );
        assert!(
            html.contains("lots"),
            "the draft stays in the editor: {html}"
        );
        assert_eq!(active_version(&server), 1, "{intent}");
    }
    // An expression error is placed inside its expression.
    let broken = POLICY.replace("profile.traits.age >= 18", "profile.traits.age >=");
    let (_, html, _) = browser.post(
        "/policies",
        &[
            ("csrf", &browser.csrf),
            ("source", &broken),
            ("intent", "publish"),
        ],
    );
    assert!(
        html.contains("<strong>eligibility of gold_card, line 1, column 22</strong>"),
        "{html}"
    );
    assert_eq!(active_version(&server), 1);
    // A good edit: the check shows the diff, publish makes version 2 active.
    let edited = POLICY.replace("0.05", "0.07");
    let (_, checked, _) = browser.post(
        "/policies",
        &[
            ("csrf", &browser.csrf),
            ("source", &edited),
            ("intent", "check"),
        ],
    );
    assert!(checked.contains("No errors."), "{checked}");
    assert!(checked.contains("<tr class=\"add\"><td>+</td><td><pre>    propensity: { expression: &#34;0.07&#34; }</pre></td></tr>"), "{checked}");
    assert_eq!(active_version(&server), 1, "a check publishes nothing");
    let (status, _, location) = browser.post(
        "/policies",
        &[
            ("csrf", &browser.csrf),
            ("source", &edited.replace('\n', "\r\n")),
            ("intent", "publish"),
        ],
    );
    assert_eq!((status, location.as_str()), (303, "/policies?published=2"));
    assert_eq!(active_version(&server), 2);
    let (_, page) = browser.get(&location);
    assert!(
        page.contains("Published version 2") && page.contains("expression: &#34;0.07&#34;"),
        "{page}"
    );
    assert!(
        page.contains("aria-label=\"activate version 1\"")
            && !page.contains("aria-label=\"activate version 2\"")
    );
    // Roll back to version 1.
    let (status, _, location) = browser.post(
        "/policies/activate",
        &[("csrf", &browser.csrf), ("version", "1")],
    );
    assert_eq!((status, location.as_str()), (303, "/policies?activated=1"));
    assert_eq!(active_version(&server), 1);
    let (_, page) = browser.get(&location);
    assert!(
        page.contains("<strong id=\"active-version\">1</strong>")
            && page.contains("aria-label=\"activate version 2\""),
        "{page}"
    );
    // An unknown version is refused and changes nothing.
    let (status, _, _) = browser.post(
        "/policies/activate",
        &[("csrf", &browser.csrf), ("version", "9")],
    );
    assert_eq!(status, 404);
    assert_eq!(active_version(&server), 1);
}
