//! WAN latency in a real lab: the lab kubeconfig points at a latency proxy
//! in front of the region's API server, and clients work through it. No
//! assertion on wall time: the delay itself is checked in the proxy's unit
//! tests, on tokio's paused clock.

use std::path::Path;
use std::time::{Duration, Instant};

use flotilla_lab::TestLab;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

/// The `server` of the cluster `name` in a kubeconfig.
fn kubeconfig_server(path: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    doc["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no cluster {name} in {text}"))["cluster"]["server"]
        .as_str()
        .unwrap()
        .to_string()
}

fn port(url: &str) -> u16 {
    url.rsplit_once(':').unwrap().1.parse().unwrap()
}

fn accepts(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_the_lab_kubeconfig_go_through_the_latency_proxy() -> anyhow::Result<()> {
    let lab = TestLab::builder(&["far", "near"])
        .nodes(1)
        .region_latency("far", Duration::from_millis(200))
        .start()
        .await?;
    let kubeconfig = lab.kubeconfig();

    // `far` is reached through its proxy, on a port of its own; `near`,
    // which has no latency, directly.
    let far = &lab.state().regions["far"];
    let proxy = lab.latency_proxy("far").expect("far has a latency proxy");
    let apiserver = far.apiserver().expect("far runs an API server").to_string();
    assert_eq!(proxy.latency.delay, Duration::from_millis(200));
    assert_eq!(port(&apiserver), proxy.upstream.port());
    assert_ne!(port(&proxy.address), port(&apiserver));
    assert_eq!(far.server, proxy.address);
    assert_eq!(kubeconfig_server(&kubeconfig, "lab-far"), proxy.address);
    assert!(lab.latency_proxy("near").is_none());
    let near = &lab.state().regions["near"];
    assert_eq!(
        kubeconfig_server(&kubeconfig, "lab-near"),
        near.apiserver().unwrap()
    );

    // The API server's certificate is good for the proxy's address (the
    // client checks it with the lab CA): list and create through it.
    let client = lab.client("far").await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.iter().any(|n| n == "kube-system"), "{names:?}");
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "through-the-proxy"},
        "data": {"hops": "1"},
    }))?;
    cms.create(&PostParams::default(), &cm).await?;
    let back = cms.get("through-the-proxy").await?;
    assert_eq!(back.data.unwrap()["hops"], "1");

    // kubectl with the lab kubeconfig too (it speaks HTTP/2 over TLS; the
    // proxy passes the bytes through).
    let kubectl = lab.lab().bin_dir().join("kubectl");
    let kc = kubeconfig.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(kubectl)
            .env("KUBECONFIG", &kc)
            .env_remove("HTTPS_PROXY")
            .args([
                "--context",
                "lab-far",
                "get",
                "configmap",
                "through-the-proxy",
                "-o",
                "jsonpath={.data.hops}",
            ])
            .output()
    })
    .await??;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1");

    // The proxy goes with the lab.
    let proxy_port = port(&proxy.address);
    assert!(accepts(proxy_port));
    drop(lab);
    let deadline = Instant::now() + Duration::from_secs(10);
    while accepts(proxy_port) {
        assert!(
            Instant::now() < deadline,
            "port {proxy_port} still accepts connections after the lab stopped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
