//! Serving: bind, accept (plain or TLS), HTTP/1.1 and h2c through hyper's
//! auto builder, and graceful shutdown that drains in-flight requests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::{self, AppState};

/// The largest HTTP/1 request head (request line and headers) served.
const MAX_HEAD_BYTES: usize = 8192;

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    pub local_addr: SocketAddr,
}

impl Server {
    /// Binds `settings.server.listen` and prepares TLS when configured.
    pub async fn bind(app: &AppState) -> anyhow::Result<Self> {
        let s = &app.settings.server;
        let listener = TcpListener::bind(s.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", s.listen))?;
        let local_addr = listener.local_addr()?;
        let tls = match (&s.tls_cert, &s.tls_key) {
            (Some(c), Some(k)) => Some(crate::tls::acceptor(c, k)?),
            _ => None,
        };
        Ok(Self {
            listener,
            tls,
            local_addr,
        })
    }

    /// The base URL clients use.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls.is_some() { "https" } else { "http" },
            self.local_addr
        )
    }

    /// Serves until `shutdown` is cancelled, then stops accepting and waits up to
    /// `drain` for in-flight requests (streams included) to finish.
    pub async fn run(self, app: Arc<AppState>, shutdown: CancellationToken, drain: Duration) {
        let service = Gateway {
            router: app::router(app.clone()),
            app,
        };
        let mut builder = Builder::new(TokioExecutor::new());
        // HTTP/1 reads go through one buffer per connection of at most
        // 8 KiB (hyper's minimum), which is also the limit on a request's
        // head (431 above it). With hyper's default (~400 KB) the buffer of
        // nearly every connection grew to 16 KiB, half of it copied into,
        // so each held stream cost ~4 KB more; bodies are read no slower.
        builder.http1().max_buf_size(MAX_HEAD_BYTES);
        let graceful = GracefulShutdown::new();
        let handshakes = TaskTracker::new();
        loop {
            let (stream, _peer) = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // EMFILE and the like: back off briefly instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            match &self.tls {
                None => {
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service.clone());
                    let conn = graceful.watch(conn.into_owned());
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
                Some(acceptor) => {
                    let acceptor = acceptor.clone();
                    let builder = builder.clone();
                    let service = service.clone();
                    let watcher = graceful.watcher();
                    handshakes.spawn(async move {
                        let Ok(Ok(tls)) =
                            tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                                .await
                        else {
                            return;
                        };
                        let conn =
                            builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                        let _ = watcher.watch(conn.into_owned()).await;
                    });
                }
            }
        }
        drop(self.listener);
        handshakes.close();
        tracing::info!("shutting down: draining in-flight requests");
        if tokio::time::timeout(drain, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(timeout = ?drain, "in-flight requests did not finish within server.shutdown_timeout");
        }
    }
}

/// The service every connection runs: chat requests (`POST` on the chat
/// routes) go straight to their handler inside the same per-request frame
/// as everything else; all other requests go through the router. Skipping
/// the router's layers (route lookup, middleware boxing, extractor copies)
/// on the busiest routes is a measurable share of their CPU per request.
#[derive(Clone)]
struct Gateway {
    app: Arc<AppState>,
    router: axum::Router,
}

type Incoming = hyper::Request<hyper::body::Incoming>;

impl hyper::service::Service<Incoming> for Gateway {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn call(&self, req: Incoming) -> Self::Future {
        if req.method() == hyper::Method::POST
            && let Some(protocol) = crate::routes::chat_route(req.uri().path())
        {
            let app = self.app.clone();
            return Box::pin(async move {
                let frame = app.clone();
                // The chat future (~5 KB) is boxed where it is made: the
                // futures around it (the timeout, frame_with, this one) stay
                // small, instead of each copying it whole when it moves.
                Ok(app::frame_with(&frame, req, |req, ctx| {
                    Box::pin(crate::routes::chat(app, ctx, req, protocol))
                })
                .await)
            });
        }
        let router = self.router.clone();
        Box::pin(async move {
            use tower::ServiceExt;
            router.oneshot(req).await
        })
    }
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C on Windows).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
