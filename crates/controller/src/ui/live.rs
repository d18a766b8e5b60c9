//! Live updates: `GET /ui/events` streams Server-Sent Events.
//!
//! - `app`: an Application's status changed; data is [`LiveApp`] as JSON.
//! - `tree` (only with `?app=NAME`): that Application's objects changed on
//!   its cluster; the page fetches its tree again.
//! - `reload`: events were dropped; the page should load again.

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;

use super::auth::Viewer;
use super::Ui;
use flotilla_sync::CacheEvent;

/// `?app=NAME` follows one Application (its tree too); without it, all.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LiveQuery {
    app: String,
}

/// What an `app` event carries.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveApp {
    name: String,
    sync: String,
    health: String,
    revision: String,
    operation: String,
    last_sync: String,
    reconciled_at: String,
}

enum Next {
    App(String),
    Tree,
    Reload,
    Gone,
}

/// `GET /ui/events`.
pub async fn events(
    State(ui): State<Ui>,
    _viewer: Viewer,
    Query(q): Query<LiveQuery>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let apps = ui.controller.subscribe();
    let clusters = (!q.app.is_empty()).then(|| ui.controller.cluster_events());
    let state = (ui, q.app, apps, clusters);
    let stream = futures::stream::unfold(state, |(ui, only, mut apps, mut clusters)| async move {
        loop {
            let next = tokio::select! {
                r = apps.recv() => match r {
                    Ok(name) if only.is_empty() || name == only => Next::App(name),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => Next::Reload,
                    Err(RecvError::Closed) => Next::Gone,
                },
                r = async {
                    match clusters.as_mut() {
                        Some(rx) => rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => match r {
                    Ok(CacheEvent::Changed { apps: changed, .. } | CacheEvent::Tree { apps: changed, .. })
                        if changed.contains(&only) => Next::Tree,
                    Ok(CacheEvent::Synced { .. }) => Next::Tree,
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => Next::Tree,
                    Err(RecvError::Closed) => Next::Gone,
                },
            };
            let event = match next {
                Next::Gone => return None,
                Next::Reload => Event::default().event("reload").data("{}"),
                Next::Tree => Event::default().event("tree").data("{}"),
                Next::App(name) => {
                    let live = ui.controller.with_application(&name, |a| {
                        let op = a.operation.as_ref();
                        LiveApp {
                            name: a.name.clone(),
                            sync: a.sync.clone(),
                            health: a.health.clone(),
                            revision: super::pages::short(&a.revision),
                            operation: op.map(|o| o.phase.clone()).unwrap_or_default(),
                            last_sync: super::pages::last_sync(op),
                            reconciled_at: a.reconciled_at.clone(),
                        }
                    });
                    match live.map(|l| serde_json::to_string(&l)) {
                        // Deleted.
                        None => Event::default().event("gone").data(name),
                        Some(Ok(json)) => Event::default().event("app").data(json),
                        Some(Err(_)) => continue,
                    }
                }
            };
            return Some((Ok(event), (ui, only, apps, clusters)));
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
