//! Counting the requests a cluster client sends, by kind of request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Kinds of API requests, as the engine cares about them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// `GET /api`, `/apis`, `/apis/group/version` (discovery).
    Discovery,
    /// `GET` of a collection.
    List,
    /// `GET` of one named object.
    Get,
    /// A watch.
    Watch,
    /// A write that was a server-side dry run (`dryRun=All`): validation, diff.
    DryRun,
    /// `POST` (create).
    Create,
    /// `PATCH` (apply and patch).
    Patch,
    /// `PUT` (update, replace).
    Update,
    /// `DELETE`.
    Delete,
    /// Anything else.
    Other,
}

/// Live counters of requests sent to one cluster. Cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub struct RequestStats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    discovery: AtomicU64,
    list: AtomicU64,
    get: AtomicU64,
    watch: AtomicU64,
    dry_run: AtomicU64,
    create: AtomicU64,
    patch: AtomicU64,
    update: AtomicU64,
    delete: AtomicU64,
    other: AtomicU64,
}

/// A copy of the counters at one moment; subtract two to count what happened
/// in between.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// Discovery requests.
    pub discovery: u64,
    /// Collection reads.
    pub list: u64,
    /// Single-object reads.
    pub get: u64,
    /// Watches.
    pub watch: u64,
    /// Server-side dry runs (not writes).
    pub dry_run: u64,
    /// Creates.
    pub create: u64,
    /// Patches (server-side apply).
    pub patch: u64,
    /// Updates.
    pub update: u64,
    /// Deletes.
    pub delete: u64,
    /// Anything else.
    pub other: u64,
}

impl RequestCounts {
    /// Requests that changed the cluster: create, patch, update, delete
    /// (dry runs excluded).
    pub fn writes(&self) -> u64 {
        self.create + self.patch + self.update + self.delete
    }

    /// Every request.
    pub fn total(&self) -> u64 {
        self.discovery
            + self.list
            + self.get
            + self.watch
            + self.dry_run
            + self.writes()
            + self.other
    }

    /// What was counted since `earlier`.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts {
            discovery: self.discovery - earlier.discovery,
            list: self.list - earlier.list,
            get: self.get - earlier.get,
            watch: self.watch - earlier.watch,
            dry_run: self.dry_run - earlier.dry_run,
            create: self.create - earlier.create,
            patch: self.patch - earlier.patch,
            update: self.update - earlier.update,
            delete: self.delete - earlier.delete,
            other: self.other - earlier.other,
        }
    }
}

impl std::fmt::Display for RequestCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} requests: {} discovery, {} list, {} get, {} watch, {} dry-run, {} create, {} patch, {} update, {} delete",
            self.total(),
            self.discovery,
            self.list,
            self.get,
            self.watch,
            self.dry_run,
            self.create,
            self.patch,
            self.update,
            self.delete
        )
    }
}

impl RequestStats {
    /// New counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request.
    pub fn record(&self, kind: RequestKind) {
        let c = &self.0;
        let counter = match kind {
            RequestKind::Discovery => &c.discovery,
            RequestKind::List => &c.list,
            RequestKind::Get => &c.get,
            RequestKind::Watch => &c.watch,
            RequestKind::DryRun => &c.dry_run,
            RequestKind::Create => &c.create,
            RequestKind::Patch => &c.patch,
            RequestKind::Update => &c.update,
            RequestKind::Delete => &c.delete,
            RequestKind::Other => &c.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> RequestCounts {
        let c = &self.0;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RequestCounts {
            discovery: get(&c.discovery),
            list: get(&c.list),
            get: get(&c.get),
            watch: get(&c.watch),
            dry_run: get(&c.dry_run),
            create: get(&c.create),
            patch: get(&c.patch),
            update: get(&c.update),
            delete: get(&c.delete),
            other: get(&c.other),
        }
    }
}

/// Classifies a request by method, path and query.
pub fn classify(method: &http::Method, path: &str, query: Option<&str>) -> RequestKind {
    let query = query.unwrap_or("");
    let has = |param: &str| {
        query
            .split('&')
            .any(|kv| kv == param || kv.starts_with(&format!("{param}=")))
    };
    let dry_run = query.split('&').any(|kv| kv.starts_with("dryRun=All"));
    match *method {
        http::Method::GET => {
            if has("watch") && query.contains("watch=true") || query.contains("watch=1") {
                return RequestKind::Watch;
            }
            let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            let rest: &[&str] = match segments.first() {
                Some(&"api") if segments.len() >= 2 => &segments[2..],
                Some(&"apis") if segments.len() >= 3 => &segments[3..],
                Some(&"api") | Some(&"apis") => &[],
                _ => return RequestKind::Other,
            };
            match rest {
                [] => RequestKind::Discovery,
                ["namespaces", _, _] | [_] => RequestKind::List,
                _ => RequestKind::Get,
            }
        }
        _ if dry_run => RequestKind::DryRun,
        http::Method::POST => RequestKind::Create,
        http::Method::PATCH => RequestKind::Patch,
        http::Method::PUT => RequestKind::Update,
        http::Method::DELETE => RequestKind::Delete,
        _ => RequestKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified() {
        use http::Method;
        assert_eq!(classify(&Method::GET, "/api", None), RequestKind::Discovery);
        assert_eq!(
            classify(&Method::GET, "/apis/apps/v1", None),
            RequestKind::Discovery
        );
        assert_eq!(
            classify(
                &Method::GET,
                "/api/v1/namespaces/a/configmaps",
                Some("labelSelector=x")
            ),
            RequestKind::List
        );
        assert_eq!(
            classify(&Method::GET, "/api/v1/namespaces", None),
            RequestKind::List
        );
        assert_eq!(
            classify(&Method::GET, "/api/v1/namespaces/a", None),
            RequestKind::Get
        );
        assert_eq!(
            classify(
                &Method::GET,
                "/apis/apps/v1/namespaces/a/deployments/web",
                None
            ),
            RequestKind::Get
        );
        assert_eq!(
            classify(
                &Method::PATCH,
                "/api/v1/namespaces/a/configmaps/x",
                Some("dryRun=All&fieldManager=flotilla")
            ),
            RequestKind::DryRun
        );
        assert_eq!(
            classify(
                &Method::PATCH,
                "/api/v1/namespaces/a/configmaps/x",
                Some("fieldManager=flotilla")
            ),
            RequestKind::Patch
        );
        assert_eq!(
            classify(
                &Method::GET,
                "/api/v1/namespaces/a/pods",
                Some("watch=true")
            ),
            RequestKind::Watch
        );
    }
}
