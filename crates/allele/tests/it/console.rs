//! The console: admin-key login, pages behind the session, same-origin
//! posts, and customer text rendered inert.

use crate::common::{Server, unique};
use serde_json::json;

#[test]
fn console_login_pages_and_escaping() {
    let server = Server::start();
    let user = unique("console");
    let xss = "<script>alert('x')</script>";
    let traits =
        json!({"userId": user, "traits": {"nickname": xss, "email": format!("{user}@x.test")}});
    assert_eq!(server.post("/v1/identify", &traits).0, 200);
    assert_eq!(server.post("/v1/track", &json!({"userId": user, "event": xss, "properties": {"note": "<img src=x onerror=alert(1)>"}})).0, 200);
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // No session: every page sends you to the login form.
    for path in ["/", "/profiles"] {
        let response = http
            .get(format!("{}{path}", server.url))
            .send()
            .expect("get");
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/login");
    }
    let form = http
        .get(format!("{}/login", server.url))
        .send()
        .expect("form")
        .text()
        .expect("html");
    assert!(
        form.contains("<form method=\"post\" action=\"/login\"") && form.contains("name=\"key\"")
    );
    let origin = format!("http://{}", server.url.trim_start_matches("http://"));
    // Wrong keys and cross-site posts are refused.
    for (key, with_origin, expected) in [
        (server.write_key.as_str(), true, 403),
        ("ak_nope", true, 401),
        (server.admin_key.as_str(), false, 403),
    ] {
        let mut request = http
            .post(format!("{}/login", server.url))
            .form(&[("key", key)]);
        if with_origin {
            request = request.header("origin", &origin);
        }
        assert_eq!(
            request.send().expect("post").status(),
            expected,
            "{key} with origin {with_origin}"
        );
    }
    let login = http
        .post(format!("{}/login", server.url))
        .header("origin", &origin)
        .form(&[("key", server.admin_key.as_str())])
        .send()
        .expect("login");
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    let overview = http
        .get(format!("{}/", server.url))
        .header("cookie", &cookie)
        .send()
        .expect("overview")
        .text()
        .expect("html");
    assert!(
        overview.contains("<a href=\"/profiles\">"),
        "real links: {overview}"
    );
    assert!(
        overview.contains("<td class=\"n\">2</td>"),
        "two events: {overview}"
    );
    let page = http
        .get(format!("{}/profiles?q=email:{user}@x.test", server.url))
        .header("cookie", &cookie)
        .send()
        .expect("profile")
        .text()
        .expect("html");
    assert!(page.contains(&user), "{page}");
    assert!(
        !page.contains("<script>alert") && !page.contains("<img src=x"),
        "customer text must be inert: {page}"
    );
    assert!(page.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;"));
    let missing = http
        .get(format!("{}/profiles?q=user_id:nobody", server.url))
        .header("cookie", &cookie)
        .send()
        .expect("get")
        .text()
        .expect("html");
    assert!(missing.contains("No profile answers"));
}
