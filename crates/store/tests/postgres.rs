//! The same store behaviour on a throwaway PostgreSQL.
#![allow(clippy::unwrap_used)]

use tokgateway_store::testing::Postgres;
use tokgateway_store::{Group, LogQuery, NewKey, Role, Store, StoreError, UsageRow, now_ms};

#[tokio::test]
async fn postgres_store() {
    let Some(pg) = Postgres::start() else { return };
    let s = Store::connect(&pg.url).await.unwrap();
    assert_eq!(s.kind(), tokgateway_store::Kind::Postgres);
    // Migrations are idempotent.
    Store::connect(&pg.url).await.unwrap().close().await;

    s.create_user("ann", None, Role::Admin).await.unwrap();
    assert!(matches!(
        s.create_user("ann", None, Role::User).await,
        Err(StoreError::AlreadyExists(_))
    ));
    let (info, secret) = s
        .create_key(&NewKey {
            user: "ann".into(),
            models: vec!["gpt-*".into()],
            ..NewKey::default()
        })
        .await
        .unwrap();
    let found = s.find_key(&secret).await.unwrap().unwrap();
    assert!(found.is_valid_at(now_ms()));
    assert_eq!(found.key.models, ["gpt-*"]);
    assert!(s.revoke_key(&info.id).await.unwrap());
    assert!(
        !s.find_key(&secret)
            .await
            .unwrap()
            .unwrap()
            .is_valid_at(now_ms())
    );

    let day = 86_400_000;
    let t0 = 1_790_000_000_000 - (1_790_000_000_000 % day);
    let row = |id: &str, t: i64| UsageRow {
        id: String::new(),
        time: t,
        request_id: id.into(),
        user: Some("ann".into()),
        key_id: Some(info.id.clone()),
        endpoint: "/v1/messages".into(),
        requested_model: "m".into(),
        upstream_model: "m".into(),
        provider: "p".into(),
        prompt_tokens: 3,
        completion_tokens: 4,
        cost_usd: 0.5,
        latency_ms: 1,
        ttfb_ms: None,
        status: 200,
        error_type: None,
        streamed: true,
    };
    let rows: Vec<UsageRow> = (0..120)
        .map(|n| row(&format!("r{n}"), t0 + if n < 100 { 0 } else { day }))
        .collect();
    assert_eq!(s.insert_usage(&rows).await.unwrap(), 120);
    assert_eq!(
        s.insert_usage(&rows).await.unwrap(),
        0,
        "a retried batch counts nothing twice"
    );
    let by_day = s.usage_summary(Group::Day, None, None, None).await.unwrap();
    assert_eq!(by_day.rows.len(), 2);
    assert_eq!(by_day.rows[0].requests, 100);
    assert_eq!(by_day.total.prompt_tokens, 360);
    assert!((s.key_spend_usd(&info.id).await.unwrap() - 60.0).abs() < 1e-9);
    let page = s
        .usage_log(&LogQuery {
            key_id: Some(info.id.clone()),
            ok: Some(true),
            limit: 50,
            offset: 10,
            ..LogQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.data.len(), 50);
    assert!(page.has_more);
    assert!(page.data[0].time.starts_with("2026-09-22T00:00:00.000Z"));
    assert!(page.data[0].streamed);

    // A row written before migration 5 (its id was its request id) gets
    // its time's prefix when the migration runs, as the store writes ids;
    // migration 6 sums the keys' rows into their spend.
    let pool = sqlx::AnyPool::connect(&pg.url).await.unwrap();
    for undo in [
        "DROP TABLE key_spend",
        "CREATE INDEX usage_key ON usage (key_id)",
    ] {
        sqlx::query(undo).execute(&pool).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO usage (id, request_id, time, endpoint, requested_model, upstream_model, provider, \
         prompt_tokens, completion_tokens, cost_usd, latency_ms, status, streamed) \
         VALUES ('req_old', 'req_old', 1790000000000, '/v1/messages', 'm', 'm', 'p', 1, 1, 0.0, 1, 200, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM schema_version WHERE version >= 5")
        .execute(&pool)
        .await
        .unwrap();
    Store::connect(&pg.url).await.unwrap().close().await;
    let id: String = sqlx::query_scalar("SELECT id FROM usage WHERE request_id = 'req_old'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        id.as_bytes()[..12],
        tokgateway_store::id_prefix(1_790_000_000_000)
    );
    assert_eq!(&id[12..], "req_old");
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM usage WHERE left(id, 12) = lpad(to_hex(time), 12, '0')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(n, 121, "every row's id begins with its time");
    assert!((s.key_spend_usd(&info.id).await.unwrap() - 60.0).abs() < 1e-9);
    pool.close().await;
    tokgateway_store::testing::key_spend_follows_the_rows_written(&s).await;
    s.delete_user("ann").await.unwrap();
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_at_once_migrate_the_schema_once() {
    let Some(pg) = Postgres::start() else { return };
    // Several instances come up together on an empty database (a rollout of
    // replicas): each migration must run once, and every instance start.
    let versions = tokgateway_store::testing::connect_at_once(&pg.url, 6).await;
    assert!(versions.len() >= 6);
}
