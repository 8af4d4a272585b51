//! Retrying one delivery: exponential backoff with jitter (backon computes the waits) for
//! failures that may pass (network errors, HTTP 5xx and 429, SMTP 4xx), none for those that
//! will not (HTTP 4xx, SMTP 5xx, an SMTP server certificate that does not verify, a message
//! that cannot be built). A server's Retry-After is honoured, capped at `max_backoff` so a
//! hostile answer cannot park the notifier.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use backon::BackoffBuilder;

use crate::notification::BoxFuture;
use crate::notify::config::RetrySettings;

/// Why one attempt failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptError {
    pub message: String,
    pub retryable: bool,
    /// The server asked to wait this long (HTTP 429/503 `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl AttemptError {
    pub fn retryable(message: impl Into<String>) -> AttemptError {
        AttemptError {
            message: message.into(),
            retryable: true,
            retry_after: None,
        }
    }
    pub fn permanent(message: impl Into<String>) -> AttemptError {
        AttemptError {
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }
}

/// Waits between attempts. Injected so tests observe the schedule without waiting for it
/// (tokio's paused clock cannot be used there: it would also fire the timeouts of real
/// loopback I/O).
pub trait Sleeper: Send + Sync + 'static {
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()>;
}

/// Sleeps with tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

pub type SharedSleeper = Arc<dyn Sleeper>;

/// The outcome of one attempt, as the notification log records it.
pub struct AttemptReport<'a> {
    /// 1-based.
    pub attempt: u32,
    pub result: &'a Result<(), AttemptError>,
    pub duration: Duration,
}

/// Runs `attempt` until it succeeds, fails permanently, or `max_attempts` are spent;
/// `report` sees every attempt. Each attempt is bounded by `attempt_timeout`. Returns the
/// last error.
pub async fn with_retries<F, Fut>(
    settings: &RetrySettings,
    sleeper: &dyn Sleeper,
    mut attempt: F,
    mut report: impl FnMut(AttemptReport<'_>),
) -> Result<(), AttemptError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<(), AttemptError>>,
{
    let max_backoff = settings.max_backoff.0;
    let mut backoff = backon::ExponentialBuilder::default()
        .with_min_delay(settings.initial_backoff.0)
        .with_max_delay(max_backoff)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build();
    let mut n = 1;
    loop {
        let started = std::time::Instant::now();
        let result = match tokio::time::timeout(settings.attempt_timeout.0, attempt(n)).await {
            Ok(r) => r,
            Err(_) => Err(AttemptError::retryable(format!(
                "timed out after {}",
                settings.attempt_timeout
            ))),
        };
        report(AttemptReport {
            attempt: n,
            result: &result,
            duration: started.elapsed(),
        });
        let err = match result {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if !err.retryable || n >= settings.max_attempts {
            return Err(err);
        }
        let computed = backoff.next().unwrap_or(max_backoff);
        let wait = match err.retry_after {
            Some(asked) => asked.min(max_backoff),
            None => computed.min(max_backoff),
        };
        sleeper.sleep(wait).await;
        n += 1;
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duration::PromDuration;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Duration>>);
    impl Sleeper for Arc<Recorder> {
        fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
            self.0.lock().push(d);
            Box::pin(async {})
        }
    }

    fn settings(max_attempts: u32) -> RetrySettings {
        RetrySettings {
            initial_backoff: PromDuration::from_secs(1),
            max_backoff: PromDuration::from_secs(10),
            max_attempts,
            attempt_timeout: PromDuration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn backs_off_exponentially_with_jitter_then_gives_up() {
        let rec = Arc::new(Recorder::default());
        let mut seen = Vec::new();
        let r = with_retries(
            &settings(6),
            &rec,
            |_| async { Err(AttemptError::retryable("boom")) },
            |a| seen.push(a.attempt),
        )
        .await;
        assert_eq!(r.unwrap_err().message, "boom");
        assert_eq!(seen, vec![1, 2, 3, 4, 5, 6]);
        let waits = rec.0.lock().clone();
        assert_eq!(waits.len(), 5);
        // 1s, 2s, 4s, 8s, then capped; jitter adds up to one more base delay.
        for (w, base) in waits.iter().zip([1u64, 2, 4, 8]) {
            let base = Duration::from_secs(base);
            assert!(
                *w >= base && *w <= (base * 2).min(Duration::from_secs(10)),
                "{waits:?}"
            );
        }
        assert!(waits[4] <= Duration::from_secs(10));
    }

    #[tokio::test]
    async fn permanent_errors_stop_and_retry_after_is_honoured_but_capped() {
        let rec = Arc::new(Recorder::default());
        let r = with_retries(
            &settings(5),
            &rec,
            |_| async { Err(AttemptError::permanent("400")) },
            |_| {},
        )
        .await;
        assert!(!r.unwrap_err().retryable);
        assert!(rec.0.lock().is_empty());

        let r = with_retries(
            &settings(3),
            &rec,
            |n| async move {
                match n {
                    1 => Err(AttemptError {
                        retry_after: Some(Duration::from_secs(3)),
                        ..AttemptError::retryable("429")
                    }),
                    2 => Err(AttemptError {
                        retry_after: Some(Duration::from_secs(3600)),
                        ..AttemptError::retryable("429")
                    }),
                    _ => Ok(()),
                }
            },
            |_| {},
        )
        .await;
        assert!(r.is_ok());
        assert_eq!(
            *rec.0.lock(),
            vec![Duration::from_secs(3), Duration::from_secs(10)]
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
