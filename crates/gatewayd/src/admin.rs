//! The management API: `/api/v1/me` and `/api/v1/usage` for any key, and
//! `/api/v1/admin/…` (users, keys, usage) for admin keys. With auth disabled
//! (which gatewayd only allows on loopback, or with `auth.allow_open`), every
//! caller is treated as an admin.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokgateway_core::config::units;
use tokgateway_store::{Group, NewKey, Role, StoreError};

use crate::app::{AppState, RequestCtx};
use crate::error::{ApiError, Protocol};

type Result<T> = std::result::Result<T, ApiError>;

fn store_error(e: StoreError) -> ApiError {
    let status = match &e {
        StoreError::AlreadyExists(_) => StatusCode::CONFLICT,
        StoreError::NotFound(_) => StatusCode::NOT_FOUND,
        StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    ApiError::new(Protocol::OpenAi, status, e.to_string())
}

fn require_admin(ctx: &RequestCtx, app: &AppState) -> Result<()> {
    match &ctx.identity {
        Some(id) if id.role == Role::Admin => Ok(()),
        Some(_) => Err(ApiError::new(
            Protocol::OpenAi,
            StatusCode::FORBIDDEN,
            "this route needs an admin key",
        )),
        None if !app.settings.auth.enabled => Ok(()),
        None => Err(ApiError::new(
            Protocol::OpenAi,
            StatusCode::UNAUTHORIZED,
            "missing API key",
        )),
    }
}

#[derive(Deserialize, Default)]
pub struct UsageQuery {
    by: Option<String>,
    since: Option<String>,
    user: Option<String>,
    key: Option<String>,
}

fn parse_group(by: Option<&str>) -> Result<Group> {
    match by.unwrap_or("model") {
        "model" => Ok(Group::Model),
        "user" => Ok(Group::User),
        "key" => Ok(Group::Key),
        "day" => Ok(Group::Day),
        other => Err(ApiError::bad_request(
            Protocol::OpenAi,
            format!("`by` must be model, user, key or day, not `{other}`"),
        )
        .with_param("by")),
    }
}

/// `since`: a UTC date (YYYY-MM-DD), a duration ago (7d), or Unix milliseconds.
fn parse_since(since: Option<&str>) -> Result<Option<i64>> {
    let Some(s) = since.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(Some(ms));
    }
    if let Ok(d) = units::parse_duration(s) {
        return Ok(Some(
            tokgateway_store::now_ms() - i64::try_from(d.as_millis()).unwrap_or(0),
        ));
    }
    humantime::parse_rfc3339(&format!("{s}T00:00:00Z"))
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| Some(i64::try_from(d.as_millis()).unwrap_or(0)))
        .ok_or_else(|| {
            ApiError::bad_request(
                Protocol::OpenAi,
                format!("`since` `{s}` is not a date, a duration or a time"),
            )
            .with_param("since")
        })
}

/// `GET /api/v1/me`.
pub async fn me(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
) -> Response {
    match &ctx.identity {
        Some(id) => Json(json!({
            "user": id.user, "key_id": id.key_id, "role": id.role, "models": id.models,
            "rpm": id.rpm, "tpm": id.tpm, "budget_usd": id.budget_usd, "auth": true,
        }))
        .into_response(),
        None => Json(json!({"user": null, "key_id": null, "role": "admin", "auth": app.settings.auth.enabled})).into_response(),
    }
}

/// `GET /api/v1/usage`: the calling key's usage.
pub async fn my_usage(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(q): Query<UsageQuery>,
) -> Result<Response> {
    let group = parse_group(q.by.as_deref())?;
    let since = parse_since(q.since.as_deref())?;
    let key = ctx.identity.as_ref().map(|i| i.key_id.as_str());
    let s = app
        .store
        .usage_summary(group, since, None, key)
        .await
        .map_err(store_error)?;
    Ok(Json(s).into_response())
}

/// `GET /api/v1/admin/usage?by=&since=&user=&key=`.
pub async fn usage(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(q): Query<UsageQuery>,
) -> Result<Response> {
    require_admin(&ctx, &app)?;
    let group = parse_group(q.by.as_deref())?;
    let since = parse_since(q.since.as_deref())?;
    let s = app
        .store
        .usage_summary(group, since, q.user.as_deref(), q.key.as_deref())
        .await
        .map_err(store_error)?;
    Ok(Json(s).into_response())
}

/// `GET /api/v1/admin/users`.
pub async fn list_users(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
) -> Result<Response> {
    require_admin(&ctx, &app)?;
    Ok(Json(app.store.list_users().await.map_err(store_error)?).into_response())
}

#[derive(Deserialize)]
pub struct NewUser {
    name: String,
    email: Option<String>,
    role: Option<String>,
}

/// `POST /api/v1/admin/users` `{"name","email","role"}`.
pub async fn create_user(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Json(u): Json<NewUser>,
) -> Result<Response> {
    require_admin(&ctx, &app)?;
    let role: Role = u
        .role
        .as_deref()
        .unwrap_or("user")
        .parse()
        .map_err(store_error)?;
    let user = app
        .store
        .create_user(&u.name, u.email.as_deref(), role)
        .await
        .map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

/// `DELETE /api/v1/admin/users/{name}`.
pub async fn delete_user(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(name): Path<String>,
) -> Result<Response> {
    require_admin(&ctx, &app)?;
    app.store.delete_user(&name).await.map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, Default)]
