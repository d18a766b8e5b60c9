//! Retries, their cap and error messages, against a scripted HTTP server on
//! loopback (sealed, 5xx and 4xx answers on demand, which a real Vault
//! cannot be made to give in sequence).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla_vault::{ClientConfig, RetryPolicy, SecretString, VaultClient, VaultError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `answers` in order (the last one repeats), one per connection.
/// Returns the address, the request count and the request heads seen.
async fn scripted(
    answers: Vec<(u16, &'static str)>,
) -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = format!("http://{}", listener.local_addr().expect("addr"));
    let count = Arc::new(AtomicUsize::new(0));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let (c, h) = (count.clone(), heads.clone());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = c.fetch_add(1, Ordering::SeqCst);
            let (status, body) = answers[n.min(answers.len() - 1)];
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => buf.extend_from_slice(&chunk[..k]),
                }
            }
            h.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf).to_string());
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (addr, count, heads)
}

fn client(addr: &str, retries: u32) -> VaultClient {
    VaultClient::new(
        ClientConfig::new(addr)
            .with_token(SecretString::new("s.very-secret-token"))
            .with_namespace("team-a")
            .with_retry(RetryPolicy {
                max_retries: retries,
                initial_backoff: Duration::from_millis(40),
                max_backoff: Duration::from_millis(60),
            }),
    )
    .expect("client")
}

const SEALED: (u16, &str) = (503, r#"{"errors":["Vault is sealed"]}"#);

#[tokio::test]
async fn sealed_then_unsealed_is_retried() {
    let (addr, count, heads) = scripted(vec![SEALED, SEALED, (200, r#"{"data":{"k":"v"}}"#)]).await;
    let c = client(&addr, 2);
    let data = c
        .read_data("secret/data/x")
        .await
        .expect("third attempt answers");
    assert_eq!(
        data.and_then(|d| d.get("k").cloned()),
        Some(serde_json::json!("v"))
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);
    assert_eq!(c.request_count(), 3);
    let head = heads.lock().unwrap()[0].to_lowercase();
    assert!(
        head.contains("x-vault-token: s.very-secret-token"),
        "{head}"
    );
    assert!(head.contains("x-vault-namespace: team-a"), "{head}");
    assert!(head.starts_with("get /v1/secret/data/x "), "{head}");
}

#[tokio::test]
async fn retries_are_capped_with_backoff() {
    let (addr, count, _) = scripted(vec![SEALED]).await;
    let c = client(&addr, 3);
    let start = Instant::now();
    let err = c.read("secret/data/x").await.unwrap_err();
    assert!(matches!(err, VaultError::Sealed { .. }), "{err}");
    assert!(err.is_sealed());
    assert_eq!(count.load(Ordering::SeqCst), 4, "1 attempt + 3 retries");
    // 40ms, 60ms (capped), 60ms at least.
    assert!(
        start.elapsed() >= Duration::from_millis(160),
        "{:?}",
        start.elapsed()
    );
    let text = err.to_string();
    assert!(
        text.contains("is sealed") && text.contains("GET secret/data/x"),
        "{text}"
    );
    assert!(!text.contains("very-secret"), "{text}");
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_with_vaults_messages() {
    let (addr, count, _) = scripted(vec![(
        500,
        r#"{"errors":["1 error occurred:\n\t* internal failure\n\n"]}"#,
    )])
    .await;
    let err = client(&addr, 1)
        .write("sys/mounts/x", serde_json::json!({"type": "kv"}))
        .await
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert_eq!(err.status(), Some(500));
    let text = err.to_string();
    assert!(
        text.starts_with("Vault answered 500 to POST sys/mounts/x"),
        "{text}"
    );
    assert!(text.contains("internal failure"), "{text}");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for (status, body) in [
        (400, r#"{"errors":["invalid request"]}"#),
        (403, r#"{"errors":["permission denied"]}"#),
    ] {
        let (addr, count, _) = scripted(vec![(status, body)]).await;
        let err = client(&addr, 3).read("secret/data/x").await.unwrap_err();
        assert_eq!(count.load(Ordering::SeqCst), 1, "{status} is final");
        assert_eq!(err.status(), Some(status));
        assert!(!err.to_string().contains("very-secret"));
    }
    let (addr, count, _) = scripted(vec![(404, r#"{"errors":[]}"#)]).await;
    assert!(client(&addr, 3)
        .read("secret/data/x")
        .await
        .expect("404 is an answer")
        .is_none());
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn standby_and_throttling_are_retried() {
    let (addr, count, _) = scripted(vec![
        (429, r#"{"errors":["rate limited"]}"#),
        (412, r#"{"errors":["required index state not present"]}"#),
        (204, ""),
    ])
    .await;
    client(&addr, 2)
        .delete("secret/data/x")
        .await
        .expect("third attempt");
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn paths_are_validated_before_sending() {
    let (addr, count, _) = scripted(vec![(200, "{}")]).await;
    let c = client(&addr, 0);
    for bad in ["", "secret/../sys/seal", "secret/x?list=true"] {
        let err = c.read(bad).await.unwrap_err();
        assert!(
            matches!(err, VaultError::InvalidPath { .. }),
            "{bad}: {err}"
        );
    }
    assert_eq!(count.load(Ordering::SeqCst), 0);
}
