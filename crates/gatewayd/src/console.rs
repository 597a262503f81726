//! The browser console under `/console/`: the bundle built into gatewayd
//! (see build.rs), or the files of `server.console_dir`.
//!
//! Vite names everything under `assets/` after its content, so those files
//! are cached for a year; everything else (`index.html` above all) is
//! revalidated on every load with its ETag. A path that names no file and
//! has no extension is a client-side route: it gets `index.html`.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::AppState;

/// One embedded file.
pub struct Asset {
    pub path: &'static str,
    pub body: &'static [u8],
    pub etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/console_files.rs"));

/// Where the console's files come from.
#[derive(Debug, Clone)]
pub enum Source {
    Embedded,
    Dir(PathBuf),
    Missing,
}

impl Source {
    pub fn from_settings(dir: Option<&Path>) -> Self {
        match dir {
            Some(d) => Self::Dir(d.to_path_buf()),
            None if FILES.is_empty() => Self::Missing,
            None => Self::Embedded,
        }
    }

    /// For the start-up log line.
    pub fn describe(&self) -> String {
        match self {
            Self::Embedded => format!("built in ({} files)", FILES.len()),
            Self::Dir(d) if d.join("index.html").is_file() => d.display().to_string(),
            Self::Dir(d) => format!("{} (no index.html there yet)", d.display()),
            Self::Missing => "not built into this gatewayd".to_owned(),
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .as_deref()
    {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        Some("wasm") => "application/wasm",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A path inside the bundle, or `None` when it tries to leave it.
fn clean(rel: &str) -> Option<String> {
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let ok = Path::new(rel)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        && !rel.contains('\\')
        && !rel.contains(':');
    ok.then(|| rel.trim_end_matches('/').to_owned())
}

/// A client-side route (`keys`, `usage/requests`): no file extension.
fn is_route(rel: &str) -> bool {
    !rel.rsplit('/').next().unwrap_or("").contains('.')
}

struct Found {
    path: String,
    body: Body,
    len: u64,
    etag: String,
}

async fn lookup(source: &Source, rel: &str) -> Option<Found> {
    match source {
        Source::Embedded => FILES.iter().find(|a| a.path == rel).map(|a| Found {
            path: a.path.to_owned(),
            body: Body::from(a.body),
            len: a.body.len() as u64,
            etag: a.etag.to_owned(),
        }),
        Source::Dir(dir) => {
            let path = dir.join(rel);
            let meta = tokio::fs::metadata(&path).await.ok()?;
            if !meta.is_file() {
                return None;
            }
            let bytes = tokio::fs::read(&path).await.ok()?;
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis());
            Some(Found {
                path: rel.to_owned(),
                len: bytes.len() as u64,
                body: Body::from(bytes),
                etag: format!("W/\"{:x}-{mtime:x}\"", meta.len()),
            })
        }
        Source::Missing => None,
    }
}

fn missing_page() -> Response {
    let html = "<!doctype html><meta charset=utf-8><title>tokgateway console</title>\
        <body style=\"font-family:system-ui;max-width:40rem;margin:3rem auto;line-height:1.5\">\
        <h1>The console is not built into this gatewayd</h1>\
        <p>Build it with <code>make console</code> (or <code>cd fe &amp;&amp; npm ci &amp;&amp; npm run build</code>) \
        and rebuild gatewayd, or point <code>server.console_dir</code> at a built bundle.</p>";
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

/// `GET /console`: to the console's root, where its relative URLs work.
pub async fn redirect() -> Redirect {
    Redirect::permanent("/console/")
}

/// `GET /console/` and everything under it.
pub async fn serve(
    State(app): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let source = &app.console;
    if matches!(source, Source::Missing) {
        return missing_page();
    }
    let raw = uri.path().strip_prefix("/console/").unwrap_or("");
    let Some(rel) = percent_decode(raw).as_deref().and_then(clean) else {
        return not_found();
    };
    let found = match lookup(source, &rel).await {
        Some(f) => f,
        None if is_route(&rel) => match lookup(source, "index.html").await {
            Some(f) => f,
            None => return missing_page(),
        },
        None => return not_found(),
    };
    let cache = if found.path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut resp = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == found.etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else if method == Method::HEAD {
        let mut r = StatusCode::OK.into_response();
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(found.len));
        r
    } else {
        Response::new(found.body)
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&found.path)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&found.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        ),
    );
    resp
}

/// `%XX` escapes decoded; `None` for malformed escapes or non-UTF-8 results.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_the_bundle() {
        assert_eq!(clean("").as_deref(), Some("index.html"));
        assert_eq!(clean("assets/a.js").as_deref(), Some("assets/a.js"));
        assert_eq!(clean("keys/").as_deref(), Some("keys"));
        for bad in [
            "../secret",
            "a/../../b",
            "/etc/passwd",
            "a\\..\\b",
            "c:/x",
            "./a",
        ] {
            assert_eq!(clean(bad), None, "{bad}");
        }
        assert_eq!(percent_decode("%2e%2e/x").as_deref().and_then(clean), None);
        assert_eq!(percent_decode("%zz"), None);
    }

    #[test]
    fn routes_have_no_extension() {
        assert!(is_route("keys"));
        assert!(is_route("usage/requests"));
        assert!(!is_route("assets/index-abc.js"));
        assert!(!is_route("favicon.ico"));
    }
}
