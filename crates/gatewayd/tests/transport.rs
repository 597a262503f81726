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

/// A gateway serving HTTPS with a new self-signed certificate for
/// `localhost`: the gateway, the certificate, and the PEM file holding it.
async fn tls_gateway(
    ini: &str,
    dir: &std::path::Path,
) -> (
    common::TestGateway,
    rcgen::CertifiedKey<rcgen::KeyPair>,
    std::path::PathBuf,
) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let gw = gateway(
        ini,
        &[
            &format!("server.tls_cert={}", cert_path.display()),
            &format!("server.tls_key={}", key_path.display()),
        ],
    )
    .await;
    (gw, cert, cert_path)
}

#[tokio::test]
async fn https_with_rustls() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, cert, _) = tls_gateway("", dir.path()).await;
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

/// An HTTPS upstream, reached over rustls with the platform's verifier: the
/// real binary, trusting the test's own CA through `SSL_CERT_FILE`, proxies
/// to a TLS-serving gateway, and refuses an upstream whose certificate it
/// cannot verify.
#[cfg(unix)]
#[tokio::test]
async fn https_upstream_is_verified() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let (upstream, _, cert_path) = tls_gateway(
        "[provider.far]\ntype = loopback\nmodels = remote\n",
        dir.path(),
    )
    .await;
    let ini = format!(
        "[provider.tls]\ntype = openai\nbase_url = https://localhost:{}/v1\nmodels = remote\n",
        upstream.addr.port()
    );
    let start = |trust: Option<&std::path::Path>| {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("setting.ini"), &ini).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatewayd"));
        cmd.args(["--config", home.path().to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--set", "log.level=info"])
            .env_clear()
            .env("HOME", home.path())
            .env("TOKGATEWAY_DATA_DIR", home.path().join("data"))
            .stderr(Stdio::piped());
        // An empty bundle trusts nothing: the self-signed upstream must be refused.
        let empty = home.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        cmd.env("SSL_CERT_FILE", trust.unwrap_or(&empty));
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        let url = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("gatewayd exited:\n{seen}"))
                .unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        (child, url, home)
    };
    let body = json!({"model": "remote", "messages": [{"role": "user", "content": "over tls"}]});
    let chat = |url: String| {
        common::client()
            .post(format!("{url}/v1/chat/completions"))
            .json(&body)
            .send()
    };

    let stop = |mut child: std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
    };
    let (trusted, url, _home) = start(Some(&cert_path));
    let r = chat(url).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-gateway-provider"], "tls");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "loopback: over tls");
    stop(trusted);

    let (untrusted, url, _home) = start(None);
    let r = chat(url).await.unwrap();
    assert_eq!(
        r.status(),
        502,
        "an unverifiable certificate is a connect failure"
    );
    let v: Value = r.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("unreachable"), "{msg}");
    stop(untrusted);
    upstream.stop().await;
}

/// HTTP/1 request heads up to 8 KiB are served; a larger one is refused with
/// 431 (not a hang or a dropped connection).
#[tokio::test]
async fn request_heads_up_to_8_kib() {
    let gw = gateway("", &[]).await;
    let c = reqwest::Client::new();
    let send = |pad: usize| {
        c.post(format!("{}/v1/chat/completions", gw.url))
            .header("x-pad", "a".repeat(pad))
            .json(&json!({"model": "loopback", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    assert_eq!(send(7000).await.unwrap().status(), 200);
    assert_eq!(send(9000).await.unwrap().status(), 431);
    gw.stop().await;
}
