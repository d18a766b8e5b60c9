//! Lab figures: warm asset check, `lab up` with 1 and 3 regions, idempotent
//! `up`, memory per region, `down`. There is no peer tool to run beside it on
//! this machine (kind and k3d need a container engine), so it prints our
//! figures only.
//!
//! Run: `cargo bench -p flotilla-benches --bench lab`

use std::time::{Duration, Instant};

use flotilla_lab::assets::{self, AssetOptions, QuietProgress};
use flotilla_lab::{Lab, UpOptions};

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opts = AssetOptions::from_env();
    let components = ["kubernetes", "etcd", "kwok", "openbao"];
    let built = {
        let opts = opts.clone();
        tokio::task::spawn_blocking(move || assets::ensure(&opts, &components, &QuietProgress))
            .await??
    };
    let n = 50;
    let start = Instant::now();
    for _ in 0..n {
        if assets::cached(&opts, &components)?.is_none() {
            return Err("lab assets disappeared from the cache".into());
        }
    }
    println!(
        "warm asset check (4 components): {:.3} ms",
        start.elapsed().as_secs_f64() * 1000.0 / n as f64
    );

    for (regions, vault) in [
        (vec!["r1"], false),
        (vec!["r1", "r2", "r3"], false),
        (vec!["r1", "r2", "r3"], true),
    ] {
        let home = tempfile::tempdir()?;
        let lab = Lab::new(home.path());
        let up = UpOptions {
            regions: regions.iter().map(|r| r.to_string()).collect(),
            vault,
            ..UpOptions::default()
        };
        let start = Instant::now();
        lab.up(&up, &built).await?;
        let cold = start.elapsed();
        let start = Instant::now();
        lab.up(&up, &built).await?;
        let again = start.elapsed();
        let status = lab.status().await?;
        let mut per_region = Vec::new();
        for r in &regions {
            let rss: u64 = status
                .iter()
                .filter(|s| s.scope == *r)
                .filter_map(|s| s.rss_bytes)
                .sum();
            per_region.push(rss as f64 / (1024.0 * 1024.0));
        }
        let bao: u64 = status
            .iter()
            .filter(|s| s.component == "openbao")
            .filter_map(|s| s.rss_bytes)
            .sum();
        let start = Instant::now();
        let l2 = lab.clone();
        tokio::task::spawn_blocking(move || l2.down()).await??;
        let down = start.elapsed();
        println!(
            "lab up {} region(s){}: {} (again, nothing to do: {}); memory per region: {}{}; down: {}",
            regions.len(),
            if vault { " + OpenBao" } else { "" },
            secs(cold),
            secs(again),
            per_region.iter().map(|m| format!("{m:.0} MiB")).collect::<Vec<_>>().join(", "),
            if vault { format!("; OpenBao {} MiB", bao / (1024 * 1024)) } else { String::new() },
            secs(down),
        );
    }
    Ok(())
}
