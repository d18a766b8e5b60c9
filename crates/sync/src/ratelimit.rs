//! Client-side rate limiting of the requests sent to one cluster, as
//! client-go's `QPS` and `Burst` (`flowcontrol.NewTokenBucketRateLimiter`).
//!
//! A token bucket holds at most `burst` tokens and gains `qps` tokens per
//! second; it starts full. Every request takes one token; when none is left
//! the request waits until one is. As in client-go (golang.org/x/time/rate's
//! `Wait`), a request *reserves* its token at once, possibly driving the
//! bucket into debt, and then sleeps until its reservation comes due: waiting
//! requests are served in arrival order and each one's wait is known when it
//! starts. A request given up while it waits (its future dropped) returns its
//! token. A watch is one request: it takes one token when it starts, however
//! long it then streams.
//!
//! One [`RateLimiter`] is shared by every request of a
//! [`ClusterConn`](crate::ClusterConn), so every Application syncing to that
//! cluster draws from the same bucket.
//!
//! Written here rather than taken from a crate: `governor` (the well-kept
//! choice) waits on its own clock (`quanta`) and `futures-timer`, which
//! tokio's paused test clock does not drive, counts whole cells per period
//! (a fractional QPS must be converted), and hands out no reservations to
//! give back; the token arithmetic client-go uses is a few lines.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt as _};

use crate::stats::RequestStats;

/// How fast requests may be sent to one cluster: client-go's `QPS` and
/// `Burst`.
///
/// `qps` is the sustained rate, in requests per second (fractions allowed:
/// `0.5` is one request every two seconds); `burst` is how many requests may
/// be sent at once after a quiet period (the bucket's size). A `qps` of zero
/// or less, or not finite (infinity, NaN), means no limit ([`Self::UNLIMITED`]);
/// a `burst` of zero is taken as one.
///
/// All unlimited values compare equal.
#[derive(Clone, Copy, Debug)]
pub struct ClusterLimits {
    /// Sustained requests per second; `<= 0` (or not finite) for no limit.
    pub qps: f64,
    /// Requests allowed at once (the bucket's size); `0` counts as `1`.
    pub burst: u32,
}

/// client-go's defaults (`rest.DefaultQPS = 5`, `rest.DefaultBurst = 10`),
/// what `kubectl` and most controllers run with: the baseline the default is
/// measured against.
pub const CLIENT_GO_LIMITS: ClusterLimits = ClusterLimits {
    qps: 5.0,
    burst: 10,
};

/// The limits of a cluster without its own: 200 requests per second, bursts
/// of 400. Measured with `benches/controller.rs` (1,000 Applications x 10
/// resources over 3 lab regions, 2 cores): all Synced in 67 s and a commit
/// touching all in 10.1 s at 200/400, against 65 s / 9.7 s unlimited (the
/// lab's API servers are the limit), 161 s / 18.6 s at Argo CD's 50/100
/// (`ARGOCD_K8S_CLIENT_QPS`/`BURST`), and 218 s for only 100 Applications at
/// client-go's [`CLIENT_GO_LIMITS`] (5/10; 6 s unlimited). Bounded, so one
/// controller cannot flood an API server.
pub const DEFAULT_CLUSTER_LIMITS: ClusterLimits = ClusterLimits {
    qps: 200.0,
    burst: 400,
};

impl ClusterLimits {
    /// No limit: requests are never delayed.
    pub const UNLIMITED: ClusterLimits = ClusterLimits { qps: 0.0, burst: 0 };

    /// Limits of `qps` requests per second in bursts of `burst`.
    pub const fn new(qps: f64, burst: u32) -> Self {
        ClusterLimits { qps, burst }
    }

    /// True when requests are never delayed (`qps` is not a positive,
    /// finite number).
    pub fn is_unlimited(&self) -> bool {
        !(self.qps > 0.0 && self.qps.is_finite())
    }
}

/// [`DEFAULT_CLUSTER_LIMITS`].
impl Default for ClusterLimits {
    fn default() -> Self {
        DEFAULT_CLUSTER_LIMITS
    }
}

impl PartialEq for ClusterLimits {
    fn eq(&self, other: &Self) -> bool {
        match (self.is_unlimited(), other.is_unlimited()) {
            (true, true) => true,
            (false, false) => self.qps == other.qps && self.burst == other.burst,
            _ => false,
        }
    }
}

