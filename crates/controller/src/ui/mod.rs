//! The web UI: server-rendered pages (askama templates compiled into the
//! binary), a little JavaScript of our own for live updates (Server-Sent
//! Events), static assets embedded in the binary; no Node build, no CDN.
//!
//! | path | page |
//! |---|---|
//! | `GET /` | redirect to `/applications` |
//! | `GET /login`, `POST /login`, `POST /logout` | sign in and out ([`auth`]) |
//! | `GET /applications` | every Application, filtered and paged from the URL |
//! | `GET /applications/{name}` | one Application: tree, conditions, operation, history, actions |
//! | `GET /applications/{name}/resource` | one resource: live, desired, diff, events |
//! | `POST /applications/{name}/{action}` | sync, refresh, rollback, delete (CSRF-checked forms) |
//! | `GET /applicationsets`, `/clusters`, `/repositories` | the other lists |
//! | `GET /ui/events` | Server-Sent Events: status changes |
//! | `GET /ui/static/*` | CSS and JavaScript |

pub mod actions;
pub mod auth;
pub mod live;
pub mod pages;
pub mod session;

use std::sync::Arc;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::controller::Controller;

/// What every UI handler reads: the controller and the sessions.
#[derive(Clone)]
pub struct Ui {
    /// The controller shown.
    pub controller: Controller,
    /// Users, sessions, CSRF tokens and the login rate limit.
    pub auth: Arc<auth::Auth>,
}

impl Ui {
    /// The UI state for `controller` (users and tokens from its config).
    pub fn new(controller: Controller) -> Ui {
        let auth = Arc::new(auth::Auth::new(&controller.config().api));
        Ui { controller, auth }
    }
}

/// The UI's routes, with their state applied.
pub fn router(ui: Ui) -> Router {
    use actions::*;
    use pages::*;
    Router::new()
        .route("/", get(|| async { Redirect::to("/applications") }))
        .route("/applications", get(applications))
        .route("/applications/{name}", get(application))
        .route("/applications/{name}/tree", get(tree_fragment))
        .route("/applications/{name}/resource", get(resource))
        .route("/applications/{name}/sync", get(sync_panel).post(sync))
        .route("/applications/{name}/refresh", post(refresh))
        .route(
            "/applications/{name}/rollback",
            get(rollback_panel).post(rollback),
        )
        .route(
            "/applications/{name}/delete",
            get(delete_panel).post(delete),
        )
        .route("/applicationsets", get(appsets))
        .route("/clusters", get(clusters))
        .route("/repositories", get(repositories))
        .route("/ui/events", get(live::events))
        .route("/ui/static/{file}", get(asset))
        .merge(auth::routes())
        .with_state(ui)
}

const CSS: &str = include_str!("../../static/ui.css");
const JS: &str = include_str!("../../static/ui.js");

async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "ui.css" => (CSS, "text/css; charset=utf-8"),
        "ui.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
