//! Operations endpoints: health, readiness, Prometheus metrics, the OpenAPI
//! description and the error-code page that every error's `link` points at.

use crate::AppState;
use allele_types::Code;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, OnceLock};

pub const OPENAPI: &str = include_str!("../openapi.json");

pub async fn healthz() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let probe = state
        .store
        .read(|conn| {
            Ok(conn.query_row("SELECT COUNT(*) FROM workspaces", [], |r| {
                r.get::<_, i64>(0)
            })?)
        })
        .await;
    match probe {
        Ok(_) => (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"ready"}"#,
        )
            .into_response(),
        Err(err) => {
            crate::error::HttpError::new(Code::NotReady, format!("store is not readable: {err}"))
                .into_response()
        }
    }
}

/// One recorder per process; tests start many servers in one process.
pub fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let latency = [
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0,
            ];
            let sizes = [1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full("allele_commit_seconds".into()), &latency)
                .ok()?
                .set_buckets_for_metric(Matcher::Suffix("_events".into()), &sizes)
                .ok()?
                .set_buckets_for_metric(Matcher::Full("allele_ingest_batch_size".into()), &sizes)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            // Histograms keep every sample until drained; without a scrape
            // only upkeep drains them, so a server nobody scrapes would
            // otherwise grow by a few samples per request forever.
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("allele-metrics".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

pub async fn metrics() -> Response {
    let text = prometheus()
        .map(|handle| handle.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn error_page() -> Response {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>allele error codes</title>\
         <h1>Error codes</h1><p>Every error body is <code>{\"message\",\"code\",\"type\",\"link\"}</code>.</p>\
         <table><thead><tr><th>code</th><th>type</th><th>status</th><th>when</th></tr></thead><tbody>",
    );
    for code in Code::ALL {
        let kind = serde_json::to_value(code.error_type())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        html.push_str(&format!(
            "<tr id=\"{name}\"><td><code>{name}</code></td><td>{kind}</td><td>{status}</td><td>{doc}</td></tr>",
            name = code.name(),
            status = code.status(),
            doc = code.doc().replace('<', "&lt;"),
        ));
    }
    html.push_str("</tbody></table></html>");
    (StatusCode::OK, Html(html)).into_response()
}