// Reflexive: NaN is unlimited, and all unlimited values are equal.
impl Eq for ClusterLimits {}

/// `50 qps, burst 100`, or `unlimited`.
impl fmt::Display for ClusterLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unlimited() {
            f.write_str("unlimited")
        } else {
            write!(f, "{} qps, burst {}", self.qps, self.burst.max(1))
        }
    }
}

/// The token arithmetic, without any waiting: what a request reserved at
/// `now` must wait. Time only moves forward; an earlier `now` than the last
/// one seen counts as the last one.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    /// Tokens gained per second (> 0, finite).
    rate: f64,
    /// The most tokens held.
    burst: f64,
    /// Tokens held at `last`; negative when reservations ran ahead.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    last: Instant,
    /// When the latest reservation comes due.
    last_due: Instant,
}

impl TokenBucket {
    /// A full bucket for `limits`, or `None` when they are unlimited.
    pub fn new(limits: ClusterLimits, now: Instant) -> Option<Self> {
        if limits.is_unlimited() {
            return None;
        }
        let burst = f64::from(limits.burst.max(1));
        Some(TokenBucket {
            rate: limits.qps,
            burst,
            tokens: burst,
            last: now,
            last_due: now,
        })
    }

    /// Adds the tokens gained since the last update, up to the burst.
    fn advance(&mut self, now: Instant) {
        if now > self.last {
            let gained = now.duration_since(self.last).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + gained).min(self.burst);
            self.last = now;
        }
    }

    /// Takes one token at `now`; returns how long the request must wait for
    /// it (zero when one was there).
    pub fn reserve(&mut self, now: Instant) -> Duration {
        self.advance(now);
        self.tokens -= 1.0;
        let delay = if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        };
        self.last_due = self.last_due.max(self.last + delay);
        delay
    }

    /// Gives back the token of a reservation due at `due` that was given up
    /// at `now`, as golang.org/x/time/rate's `Reservation.Cancel`: nothing
    /// once it came due (the token was used), and less the more time later
    /// reservations were already promised beyond it, so that no request is
    /// ever moved ahead of one reserved before it.
    pub fn cancel(&mut self, due: Instant, now: Instant) {
        self.advance(now);
        if due <= self.last {
            return;
        }
        let promised_later = self.last_due.saturating_duration_since(due).as_secs_f64();
        let restore = 1.0 - promised_later * self.rate;
        if restore <= 0.0 {
            return;
        }
        self.tokens = (self.tokens + restore).min(self.burst);
        if due == self.last_due {
            // The slot before it is the latest one promised now.
            let previous = due
                .checked_sub(Duration::from_secs_f64(1.0 / self.rate))
                .unwrap_or(self.last);
            self.last_due = previous.max(self.last);
        }
    }

    /// The tokens available at `now` (negative: owed to waiting requests).
    pub fn tokens(&mut self, now: Instant) -> f64 {
        self.advance(now);
        self.tokens
    }
}

/// A shared token bucket that requests wait on. Cheap to clone: clones share
/// the bucket.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    limits: ClusterLimits,
    bucket: Option<Arc<Mutex<TokenBucket>>>,
}

/// Locks the bucket; a panic elsewhere cannot leave it inconsistent (every
/// update is one assignment), so a poisoned lock is used as it is.
fn lock(bucket: &Mutex<TokenBucket>) -> MutexGuard<'_, TokenBucket> {
    bucket.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RateLimiter {
    /// A limiter for `limits`, its bucket full.
    pub fn new(limits: ClusterLimits) -> Self {
        let bucket = TokenBucket::new(limits, Instant::now()).map(|b| Arc::new(Mutex::new(b)));
        RateLimiter { limits, bucket }
    }

    /// The limits it enforces.
    pub fn limits(&self) -> ClusterLimits {
        self.limits
    }

    /// Waits until the caller may send one request; returns how long it
    /// waited (zero when a token was there, or without a limit). Dropping
    /// the future before it completes gives the token back.
    pub async fn acquire(&self) -> Duration {
        let Some(bucket) = &self.bucket else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let delay = lock(bucket).reserve(now);
        if delay.is_zero() {
            return Duration::ZERO;
        }
        let due = now + delay;
        let mut pending = Pending {
            bucket,
            due,
            done: false,
        };
        tokio::time::sleep_until(due).await;
        pending.done = true;
        delay
    }
}

