//! Counting the requests a cluster client sends, by kind of request, and
//! how long they waited for the client-side rate limiter
//! ([`crate::ratelimit`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
    throttled: AtomicU64,
    limiter_wait_nanos: AtomicU64,
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
    /// Requests that waited for the rate limiter (counted once each, not a
    /// kind of request: not part of [`RequestCounts::total`]).
    pub throttled: u64,
    /// How long requests waited for the rate limiter, added up.
    pub limiter_wait: Duration,
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
            throttled: self.throttled.saturating_sub(earlier.throttled),
            limiter_wait: self.limiter_wait.saturating_sub(earlier.limiter_wait),
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
        )?;
        if self.throttled > 0 {
            write!(
                f,
                "; {} throttled, {:.3}s waited for the rate limiter",
                self.throttled,
                self.limiter_wait.as_secs_f64()
            )?;
        }
        Ok(())
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

    /// Counts one request's wait for the rate limiter (nothing when zero).
    pub fn record_wait(&self, waited: Duration) {
        if waited.is_zero() {
            return;
        }
        let c = &self.0;
        c.throttled.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        c.limiter_wait_nanos.fetch_add(nanos, Ordering::Relaxed);
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
            throttled: get(&c.throttled),
            limiter_wait: Duration::from_nanos(get(&c.limiter_wait_nanos)),
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

    #[test]
    fn limiter_waits_are_added_up() {
        let stats = RequestStats::new();
        stats.record(RequestKind::Get);
        let before = stats.snapshot();
        assert_eq!(before.to_string(), "1 requests: 0 discovery, 0 list, 1 get, 0 watch, 0 dry-run, 0 create, 0 patch, 0 update, 0 delete");
        stats.record_wait(Duration::ZERO);
        stats.record_wait(Duration::from_millis(250));
        stats.record_wait(Duration::from_millis(1500));
        let after = stats.snapshot();
        assert_eq!(after.throttled, 2);
        assert_eq!(after.limiter_wait, Duration::from_millis(1750));
        assert_eq!(after.total(), 1);
        let since = after.since(&before);
        assert_eq!(since.throttled, 2);
        assert_eq!(since.limiter_wait, Duration::from_millis(1750));
        assert!(
            after
                .to_string()
                .ends_with("; 2 throttled, 1.750s waited for the rate limiter"),
            "{after}"
        );
    }
}
