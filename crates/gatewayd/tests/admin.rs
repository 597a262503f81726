//! The management API: identity, own usage, and admin-only routes.
#![allow(clippy::unwrap_used)]

mod common;

use common::{client, gateway};
use serde_json::{Value, json};
use tokgateway_store::{NewKey, Role, Store};

#[tokio::test]
async fn admin_api_and_own_usage() {
    let gw = gateway("", &["auth.enabled=true", "ledger.flush_interval=20ms"]).await;
    let store = Store::connect(&gw.store_url()).await.unwrap();
    store.create_user("root", None, Role::Admin).await.unwrap();
    store.create_user("ann", None, Role::User).await.unwrap();
    let (_, admin) = store
        .create_key(&NewKey {
            user: "root".into(),
            ..NewKey::default()
        })
        .await
        .unwrap();
    let (_, user) = store
        .create_key(&NewKey {
            user: "ann".into(),
            ..NewKey::default()
        })
        .await
        .unwrap();
    store.close().await;
    let c = client();
    let get = |path: &str, key: &str| c.get(format!("{}{path}", gw.url)).bearer_auth(key).send();

    let me: Value = get("/api/v1/me", &user)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["user"].as_str(), me["role"].as_str()),
        (Some("ann"), Some("user"))
    );
    // Admin routes: 401 without a key, 403 with a user key.
    assert_eq!(
        c.get(format!("{}/api/v1/admin/users", gw.url))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = get("/api/v1/admin/users", &user).await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["type"],
        "permission_error"
    );
    assert_eq!(
        get("/api/v1/admin/usage", &user).await.unwrap().status(),
        403
    );
    let users: Value = get("/api/v1/admin/users", &admin)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);

    // An admin creates a user and a key; the key works at once; revoking it stops it.
    let r = c
        .post(format!("{}/api/v1/admin/users", gw.url))
        .bearer_auth(&admin)
        .json(&json!({"name": "bob", "role": "user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .post(format!("{}/api/v1/admin/users", gw.url))
        .bearer_auth(&admin)
        .json(&json!({"name": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let created: Value = c
        .post(format!("{}/api/v1/admin/keys", gw.url))
        .bearer_auth(&admin)
        .json(&json!({"user": "bob", "name": "test", "models": ["loopback"], "expires": "1d"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bob = created["key"].as_str().unwrap().to_owned();
    let chat = |key: String| {
        let url = format!("{}/v1/chat/completions", gw.url);
        async move {
            client()
                .post(url)
                .bearer_auth(key)
                .json(
                    &json!({"model": "loopback", "messages": [{"role": "user", "content": "a b"}]}),
                )
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(chat(bob.clone()).await, 200);
    assert_eq!(chat(user.clone()).await, 200);
    assert_eq!(chat(user.clone()).await, 200);
    let keys: Value = get("/api/v1/admin/keys?user=bob", &admin)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys[0]["name"], "test");
    assert!(
        !keys.to_string().contains(&bob[4..]),
        "listing never shows the secret"
    );

    // Each key sees only its own usage; the admin sees everyone's.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mine: Value = get("/api/v1/usage", &user)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["total"]["requests"], 2, "{mine}");
    let bobs: Value = get("/api/v1/usage", &bob)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bobs["total"]["requests"], 1);
    let all: Value = get("/api/v1/admin/usage?by=user", &admin)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["total"]["requests"], 3);
    let groups: Vec<&str> = all["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["ann", "bob"]);
    assert_eq!(
        get("/api/v1/admin/usage?by=nope", &admin)
            .await
            .unwrap()
            .status(),
        400
    );

    let id = created["id"].as_str().unwrap();
    let r = c
        .delete(format!("{}/api/v1/admin/keys/{id}", gw.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // Within the 5 s cache window the key may still work; afterwards it must not.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(6);
    while chat(bob.clone()).await != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "revoked key still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let _dir = gw.stop().await;
}

async fn admin_and_user_keys(gw: &common::TestGateway) -> (String, String) {
    let store = Store::connect(&gw.store_url()).await.unwrap();
    store.create_user("root", None, Role::Admin).await.unwrap();
    store.create_user("ann", None, Role::User).await.unwrap();
    let mut keys = Vec::new();
    for user in ["root", "ann"] {
        let (_, k) = store
            .create_key(&NewKey {
                user: user.into(),
                ..NewKey::default()
            })
            .await
            .unwrap();
        keys.push(k);
    }
    store.close().await;
    let ann = keys.pop().unwrap();
    (keys.pop().unwrap(), ann)
}

#[tokio::test]
async fn request_log_and_provider_health() {
    let mock = common::Mock::start().await;
    let ini = format!(
        "[provider.up]\ntype = openai\nbase_url = {}/v1\napi_key = sk-secret-upstream\nmax_retries = 0\nmodels = gpt-4o\n\
         [routes]\ngpt-* = up\n[aliases]\nfast = gpt-4o\n",
        mock.url
    );
    let gw = gateway(&ini, &["auth.enabled=true", "ledger.flush_interval=20ms"]).await;
    let (admin, ann) = admin_and_user_keys(&gw).await;
    let c = client();
    let chat = |key: &str, model: &str| {
        c.post(format!("{}/v1/chat/completions", gw.url))
            .bearer_auth(key)
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "one two"}]}))
            .send()
    };
    let get = |path: &str, key: &str| c.get(format!("{}{path}", gw.url)).bearer_auth(key).send();
    for _ in 0..3 {
        assert_eq!(chat(&ann, "loopback").await.unwrap().status(), 200);
    }
    mock.push(common::Reply::Json(
        503,
        r#"{"error":{"message":"upstream is overloaded"}}"#.into(),
    ));
    assert_eq!(chat(&admin, "gpt-4o").await.unwrap().status(), 502);
    // Rows are written off the request path: wait until all four are in.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let all: Value = get("/api/v1/admin/requests?limit=10", &admin)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if all["data"].as_array().map_or(0, Vec::len) >= 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "rows not written: {all}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let page: Value = get("/api/v1/admin/requests?limit=2", &admin)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], true);
    let newest = &page["data"][0];
    assert_eq!(
        (
            newest["status"].as_u64(),
            newest["requested_model"].as_str()
        ),
        (Some(502), Some("gpt-4o"))
    );
    assert_eq!(newest["user"], "root");
    let failed: Value = get("/api/v1/admin/requests?status=error", &admin)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(failed["data"].as_array().unwrap().len(), 1);
    let of_ann: Value = get("/api/v1/admin/requests?user=ann&model=loopback", &admin)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(of_ann["data"].as_array().unwrap().len(), 3);
    assert_eq!(
        of_ann["data"][0]["prompt_tokens"].as_u64().map(|n| n > 0),
        Some(true)
    );
    // A user key reads only its own rows, whatever it asks for.
    let mine: Value = get("/api/v1/requests?user=root&limit=100", &ann)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = mine["data"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["user"] == "ann"));
    assert_eq!(
        get("/api/v1/admin/requests", &ann).await.unwrap().status(),
        403
    );
    for bad in [
        "status=maybe",
        "limit=0",
        "limit=100000",
        "since=yesterday-ish",
    ] {
        let r = get(&format!("/api/v1/admin/requests?{bad}"), &admin)
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }

    // Providers: health as this process saw it, routes and aliases, no secrets.
    assert_eq!(
        get("/api/v1/admin/providers", &ann).await.unwrap().status(),
        403
    );
    let r = get("/api/v1/admin/providers", &admin).await.unwrap();
    let text = r.text().await.unwrap();
    assert!(!text.contains("sk-secret-upstream"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    let find = |name: &str| {
        v["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap()
    };
    let up = find("up");
    assert_eq!(
        (
            up["type"].as_str(),
            up["healthy"].as_bool(),
            up["errors"].as_u64()
        ),
        (Some("openai"), Some(false), Some(1))
    );
    assert_eq!(up["api_key_set"], true);
    assert!(
        up["last_error"]
            .as_str()
            .unwrap()
            .contains("upstream is overloaded"),
        "{up}"
    );
    let lo = find("loopback");
    assert_eq!(
        (lo["healthy"].as_bool(), lo["requests"].as_u64()),
        (Some(true), Some(3))
    );
    assert_eq!(
        v["routes"][0],
        json!({"pattern": "gpt-*", "providers": ["up"]})
    );
    assert_eq!(v["aliases"]["fast"], "gpt-4o");

    // The next success makes the provider healthy again.
    mock.push(common::Reply::Json(
        200,
        json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}})
        .to_string(),
    ));
    assert_eq!(chat(&admin, "gpt-4o").await.unwrap().status(), 200);
    let v: Value = get("/api/v1/admin/providers", &admin)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["providers"][0]["name"], "up");
    assert_eq!(v["providers"][0]["healthy"], true);
    let _dir = gw.stop().await;
}

#[tokio::test]
async fn console_served_from_a_directory() {
    let bundle = tempfile::tempdir().unwrap();
    std::fs::create_dir(bundle.path().join("assets")).unwrap();
    std::fs::write(
        bundle.path().join("index.html"),
        "<!doctype html><div id=root></div>",
    )
    .unwrap();
    std::fs::write(bundle.path().join("assets/index-3f2a.js"), "console.log(1)").unwrap();
    std::fs::write(bundle.path().join("favicon.svg"), "<svg/>").unwrap();
    std::fs::write(bundle.path().join("../outside.txt"), "secret").ok();
    let dir_set = format!("server.console_dir={}", bundle.path().display());
    // Auth on: the console's files are public, its data needs a key.
    let gw = gateway("", &["auth.enabled=true", &dir_set]).await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str| c.get(format!("{}{path}", gw.url)).send();

    let r = get("/console").await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/console/");
    let r = get("/console/").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let etag = r.headers()["etag"].clone();
    assert!(r.text().await.unwrap().contains("id=root"));
    // Revalidation: an unchanged index.html is a 304.
    let r = c
        .get(format!("{}/console/", gw.url))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    // Hashed assets are cached for good.
    let r = get("/console/assets/index-3f2a.js").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.text().await.unwrap(), "console.log(1)");
    assert_eq!(
        get("/console/favicon.svg").await.unwrap().headers()["content-type"],
        "image/svg+xml"
    );
    // Client-side routes get index.html; missing files are 404s.
    let r = get("/console/keys/new").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("id=root"));
    assert_eq!(
        get("/console/assets/gone-1234.js").await.unwrap().status(),
        404
    );
    // Nothing outside the bundle, however the path is spelled.
    for p in [
        "/console/../outside.txt",
        "/console/%2e%2e/outside.txt",
        "/console/..%2foutside.txt",
    ] {
        let r = get(p).await.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(!body.contains("secret"), "{p}: {status} {body}");
    }
    let head = c
        .head(format!("{}/console/assets/index-3f2a.js", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "14");
    let _dir = gw.stop().await;

    // `server.console = false`: no console at all.
    let gw = gateway("", &["server.console=false", &dir_set]).await;
    assert_eq!(
        client()
            .get(format!("{}/console/", gw.url))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let _dir = gw.stop().await;
}

#[tokio::test]
async fn a_repeated_client_request_id_still_gets_a_row_per_request() {
    let gw = gateway("", &["ledger.flush_interval=20ms"]).await;
    for _ in 0..3 {
        let r = client()
            .post(format!("{}/v1/chat/completions", gw.url))
            .header("x-request-id", "my-retry-id")
            .json(&json!({"model": "loopback", "messages": [{"role": "user", "content": "a b"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-request-id"], "my-retry-id");
    }
    let url = gw.store_url();
    let _dir = gw.stop().await;
    let store = Store::connect(&url).await.unwrap();
    let rows = store
        .usage_log(&tokgateway_store::LogQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .data;
    assert_eq!(rows.len(), 3, "every request is counted: {rows:?}");
    assert!(rows.iter().all(|r| r.request_id == "my-retry-id"));
}

#[tokio::test]
async fn with_the_ledger_off_requests_are_served_and_nothing_is_written() {
    let gw = gateway("", &["ledger.enabled=false", "ledger.flush_interval=10ms"]).await;
    for _ in 0..3 {
        let r = client()
            .post(format!("{}/v1/chat/completions", gw.url))
            .json(&json!({"model": "loopback", "messages": [{"role": "user", "content": "a"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let m = client()
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("tokgateway_requests_total"),
        "metrics still count"
    );
    let url = gw.store_url();
    let _dir = gw.stop().await;
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.usage_count().await.unwrap(), 0);
}
