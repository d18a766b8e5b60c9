//! Retries with exponential backoff, as Argo CD's `syncPolicy.retry` says.

use std::time::Duration;

use flotilla_core::RetryStrategy;
use tokio_util::sync::CancellationToken;

use crate::error::{Result, SyncError};

/// Argo CD's defaults: 5s, doubling, at most 3 minutes between attempts.
const DEFAULT_DURATION: Duration = Duration::from_secs(5);
const DEFAULT_FACTOR: u32 = 2;
const DEFAULT_MAX: Duration = Duration::from_secs(180);
/// A hard cap on attempts even when the limit is negative (unlimited).
pub const MAX_ATTEMPTS: u32 = 1000;

/// A retry policy: how many retries, and the waits between them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`limit`), capped at [`MAX_ATTEMPTS`].
    pub retries: u32,
    /// The first wait.
    pub initial: Duration,
    /// The multiplier after each failure.
    pub factor: u32,
    /// The cap on one wait.
    pub max: Duration,
}

impl Default for RetryPolicy {
    /// No retry.
    fn default() -> Self {
        RetryPolicy {
            retries: 0,
            initial: DEFAULT_DURATION,
            factor: DEFAULT_FACTOR,
            max: DEFAULT_MAX,
        }
    }
}

/// Parses a Go duration (`5s`, `3m`, `1h30m`, `250ms`) or plain seconds (`"5"`).
///
/// ```
/// use std::time::Duration;
/// use flotilla_sync::retry::parse_duration;
/// assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
/// assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
/// assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
/// assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
/// assert_eq!(parse_duration("x"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs = match unit {
            "h" => number * 3600.0,
            "m" => number * 60.0,
            "s" => number,
            "ms" => number / 1000.0,
            "us" | "µs" => number / 1_000_000.0,
            "ns" => number / 1_000_000_000.0,
            _ => return None,
        };
        total += Duration::from_secs_f64(secs);
    }
    Some(total)
}

impl RetryPolicy {
    /// The policy of an Application's `syncPolicy.retry` (none: no retry).
    pub fn from_strategy(strategy: Option<&RetryStrategy>) -> RetryPolicy {
        let Some(strategy) = strategy else {
            return RetryPolicy::default();
        };
        let backoff = strategy.backoff.as_ref();
        let retries = match strategy.limit {
            Some(limit) if limit < 0 => MAX_ATTEMPTS,
            Some(limit) => (limit as u64).min(MAX_ATTEMPTS as u64) as u32,
            None => 0,
        };
        RetryPolicy {
            retries,
            initial: backoff
                .and_then(|b| b.duration.as_deref())
                .and_then(parse_duration)
                .unwrap_or(DEFAULT_DURATION),
            factor: backoff
                .and_then(|b| b.factor)
                .map(|f| f.clamp(1, 100) as u32)
                .unwrap_or(DEFAULT_FACTOR),
            max: backoff
                .and_then(|b| b.max_duration.as_deref())
                .and_then(parse_duration)
                .unwrap_or(DEFAULT_MAX),
        }
    }

    /// The wait before retry number `retry` (0-based): `initial * factor^retry`, capped.
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = (self.factor as f64).powi(retry.min(64) as i32);
        let secs = self.initial.as_secs_f64() * factor;
        if !secs.is_finite() || secs > self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

/// Sleeps unless cancelled first.
pub async fn sleep_or_cancel(duration: Duration, cancel: &CancellationToken) -> Result<()> {
    tokio::select! {
        _ = tokio::time::sleep(duration) => Ok(()),
        _ = cancel.cancelled() => Err(SyncError::Cancelled),
    }
}

/// Runs `attempt` until it succeeds, `retry_if` says no, the policy's retries
/// are spent, or `cancel` fires; waits between attempts per the policy.
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    cancel: &CancellationToken,
    retry_if: impl Fn(&SyncError) -> bool,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut n = 0;
    loop {
        if cancel.is_cancelled() {
            return Err(SyncError::Cancelled);
        }
        match attempt(n).await {
            Ok(v) => return Ok(v),
            Err(e) if n < policy.retries && retry_if(&e) => {
                let wait = policy.delay(n);
                tracing::warn!(attempt = n + 1, wait_ms = wait.as_millis() as u64, error = %e, "sync attempt failed, retrying");
                sleep_or_cancel(wait, cancel).await?;
                n += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_core::Backoff;

    #[test]
    fn policy_from_argo_fields() {
        let strategy = RetryStrategy {
            limit: Some(5),
            backoff: Some(Backoff {
                duration: Some("2s".into()),
                factor: Some(3),
                max_duration: Some("1m".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let p = RetryPolicy::from_strategy(Some(&strategy));
        assert_eq!(p.retries, 5);
        assert_eq!(p.delay(0), Duration::from_secs(2));
        assert_eq!(p.delay(1), Duration::from_secs(6));
        assert_eq!(p.delay(2), Duration::from_secs(18));
        assert_eq!(p.delay(3), Duration::from_secs(54));
        assert_eq!(p.delay(4), Duration::from_secs(60));
        assert_eq!(p.delay(1000), Duration::from_secs(60));
        let unlimited = RetryPolicy::from_strategy(Some(&RetryStrategy {
            limit: Some(-1),
            ..Default::default()
        }));
        assert_eq!(unlimited.retries, MAX_ATTEMPTS);
        assert_eq!(unlimited.delay(0), Duration::from_secs(5));
        assert_eq!(RetryPolicy::from_strategy(None).retries, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_back_off_and_stop() {
        let policy = RetryPolicy {
            retries: 3,
            initial: Duration::from_secs(1),
            factor: 2,
            max: Duration::from_secs(3),
        };
        let cancel = CancellationToken::new();
        let start = tokio::time::Instant::now();
        let calls = std::sync::atomic::AtomicU32::new(0);
        let result: Result<()> = retry(
            &policy,
            &cancel,
            |_| true,
            |_| {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { Err(SyncError::Cancelled) }
            },
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);
        // 1 + 2 + 3 (capped)
        assert_eq!(start.elapsed(), Duration::from_secs(6));

        cancel.cancel();
        let r: Result<()> = retry(&policy, &cancel, |_| true, |_| async { Ok(()) }).await;
        assert!(matches!(r, Err(SyncError::Cancelled)));
    }
}
