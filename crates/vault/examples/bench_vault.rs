//! Benchmark: resolve 1,000 secret placeholders spread over 100 Vault paths
//! against the lab's OpenBao (TLS, raft storage, on loopback).
//!
//! Flotilla reads each distinct path once (`resolve_manifests`); the
//! baseline reads once per placeholder, as argocd-vault-plugin's inline
//! `<path:...#key>` placeholders do (its Vault backend has no cache). The
//! plugin itself is not built here; the baseline runs the same client with
//! that strategy. Prints requests made and time for both, and the ratio.
//!
//! Run: `cargo run --release -p flotilla-vault --example bench_vault`
//! (to become `cargo bench -p flotilla-benches --bench vault`).

use std::time::{Duration, Instant};

use flotilla_core::Manifest;
use flotilla_lab::TestLab;
use flotilla_vault::{
    find_placeholders, resolve_manifests, ClientConfig, KvVersion, ResolveOptions, SecretData,
    SecretSource, SecretString, VaultClient,
};
use serde_json::{json, Map, Value};

const PATHS: usize = 100;
const KEYS_PER_PATH: usize = 10;
const PLACEHOLDERS: usize = 1_000;
const PER_MANIFEST: usize = 20;
const RUNS: usize = 7;

fn client(
    addr: &str,
    ca: &std::path::Path,
    token: &str,
) -> Result<VaultClient, Box<dyn std::error::Error>> {
    Ok(VaultClient::new(
        ClientConfig::new(addr)
            .with_ca_cert(ca)
            .with_token(SecretString::new(token)),
    )?)
}

/// 50 Secrets of 20 placeholders each: placeholder `i` names path `i % 100`
/// and key `(i / 100) % 10`, so every path is used ten times.
fn manifests() -> Vec<Manifest> {
    (0..PLACEHOLDERS / PER_MANIFEST)
        .map(|m| {
            let mut data = Map::new();
            for j in 0..PER_MANIFEST {
                let i = m * PER_MANIFEST + j;
                data.insert(
                    format!("K{j}"),
                    json!(format!(
                        "<path:secret/data/bench/app-{:03}#KEY_{}>",
                        i % PATHS,
                        (i / PATHS) % KEYS_PER_PATH
                    )),
                );
            }
            Manifest::from_value(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": format!("bench-{m:02}"), "namespace": "bench"},
                "stringData": Value::Object(data)
            }))
            .expect("an object")
        })
        .collect()
}

/// The baseline: one read per placeholder, in order.
async fn per_placeholder(
    client: &VaultClient,
    manifests: &mut [Manifest],
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut n = 0;
    for m in manifests.iter_mut() {
        let Some(Value::Object(data)) = m.object.get_mut("stringData") else {
            continue;
        };
        for value in data.values_mut() {
            let Some(text) = value.as_str() else { continue };
            let found = find_placeholders(text)?;
            let Some(p) = found.first() else { continue };
            let secret = client.read_secret(&p.path, p.version).await?;
            *value = secret.get(&p.key).cloned().ok_or("missing key")?;
            n += 1;
        }
    }
    Ok(n)
}

fn stats(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    (samples[0], samples[samples.len() / 2])
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lab = TestLab::start(&[], true).await?;
    let info = lab.openbao()?.ok_or("the lab runs OpenBao")?;
    let root = client(&info.addr, &info.ca_cert, &info.root_token)?;
    root.enable_mount("secret", json!({"type": "kv", "options": {"version": "2"}}))
        .await?;
    assert_eq!(root.kv_path("secret/x").await?.version, KvVersion::V2);
    for p in 0..PATHS {
        let data: SecretData = (0..KEYS_PER_PATH)
            .map(|k| (format!("KEY_{k}"), json!(format!("value-{p}-{k}"))))
            .collect();
        root.kv_write(&format!("secret/bench/app-{p:03}"), &data)
            .await?;
    }
    println!(
        "OpenBao {} (TLS, raft, loopback); {PLACEHOLDERS} placeholders in {} Secrets over {PATHS} paths x {KEYS_PER_PATH} keys; {RUNS} runs each, fresh client per run",
        root.health().await?.version,
        PLACEHOLDERS / PER_MANIFEST
    );

    let mut ours = Vec::new();
    let mut our_requests = Vec::new();
    let mut reads = 0;
    for _ in 0..RUNS {
        let c = client(&info.addr, &info.ca_cert, &info.root_token)?;
        let mut m = manifests();
        let start = Instant::now();
        let report = resolve_manifests(&c, &mut m, &ResolveOptions::default()).await?;
        ours.push(start.elapsed());
        our_requests.push(c.request_count());
        assert_eq!(report.placeholders, PLACEHOLDERS);
        reads = report.secrets_read;
        assert_eq!(m[0].object["stringData"]["K0"], json!("value-0-0"));
    }
    let mut theirs = Vec::new();
    let mut their_requests = Vec::new();
    for _ in 0..RUNS {
        let c = client(&info.addr, &info.ca_cert, &info.root_token)?;
        let mut m = manifests();
        let start = Instant::now();
        let n = per_placeholder(&c, &mut m).await?;
        theirs.push(start.elapsed());
        their_requests.push(c.request_count());
        assert_eq!(n, PLACEHOLDERS);
    }
    let (our_min, our_median) = stats(&mut ours);
    let (their_min, their_median) = stats(&mut theirs);
    println!(
        "flotilla (one read per path, 16 at a time): {} HTTP requests ({reads} secret reads + {} mount lookup), median {}, best {}",
        our_requests[0],
        our_requests[0] - reads as u64,
        ms(our_median),
        ms(our_min)
    );
    println!(
        "baseline (one read per placeholder, as argocd-vault-plugin): {} HTTP requests, median {}, best {}",
        their_requests[0],
        ms(their_median),
        ms(their_min)
    );
    println!(
        "ratio: {:.1}x fewer requests, {:.1}x faster (median)",
        their_requests[0] as f64 / our_requests[0] as f64,
        their_median.as_secs_f64() / our_median.as_secs_f64()
    );
    Ok(())
}
