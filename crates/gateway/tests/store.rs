//! `gateway users`, `keys` and `usage` on the configured store (SQLite here).
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

struct Ctx {
    dir: tempfile::TempDir,
}

impl Ctx {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn db(&self) -> String {
        format!(
            "sqlite://{}",
            self.dir.path().join("data/gateway.db").display()
        )
    }
    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("gateway").unwrap();
        c.env_clear()
            .env("HOME", self.dir.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TOKGATEWAY_STORE_URL", self.db())
            .current_dir(self.dir.path());
        c
    }
    fn json(&self, args: &[&str]) -> Value {
        let out = self.cmd().args(args).arg("--json").output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn users_keys_and_usage() {
    let c = Ctx::new();
    let u = c.json(&[
        "users",
        "create",
        "ann",
        "--email",
        "ann@example.com",
        "--role",
        "admin",
    ]);
    assert_eq!(u["name"], "ann");
    c.cmd()
        .args(["users", "create", "ann"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already exists"));
    c.cmd().args(["users", "create", "bob"]).assert().success();
    let users = c.json(&["users", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 2);
    for field in ["name", "email", "role", "created_at"] {
        assert!(users[0].get(field).is_some(), "{field}");
    }
    assert_eq!(users[0]["role"], "admin");

    let k = c.json(&[
        "keys",
        "create",
        "--user",
        "ann",
        "--name",
        "ci",
        "--rpm",
        "60",
        "--tpm",
        "1000",
        "--budget-usd",
        "5",
        "--models",
        "gpt-*,claude-*",
        "--expires",
        "30d",
    ]);
    let secret = k["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tgw_"));
    assert_eq!(k["user"], "ann");
    let id = k["id"].as_str().unwrap().to_owned();
    let keys = c.json(&["keys", "list", "--user", "ann"]);
    let key = &keys[0];
    for field in [
        "id",
        "name",
        "user",
        "created_at",
        "expires_at",
        "revoked",
        "rpm",
        "tpm",
        "budget_usd",
        "models",
    ] {
        assert!(key.get(field).is_some(), "{field} missing: {key}");
    }
    assert_eq!(key["models"], serde_json::json!(["gpt-*", "claude-*"]));
    assert_eq!(key["budget_usd"], 5.0);
    assert!(
        !keys.to_string().contains(&secret[4..]),
        "keys list never shows the secret"
    );
    // Plain output prints the key once on stdout.
    let out = c
        .cmd()
        .args(["keys", "create", "--user", "bob"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .starts_with("tgw_")
    );
    c.cmd()
        .args(["keys", "create", "--user", "nobody"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("does not exist"));
    c.cmd()
        .args(["keys", "create", "--user", "ann", "--expires", "soon"])
        .assert()
        .code(2);

    c.cmd().args(["keys", "revoke", &id]).assert().success();
    assert_eq!(
        c.json(&["keys", "list", "--user", "ann"])[0]["revoked"],
        true
    );
    c.cmd()
        .args(["keys", "revoke", "key_missing"])
        .assert()
        .code(1);

    let usage = c.json(&["usage", "--by", "model"]);
    assert_eq!(usage["rows"], serde_json::json!([]));
    assert_eq!(usage["total"]["requests"], 0);
    c.cmd()
        .args(["usage", "--since", "yesterday"])
        .assert()
        .code(2);
    c.json(&["usage", "--by", "day", "--since", "2026-01-01"]);
    c.json(&["usage", "--by", "user", "--since", "7d"]);

    c.cmd().args(["users", "delete", "ann"]).assert().success();
    c.cmd().args(["users", "delete", "ann"]).assert().code(1);
}