pub struct KeysQuery {
    user: Option<String>,
}

/// `GET /api/v1/admin/keys?user=`.
pub async fn list_keys(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(q): Query<KeysQuery>,
) -> Result<Response> {
    require_admin(&ctx, &app)?;
    Ok(Json(
        app.store
            .list_keys(q.user.as_deref())
            .await
            .map_err(store_error)?,
    )
    .into_response())
}

#[derive(Deserialize)]
pub struct NewKeyBody {
    user: String,
    name: Option<String>,
    rpm: Option<u32>,
    tpm: Option<u64>,
    budget_usd: Option<f64>,
    #[serde(default)]
    models: Vec<String>,
    /// A lifetime such as `30d`.
    expires: Option<String>,
}

/// `POST /api/v1/admin/keys`: the key is in the answer, once.
pub async fn create_key(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Json(k): Json<NewKeyBody>,
) -> Result<Response> {
    require_admin(&ctx, &app)?;
    let expires_at = match k.expires.as_deref() {
        Some(d) => {
            let d = units::parse_duration(d)
                .map_err(|m| ApiError::bad_request(Protocol::OpenAi, m).with_param("expires"))?;
            Some(tokgateway_store::now_ms() + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
        }
        None => None,
    };
    let new = NewKey {
        user: k.user,
        name: k.name,
        rpm: k.rpm,
        tpm: k.tpm,
        budget_usd: k.budget_usd,
        models: k.models,
        expires_at,
    };
    let (info, secret) = app.store.create_key(&new).await.map_err(store_error)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": info.id, "key": secret, "user": info.user, "info": info})),
    )
        .into_response())
}

/// `DELETE /api/v1/admin/keys/{id}`: revokes the key.
pub async fn revoke_key(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Path(id): Path<String>,
) -> Result<Response> {
    require_admin(&ctx, &app)?;
    if app.store.revoke_key(&id).await.map_err(store_error)? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(
            Protocol::OpenAi,
            StatusCode::NOT_FOUND,
            format!("no key with id {id}"),
        ))
    }
}

#[derive(Deserialize, Default)]
pub struct LogParams {
    limit: Option<u32>,
    offset: Option<u64>,
    since: Option<String>,
    model: Option<String>,
    user: Option<String>,
    key: Option<String>,
    status: Option<String>,
}

impl LogParams {
    fn into_query(self) -> Result<tokgateway_store::LogQuery> {
        let ok = match self.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some("ok") => Some(true),
            Some("error") => Some(false),
            Some(other) => {
                return Err(ApiError::bad_request(
                    Protocol::OpenAi,
                    format!("`status` must be ok or error, not `{other}`"),
                )
                .with_param("status"));
            }
        };
        let limit = self.limit.unwrap_or(50);
        if limit == 0 || limit > tokgateway_store::MAX_LOG_PAGE {
            return Err(ApiError::bad_request(
                Protocol::OpenAi,
                format!(
                    "`limit` must be between 1 and {}",
                    tokgateway_store::MAX_LOG_PAGE
                ),
            )
            .with_param("limit"));
        }
        let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
        Ok(tokgateway_store::LogQuery {
            since_ms: parse_since(self.since.as_deref())?,
            user: nonempty(self.user),
            key_id: nonempty(self.key),
            model: nonempty(self.model),
            ok,
            limit,
            offset: self.offset.unwrap_or(0),
        })
    }
}

/// `GET /api/v1/requests`: the calling key's ledger rows, newest first.
pub async fn my_requests(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(p): Query<LogParams>,
) -> Result<Response> {
    let mut q = p.into_query()?;
    q.user = None;
    q.key_id = ctx.identity.as_ref().map(|i| i.key_id.clone());
    let page = app.store.usage_log(&q).await.map_err(store_error)?;
    Ok(Json(page).into_response())
}

/// `GET /api/v1/admin/requests?limit=&offset=&since=&model=&user=&key=&status=`.
pub async fn requests(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
    Query(p): Query<LogParams>,
) -> Result<Response> {
    require_admin(&ctx, &app)?;
    let q = p.into_query()?;
    let page = app.store.usage_log(&q).await.map_err(store_error)?;
    Ok(Json(page).into_response())
}

/// `GET /api/v1/admin/providers`: providers with their health as this
/// process saw it, routes and aliases. Never shows a provider's API key.
pub async fn providers(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<RequestCtx>,
) -> Result<Response> {
    require_admin(&ctx, &app)?;
    let providers: Vec<_> = app
        .upstreams
        .iter()
        .map(|u| {
            let s = &u.settings;
            let mut v = serde_json::to_value(u.health.snapshot()).unwrap_or_default();
            v["name"] = json!(s.name);
            v["type"] = json!(s.kind.as_str());
            v["base_url"] = json!(s.base_url);
            v["models"] = json!(s.models);
            v["api_key_set"] = json!(s.api_key.as_deref().is_some_and(|k| !k.is_empty()));
            v
        })
        .collect();
    let routes: Vec<_> = app
        .settings
        .routes
        .iter()
        .map(|r| json!({"pattern": r.glob, "providers": r.providers}))
        .collect();
    let aliases: serde_json::Map<String, serde_json::Value> = app
        .settings
        .aliases
        .iter()
        .map(|(a, t)| (a.clone(), json!(t)))
        .collect();
    Ok(Json(json!({"providers": providers, "routes": routes, "aliases": aliases})).into_response())
}
