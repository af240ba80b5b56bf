//! The route table: every URL the server answers, in one place.
//!
//! [`ROUTES`] lists each route with an example path and who may call it; the integration test
//! `every_route_requires_authentication` walks it without credentials and expects 401 (API) or a
//! redirect to the login page (GUI) for every route not marked [`Access::Public`]. Adding a route
//! here without adding it to [`ROUTES`] makes that test's "route exists" check fail.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::HeaderValue;
use axum::http::header;
use axum::response::Response;
use axum::routing::{get, post};

use crate::AppState;
use crate::handlers::{admin, api, images, metrics, pages, session};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health check, login form).
    Public,
    /// Logged-in GUI user; others are redirected to `/login`.
    Web,
    /// API caller (session, proxy user or read token); others get 401.
    Api,
    /// Ingest token; others get 401.
    Ingest,
}

/// One route: method, an example path that matches it, and its access rule.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// An example path (with query) that reaches the handler.
    pub example: &'static str,
    /// Who may call it.
    pub access: Access,
}

const fn route(method: &'static str, example: &'static str, access: Access) -> Route {
    Route {
        method,
        example,
        access,
    }
}

/// Every route of [`router`].
pub const ROUTES: &[Route] = &[
    route("GET", "/healthz", Access::Public),
    route("GET", "/login", Access::Public),
    route("POST", "/login", Access::Public),
    route("POST", "/logout", Access::Web),
    route("GET", "/", Access::Web),
    route("GET", "/live", Access::Web),
    route("GET", "/live/rows", Access::Web),
    route("GET", "/search?q=web", Access::Web),
    route("GET", "/hosts/web1", Access::Web),
    route("GET", "/hosts/web1/diff?a=x&b=y", Access::Web),
    route(
        "GET",
        "/reports/00000000-0000-0000-0000-000000000000",
        Access::Web,
    ),
    route("POST", "/api/v1/reports", Access::Ingest),
    route("GET", "/api/v1/reports", Access::Api),
    route(
        "GET",
        "/api/v1/reports/00000000-0000-0000-0000-000000000000",
        Access::Api,
    ),
    route("GET", "/api/v1/hosts", Access::Api),
    route("GET", "/api/v1/hosts/web1", Access::Api),
    route("GET", "/api/v1/hosts/web1/reports", Access::Api),
    route("GET", "/api/v1/hosts/web1/images", Access::Api),
    route(
        "GET",
        "/api/v1/hosts/web1/images/0000000000000000000000000000000000000000000000000000000000000000",
        Access::Api,
    ),
    route(
        "PUT",
        "/api/v1/hosts/web1/images/0000000000000000000000000000000000000000000000000000000000000000",
        Access::Ingest,
    ),
    route("GET", "/api/v1/search?q=web", Access::Api),
    route("GET", "/api/v1/openapi.json", Access::Api),
    route("GET", "/metrics", Access::Api),
];

/// Builds the router over `state`.
pub fn router(state: AppState) -> Router {
    let max_report = state.config().http.max_report_bytes;
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/", get(pages::overview))
        .route("/live", get(pages::live))
        .route("/live/rows", get(pages::live_rows))
        .route("/search", get(pages::search))
        .route("/hosts/{name}", get(pages::host))
        .route("/hosts/{name}/diff", get(pages::diff))
        .route("/reports/{id}", get(pages::report))
        .route("/admin", get(admin::admin))
        .route("/admin/tokens", post(admin::create_token))
        .route(
            "/api/v1/reports",
            post(api::post_report)
                .layer(DefaultBodyLimit::max(max_report))
                .get(api::recent),
        )
        .route("/api/v1/reports/{id}", get(api::report))
        .route("/api/v1/hosts", get(api::hosts))
        .route("/api/v1/hosts/{name}", get(api::host))
        .route("/api/v1/hosts/{name}/reports", get(api::host_reports))
        .route("/api/v1/hosts/{name}/images", get(images::list))
        .route(
            "/api/v1/hosts/{name}/images/{sha256}",
            get(images::download).put(images::upload.layer(DefaultBodyLimit::disable())),
        )
        .route("/api/v1/search", get(api::search))
        .route("/api/v1/openapi.json", get(api::openapi))
        .route("/metrics", get(metrics::metrics))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        .with_state(state)
}

/// Headers on every response: no framing, no sniffing, no caching of authenticated pages, and a
/// content security policy that allows only our own inline style and the live page's script.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    resp
}
