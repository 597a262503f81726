//! Two gatewayd instances on one PostgreSQL and one Redis: keys, revocation,
//! rate limits and ledger totals hold across both.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{client, gateway};
use serde_json::json;
use tokgateway_store::testing::{Postgres, Redis};
use tokgateway_store::{Group, NewKey, Role, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_keys_limits_and_ledger() {
    let (Some(pg), Some(redis)) = (Postgres::start(), Redis::start()) else {
        return;
    };
    let sets = [
        "auth.enabled=true".to_owned(),
        format!("store.url={}", pg.url),
        format!("ratelimit.redis_url={}", redis.url),
        "ledger.flush_interval=20ms".to_owned(),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let a = gateway("", &sets).await;
    let b = gateway("", &sets).await;

    // A key created once works on both.
    let store = Store::connect(&pg.url).await.unwrap();
    store.create_user("team", None, Role::User).await.unwrap();
    let (info, key) = store
        .create_key(&NewKey {
            user: "team".into(),
            ..NewKey::default()
        })
        .await
        .unwrap();
    let (_, limited) = store
        .create_key(&NewKey {
            user: "team".into(),
            rpm: Some(4),
            ..NewKey::default()
        })
        .await
        .unwrap();
    let call = |url: String, key: String| async move {
        client()
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth(key)
            .json(&json!({"model": "loopback", "messages": [{"role": "user", "content": "a b c"}]}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let mut served = 0;
    for gw in [&a, &b, &a, &b, &b] {
        assert_eq!(call(gw.url.clone(), key.clone()).await, 200);
        served += 1;
    }

    // An rpm limit of 4 holds across both instances.
    let mut statuses = Vec::new();
    for gw in [&a, &b, &a, &b, &a, &b] {
        statuses.push(call(gw.url.clone(), limited.clone()).await);
    }
    served += statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );

    // A revocation reaches both within 5 s.
    store.revoke_key(&info.id).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(6);
    for gw in [&a, &b] {
        loop {
            let s = call(gw.url.clone(), key.clone()).await;
            if s == 401 {
                break;
            }
            served += usize::from(s == 200);
            assert!(Instant::now() < deadline, "revocation not seen within 5 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // The ledger adds up exactly: every served request, from either instance, once.
    let _da = a.stop().await;
    let _db = b.stop().await;
    let s = store
        .usage_summary(Group::User, None, None, None)
        .await
        .unwrap();
    let rows: u64 = s.rows.iter().map(|r| r.requests).sum();
    // Served requests and the two rate-limited ones are rows; requests refused
    // for a bad key (401) are not: an unauthenticated caller cannot fill the ledger.
    assert_eq!(rows, served as u64 + 2, "{s:?}");
    assert_eq!(s.rows[0].completion_tokens, 4 * served as u64);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_outage_keeps_serving_and_loses_no_row() {
    let Some(pg) = Postgres::start() else { return };
    let sets = [
        format!("store.url={}", pg.url),
        "ledger.flush_interval=20ms".to_owned(),
    ];
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let gw = gateway("", &sets).await;
    let call = || {
        client()
            .post(format!("{}/v1/chat/completions", gw.url))
            .json(&json!({"model": "loopback", "messages": [{"role": "user", "content": "x"}]}))
            .send()
    };
    let mut ids = Vec::new();
    let r = call().await.unwrap();
    ids.push(r.headers()["x-request-id"].to_str().unwrap().to_owned());
    pg.stop();
    // Requests are still served while the store is away, and /ready says why.
    for _ in 0..10 {
        let r = call().await.unwrap();
        assert_eq!(r.status(), 200);
        ids.push(r.headers()["x-request-id"].to_str().unwrap().to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = client()
            .get(format!("{}/ready", gw.url))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            let v: serde_json::Value = r.json().await.unwrap();
            assert!(v["reasons"].to_string().contains("store"), "{v}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/ready never reported the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pg.restart();
    // The queued rows are written once the store is back.
    let store = Store::connect(&pg.url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut all = true;
        for id in &ids {
            all &= store.has_usage(id).await.unwrap();
        }
        if all {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rows from the outage were not written after it"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while client()
        .get(format!("{}/ready", gw.url))
        .send()
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(Instant::now() < deadline, "/ready did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store.close().await;
    let _dir = gw.stop().await;
}
