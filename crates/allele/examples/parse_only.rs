#![allow(
    clippy::expect_used,
    reason = "a benchmark tool: any failure should stop it loudly"
)]
//! The reference ceiling for `bench/ingest.sh`: an axum handler that only
//! parses the same JSON body and answers `{"success":true}` — no auth, no
//! validation, no storage.

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;

async fn parse(body: Bytes) -> &'static str {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(_) => r#"{"success":true}"#,
        Err(_) => r#"{"success":false}"#,
    }
}

#[tokio::main]
async fn main() {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7079".into());
    let app = Router::new()
        .route("/v1/batch", post(parse))
        .layer(axum::extract::DefaultBodyLimit::max(4 << 20));
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
    println!(
        "{{\"listening\":\"http://{}\"}}",
        listener.local_addr().expect("addr")
    );
    axum::serve(listener, app).await.expect("serve");
}
