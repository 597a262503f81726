//! The store on SQLite: users, keys (hash only), ledger and summaries.
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

use tokgateway_store::{
    Group, LogQuery, NewKey, Role, Store, StoreError, UsageRow, hash_key, now_ms,
};

async fn store() -> (tempfile::TempDir, Store, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/gateway.db");
    let url = format!("sqlite://{}", path.display());
    let s = Store::connect(&url).await.unwrap();
    (dir, s, url)
}

fn row(
    id: &str,
    model: &str,
    user: &str,
    key: &str,
    p: u64,
    c: u64,
    cost: f64,
    time: i64,
) -> UsageRow {
    UsageRow {
        id: String::new(),
        time,
        request_id: id.into(),
        user: Some(user.into()),
        key_id: Some(key.into()),
        endpoint: "/v1/chat/completions".into(),
        requested_model: model.into(),
        upstream_model: model.into(),
        provider: "p".into(),
        prompt_tokens: p,
        completion_tokens: c,
        cost_usd: cost,
        latency_ms: 5,
        ttfb_ms: Some(1),
        status: 200,
        error_type: None,
        streamed: false,
    }
}

#[tokio::test]
async fn users_and_keys() {
    let (_dir, s, url) = store().await;
    // Migrations are idempotent.
    Store::connect(&url).await.unwrap();
    s.create_user("ann", Some("ann@example.com"), Role::Admin)
        .await
        .unwrap();
    assert!(matches!(
        s.create_user("ann", None, Role::User).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        s.create_user("bad name", None, Role::User).await,
        Err(StoreError::Invalid(_))
    ));
    let users = s.list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(serde_json::to_value(&users[0]).unwrap()["role"], "admin");

    let (info, secret) = s
        .create_key(&NewKey {
            user: "ann".into(),
            name: Some("ci".into()),
            rpm: Some(60),
            models: vec!["gpt-*".into()],
            ..NewKey::default()
        })
        .await
        .unwrap();
    assert!(
        secret.starts_with("tgw_") && secret.len() >= 4 + 43,
        "{secret}"
    );
    assert!(matches!(
        s.create_key(&NewKey {
            user: "nobody".into(),
            ..NewKey::default()
        })
        .await,
        Err(StoreError::NotFound(_))
    ));
    let found = s.find_key(&secret).await.unwrap().unwrap();
    assert_eq!(found.key.id, info.id);
    assert_eq!(found.role, Role::Admin);
    assert!(found.is_valid_at(now_ms()));
    assert!(s.find_key("tgw_not-a-key").await.unwrap().is_none());
    let listed = serde_json::to_value(s.list_keys(Some("ann")).await.unwrap()).unwrap();
    assert_eq!(listed[0]["rpm"], 60);
    assert_eq!(listed[0]["models"], serde_json::json!(["gpt-*"]));
    assert_eq!(listed[0]["revoked"], false);

    // Only the hash is stored: the secret appears nowhere in the database file.
    s.close().await;
    let s = Store::connect(&url).await.unwrap();
    let path = url.trim_start_matches("sqlite://");
    for f in [path.to_owned(), format!("{path}-wal")] {
        if let Ok(bytes) = std::fs::read(&f) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(&secret[4..]), "secret stored in {f}");
        }
    }
    assert_eq!(hash_key(&secret).len(), 64);
    assert_eq!(
        hash_key("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );

    assert!(s.revoke_key(&info.id).await.unwrap());
    assert!(
        !s.find_key(&secret)
            .await
            .unwrap()
            .unwrap()
            .is_valid_at(now_ms())
    );
    assert!(!s.revoke_key("key_missing").await.unwrap());

    let (_, expiring) = s
        .create_key(&NewKey {
            user: "ann".into(),
            expires_at: Some(now_ms() - 1),
            ..NewKey::default()
        })
        .await
        .unwrap();
    assert!(
        !s.find_key(&expiring)
            .await
            .unwrap()
            .unwrap()
            .is_valid_at(now_ms())
    );

    s.delete_user("ann").await.unwrap();
    assert!(matches!(
        s.delete_user("ann").await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn ledger_is_idempotent_and_summarised() {
    let (_dir, s, _) = store().await;
    let day = 86_400_000;
    let t0 = 1_790_000_000_000 - (1_790_000_000_000 % day);
    let rows = vec![
        row("r1", "gpt-4o", "ann", "k1", 10, 5, 0.5, t0),
        row("r2", "gpt-4o", "bob", "k2", 20, 10, 1.0, t0 + 1000),
        row("r3", "claude", "ann", "k1", 1, 1, 0.25, t0 + day),
    ];
    assert_eq!(s.insert_usage(&rows).await.unwrap(), 3);
    // A retried batch writes nothing twice.
    assert_eq!(s.insert_usage(&rows).await.unwrap(), 0);
    assert_eq!(s.usage_count().await.unwrap(), 3);

    let by_model = s
        .usage_summary(Group::Model, None, None, None)
        .await
        .unwrap();
    let v = serde_json::to_value(&by_model).unwrap();
    assert_eq!(v["rows"][0]["group"], "claude");
    assert_eq!(
        v["rows"][1],
        serde_json::json!({"group": "gpt-4o", "requests": 2, "prompt_tokens": 30, "completion_tokens": 15, "cost_usd": 1.5})
    );
    assert_eq!(v["total"]["requests"], 3);
    assert_eq!(v["total"]["cost_usd"], 1.75);

    let by_day = s.usage_summary(Group::Day, None, None, None).await.unwrap();
    assert_eq!(by_day.rows.len(), 2);
    assert_eq!(by_day.rows[0].requests, 2);
    let since = s
        .usage_summary(Group::User, Some(t0 + day), None, None)
        .await
        .unwrap();
    assert_eq!(since.total.requests, 1);
    let of_key = s
        .usage_summary(Group::Key, None, None, Some("k1"))
        .await
        .unwrap();
    assert_eq!(of_key.total.requests, 2);
    let of_user = s
        .usage_summary(Group::Model, None, Some("bob"), None)
        .await
        .unwrap();
    assert_eq!(of_user.total.prompt_tokens, 20);

    // Many rows in one batch (more than one INSERT statement).
    let many: Vec<UsageRow> = (0..230)
        .map(|n| row(&format!("m{n}"), "m", "u", "k", 1, 1, 0.0, t0))
        .collect();
    assert_eq!(s.insert_usage(&many).await.unwrap(), 230);
    // Retried, with new rows among the old: only the new ones count.
    let mut again = many.clone();
    again.extend((230..300).map(|n| row(&format!("m{n}"), "m", "u", "k", 1, 1, 0.0, t0)));
    let mut pending = again.clone();
    assert_eq!(s.write_usage(&mut pending).await.unwrap(), 70);
    assert!(pending.is_empty(), "written rows leave the batch");
    assert_eq!(s.insert_usage(&again).await.unwrap(), 0);
    assert_eq!(s.usage_count().await.unwrap(), 300 + 3);
}

#[tokio::test]
async fn an_in_memory_store_is_refused_for_it_would_lose_the_ledger() {
    for url in [
        "sqlite::memory:",
        "sqlite://ledger?mode=memory&cache=shared",
    ] {
        let e = Store::connect(url).await.err().expect(url).to_string();
        assert!(
            e.contains("in-memory SQLite store would lose the ledger"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn key_spend_counts_each_row_once() {
    let (_dir, s, _) = store().await;
    tokgateway_store::testing::key_spend_follows_the_rows_written(&s).await;
}

#[tokio::test]
async fn request_log_pages_newest_first_with_filters() {
    let (_dir, s, _) = store().await;
    let t0 = 1_790_000_000_000;
    let mut rows: Vec<UsageRow> = (0..25)
        .map(|n| {
            let (user, key) = if n % 2 == 0 {
                ("ann", "k1")
            } else {
                ("bob", "k2")
            };
            let model = if n < 20 { "gpt-4o" } else { "claude" };
            row(
                &format!("r{n:02}"),
                model,
                user,
                key,
                n,
                1,
                0.0,
                t0 + n as i64 * 1000,
            )
        })
        .collect();
    rows[3].status = 502;
    rows[3].error_type = Some("upstream_error".into());
    s.insert_usage(&rows).await.unwrap();

    let q = |f: &dyn Fn(&mut LogQuery)| {
        let mut q = LogQuery {
            limit: 10,
            ..LogQuery::default()
        };
        f(&mut q);
        q
    };
    let first = s.usage_log(&q(&|_| {})).await.unwrap();
    assert_eq!(first.data.len(), 10);
    assert!(first.has_more);
    assert_eq!(first.data[0].request_id, "r24", "newest first");
    assert_eq!(first.data[0].time, "2026-09-21T14:13:44.000Z");
    let last = s.usage_log(&q(&|q| q.offset = 20)).await.unwrap();
    assert_eq!(last.data.len(), 5);
    assert!(!last.has_more);
    assert_eq!(last.data[4].request_id, "r00");

    let ann = s
        .usage_log(&q(&|q| {
            q.user = Some("ann".into());
            q.limit = 100
        }))
        .await
        .unwrap();
    assert_eq!(ann.data.len(), 13);
    assert!(ann.data.iter().all(|r| r.user.as_deref() == Some("ann")));
    let k2_claude = s
        .usage_log(&q(&|q| {
            q.key_id = Some("k2".into());
            q.model = Some("claude".into())
        }))
        .await
        .unwrap();
    assert_eq!(
        k2_claude
            .data
            .iter()
            .map(|r| r.request_id.as_str())
            .collect::<Vec<_>>(),
        ["r23", "r21"]
    );
    let failed = s.usage_log(&q(&|q| q.ok = Some(false))).await.unwrap();
    assert_eq!(failed.data.len(), 1);
    assert_eq!(failed.data[0].status, 502);
    assert_eq!(failed.data[0].error_type.as_deref(), Some("upstream_error"));
    let ok = s
        .usage_log(&q(&|q| {
            q.ok = Some(true);
            q.limit = 100
        }))
        .await
        .unwrap();
    assert_eq!(ok.data.len(), 24);
    let recent = s
        .usage_log(&q(&|q| q.since_ms = Some(t0 + 22_000)))
        .await
        .unwrap();
    assert_eq!(recent.data.len(), 3);
    // Out-of-range page sizes are clamped, never an error.
    assert_eq!(
        s.usage_log(&q(&|q| q.limit = 0)).await.unwrap().data.len(),
        1
    );
}

#[tokio::test]
async fn stored_responses_expire_and_survive_reopening() {
    let (_dir, s, url) = store().await;
    let now = now_ms();
    let r = tokgateway_store::StoredResponse {
        id: "resp_1".into(),
        key_id: Some("k1".into()),
        created_at: now,
        expires_at: now + 60_000,
        model: "m".into(),
        messages: r#"[{"role":"user","content":"hi"}]"#.into(),
        response: r#"{"id":"resp_1"}"#.into(),
    };
    s.put_response(&r).await.unwrap();
    let old = tokgateway_store::StoredResponse {
        id: "resp_old".into(),
        expires_at: now - 1,
        ..r.clone()
    };
    s.put_response(&old).await.unwrap();
    assert_eq!(s.get_response("resp_old").await.unwrap(), None, "expired");
    s.close().await;
    let s = Store::connect(&url).await.unwrap();
    assert_eq!(s.get_response("resp_1").await.unwrap(), Some(r));
    assert_eq!(s.purge_responses(now).await.unwrap(), 1);
    assert!(s.delete_response("resp_1").await.unwrap());
    assert!(!s.delete_response("resp_1").await.unwrap());
    assert_eq!(s.get_response("resp_1").await.unwrap(), None);
}

#[tokio::test]
async fn ledger_rows_are_keyed_by_their_own_id() {
    let (_dir, s, _) = store().await;
    // Two requests that share a client-chosen request id are both counted;
    // a retried row (same id) is not counted twice.
    let mut a = row(
        "client-id-1",
        "m",
        "ann",
        "k1",
        1,
        1,
        0.0,
        1_790_000_000_000,
    );
    a.id = "row-a".into();
    let mut b = a.clone();
    b.id = "row-b".into();
    assert_eq!(s.insert_usage(&[a.clone(), b]).await.unwrap(), 2);
    assert_eq!(s.insert_usage(&[a]).await.unwrap(), 0);
    assert_eq!(s.usage_count().await.unwrap(), 2);
    assert!(s.has_usage("client-id-1").await.unwrap());
}

#[tokio::test]
async fn a_version_2_ledger_is_migrated_without_losing_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // The schema as version 2 left it, with one row.
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE schema_version (version BIGINT NOT NULL);
             INSERT INTO schema_version VALUES (1), (2);
             CREATE TABLE users (name TEXT PRIMARY KEY, email TEXT, role TEXT NOT NULL, created_at BIGINT NOT NULL);
             CREATE TABLE api_keys (id TEXT PRIMARY KEY, user_name TEXT NOT NULL, name TEXT, hash TEXT NOT NULL UNIQUE,
                 prefix TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, expires_at BIGINT,
                 revoked_at BIGINT, rpm BIGINT, tpm BIGINT, budget_usd DOUBLE PRECISION, models TEXT NOT NULL);
             CREATE TABLE responses (id TEXT PRIMARY KEY, key_id TEXT, created_at BIGINT NOT NULL,
                 expires_at BIGINT NOT NULL, model TEXT NOT NULL, messages TEXT NOT NULL, response TEXT NOT NULL);
             CREATE TABLE usage (request_id TEXT PRIMARY KEY, time BIGINT NOT NULL, user_name TEXT, key_id TEXT,
                 endpoint TEXT NOT NULL, requested_model TEXT NOT NULL, upstream_model TEXT NOT NULL,
                 provider TEXT NOT NULL, prompt_tokens BIGINT NOT NULL, completion_tokens BIGINT NOT NULL,
                 cost_usd DOUBLE PRECISION NOT NULL, latency_ms BIGINT NOT NULL, ttfb_ms BIGINT,
                 status BIGINT NOT NULL, error_type TEXT, streamed BIGINT NOT NULL);
             CREATE INDEX usage_time ON usage (time);
             CREATE INDEX usage_key ON usage (key_id);
             INSERT INTO usage VALUES ('req_old', 1790000000000, 'ann', 'k1', '/v1/chat/completions', 'm', 'm',
                 'p', 7, 3, 0.5, 4, NULL, 200, NULL, 0);",
        )
        .unwrap();
    }
    let s = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert!(s.has_usage("req_old").await.unwrap());
    let sum = s
        .usage_summary(Group::Model, None, None, None)
        .await
        .unwrap();
    assert_eq!((sum.total.requests, sum.total.prompt_tokens), (1, 7));
    // New rows go in beside it; the old row's id is its request id.
    let mut again = row("req_old", "m", "ann", "k1", 1, 1, 0.0, 1_790_000_000_001);
    again.id = "fresh".into();
    assert_eq!(s.insert_usage(&[again]).await.unwrap(), 1);
    assert_eq!(s.usage_count().await.unwrap(), 2);
    // Migration 4 dropped the request id index, 5 the time index (ids begin
    // with their row's time, the old row's too), 6 the key index: the
    // key's spend, the old row's included, has a table of its own.
    assert!((s.key_spend_usd("k1").await.unwrap() - 0.5).abs() < 1e-12);
    let c = rusqlite::Connection::open(&path).unwrap();
    let indexes: Vec<String> = c
        .prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage' AND sql IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(indexes.is_empty(), "{indexes:?}");
    let old_id: String = c
        .query_row(
            "SELECT id FROM usage WHERE request_id = 'req_old' AND time = 1790000000000",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old_id, "01a0c4506c00req_old");
    // Time ranges and newest-first order hold across old and new rows.
    let since = |ms| s.usage_summary(Group::Model, Some(ms), None, None);
    assert_eq!(since(1_790_000_000_000).await.unwrap().total.requests, 2);
    assert_eq!(since(1_790_000_000_001).await.unwrap().total.requests, 1);
    assert_eq!(since(1_790_000_000_002).await.unwrap().total.requests, 0);
    let log = ten_newest(&s, None).await;
    let times: Vec<&str> = log.data.iter().map(|r| r.time.as_str()).collect();
    assert_eq!(
        times,
        ["2026-09-21T14:13:20.001Z", "2026-09-21T14:13:20.000Z"]
    );
}

/// The first page of ten of the request log, rows at or after `since`.
async fn ten_newest(s: &Store, since: Option<i64>) -> tokgateway_store::LogPage {
    s.usage_log(&LogQuery {
        since_ms: since,
        limit: 10,
        ..LogQuery::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn time_ranges_are_exact_whatever_ids_rows_bring() {
    let (_dir, s, _) = store().await;
    let t0 = 1_790_000_000_000;
    // Ids that sort against their times: the store puts each behind its
    // time's prefix, so the primary key still orders rows by time.
    let rows: Vec<UsageRow> = [("zzz", t0), ("aaa", t0 + 1), ("", t0 + 2), ("000", t0 + 16)]
        .iter()
        .enumerate()
        .map(|(n, &(id, time))| {
            let mut r = row(&format!("r{n}"), "m", "ann", "k1", 1, 0, 0.0, time);
            r.id = id.into();
            r
        })
        .collect();
    assert_eq!(s.insert_usage(&rows).await.unwrap(), 4);
    for (since, want) in [
        (t0 - 1, 4),
        (t0, 4),
        (t0 + 1, 3),
        (t0 + 2, 2),
        (t0 + 3, 1),
        (t0 + 16, 1),
        (t0 + 17, 0),
    ] {
        let sum = s
            .usage_summary(Group::Day, Some(since), None, None)
            .await
            .unwrap();
        assert_eq!(sum.total.requests, want, "since {since}");
        let log = ten_newest(&s, Some(since)).await;
        assert_eq!(log.data.len() as u64, want, "log since {since}");
    }
    let log = ten_newest(&s, None).await;
    let order: Vec<&str> = log.data.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(order, ["r3", "r2", "r1", "r0"], "newest first");
    // Written again, the same rows are recognised as stored.
    assert_eq!(s.insert_usage(&rows).await.unwrap(), 0);
}

#[tokio::test]
async fn batches_of_every_size_write_each_row_once() {
    let (_dir, s, _) = store().await;
    let t0 = 1_790_000_000_000;
    let mut total = 0;
    for n in 1..=70_usize {
        let batch: Vec<UsageRow> = (0..n)
            .map(|i| row(&format!("b{n}-{i}"), "m", "u", "k", 1, 1, 0.0, t0))
            .collect();
        assert_eq!(
            s.insert_usage(&batch).await.unwrap(),
            n as u64,
            "batch of {n}"
        );
        assert_eq!(
            s.insert_usage(&batch).await.unwrap(),
            0,
            "batch of {n} again"
        );
        total += n as u64;
    }
    assert_eq!(s.usage_count().await.unwrap(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_starting_at_once_migrate_the_schema_once() {
    // gatewayd and a `gateway` command (or two gatewayd) opening a new store
    // file together: each migration runs once and every one opens it.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let versions = tokgateway_store::testing::connect_at_once(&url, 4).await;
    assert!(versions.len() >= 6);
}
