//! Auth and the ledger end to end: keys from the store, 401/403 in each
//! protocol, revocation within the cache time, and one ledger row per request.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{client, gateway};
use serde_json::{Value, json};
use tokgateway_store::{NewKey, Role, Store};

async fn keys(url: &str) -> (String, String, String, String) {
    let store = Store::connect(url).await.unwrap();
    store.create_user("ann", None, Role::User).await.unwrap();
    let (_, any) = store
        .create_key(&NewKey {
            user: "ann".into(),
            ..NewKey::default()
        })
        .await
        .unwrap();
    let (_, gpt_only) = store
        .create_key(&NewKey {
            user: "ann".into(),
            models: vec!["gpt-*".into()],
            ..NewKey::default()
        })
        .await
        .unwrap();
    let (_, expired) = store
        .create_key(&NewKey {
            user: "ann".into(),
            expires_at: Some(tokgateway_store::now_ms() - 1000),
            ..NewKey::default()
        })
        .await
        .unwrap();
    let (revoked_info, revoked) = store
        .create_key(&NewKey {
            user: "ann".into(),
            ..NewKey::default()
        })
        .await
        .unwrap();
    store.revoke_key(&revoked_info.id).await.unwrap();
    store.close().await;
    (any, gpt_only, expired, revoked)
}

