//! The web UI's memory: sessions and the sign-in rate limit, both bounded,
//! both kept in this process only (a restart signs everyone out).
//!
//! Time is passed in (`now`) so that expiry and windows can be tested
//! without waiting; [`super::auth::Auth`] passes [`Instant::now`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// How many sessions are kept at most; signing in beyond it ends the
/// oldest session.
pub const MAX_SESSIONS: usize = 10_000;
/// Failed sign-ins allowed per client address and per user name within
/// [`FAILURE_WINDOW`]; further attempts are refused until the window moves on.
pub const MAX_FAILURES: usize = 5;
/// The window failed sign-ins are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// How many rate-limit buckets (client addresses and user names) are kept at
/// most.
pub const MAX_BUCKETS: usize = 50_000;

/// A new random token: 256 bits from the operating system, base64url
/// without padding (43 characters).
///
/// # Panics
///
/// When the operating system has no random numbers to give, which leaves no
/// safe way to go on.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `s` has the shape [`random_token`] gives (any 43 base64url
/// characters).
pub fn is_token(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Who.
    pub user: String,
    /// Whether they may change things.
    pub can_write: bool,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// When the session ends.
    pub expires: Instant,
}

/// The sessions, by the SHA-256 of their id (so that a lookup's timing says
/// nothing about a valid id, and the ids themselves are not kept).
#[derive(Debug)]
pub struct Sessions {
    by_key: HashMap<[u8; 32], Session>,
    /// Keys in creation order (thus expiry order: every session lives
    /// `ttl`); may hold keys already signed out.
    order: VecDeque<[u8; 32]>,
    ttl: Duration,
    cap: usize,
}

