//! TLS options of a chart repository (CA, insecure skip verify, client
//! certificate) against a real HTTPS server on loopback: Python's
//! `http.server` wrapped in TLS with certificates from the lab's CA,
//! serving the shared charts in place.

mod fetch_support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Stdio;

use fetch_support::shared_charts;
use flotilla_git::Secret;
use flotilla_helm::fetch::{ChartFetcher, FetchError, FetchOptions, RepoAuth, TlsOptions};
use tokio::io::AsyncBufReadExt;

const SERVER: &str = r#"
import http.server, ssl, sys
root, cert, key, ca, need_client = sys.argv[1:6]
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if need_client == "1":
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(ca)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

struct Https {
    url: String,
    _child: tokio::process::Child,
}

async fn https(pki: &Path, need_client: bool) -> Https {
    let ca = flotilla_lab::pki::Ca::load_or_create(pki).unwrap();
    let server = ca
        .issue(
            pki,
            "server",
            "127.0.0.1",
            &[],
            &["localhost"],
            &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
        )
        .unwrap();
    let mut child = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(SERVER)
        .arg(shared_charts())
        .arg(&server.cert)
        .arg(&server.key)
        .arg(&ca.files.cert)
        .arg(if need_client { "1" } else { "0" })
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        tokio::io::BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("the HTTPS server prints its port")
    .unwrap();
    Https {
        url: format!("https://127.0.0.1:{}", line.trim()),
        _child: child,
    }
}

fn options() -> FetchOptions {
    FetchOptions {
        retries: 0,
        ..FetchOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_and_insecure_skip_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let server = https(&tmp.path().join("pki"), false).await;
    let f = ChartFetcher::new(tmp.path().join("cache"), options()).unwrap();

    let err = f
        .fetch(&server.url, "podinfo", "6.14.1", &RepoAuth::none())
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    let ca = std::fs::read(tmp.path().join("pki/ca.crt")).unwrap();
    let with_ca = RepoAuth::none().with_tls(TlsOptions {
        ca_pem: Some(ca),
        ..TlsOptions::default()
    });
    let got = f
        .fetch(&server.url, "podinfo", "6.14.1", &with_ca)
        .await
        .unwrap();
    assert_eq!(got.version, "6.14.1");

    let insecure = RepoAuth::none().with_tls(TlsOptions {
        insecure_skip_verify: true,
        ..TlsOptions::default()
    });
    let got = ChartFetcher::new(tmp.path().join("cache2"), options())
        .unwrap()
        .fetch(&server.url, "vault", "0.28.0", &insecure)
        .await
        .unwrap();
    assert_eq!(got.version, "0.28.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = tmp.path().join("pki");
    let server = https(&pki, true).await;
    let ca = flotilla_lab::pki::Ca::load_or_create(&pki).unwrap();
    let client = ca.issue(&pki, "client", "flotilla", &[], &[], &[]).unwrap();
    let ca_pem = std::fs::read(&ca.files.cert).unwrap();
    let f = ChartFetcher::new(tmp.path().join("cache"), options()).unwrap();

    let no_cert = RepoAuth::none().with_tls(TlsOptions {
        ca_pem: Some(ca_pem.clone()),
        ..TlsOptions::default()
    });
    let err = f
        .fetch(&server.url, "podinfo", "6.14.1", &no_cert)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err:?}");

    let with_cert = RepoAuth::none().with_tls(TlsOptions {
        ca_pem: Some(ca_pem),
        client_cert_pem: Some(std::fs::read(&client.cert).unwrap()),
        client_key_pem: Some(Secret::new(std::fs::read_to_string(&client.key).unwrap())),
        insecure_skip_verify: false,
    });
    let got = f
        .fetch(&server.url, "podinfo", "6.14.1", &with_cert)
        .await
        .unwrap();
    assert_eq!(got.version, "6.14.1");
    assert!(!format!("{with_cert:?}").contains("PRIVATE KEY"));
}
