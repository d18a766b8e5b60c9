//! Prometheus metrics of the controller, in the OpenMetrics text format
//! that `prometheus-client` writes (`GET /metrics`).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `flotilla_app_reconcile_total` | counter | `outcome` (`ok`/`error`) |
//! | `flotilla_app_reconcile_duration_seconds` | histogram | |
//! | `flotilla_app_sync_total` | counter | `phase` |
//! | `flotilla_git_request_total` | counter | `repo`, `outcome` (`ok`/`error`) |
//! | `flotilla_git_request_duration_seconds` | histogram | `repo` |
//! | `flotilla_webhook_requests_total` | counter | `provider`, `outcome` |
//! | `flotilla_app_info` | gauge (1) | `name`, `sync_status`, `health_status` |
//! | `flotilla_cluster_cache_objects` | gauge | `cluster` |
//! | `flotilla_cluster_cache_bytes` | gauge | `cluster` |
//! | `flotilla_cluster_cache_watches` | gauge | `cluster` |
//! | `flotilla_cluster_cache_synced` | gauge (0/1) | `cluster` |
//!
//! Per-Application series are limited to `flotilla_app_info` (as Argo CD's
//! `argocd_app_info`), which is replaced wholesale, so deleted Applications
//! do not linger. Repository URLs are shown without user information, so a
//! token embedded in a URL never reaches a scrape.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RepoLabels {
    repo: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RepoOutcomeLabels {
    repo: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    provider: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterLabels {
    cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppInfoLabels {
    name: String,
    sync_status: String,
    health_status: String,
}

/// Histogram buckets for durations: 5 ms to about 82 s.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

struct Inner {
    registry: Registry,
    reconcile_total: Family<OutcomeLabels, Counter>,
    reconcile_duration: Histogram,
    sync_total: Family<PhaseLabels, Counter>,
    git_total: Family<RepoOutcomeLabels, Counter>,
    git_duration: Family<RepoLabels, Histogram, fn() -> Histogram>,
    webhook_total: Family<WebhookLabels, Counter>,
    app_info: Family<AppInfoLabels, Gauge>,
    cache_objects: Family<ClusterLabels, Gauge>,
    cache_bytes: Family<ClusterLabels, Gauge>,
    cache_watches: Family<ClusterLabels, Gauge>,
    cache_synced: Family<ClusterLabels, Gauge>,
    /// Held while `app_info` is replaced and while encoding, so a scrape
    /// never sees it half replaced.
    app_info_lock: Mutex<()>,
}

/// The controller's metrics. Cheap to clone (shared); `Send + Sync`.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let reconcile_total = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "flotilla_app_reconcile",
            "Application reconciliations, by outcome (ok, error)",
            reconcile_total.clone(),
        );
        let reconcile_duration = duration_histogram();
        registry.register_with_unit(
            "flotilla_app_reconcile_duration",
            "Time to reconcile one Application",
            Unit::Seconds,
            reconcile_duration.clone(),
        );
        let sync_total = Family::<PhaseLabels, Counter>::default();
        registry.register(
            "flotilla_app_sync",
            "Sync operations ended, by phase (Succeeded, Failed, Interrupted)",
            sync_total.clone(),
        );
        let git_total = Family::<RepoOutcomeLabels, Counter>::default();
        registry.register(
            "flotilla_git_request",
            "Git fetches, by repository and outcome (ok, error)",
            git_total.clone(),
        );
        let git_duration: Family<RepoLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        registry.register_with_unit(
            "flotilla_git_request_duration",
            "Time of a Git fetch, by repository",
            Unit::Seconds,
            git_duration.clone(),
        );
        let webhook_total = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "flotilla_webhook_requests",
            "Webhook requests, by provider and outcome",
            webhook_total.clone(),
        );
        let app_info = Family::<AppInfoLabels, Gauge>::default();
        registry.register(
            "flotilla_app_info",
            "Information about an Application (value 1): sync and health status",
            app_info.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Family::<ClusterLabels, Gauge>::default();
            registry.register(name, help, g.clone());
            g
        };
        let cache_objects = gauge(
            &mut registry,
            "flotilla_cluster_cache_objects",
            "Objects held in the cluster cache, by cluster",
        );
        let cache_bytes = gauge(
            &mut registry,
            "flotilla_cluster_cache_bytes",
            "Bytes held for the cluster cache's objects, by cluster",
        );
        let cache_watches = gauge(
            &mut registry,
            "flotilla_cluster_cache_watches",
            "Watches the cluster cache runs, by cluster",
        );
        let cache_synced = gauge(
            &mut registry,
            "flotilla_cluster_cache_synced",
            "1 when every cluster-wide watch of the cache has listed, by cluster",
        );
        Metrics {
            inner: Arc::new(Inner {
                cache_objects,
                cache_bytes,
                cache_watches,
                cache_synced,
                registry,
                reconcile_total,
                reconcile_duration,
                sync_total,
                git_total,
                git_duration,
                webhook_total,
                app_info,
                app_info_lock: Mutex::new(()),
            }),
        }
    }

    /// One reconciliation of `app` took `duration` and ended with
    /// `outcome` (`ok` or `error`). The Application is not a label (to
    /// bound cardinality); it is accepted for callers' convenience and
    /// future use.
    pub fn reconcile(&self, app: &str, duration: Duration, outcome: &str) {
        let _ = app;
        self.inner
            .reconcile_total
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
        self.inner
            .reconcile_duration
            .observe(duration.as_secs_f64());
    }

    /// A sync operation ended in `phase` (`Succeeded`, `Failed`,
    /// `Interrupted`).
    pub fn sync(&self, phase: &str) {
        self.inner
            .sync_total
            .get_or_create(&PhaseLabels {
                phase: phase.to_string(),
            })
            .inc();
    }

    /// A Git fetch of `repo` took `duration` and succeeded or not. User
    /// information (`user:token@`) is removed from the URL.
    pub fn git_fetch(&self, repo: &str, duration: Duration, ok: bool) {
        let repo = redact_url(repo);
        self.inner
            .git_total
            .get_or_create(&RepoOutcomeLabels {
                repo: repo.clone(),
                outcome: if ok { "ok" } else { "error" }.to_string(),
            })
            .inc();
        self.inner
            .git_duration
            .get_or_create(&RepoLabels { repo })
            .observe(duration.as_secs_f64());
    }

    /// A webhook request from `provider` (`github`, `gitlab`, `gitea`,
    /// `unknown`) ended with `outcome` (`push`, `ignored`, or an error kind).
    pub fn webhook(&self, provider: &str, outcome: &str) {
        self.inner
            .webhook_total
            .get_or_create(&WebhookLabels {
                provider: provider.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Replace every `flotilla_app_info` series with one per
    /// `(name, sync status, health status)`, value 1.
    pub fn set_app_info(&self, apps: &[(String, String, String)]) {
        let _guard = self
            .inner
            .app_info_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        self.inner.app_info.clear();
        for (name, sync, health) in apps {
            self.inner
                .app_info
                .get_or_create(&AppInfoLabels {
                    name: name.clone(),
                    sync_status: sync.clone(),
                    health_status: health.clone(),
                })
                .set(1);
        }
    }

    /// Sets the cluster cache gauges of one cluster.
    pub fn set_cache(&self, stats: &flotilla_sync::CacheStats) {
        let l = ClusterLabels {
            cluster: stats.cluster.clone(),
        };
        let i = &self.inner;
        i.cache_objects.get_or_create(&l).set(stats.objects as i64);
        i.cache_bytes.get_or_create(&l).set(stats.bytes as i64);
        i.cache_watches.get_or_create(&l).set(stats.watches as i64);
        i.cache_synced
            .get_or_create(&l)
            .set(i64::from(stats.synced));
    }

    /// Every metric in the OpenMetrics text format (ends with `# EOF`).
    pub fn encode(&self) -> String {
        let _guard = self
            .inner
            .app_info_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.inner.registry) {
            // Writing to a String cannot fail; an encoder error would be a
            // bug in a label value. Serve what was written.
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// `scheme://user:pw@host/path` without `user:pw@`; other forms unchanged.
fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if let Some((_, host)) = authority.rsplit_once('@') {
            return format!("{scheme}://{host}{path}");
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_value(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn counters_and_histograms_are_encoded() {
        let m = Metrics::new();
        m.reconcile("a", Duration::from_millis(20), "ok");
        m.reconcile("b", Duration::from_millis(30), "ok");
        m.reconcile("a", Duration::from_secs(2), "error");
        m.sync("Succeeded");
        m.sync("Succeeded");
        m.sync("Failed");
        m.git_fetch(
            "https://bob:hunter2@example.com/org/repo.git",
            Duration::from_millis(150),
            true,
        );
        m.git_fetch(
            "https://bob:hunter2@example.com/org/repo.git",
            Duration::from_millis(150),
            false,
        );
        m.webhook("github", "push");
        m.webhook("github", "bad_signature");
        m.webhook("github", "push");

        let text = m.clone().encode();
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let v = |p: &str| line_value(&text, p).unwrap_or_else(|| panic!("no {p} in\n{text}"));
        assert_eq!(v(r#"flotilla_app_reconcile_total{outcome="ok"}"#), 2.0);
        assert_eq!(v(r#"flotilla_app_reconcile_total{outcome="error"}"#), 1.0);
        assert_eq!(v("flotilla_app_reconcile_duration_seconds_count"), 3.0);
        assert!((v("flotilla_app_reconcile_duration_seconds_sum") - 2.05).abs() < 1e-9);
        assert!(text.contains("# UNIT flotilla_app_reconcile_duration_seconds seconds"));
        assert_eq!(v(r#"flotilla_app_sync_total{phase="Succeeded"}"#), 2.0);
        assert_eq!(v(r#"flotilla_app_sync_total{phase="Failed"}"#), 1.0);
        assert_eq!(
            v(
                r#"flotilla_git_request_total{repo="https://example.com/org/repo.git",outcome="ok"}"#
            ),
            1.0
        );
        assert_eq!(
            v(
                r#"flotilla_git_request_total{repo="https://example.com/org/repo.git",outcome="error"}"#
            ),
            1.0
        );
        assert_eq!(
            v(
                r#"flotilla_git_request_duration_seconds_count{repo="https://example.com/org/repo.git"}"#
            ),
            2.0
        );
        assert_eq!(
            v(r#"flotilla_webhook_requests_total{provider="github",outcome="push"}"#),
            2.0
        );
        assert_eq!(
            v(r#"flotilla_webhook_requests_total{provider="github",outcome="bad_signature"}"#),
            1.0
        );
    }

    #[test]
    fn app_info_is_replaced_wholesale() {
        let m = Metrics::new();
        let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        m.set_app_info(&[
            s("guestbook", "OutOfSync", "Progressing"),
            s("web", "Synced", "Healthy"),
        ]);
        let text = m.encode();
        assert_eq!(
            line_value(
                &text,
                r#"flotilla_app_info{name="guestbook",sync_status="OutOfSync",health_status="Progressing"}"#
            ),
            Some(1.0)
        );
        assert!(text.contains(r#"name="web""#));

        m.set_app_info(&[s("guestbook", "Synced", "Healthy")]);
        let text = m.encode();
        assert_eq!(
            line_value(
                &text,
                r#"flotilla_app_info{name="guestbook",sync_status="Synced",health_status="Healthy"}"#
            ),
            Some(1.0)
        );
        assert!(!text.contains("OutOfSync"), "{text}");
        assert!(!text.contains(r#"name="web""#), "{text}");

        m.set_app_info(&[]);
        assert!(!m.encode().contains("flotilla_app_info{"));
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact_url("https://tok@github.com/o/r"),
            "https://github.com/o/r"
        );
        assert_eq!(
            redact_url("https://github.com/o/r"),
            "https://github.com/o/r"
        );
        assert_eq!(
            redact_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(redact_url("file:///srv/r@x"), "file:///srv/r@x");
    }

    #[test]
    fn is_send_sync() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Metrics>();
    }
}
