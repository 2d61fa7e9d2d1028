//! The console's segments page: definitions shown as text (escaped), the
//! picked segment's members right now, and a clear message for an unknown
//! segment.

use crate::common::{Server, unique};
use crate::console_pages::Browser;
use serde_json::json;

#[test]
fn the_segments_page_lists_definitions_and_current_members() {
    let server = Server::start();
    let tag = unique("seg");
    let definition = format!(
        "profile.traits.age >= 30 && profile.traits.tag == \"{tag}\" && profile.traits.note != \"<b>x</b>\""
    );
    let (status, body) =
        server.admin_put("/v1/segments/over_30", &json!({"definition": definition}));
    assert_eq!(status, 200, "{body}");
    let users: Vec<String> = (0..3).map(|i| format!("{tag}-u{i}")).collect();
    for (user, age) in users.iter().zip([25, 35, 45]) {
        let identify = json!({"userId": user, "traits": {"age": age, "tag": tag, "note": "plain"}});
        assert_eq!(server.post("/v1/identify", &identify).0, 200);
    }
    let browser = Browser::login(&server);
    let (status, page) = browser.get("/segments");
    assert_eq!(status, 200);
    assert!(page.contains("href=\"/segments?id=over_30\""), "{page}");
    assert!(!page.contains("<b>x</b>"), "definitions are text: {page}");
    assert!(page.contains("&#60;b&#62;x&#60;/b&#62;"), "{page}");
    let (status, page) = browser.get("/segments?id=over_30");
    assert_eq!(status, 200);
    assert!(!page.contains(&users[0]), "25 is not over 30: {page}");
    assert!(
        page.contains(&users[1]) && page.contains(&users[2]),
        "{page}"
    );
    // A profile that changes is in or out at once.
    let older = json!({"userId": users[0], "traits": {"age": 31}});
    assert_eq!(server.post("/v1/identify", &older).0, 200);
    let (_, page) = browser.get("/segments?id=over_30");
    assert!(page.contains(&users[0]), "{page}");
    let (status, page) = browser.get("/segments?id=nope");
    assert_eq!(status, 200);
    assert!(
        page.contains("role=\"alert\">no segment has this id"),
        "{page}"
    );
}