/// A reservation being waited for; gives its token back when dropped early.
struct Pending<'a> {
    bucket: &'a Mutex<TokenBucket>,
    due: Instant,
    done: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.done {
            lock(self.bucket).cancel(self.due, Instant::now());
        }
    }
}

/// A tower layer that makes every request wait for a [`RateLimiter`]
/// before it is sent, and adds the waits to [`RequestStats`].
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    limiter: RateLimiter,
    stats: RequestStats,
}

impl RateLimitLayer {
    /// Requests wait for `limiter`; their waits are counted in `stats`.
    pub fn new(limiter: RateLimiter, stats: RequestStats) -> Self {
        RateLimitLayer { limiter, stats }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> RateLimited<S> {
        RateLimited {
            inner: Arc::new(tokio::sync::Mutex::new(inner)),
            limiter: self.limiter.clone(),
            stats: self.stats.clone(),
        }
    }
}

/// The service of [`RateLimitLayer`]. Always ready: each call reserves its
/// token at once and waits in its own future (so requests wait side by
/// side, as client-go's do), then waits for the inner service to be ready
/// and calls it. The inner service need not be `Clone`: it is shared behind
/// a lock held only to call it.
pub struct RateLimited<S> {
    inner: Arc<tokio::sync::Mutex<S>>,
    limiter: RateLimiter,
    stats: RequestStats,
}

impl<S> Clone for RateLimited<S> {
    fn clone(&self) -> Self {
        RateLimited {
            inner: self.inner.clone(),
            limiter: self.limiter.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<S> fmt::Debug for RateLimited<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimited")
            .field("limits", &self.limiter.limits)
            .finish()
    }
}

/// Counts a wait in the stats, also when the request is given up during it.
struct WaitTimer<'a> {
    stats: &'a RequestStats,
    start: Instant,
    waited: Option<Duration>,
}

impl Drop for WaitTimer<'_> {
    fn drop(&mut self) {
        let waited = self.waited.unwrap_or_else(|| self.start.elapsed());
        self.stats.record_wait(waited);
    }
}