#[tokio::test]
async fn auth_cannot_be_bypassed() {
    let gw = gateway("", &["auth.enabled=true"]).await;
    let (any, gpt_only, expired, revoked) = keys(&gw.store_url()).await;
    let c = client();
    let chat = json!({"model": "loopback", "messages": [{"role": "user", "content": "hi"}]});
    let msg = json!({"model": "loopback", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let post = |path: &str, body: &Value, key: Option<(&str, &str)>| {
        let mut r = c.post(format!("{}{path}", gw.url)).json(body);
        if let Some((h, v)) = key {
            r = r.header(h, v);
        }
        r.send()
    };

    let r = post("/v1/chat/completions", &chat, None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "authentication_error"
    );
    let r = post("/v1/messages", &msg, None).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "authentication_error"
    );
    for bad in [
        "Bearer tgw_nope",
        "Bearer ",
        "Basic abc",
        &format!("Bearer {}x", &any),
    ] {
        let r = post("/v1/chat/completions", &chat, Some(("authorization", bad)))
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{bad}");
    }
    for key in [&expired, &revoked] {
        let r = post(
            "/v1/chat/completions",
            &chat,
            Some(("authorization", &format!("Bearer {key}"))),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = post(
        "/v1/chat/completions",
        &chat,
        Some(("authorization", &format!("Bearer {any}"))),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = post("/v1/messages", &msg, Some(("x-api-key", &any)))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A key limited to gpt-* may not use loopback.
    let r = post(
        "/v1/chat/completions",
        &chat,
        Some(("authorization", &format!("Bearer {gpt_only}"))),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "permission_error"
    );
    let r = post(
        "/anthropic/v1/messages",
        &msg,
        Some(("x-api-key", &gpt_only)),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "permission_error"
    );
    // Embeddings obey the key's model globs too.
    let r = c
        .post(format!("{}/v1/embeddings", gw.url))
        .bearer_auth(&gpt_only)
        .json(&json!({"model": "text-embedding-3-small", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Model listing needs a key too; health does not.
    assert_eq!(
        c.get(format!("{}/v1/models", gw.url))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(format!("{}/health", gw.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{}/ready", gw.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    gw.stop().await;
}

#[tokio::test]
async fn revocation_reaches_a_running_gateway_within_five_seconds() {
    let gw = gateway("", &["auth.enabled=true"]).await;
    let store = Store::connect(&gw.store_url()).await.unwrap();
    store.create_user("bob", None, Role::User).await.unwrap();
    let (info, key) = store
        .create_key(&NewKey {
            user: "bob".into(),
            ..NewKey::default()
        })
        .await
        .unwrap();
    let ok = || {
        client()
            .post(format!("{}/v1/chat/completions", gw.url))
            .bearer_auth(&key)
            .json(&json!({"model": "loopback", "messages": [{"role": "user", "content": "x"}]}))
            .send()
    };
    assert_eq!(ok().await.unwrap().status(), 200);
    store.revoke_key(&info.id).await.unwrap();
    let revoked_at = std::time::Instant::now();
    loop {
        if ok().await.unwrap().status() == 401 {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(6),
            "revocation not seen within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    store.close().await;
    gw.stop().await;
}

#[tokio::test]
async fn every_request_lands_in_the_ledger() {
    let gw = gateway(
        "[prices]\nloopback = 1000000,2000000\n",
        &["auth.enabled=true", "ledger.flush_interval=50ms"],
    )
    .await;
    let (key, ..) = keys(&gw.store_url()).await;
    let url = gw.store_url();
    let mut ids = Vec::new();
    for i in 0..25 {
        let stream = i % 2 == 0;
        let r = client()
            .post(format!("{}/v1/chat/completions", gw.url))
            .bearer_auth(&key)
            .json(&json!({"model": "loopback", "stream": stream, "messages": [{"role": "user", "content": "one two"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        ids.push(r.headers()["x-request-id"].to_str().unwrap().to_owned());
        r.text().await.unwrap();
    }
    // A graceful stop writes everything still queued.
    let _dir = gw.stop().await;
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.usage_count().await.unwrap(), 25);
    for id in &ids {
        assert!(
            store.has_usage(id).await.unwrap(),
            "{id} missing from the ledger"
        );
    }
    let s = store
        .usage_summary(tokgateway_store::Group::User, None, None, None)
        .await
        .unwrap();
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.rows[0].group, "ann");
    assert_eq!(s.rows[0].requests, 25);
    assert_eq!(s.rows[0].completion_tokens, 25 * 3);
    // Cost from [prices]: 1 USD per prompt token, 2 per completion token here.
    let expected = s.rows[0].prompt_tokens as f64 + 2.0 * s.rows[0].completion_tokens as f64;
    assert!(
        (s.rows[0].cost_usd - expected).abs() < 1e-6,
        "{} vs {expected}",
        s.rows[0].cost_usd
    );
    store.close().await;
}

#[tokio::test]
async fn rate_limits_and_budgets() {
    let gw = gateway(
        "[prices]\nloopback = 1000000,1000000\n",
        &["auth.enabled=true", "ledger.flush_interval=20ms"],
    )
    .await;
    let store = Store::connect(&gw.store_url()).await.unwrap();
    store.create_user("cat", None, Role::User).await.unwrap();
    let mk = |rpm: Option<u32>, tpm: Option<u64>, budget: Option<f64>| NewKey {
        user: "cat".into(),
        rpm,
        tpm,
        budget_usd: budget,
        ..NewKey::default()
    };
    let (_, rpm2) = store.create_key(&mk(Some(2), None, None)).await.unwrap();
    let (_, tpm10) = store.create_key(&mk(None, Some(10), None)).await.unwrap();
    let (_, budget) = store.create_key(&mk(None, None, Some(5.0))).await.unwrap();
    store.close().await;
    let call = |key: String, protocol: &'static str| {
        let url = format!(
            "{}{}",
            gw.url,
            if protocol == "openai" {
                "/v1/chat/completions"
            } else {
                "/v1/messages"
            }
        );
        async move {
            client()
                .post(url)
                .bearer_auth(key)
                .json(&json!({"model": "loopback", "max_tokens": 50, "messages": [{"role": "user", "content": "one two three four"}]}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(call(rpm2.clone(), "openai").await.status(), 200);
    assert_eq!(call(rpm2.clone(), "openai").await.status(), 200);
    let r = call(rpm2.clone(), "anthropic").await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "rate_limit_error"
    );

    // 10 tokens a minute: the first request spends more than that, the next waits.
    assert_eq!(call(tpm10.clone(), "openai").await.status(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let s = call(tpm10.clone(), "openai").await.status();
        if s == 429 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "token limit never applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Each request costs (prompt + completion) USD here; a 5 USD budget runs out.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = call(budget.clone(), "openai").await;
        if r.status() == 403 {
            assert!(
                r.json::<Value>().await.unwrap()["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("budget")
            );
            break;
        }
        assert_eq!(r.status(), 200);
        assert!(
            std::time::Instant::now() < deadline,
            "budget never enforced"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _dir = gw.stop().await;
}
