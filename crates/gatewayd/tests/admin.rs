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
