//! Users.

use serde::Serialize;
use sqlx::Row;

use crate::{Store, StoreError, now_ms, rfc3339};

/// What a user may do: admins manage users and keys through the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
        }
    }
}

/// A user as `users list --json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub name: String,
    pub email: Option<String>,
    pub role: Role,
    pub created_at: String,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

impl Store {
    pub async fn create_user(
        &self,
        name: &str,
        email: Option<&str>,
        role: Role,
    ) -> Result<User, StoreError> {
        if !valid_name(name) {
            return Err(StoreError::Invalid(format!(
                "user name `{name}` must be 1-64 of letters, digits, - _ . @"
            )));
        }
        let now = now_ms();
        sqlx::query("INSERT INTO users (name, email, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(name)
            .bind(email)
            .bind(role.as_str())
            .bind(now)
            .execute(self.pool())
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::AlreadyExists(_) => StoreError::AlreadyExists(format!("user `{name}`")),
                other => other,
            })?;
        Ok(User {
            name: name.to_owned(),
            email: email.map(str::to_owned),
            role,
            created_at: rfc3339(now),
        })
    }

    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query("SELECT name, email, role, created_at FROM users ORDER BY name")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(User {
                    name: r.try_get("name")?,
                    email: r.try_get("email")?,
                    role: r.try_get::<String, _>("role")?.parse()?,
                    created_at: rfc3339(r.try_get("created_at")?),
                })
            })
            .collect()
    }

    pub async fn user_exists(&self, name: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }

    /// Deletes a user and revokes their keys; their ledger rows stay.
    pub async fn delete_user(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let now = now_ms();
        sqlx::query("UPDATE api_keys SET revoked_at = $1, updated_at = $1 WHERE user_name = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM users WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user `{name}`")));
        }
        tx.commit().await?;
        Ok(())
    }
}