fn key_of(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// No sessions yet; each will last `ttl`, at most `cap` at once.
    pub fn new(ttl: Duration, cap: usize) -> Sessions {
        Sessions {
            by_key: HashMap::new(),
            order: VecDeque::new(),
            ttl,
            cap: cap.max(1),
        }
    }

    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session; answers its id (for the cookie) and the session.
    /// Expired sessions are dropped, and the oldest ones when the cap is
    /// reached.
    pub fn create(&mut self, user: &str, can_write: bool, now: Instant) -> (String, Session) {
        self.purge(now);
        while self.by_key.len() >= self.cap {
            match self.order.pop_front() {
                Some(key) => {
                    self.by_key.remove(&key);
                }
                None => break,
            }
        }
        let id = random_token();
        let session = Session {
            user: user.to_string(),
            can_write,
            csrf: random_token(),
            // A ttl too large for the clock (config caps it at a year)
            // falls back to a year.
            expires: now
                .checked_add(self.ttl)
                .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
                .unwrap_or(now),
        };
        let key = key_of(&id);
        self.by_key.insert(key, session.clone());
        self.order.push_back(key);
        // Keys of sessions signed out pile up in `order` only until they
        // expire; compact when they outnumber the live ones.
        if self.order.len() > 2 * self.cap {
            let live = &self.by_key;
            self.order.retain(|k| live.contains_key(k));
        }
        (id, session)
    }

    /// The live session with this id; an expired one is removed.
    pub fn get(&mut self, id: &str, now: Instant) -> Option<Session> {
        let key = key_of(id);
        match self.by_key.get(&key) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                self.by_key.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session with this id; whether there was one.
    pub fn remove(&mut self, id: &str) -> bool {
        self.by_key.remove(&key_of(id)).is_some()
    }

    /// How many sessions are held (expired ones included until purged).
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Drops the sessions expired at `now` (the oldest first; they are in
    /// expiry order).
    pub fn purge(&mut self, now: Instant) {
        while let Some(key) = self.order.front() {
            match self.by_key.get(key) {
                Some(s) if s.expires > now => break,
                _ => {
                    let key = *key;
                    self.by_key.remove(&key);
                    self.order.pop_front();
                }
            }
        }
    }
}

/// A sign-in attempt let through by [`RateLimiter::begin`]: it counts as a
/// failure until [`RateLimiter::succeeded`] says otherwise (so that
/// attempts made at once cannot slip past the limit).
#[derive(Debug)]
#[must_use = "report a successful attempt with RateLimiter::succeeded"]
pub struct Attempt {
    client: String,
    user: String,
    at: Instant,
}

/// Failed sign-ins per client address and per user name, in a sliding
/// window: after `max` failures within `window`, further attempts are
/// refused until the oldest of them leaves the window.
#[derive(Debug)]
pub struct RateLimiter {
    /// Failure times, oldest first, each within the window (pruned lazily).
    buckets: HashMap<String, VecDeque<Instant>>,
    max: usize,
    window: Duration,
    cap: usize,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(MAX_FAILURES, FAILURE_WINDOW, MAX_BUCKETS)
    }
}

impl RateLimiter {
    /// At most `max` failures per `window`, for at most `cap` clients and
    /// user names at once.
    pub fn new(max: usize, window: Duration, cap: usize) -> RateLimiter {
        RateLimiter {
            buckets: HashMap::new(),
            max: max.max(1),
            window,
            cap: cap.max(2),
        }
    }

    fn prune(bucket: &mut VecDeque<Instant>, window: Duration, now: Instant) {
        while bucket
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            bucket.pop_front();
        }
    }

    /// How long `key` stays blocked, if it is.
    fn blocked(&mut self, key: &str, now: Instant) -> Option<Duration> {
        let window = self.window;
        let bucket = self.buckets.get_mut(key)?;
        Self::prune(bucket, window, now);
        if bucket.len() < self.max {
            return None;
        }
        // The failure whose leaving the window unblocks the key.
        let oldest = bucket[bucket.len() - self.max];
        Some(window.saturating_sub(now.saturating_duration_since(oldest)))
    }

    /// Lets an attempt for `user` from `client` through, or answers how long
    /// to wait (the longer of the two when both are blocked). The attempt
    /// is counted as failed until [`RateLimiter::succeeded`].
    pub fn begin(&mut self, client: &str, user: &str, now: Instant) -> Result<Attempt, Duration> {
        let client = format!("client:{client}");
        let user = format!("user:{user}");
        let wait = [&client, &user]
            .iter()
            .filter_map(|key| self.blocked(key, now))
            .max();
        if let Some(wait) = wait {
            return Err(wait.max(Duration::from_secs(1)));
        }
        for key in [&client, &user] {
            self.make_room(key, now);
            self.buckets.entry(key.clone()).or_default().push_back(now);
        }
        Ok(Attempt {
            client,
            user,
            at: now,
        })
    }

    /// The attempt signed in: the user name's failures are forgotten, and
    /// this attempt no longer counts against the client.
    pub fn succeeded(&mut self, attempt: Attempt) {
        self.buckets.remove(&attempt.user);
        if let Some(bucket) = self.buckets.get_mut(&attempt.client) {
            if let Some(i) = bucket.iter().rposition(|t| *t == attempt.at) {
                bucket.remove(i);
            }
            if bucket.is_empty() {
                self.buckets.remove(&attempt.client);
            }
        }
    }

    /// Makes room for `key` when the cap is reached: buckets with no failure
    /// in the window go first, then the one whose last failure is oldest.
    fn make_room(&mut self, key: &str, now: Instant) {
        if self.buckets.len() < self.cap || self.buckets.contains_key(key) {
            return;
        }
        let window = self.window;
        self.buckets.retain(|_, bucket| {
            Self::prune(bucket, window, now);
            !bucket.is_empty()
        });
        while self.buckets.len() >= self.cap {
            let stalest = self
                .buckets
                .iter()
                .min_by_key(|(_, bucket)| bucket.back().copied())
                .map(|(k, _)| k.clone());
            match stalest {
                Some(k) => {
                    self.buckets.remove(&k);
                }
                None => break,
            }
        }
    }

    /// How many clients and user names are tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_base64url_256_bits() {
        let a = random_token();
        let b = random_token();
        assert_ne!(a, b);
        assert!(is_token(&a), "{a}");
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert!(!is_token("short"));
        assert!(!is_token(&format!("{}=", &a[..42])));
    }

    #[test]
    fn sessions_expire() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        let mut sessions = Sessions::new(ttl, 10);
        let (id, s) = sessions.create("alice", true, t0);
        assert_eq!(s.user, "alice");
        assert!(s.can_write);
        assert!(is_token(&s.csrf));
        assert_ne!(s.csrf, id);
        assert_eq!(s.expires, t0 + ttl);
        assert_eq!(sessions.get(&id, t0 + Duration::from_secs(59)), Some(s));
        assert_eq!(sessions.get("not-a-session", t0), None);
        assert_eq!(sessions.get(&id, t0 + ttl), None);
        assert!(sessions.is_empty(), "expired session removed on lookup");
        // Expired sessions nobody asks for go when a new one starts.
        let (old, _) = sessions.create("bob", false, t0);
        let (new, _) = sessions.create("carol", false, t0 + ttl);
        assert_eq!(sessions.len(), 1);
        assert!(sessions.get(&old, t0 + ttl).is_none());
        assert!(sessions.get(&new, t0 + ttl).is_some());
    }

    #[test]
    fn the_oldest_session_goes_at_the_cap() {
        let t0 = Instant::now();
        let mut sessions = Sessions::new(Duration::from_secs(3600), 3);
        let ids: Vec<String> = (0..4)
            .map(|i| sessions.create("u", false, t0 + Duration::from_secs(i)).0)
            .collect();
        assert_eq!(sessions.len(), 3);
        let now = t0 + Duration::from_secs(10);
        assert!(sessions.get(&ids[0], now).is_none());
        assert!(ids[1..].iter().all(|id| sessions.get(id, now).is_some()));
        // Signing out frees a place without ending another session.
        assert!(sessions.remove(&ids[1]));
        assert!(!sessions.remove(&ids[1]));
        sessions.create("u", false, now);
        assert!(sessions.get(&ids[2], now).is_some());
        // Many sign-ins and sign-outs keep the bookkeeping bounded.
        for _ in 0..100 {
            let (id, _) = sessions.create("u", false, now);
            sessions.remove(&id);
        }
        assert!(sessions.order.len() <= 6, "{}", sessions.order.len());
    }

    #[test]
    fn five_failures_block_for_the_rest_of_the_window() {
        let t0 = Instant::now();
        let window = Duration::from_secs(300);
        let mut limiter = RateLimiter::new(5, window, 100);
        for i in 0..5 {
            let at = t0 + Duration::from_secs(i * 10);
            let _failed = limiter.begin("10.0.0.1", "alice", at).expect("allowed");
        }
        // The sixth attempt is refused until the first failure is 300 s old.
        let now = t0 + Duration::from_secs(100);
        assert_eq!(
            limiter.begin("10.0.0.1", "alice", now).unwrap_err(),
            Duration::from_secs(200)
        );
        // Per user name: another address is refused for alice too...
        assert!(limiter.begin("10.0.0.2", "alice", now).is_err());
        // ... and per address: another name from the same address.
        assert!(limiter.begin("10.0.0.1", "bob", now).is_err());
        // Others are not affected.
        let ok = limiter.begin("10.0.0.3", "bob", now).expect("allowed");
        limiter.succeeded(ok);
        // When the first failure leaves the window, one more attempt is let through.
        let later = t0 + Duration::from_secs(300);
        let _failed = limiter.begin("10.0.0.1", "alice", later).expect("allowed");
        assert_eq!(
            limiter.begin("10.0.0.1", "alice", later).unwrap_err(),
            Duration::from_secs(10)
        );
        // Everything is forgotten after a whole window.
        let much_later = later + window;
        let attempt = limiter.begin("10.0.0.1", "alice", much_later);
        assert!(attempt.is_ok());
    }

    #[test]
    fn success_clears_the_user_and_its_own_charge() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(3, Duration::from_secs(60), 100);
        let _ = limiter.begin("ip", "alice", t0).unwrap();
        let _ = limiter.begin("ip", "alice", t0).unwrap();
        let ok = limiter.begin("ip", "alice", t0).unwrap();
        limiter.succeeded(ok);
        // alice's failures are gone; the address keeps its two failures.
        assert!(limiter.begin("other", "alice", t0).is_ok());
        let last = limiter.begin("ip", "bob", t0).unwrap();
        drop(last);
        assert!(limiter.begin("ip", "carol", t0).is_err());
    }

    #[test]
    fn buckets_are_bounded() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(5, Duration::from_secs(60), 10);
        for i in 0..100 {
            let _ = limiter.begin(
                &format!("ip{i}"),
                &format!("u{i}"),
                t0 + Duration::from_millis(i),
            );
        }
        assert!(limiter.len() <= 10, "{}", limiter.len());
    }
}
