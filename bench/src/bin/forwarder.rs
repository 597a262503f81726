//! The reference for "the limit": a bare hyper forwarder. It parses nothing
//! and forwards every request to `--upstream http://HOST:PORT` over a pooled
//! keep-alive client, streaming the response body back. Prints `listening on ADDR`.

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

fn main() -> std::io::Result<()> {
    let upstream =
        tokgateway_bench::flag("--upstream").unwrap_or_else(|| "http://127.0.0.1:9000".to_owned());
    let upstream = upstream.trim_end_matches('/').to_owned();
    tokgateway_bench::runtime()?.block_on(async move {
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1024)
            .build_http::<hyper::body::Incoming>();
        let listener = tokio::net::TcpListener::bind(tokgateway_bench::listen_addr()).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let (tcp, _) = listener.accept().await?;
            let _ = tcp.set_nodelay(true);
            let client = client.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |mut req: Request<hyper::body::Incoming>| {
                    let client = client.clone();
                    let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
                    let uri: Result<Uri, _> = format!("{upstream}{pq}").parse();
                    async move {
                        if let Ok(uri) = uri {
                            *req.uri_mut() = uri;
                        }
                        req.headers_mut().remove(hyper::header::HOST);
                        client.request(req).await
                    }
                });
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    })
}
