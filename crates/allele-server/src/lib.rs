//! allele's HTTP server: Segment-compatible ingest, profiles, and operations
//! endpoints, over the embedded store.

pub mod access;
pub mod arms;
pub mod auth;
pub mod bundles;
pub mod computed;
pub mod conn;
pub mod console;
pub mod customer;
pub mod decisions;
pub mod edge;
pub mod edge_status;
pub mod email;
pub mod error;
pub mod funnel;
pub mod grants;
pub mod guard;
pub mod ideas;
pub mod ingest;
pub mod intents;
pub mod journeys;
pub mod learning;
pub mod listen;
pub mod listen_jobs;
pub mod listen_reports;
pub mod ope;
pub mod ops;
pub mod paths;
pub mod person_locks;
pub mod portal;
pub mod portal_grants;
pub mod portal_limits;
pub mod profiles;
pub mod referrals;
pub mod reports;
pub mod segments;
pub mod webhooks;

use allele_store::SqliteStore;
use axum::Router;
use axum::http::{Method, header};
use axum::routing::{get, post};
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

#[derive(Debug, Clone)]
pub struct Config {
    /// Decompressed bytes accepted in one batch (`--max-batch-bytes`).
    pub max_batch_bytes: usize,
    /// How often influence is recomputed and sentiment checked (`--listen-every`).
    pub listen_every: std::time::Duration,
    /// How often challengers' guardrails are checked (`--guard-every`).
    pub guard_every: std::time::Duration,
    /// Header deadline and caps on headers and connections.
    pub limits: conn::Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_batch_bytes: allele_types::segment::DEFAULT_MAX_BATCH_BYTES,
            listen_every: std::time::Duration::from_secs(300),
            guard_every: std::time::Duration::from_secs(60),
            limits: conn::Limits::default(),
        }
    }
}

pub struct AppState {
    pub store: SqliteStore,
    pub config: Config,
    pub keys: auth::KeyCache,
    pub bundles: bundles::Registry,
    /// Bumped on every bundle change; long-polls wait on it.
    pub bundle_changes: tokio::sync::watch::Sender<u64>,
    pub sessions: console::Sessions,
    /// Serialises decisions for one person, so caps hold under concurrency.
    pub decide_locks: person_locks::PersonLocks,
    /// Outcome counts for Beta-Bernoulli propensities, briefly cached.
    pub arms: arms::ArmCache,
}

