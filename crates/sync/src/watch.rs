//! Watches on the objects Applications track: which Application an object
//! that changed on a cluster belongs to, so a controller can look at that
//! Application again (self-heal, health) without polling.

use flotilla_core::annotations::INSTANCE_LABEL;
use futures::{Stream, StreamExt};
use kube::api::{Api, DynamicObject};
use kube::runtime::{watcher, WatchStreamExt};

use crate::cluster::{ClusterConn, ResourceType};

/// What a watch on tracked objects reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackedEvent {
    /// An object labelled for this Application was created, changed or deleted.
    Changed {
        /// The Application (the `app.kubernetes.io/instance` label).
        app: String,
    },
    /// The watch listed everything again (at its start, and after it was
    /// interrupted: changes in between were not reported one by one).
    Listed,
}

impl ClusterConn {
    /// Watches every object of `rtype` carrying the instance label, in all
    /// namespaces, resuming with backoff when interrupted. Never ends on
    /// its own; drop the stream to stop.
    pub fn watch_tracked(&self, rtype: &ResourceType) -> impl Stream<Item = TrackedEvent> + Send {
        let api: Api<DynamicObject> = Api::all_with(self.client().clone(), &rtype.api_resource);
        let config = watcher::Config::default().labels(INSTANCE_LABEL);
        let cluster = self.name().to_string();
        let kind = rtype.api_resource.kind.clone();
        watcher(api, config)
            .default_backoff()
            .filter_map(move |event| {
                let out = match event {
                    Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::Delete(o)) => o
                        .metadata
                        .labels
                        .and_then(|mut l| l.remove(INSTANCE_LABEL))
                        .map(|app| TrackedEvent::Changed { app }),
                    Ok(watcher::Event::InitDone) => Some(TrackedEvent::Listed),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::debug!(%cluster, %kind, error = %e, "watch interrupted; resuming");
                        None
                    }
                };
                futures::future::ready(out)
            })
    }
}
