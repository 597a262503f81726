//! Transports: h2c (HTTP/2 without TLS), HTTPS through rustls, and a log file.
#![allow(clippy::unwrap_used)]

mod common;

use common::gateway;
use serde_json::{Value, json};

#[tokio::test]
async fn h2c_prior_knowledge() {
    let gw = gateway("", &[]).await;
    let c = reqwest::Client::builder()
        .tls_backend_rustls()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = c
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&json!({"model": "loopback", "messages": [{"role": "user", "content": "over h2"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "loopback: over h2");
    gw.stop().await;
}

#[tokio::test]
async fn https_with_rustls() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let gw = gateway(
        "",
        &[
            &format!("server.tls_cert={}", cert_path.display()),
            &format!("server.tls_key={}", key_path.display()),
        ],
    )
    .await;
    assert!(gw.url.starts_with("https://"), "{}", gw.url);
    let port = gw.addr.port();
    let ca = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap();
    let c = reqwest::Client::builder()
        .tls_backend_rustls()
        .tls_certs_only([ca])
        .resolve("localhost", gw.addr)
        .build()
        .unwrap();
    for h2 in [false, true] {
        let r = c
            .get(format!("https://localhost:{port}/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        if h2 {
            assert_eq!(r.version(), reqwest::Version::HTTP_2, "ALPN offers h2");
        }
    }
    // Plain HTTP to the TLS port fails rather than being served in clear text.
    assert!(
        common::client()
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_err()
    );
    gw.stop().await;
}