impl AppState {
    pub fn new(store: SqliteStore, config: Config) -> Arc<AppState> {
        let _ = ops::prometheus();
        Arc::new(AppState {
            store,
            config,
            keys: auth::KeyCache::default(),
            bundles: bundles::Registry::default(),
            bundle_changes: tokio::sync::watch::Sender::new(0),
            sessions: console::Sessions::default(),
            decide_locks: person_locks::PersonLocks::default(),
            arms: arms::ArmCache::default(),
        })
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    // Browsers send Basic auth and Sec-GPC, so headers are mirrored rather
    // than `*` (which never covers Authorization).
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600));
    Router::new()
        .route("/v1/batch", post(ingest::batch))
        .route("/v1/import", post(ingest::batch))
        .route("/v1/{kind}", post(ingest::single))
        .route("/v1/profiles/{reference}", get(profiles::get_profile))
        .route("/v1/profiles/{reference}/events", get(profiles::get_events))
        .route("/v1/profiles/{reference}/unmerge", post(profiles::unmerge))
        .route(
            "/v1/reports/experiments/{experiment_id}",
            get(reports::experiment),
        )
        .route(
            "/v1/profiles/{reference}/consent",
            get(customer::admin_get_consent).put(customer::admin_put_consent),
        )
        .route(
            "/v1/profiles/{reference}/tokens",
            post(customer::issue_token),
        )
        .route(
            "/v1/me/consent",
            get(customer::me_get_consent).put(customer::me_put_consent),
        )
        .route("/v1/me/export", get(customer::me_export))
        .route("/v1/me/access-log", get(access::me_access_log))
        .route(
            "/v1/me/caps",
            get(customer::me_get_caps).put(customer::me_put_caps),
        )
        .route("/v1/me", axum::routing::delete(customer::me_erase))
        .route("/v1/me/grants", get(grants::me_get).put(grants::me_put))
        .route(
            "/v1/me/grants/{id}",
            axum::routing::delete(grants::me_delete),
        )
        .route("/v1/me/earnings", get(grants::me_earnings))
        .route("/v1/me/intents", get(intents::me_get).put(intents::me_put))
        .route("/v1/profiles/{reference}/granted", get(grants::granted))
        .route("/v1/transparency/consistency", get(access::consistency))
        .route("/me/grants", post(portal_grants::post_grant))
        .route("/me/grants/withdraw", post(portal_grants::post_withdraw))
        .route("/me/intents", post(portal_grants::post_intent))
        .route("/me", get(portal::me))
        .route("/me/login", get(portal::login))
        .route("/me/consent", post(portal::post_consent))
        .route("/me/limits", post(portal_limits::post_limits))
        .route("/me/erase", post(portal::post_erase))
        .route("/v1/transparency/key", get(access::transparency_key))
        .route("/v1/policies", axum::routing::put(bundles::publish))
        .route("/v1/bundles/latest", get(bundles::latest))
        .route("/v1/bundles/key", get(bundles::public_key))
        .route(
            "/v1/bundles/challenger",
            get(guard::get_challenger)
                .put(bundles::put_challenger)
                .delete(bundles::delete_challenger),
        )
        .route("/v1/bundles/{version}/activate", post(bundles::activate))
        .route("/v1/decide", post(decisions::decide))
        .route("/v1/outcomes", post(decisions::outcome))
        .route("/v1/edge/snapshot", get(edge::snapshot))
        .route("/v1/edge/events", post(edge::events))
        .route("/v1/edge/decisions", post(edge::decisions))
        .route("/v1/edge/leases", post(edge::leases))
        .route("/v1/edge/status", post(edge_status::report))
        .route("/v1/edges", get(edge_status::edges))
        .route("/v1/sentiment", post(listen::sentiment))
        .route("/v1/webhooks/{id}", axum::routing::put(webhooks::put))
        .route("/v1/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route(
            "/v1/alerts/sentiment/check",
            post(webhooks::check_sentiment),
        )
        .route(
            "/v1/channels/email",
            get(email::get_settings).put(email::put_settings),
        )
        .route(
            "/v1/templates/{id}",
            axum::routing::put(email::put_template),
        )
        .route("/v1/emails", get(email::list).post(email::send))
        .route("/v1/emails/{id}", get(email::get_message))
        .route("/v1/broadcasts", post(email::broadcast))
        .route("/v1/emails/{id}/bounce", post(email::bounce))
        .route(
            "/v1/unsubscribe/{token}",
            get(email::links::unsubscribe_page).post(email::links::unsubscribe),
        )
        .route("/v1/click/{token}", get(email::links::click))
        .route("/v1/journeys/{id}", get(journeys::get).put(journeys::put))
        .route("/v1/journeys/{id}/runs", get(journeys::runs))
        .route("/v1/reports/funnel", get(funnel::funnel))
        .route("/v1/reports/paths", get(paths::report))
        .route("/v1/me/ideas", post(ideas::post))
        .route("/v1/me/ideas/{id}/vote", post(ideas::vote))
        .route("/v1/me/ideas/{id}/comments", post(ideas::comment))
        .route("/v1/ideas", get(ideas::list))
        .route("/v1/ideas/{id}/moderate", post(ideas::moderate))
        .route("/v1/reports/ideas", get(ideas::report))
        .route("/v1/segments/{id}", axum::routing::put(segments::put))
        .route("/v1/segments/{id}/members", get(segments::members))
        .route("/v1/segments/{id}/export", get(segments::export))
        .route("/v1/reports/ope", get(ope::report))
        .route("/v1/reports/heterogeneity", get(learning::heterogeneity))
        .route("/v1/reports/sentiment", get(listen_reports::sentiment))
        .route("/v1/reports/influence", get(listen_reports::influence))
        .route("/v1/reports/referrals", get(referrals::report))
        .route("/v1/reports/lift", get(reports::lift))
        .route("/v1/reports/attribution", get(reports::attribution))
        .route("/", get(console::overview))
        .route("/login", get(console::login_form).post(console::login))
        .route("/logout", post(console::logout))
        .route("/profiles", get(console::profiles))
        .route("/profiles/unmerge", post(console::unmerge))
        .route(
            "/policies",
            get(console::policies).post(console::post_policy),
        )
        .route("/policies/activate", post(console::activate))
        .route("/decisions", get(console::decisions))
        .route("/experiments", get(console::experiments))
        .route("/learning", get(console::learning))
        .route("/edges", get(console::edges))
        .route("/segments", get(console::segments))
        .route("/attribution", get(console::attribution))
        .route("/funnels", get(console::funnels))
        .route("/listening", get(console::listening))
        .route("/ideas", get(console::ideas))
        .route("/ideas/moderate", post(console::moderate))
        .route("/privacy", get(console::privacy))
        .route("/assets/{file}", get(console::asset))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/docs/errors", get(ops::error_page))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::map_response(error::json_errors))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(cors)
        .with_state(state)
}

/// Serve until SIGTERM or Ctrl-C, then stop accepting, finish in-flight
/// requests, and let the writer drain.
pub async fn serve(state: Arc<AppState>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    webhooks::spawn_dispatcher(state.clone());
    listen_jobs::spawn(state.clone(), state.config.listen_every);
    guard::spawn(state.clone(), state.config.guard_every);
    email::dispatch::spawn(state.clone());
    journeys::runner::spawn(state.clone());
    segments::watch::spawn(state.clone());
    let limits = state.config.limits.clone();
    conn::serve(listener, router(state), &limits, shutdown_signal()).await
}

/// SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; draining");
}
