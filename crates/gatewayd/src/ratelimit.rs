//! Per-key rate limits (requests and tokens per minute) and USD budgets.
//!
//! Limits are token buckets held in process: a bucket refills continuously at
//! its per-minute rate up to one minute's worth. Requests take one token from
//! the request bucket before they are served; tokens are taken from the token
//! bucket after the response, when the usage is known, so that bucket may go
//! into debt and then refuses requests until it has refilled. A refused
//! request gets 429 with `Retry-After`. Budgets compare the key's total cost in
//! the ledger (cached for a few seconds) with `budget_usd`: 403 once spent.
//!
//! With `ratelimit.redis_url`, the counts live in Redis instead, so limits hold
//! across instances: per key and minute, `INCR` of a request counter and
//! `INCRBY` of a token counter (fixed one-minute windows, expiring after two).
//! If Redis does not answer, requests are let through and a warning is logged:
//! availability wins over strict limits.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket that can go into debt.
#[derive(Debug)]
struct Bucket {
    per_minute: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(per_minute: f64, now: Instant) -> Self {
        Self {
            per_minute,
            tokens: per_minute,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_minute / 60.0).min(self.per_minute);
        self.at = now;
    }

    /// Seconds until the bucket holds at least one token.
    fn wait(&self) -> u64 {
        if self.tokens >= 1.0 || self.per_minute <= 0.0 {
            return 0;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let secs = ((1.0 - self.tokens) * 60.0 / self.per_minute).ceil() as u64;
        secs.max(1)
    }
}

/// The buckets of every key seen.
#[derive(Default)]
pub struct RateLimits {
    /// Shared counters, when `ratelimit.redis_url` is set.
    pub redis: Option<redis::aio::ConnectionManager>,
    requests: Mutex<HashMap<String, Bucket>>,
    tokens: Mutex<HashMap<String, Bucket>>,
    spend: Mutex<HashMap<String, (f64, Instant)>>,
}

/// How long a key's ledger spend is trusted.
pub const SPEND_TTL: Duration = Duration::from_secs(5);

fn window() -> (u64, u64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (now / 60, 60 - now % 60)
}

impl RateLimits {
    /// Limits kept in process, or in Redis when a connection is given.
    pub fn new(redis: Option<redis::aio::ConnectionManager>) -> Self {
        Self {
            redis,
            ..Self::default()
        }
    }

    /// Admits a request of `key`, shared through Redis when configured;
    /// `Err(seconds)` when the key must wait.
    pub async fn admit(&self, key: &str, rpm: Option<u32>, tpm: Option<u64>) -> Result<(), u64> {
        if rpm.is_none() && tpm.is_none() {
            return Ok(());
        }
        let Some(conn) = &self.redis else {
            return self.admit_local(key, rpm, tpm);
        };
        let mut conn = conn.clone();
        let (minute, retry) = window();
        let result: redis::RedisResult<(Option<u64>, u64)> = async {
            let mut pipe = redis::pipe();
            pipe.get(format!("tgw:tpm:{key}:{minute}"));
            if rpm.is_some() {
                pipe.incr(format!("tgw:rpm:{key}:{minute}"), 1u64)
                    .expire(format!("tgw:rpm:{key}:{minute}"), 120)
                    .ignore();
            } else {
                pipe.get(format!("tgw:rpm:{key}:{minute}"));
            }
            let (tokens, requests): (Option<u64>, Option<u64>) =
                pipe.query_async(&mut conn).await?;
            Ok((tokens, requests.unwrap_or(0)))
        }
        .await;
        match result {
            Ok((tokens, requests)) => {
                if tpm.is_some_and(|t| tokens.unwrap_or(0) >= t)
                    || rpm.is_some_and(|r| requests > u64::from(r))
                {
                    return Err(retry);
                }
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "Redis rate limiting unavailable; request let through");
                Ok(())
            }
        }
    }

    /// Charges tokens a finished request used.
    pub async fn charge_tokens(&self, key: &str, tpm: u64, used: u64) {
        let Some(conn) = &self.redis else {
            self.spend_tokens(key, tpm, used);
            return;
        };
        let mut conn = conn.clone();
        let (minute, _) = window();
        let k = format!("tgw:tpm:{key}:{minute}");
        let r: redis::RedisResult<()> = redis::pipe()
            .incr(&k, used)
            .ignore()
            .expire(&k, 120)
            .ignore()
            .query_async(&mut conn)
            .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "Redis rate limiting unavailable; tokens not counted");
        }
    }

    /// Takes one request from the key's request bucket and checks its token
    /// bucket; `Err(seconds)` when the key must wait.
    pub fn admit_local(&self, key: &str, rpm: Option<u32>, tpm: Option<u64>) -> Result<(), u64> {
        let now = Instant::now();
        if let Some(tpm) = tpm {
            let mut t = self.tokens.lock().map_err(|_| 1u64)?;
            #[allow(clippy::cast_precision_loss)]
            let b = t
                .entry(key.to_owned())
                .or_insert_with(|| Bucket::new(tpm as f64, now));
            b.refill(now);
            if b.tokens < 1.0 {
                return Err(b.wait());
            }
        }
        if let Some(rpm) = rpm {
            let mut r = self.requests.lock().map_err(|_| 1u64)?;
            let b = r
                .entry(key.to_owned())
                .or_insert_with(|| Bucket::new(f64::from(rpm), now));
            b.refill(now);
            if b.tokens < 1.0 {
                return Err(b.wait());
            }
            b.tokens -= 1.0;
        }
        Ok(())
    }

    /// Debits the tokens a finished request used.
    pub fn spend_tokens(&self, key: &str, tpm: u64, used: u64) {
        let now = Instant::now();
        if let Ok(mut t) = self.tokens.lock() {
            #[allow(clippy::cast_precision_loss)]
            let b = t
                .entry(key.to_owned())
                .or_insert_with(|| Bucket::new(tpm as f64, now));
            b.refill(now);
            #[allow(clippy::cast_precision_loss)]
            {
                b.tokens -= used as f64;
            }
        }
    }

    /// The key's cached spend, if fresh.
    pub fn cached_spend(&self, key: &str) -> Option<f64> {
        let s = self.spend.lock().ok()?;
        s.get(key)
            .filter(|(_, at)| at.elapsed() < SPEND_TTL)
            .map(|(v, _)| *v)
    }

    pub fn set_spend(&self, key: &str, usd: f64) {
        if let Ok(mut s) = self.spend.lock() {
            s.insert(key.to_owned(), (usd, Instant::now()));
        }
    }

    /// Adds a finished request's cost to the cached spend.
    pub fn add_spend(&self, key: &str, usd: f64) {
        if let Ok(mut s) = self.spend.lock()
            && let Some((v, _)) = s.get_mut(key)
        {
            *v += usd;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_per_minute() {
        let l = RateLimits::default();
        for _ in 0..3 {
            assert!(l.admit_local("k", Some(3), None).is_ok());
        }
        let wait = l.admit_local("k", Some(3), None).unwrap_err();
        assert!((1..=20).contains(&wait), "{wait}");
        assert!(
            l.admit_local("other", Some(3), None).is_ok(),
            "keys are independent"
        );
    }

    #[test]
    fn tokens_per_minute_go_into_debt() {
        let l = RateLimits::default();
        assert!(l.admit_local("k", None, Some(100)).is_ok());
        l.spend_tokens("k", 100, 250);
        let wait = l.admit_local("k", None, Some(100)).unwrap_err();
        assert!(
            wait >= 90,
            "150 tokens of debt at 100/min take ~91 s: {wait}"
        );
    }
}
