//! `users`, `keys` and `usage`: straight on the configured store
//! (`store.url`), whether gatewayd runs or not.

use std::future::Future;

use tokgateway_core::config::units;
use tokgateway_store::{Group, NewKey, Role, Store, StoreError};

use crate::cli::{self, Cli, KeysCommand, UsageGroup, UsersCommand};
use crate::{Failure, output};

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::runtime(e.to_string())
    }
}

/// Runs `f` with the store on a small runtime.
fn with_store<T, F, Fut>(cli: &Cli, f: F) -> Result<T, Failure>
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let settings = super::load(cli)?.settings()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async {
        let store = Store::connect(&settings.store_url).await?;
        let out = f(store.clone()).await;
        store.close().await;
        out
    })
}

pub fn users(cli: &Cli, command: &UsersCommand) -> Result<(), Failure> {
    with_store(cli, |store| async move {
        match command {
            UsersCommand::Create { name, email, role } => {
                let role = match role {
                    cli::Role::Admin => Role::Admin,
                    cli::Role::User => Role::User,
                };
                let user = store.create_user(name, email.as_deref(), role).await?;
                if cli.json {
                    output::json(&user);
                } else {
                    output::info(
                        cli.quiet,
                        &format!("created user {} ({})", user.name, user.role.as_str()),
                    );
                }
            }
            UsersCommand::List => {
                let users = store.list_users().await?;
                if cli.json {
                    output::json(&users);
                } else {
                    let mut t = format!(
                        "{:<24} {:<6} {:<30} {}\n",
                        "NAME", "ROLE", "EMAIL", "CREATED"
                    );
                    for u in &users {
                        t.push_str(&format!(
                            "{:<24} {:<6} {:<30} {}\n",
                            u.name,
                            u.role.as_str(),
                            u.email.as_deref().unwrap_or("-"),
                            u.created_at
                        ));
                    }
                    output::data(&t);
                }
            }
            UsersCommand::Delete { name } => {
                store.delete_user(name).await?;
                output::info(
                    cli.quiet,
                    &format!("deleted user {name}; their keys are revoked"),
                );
            }
        }
        Ok(())
    })
}

pub fn keys(cli: &Cli, command: &KeysCommand) -> Result<(), Failure> {
    // Validate flags before touching the store.
    let expires_at = match command {
        KeysCommand::Create {
            expires: Some(d), ..
        } => {
            let d =
                units::parse_duration(d).map_err(|m| Failure::usage(format!("--expires: {m}")))?;
            Some(tokgateway_store::now_ms() + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
        }
        _ => None,
    };
    if let KeysCommand::Create {
        budget_usd: Some(b),
        ..
    } = command
        && (!b.is_finite() || *b < 0.0)
    {
        return Err(Failure::usage("--budget-usd must be a non-negative number"));
    }
    with_store(cli, |store| async move {
        match command {
            KeysCommand::Create {
                user,
                name,
                rpm,
                tpm,
                budget_usd,
                models,
                ..
            } => {
                let new = NewKey {
                    user: user.clone(),
                    name: name.clone(),
                    rpm: *rpm,
                    tpm: *tpm,
                    budget_usd: *budget_usd,
                    models: models.as_deref().map(units::parse_list).unwrap_or_default(),
                    expires_at,
                };
                let (info, secret) = store.create_key(&new).await?;
                if cli.json {
                    output::json(
                        &serde_json::json!({"id": info.id, "key": secret, "user": info.user}),
                    );
                } else {
                    output::data(&secret);
                    output::info(
                        cli.quiet,
                        &format!(
                            "created key {} for {}; this is the only time it is shown",
                            info.id, info.user
                        ),
                    );
                }
            }
            KeysCommand::List { user } => {
                let keys = store.list_keys(user.as_deref()).await?;
                if cli.json {
                    output::json(&keys);
                } else {
                    let mut t = format!(
                        "{:<18} {:<16} {:<14} {:<8} {:<21} {}\n",
                        "ID", "USER", "PREFIX", "STATE", "EXPIRES", "NAME"
                    );
                    for k in &keys {
                        let state = if k.revoked { "revoked" } else { "active" };
                        t.push_str(&format!(
                            "{:<18} {:<16} {:<14} {:<8} {:<21} {}\n",
                            k.id,
                            k.user,
                            k.prefix,
                            state,
                            k.expires_at.as_deref().unwrap_or("never"),
                            k.name.as_deref().unwrap_or("")
                        ));
                    }
                    output::data(&t);
                }
            }
            KeysCommand::Revoke { id } => {
                if !store.revoke_key(id).await? {
                    return Err(Failure::runtime(format!("no key with id {id}")));
                }
                output::info(cli.quiet, &format!("revoked key {id}"));
            }
        }
        Ok(())
    })
}

/// `--since`: a UTC date, or a duration ago.
fn since_ms(since: &str) -> Result<i64, Failure> {
    if let Ok(d) = units::parse_duration(since) {
        return Ok(tokgateway_store::now_ms() - i64::try_from(d.as_millis()).unwrap_or(0));
    }
    let t = humantime::parse_rfc3339(&format!("{since}T00:00:00Z")).map_err(|_| {
        Failure::usage(format!(
            "--since `{since}` is not a date (YYYY-MM-DD) or a duration (7d)"
        ))
    })?;
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Ok(i64::try_from(d.as_millis()).unwrap_or(0))
}

pub fn usage(cli: &Cli, by: UsageGroup, since: Option<&str>) -> Result<(), Failure> {
    let since = since.map(since_ms).transpose()?;
    let group = match by {
        UsageGroup::Model => Group::Model,
        UsageGroup::User => Group::User,
        UsageGroup::Key => Group::Key,
        UsageGroup::Day => Group::Day,
    };
    with_store(cli, |store| async move {
        let s = store.usage_summary(group, since, None, None).await?;
        if cli.json {
            output::json(&s);
            return Ok(());
        }
        let mut t = format!(
            "{:<32} {:>10} {:>14} {:>14} {:>12}\n",
            "GROUP", "REQUESTS", "PROMPT", "COMPLETION", "COST USD"
        );
        for r in &s.rows {
            t.push_str(&format!(
                "{:<32} {:>10} {:>14} {:>14} {:>12.6}\n",
                r.group, r.requests, r.prompt_tokens, r.completion_tokens, r.cost_usd
            ));
        }
        t.push_str(&format!(
            "{:<32} {:>10} {:>14} {:>14} {:>12.6}\n",
            "TOTAL",
            s.total.requests,
            s.total.prompt_tokens,
            s.total.completion_tokens,
            s.total.cost_usd
        ));
        output::data(&t);
        Ok(())
    })
}