impl<S, R> Service<R> for RateLimited<S>
where
    S: Service<R> + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: R) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            {
                let mut timer = WaitTimer {
                    stats: &this.stats,
                    start: Instant::now(),
                    waited: None,
                };
                timer.waited = Some(this.limiter.acquire().await);
            }
            let response = {
                let mut inner = this.inner.lock().await;
                inner.ready().await?.call(request)
            };
            response.await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn limits_unlimited_default_and_display() {
        assert!(ClusterLimits::UNLIMITED.is_unlimited());
        assert!(ClusterLimits::new(-1.0, 5).is_unlimited());
        assert!(ClusterLimits::new(f64::INFINITY, 5).is_unlimited());
        assert!(ClusterLimits::new(f64::NAN, 5).is_unlimited());
        assert!(!ClusterLimits::new(0.5, 0).is_unlimited());
        assert_eq!(ClusterLimits::new(f64::NAN, 1), ClusterLimits::UNLIMITED);
        assert_ne!(ClusterLimits::new(5.0, 10), ClusterLimits::new(5.0, 11));
        assert_ne!(ClusterLimits::new(5.0, 10), ClusterLimits::UNLIMITED);
        assert_eq!(ClusterLimits::default(), DEFAULT_CLUSTER_LIMITS);
        assert_eq!(DEFAULT_CLUSTER_LIMITS.to_string(), "200 qps, burst 400");
        assert_eq!(ClusterLimits::new(0.5, 0).to_string(), "0.5 qps, burst 1");
        assert_eq!(ClusterLimits::UNLIMITED.to_string(), "unlimited");
        assert!(TokenBucket::new(ClusterLimits::UNLIMITED, Instant::now()).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_bucket_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(ClusterLimits::new(10.0, 3), start).unwrap();
        // Three at once, then one every 100ms, each reserving the next slot.
        for _ in 0..3 {
            assert_eq!(bucket.reserve(start), Duration::ZERO);
        }
        assert_eq!(bucket.reserve(start), ms(100));
        assert_eq!(bucket.reserve(start), ms(200));
        assert_eq!(bucket.tokens(start), -2.0);
        // 250ms later two tokens came and paid the debt, half of another.
        let later = start + ms(250);
        assert_eq!(bucket.reserve(later), ms(50));
        // After a long quiet period the bucket holds no more than the burst.
        let quiet = later + Duration::from_secs(60);
        assert_eq!(bucket.tokens(quiet), 3.0);
        // An earlier time than already seen changes nothing.
        assert_eq!(bucket.tokens(start), 3.0);
    }

    #[tokio::test(start_paused = true)]
    async fn fractional_rates_and_burst_zero() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(ClusterLimits::new(0.5, 0), start).unwrap();
        assert_eq!(bucket.reserve(start), Duration::ZERO);
        assert_eq!(bucket.reserve(start), Duration::from_secs(2));
        assert_eq!(bucket.reserve(start), Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_reservation_gives_its_token_back() {
        let start = Instant::now();
        let at = |n| start + ms(n);
        let mut bucket = TokenBucket::new(ClusterLimits::new(10.0, 1), start).unwrap();
        assert_eq!(bucket.reserve(start), Duration::ZERO);
        let a = bucket.reserve(start);
        let b = bucket.reserve(start);
        assert_eq!((a, b), (ms(100), ms(200)));
        // The latest reservation (`b`, due at 200ms) is given up: the next
        // request takes its slot.
        bucket.cancel(at(200), at(10));
        assert_eq!(bucket.reserve(at(10)), ms(190));
        // `a` (due at 100ms) is given up with a later reservation already
        // promised: nothing is given back, so nothing moves ahead of it.
        let before = bucket.tokens(at(20));
        bucket.cancel(at(100), at(20));
        assert_eq!(bucket.tokens(at(20)), before);
        assert_eq!(bucket.reserve(at(20)), ms(280));
        // Given up after it came due: the token was used.
        let before = bucket.tokens(at(400));
        bucket.cancel(at(300), at(400));
        assert_eq!(bucket.tokens(at(400)), before);
    }

    #[tokio::test(start_paused = true)]
    async fn the_limiter_waits_on_tokio_time() {
        let limiter = RateLimiter::new(ClusterLimits::new(10.0, 2));
        let start = Instant::now();
        assert_eq!(limiter.acquire().await, Duration::ZERO);
        assert_eq!(limiter.acquire().await, Duration::ZERO);
        assert_eq!(limiter.acquire().await, ms(100));
        assert_eq!(Instant::now() - start, ms(100));
        // Concurrent requests wait side by side, in arrival order.
        let waits = futures::future::join_all((0..3).map(|_| limiter.acquire())).await;
        assert_eq!(waits, vec![ms(100), ms(200), ms(300)]);
        assert_eq!(Instant::now() - start, ms(400));

        let unlimited = RateLimiter::new(ClusterLimits::UNLIMITED);
        for _ in 0..1000 {
            assert_eq!(unlimited.acquire().await, Duration::ZERO);
        }
        assert_eq!(Instant::now() - start, ms(400));
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_wait_gives_its_token_back() {
        let limiter = RateLimiter::new(ClusterLimits::new(10.0, 1));
        let start = Instant::now();
        assert_eq!(limiter.acquire().await, Duration::ZERO);
        let gave_up = tokio::time::timeout(ms(30), limiter.acquire()).await;
        assert!(gave_up.is_err());
        // The slot at 100ms is free again.
        assert_eq!(limiter.acquire().await, ms(70));
        assert_eq!(Instant::now() - start, ms(100));
    }

    #[tokio::test(start_paused = true)]
    async fn the_layer_delays_requests_and_counts_the_waits() {
        let stats = RequestStats::new();
        let layer =
            RateLimitLayer::new(RateLimiter::new(ClusterLimits::new(5.0, 1)), stats.clone());
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        let start = Instant::now();
        let inner = tower::service_fn(move |n: u32| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push((n, Instant::now() - start));
                Ok::<_, std::convert::Infallible>(n * 2)
            }
        });
        let mut service = layer.layer(inner);
        let calls: Vec<_> = (0..3).map(|n| service.call(n)).collect();
        let answers = futures::future::join_all(calls).await;
        let answers: Vec<u32> = answers.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(answers, vec![0, 2, 4]);
        assert_eq!(
            *sent.lock().unwrap(),
            vec![(0, Duration::ZERO), (1, ms(200)), (2, ms(400))]
        );
        let counts = stats.snapshot();
        assert_eq!(counts.throttled, 2);
        assert_eq!(counts.limiter_wait, ms(600));
    }
}
