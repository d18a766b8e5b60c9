//! The lab's latency proxies: one per region that has a latency, in front of
//! its API server, run as a lab process (`flotilla lab proxy`) or by the
//! caller ([`crate::TestLab`], in its own process), and recorded in the lab
//! state so that `lab status` shows them and `lab down` stops them.

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{io, LabError, Result};
use crate::lab::{Lab, LabState, RegionState, UpOptions};
use crate::lab_services::ServeCommand;
use crate::latency::{Latency, ProxyOptions};
use crate::process::{self, component_error, free_port, ProcessRecord};

/// The component name of a latency proxy in the lab state and status.
pub const PROXY_COMPONENT: &str = "latency-proxy";

/// A region's latency proxy as recorded in the lab state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProxyState {
    /// `https://127.0.0.1:PORT`: what the lab kubeconfig points at.
    pub address: String,
    /// The API server it forwards to.
    pub upstream: SocketAddr,
    /// Its delay.
    pub latency: Latency,
    /// Its process, when the lab runs it as one; `None` when the caller
    /// serves it ([`crate::TestLab`]).
    pub process: Option<ProcessRecord>,
}

impl ProxyState {
    /// The port it listens on.
    pub fn port(&self) -> Option<u16> {
        port_of(&self.address)
    }
}

/// The port of `https://127.0.0.1:PORT`.
fn port_of(address: &str) -> Option<u16> {
    address.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

/// `127.0.0.1:PORT` of an `https://127.0.0.1:PORT` address.
pub(crate) fn socket_of(address: &str) -> Option<SocketAddr> {
    address
        .split_once("://")
        .map_or(address, |(_, rest)| rest)
        .trim_end_matches('/')
        .parse()
        .ok()
}

impl Lab {
    /// Records a latency proxy a caller serves itself ([`crate::TestLab`])
    /// for `region`, and points the lab kubeconfig at it.
    pub(crate) fn record_proxy(&self, region: &str, proxy: ProxyState) -> Result<LabState> {
        let _lock = self.lock()?;
        let mut state = self
            .state()?
            .ok_or_else(|| LabError::NotRunning(self.dir().to_path_buf()))?;
        let known = state.regions.keys().cloned().collect::<Vec<_>>().join(", ");
        let r = state
            .regions
            .get_mut(region)
            .ok_or_else(|| LabError::UnknownRegion(region.to_string(), known))?;
        r.server = proxy.address.clone();
        r.proxy = Some(proxy);
        self.save(&state)?;
        self.write_kubeconfig(&state)?;
        Ok(state)
    }
}

/// Brings each of `regions` (brought up by this `up`) to the latency `opts`
/// asks for, or, without `opts.latency`, to the latency it had
/// (`previous`): starts, restarts (when its API server moved or its latency
/// changed; on the same port when free) or stops its proxy, and sets the
/// region's `server` to the address clients should use.
pub(crate) async fn proxies_up(
    lab: &Lab,
    state: &mut LabState,
    regions: &[String],
    mut previous: BTreeMap<String, ProxyState>,
    opts: &UpOptions,
) -> Result<()> {
    let mut first_err = None;
    for name in regions {
        let prev = previous.remove(name);
        let Some(region) = state.regions.get_mut(name) else {
            continue;
        };
        // One region's failure leaves the others handled (and recorded).
        if let Err(e) = region_proxy_up(lab, region, prev, opts).await {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

async fn region_proxy_up(
    lab: &Lab,
    region: &mut RegionState,
    prev: Option<ProxyState>,
    opts: &UpOptions,
) -> Result<()> {
    let name = region.name.clone();
    let apiserver = region.apiserver().map(str::to_string).unwrap_or_default();
    let upstream = socket_of(&apiserver).ok_or_else(|| LabError::State {
        path: lab.dir().join("lab.json"),
        message: format!("region {name}: no API server address to put a proxy in front of"),
    })?;
    let want = match &opts.latency {
        Some(plan) => plan.for_region(&name),
        None => prev.as_ref().map(|p| p.latency),
    };
    let dir = lab.region_dir(&name);
    let proxy = match (want, &opts.proxy_server) {
        (None, _) => {
            stop(&dir, prev.as_ref());
            None
        }
        (Some(latency), Some(cmd)) => {
            // Recorded before it is ready, so that `down` finds it if it
            // never becomes ready.
            let served = serve(&dir, &name, prev.as_ref(), cmd, upstream, latency).await?;
            region.proxy = Some(served.clone());
            region.server = served.address.clone();
            wait_ready(
                &served.address,
                &lab.ca_path(),
                latency,
                opts.ready_timeout,
                served.process.as_ref(),
                &name,
            )
            .await?;
            Some(served)
        }
        (Some(latency), None) => match prev {
            // Served by the caller, still right: keep it.
            Some(p) if p.process.is_none() && p.upstream == upstream && p.latency == latency => {
                Some(p)
            }
            p => {
                if p.as_ref().is_some_and(|p| p.process.is_none()) {
                    tracing::warn!(
                        region = %name,
                        "the latency proxy the caller serves no longer fits (API server moved or latency changed); the region is reached directly until it is served again"
                    );
                }
                stop(&dir, p.as_ref());
                None
            }
        },
    };
    region.server = proxy
        .as_ref()
        .map(|p| p.address.clone())
        .unwrap_or(apiserver);
    region.proxy = proxy;
    Ok(())
}

/// Stops a lab-run proxy and forgets its files.
fn stop(dir: &Path, prev: Option<&ProxyState>) {
    let run = dir.join("run");
    if let Some(rec) = prev
        .and_then(|p| p.process.clone())
        .or_else(|| ProcessRecord::load(&run, PROXY_COMPONENT))
    {
        process::stop(&rec, Duration::from_secs(5));
    }
    let _ = fs::remove_file(run.join(format!("{PROXY_COMPONENT}.json")));
    let _ = fs::remove_file(config_path(dir));
}

fn config_path(region_dir: &Path) -> PathBuf {
    region_dir.join(format!("{PROXY_COMPONENT}.json"))
}

/// Starts the lab process of a region's proxy, or keeps the one running when
/// it already does this.
async fn serve(
    dir: &Path,
    region: &str,
    prev: Option<&ProxyState>,
    cmd: &ServeCommand,
    upstream: SocketAddr,
    latency: Latency,
) -> Result<ProxyState> {
    let run = dir.join("run");
    if let Some(p) = prev {
        let alive = p.process.as_ref().is_some_and(ProcessRecord::is_alive);
        if alive && p.upstream == upstream && p.latency == latency {
            return Ok(p.clone());
        }
    }
    let old = prev
        .and_then(|p| p.process.clone())
        .or_else(|| ProcessRecord::load(&run, PROXY_COMPONENT));
    if let Some(o) = &old {
        process::stop(o, Duration::from_secs(5));
    }
    // The same port as before, so kubeconfigs copied elsewhere keep working.
    let preferred = prev
        .and_then(ProxyState::port)
        .or_else(|| old.as_ref().and_then(|o| o.ports.first().copied()));
    let port = free_port(preferred)?;
    let options = ProxyOptions {
        port,
        upstream,
        latency,
    };
    let path = config_path(dir);
    let text = serde_json::to_string_pretty(&options).map_err(|e| LabError::State {
        path: path.clone(),
        message: e.to_string(),
    })?;
    fs::write(&path, text).map_err(io("writing", &path))?;
    let log = dir.join("logs").join(format!("{PROXY_COMPONENT}.log"));
    let mut args = cmd.args.clone();
    args.push(path.display().to_string());
    let pid = process::spawn(PROXY_COMPONENT, region, &cmd.program, &args, &[], &log)?;
    let address = format!("https://127.0.0.1:{port}");
    let rec = ProcessRecord {
        component: PROXY_COMPONENT.into(),
        pid,
        binary: cmd.program.clone(),
        log,
        address: address.clone(),
        ports: vec![port],
    };
    rec.save(&run)?;
    Ok(ProxyState {
        address,
        upstream,
        latency,
        process: Some(rec),
    })
}

/// Waits until the proxy at `address` accepts connections and the API
/// server answers `/readyz` through it, verified with the lab CA (so the
/// serving certificate is good for the proxy's address too). `rec`, when
/// the proxy is a lab process, is watched for an early exit.
pub(crate) async fn wait_ready(
    address: &str,
    ca: &Path,
    latency: Latency,
    timeout: Duration,
    rec: Option<&ProcessRecord>,
    region: &str,
) -> Result<()> {
    let pem = fs::read(ca).map_err(io("reading", ca))?;
    let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| LabError::State {
        path: ca.to_path_buf(),
        message: format!("not a PEM certificate: {e}"),
    })?;
    // A TLS handshake and a request: a few round trips.
    let per_try = Duration::from_secs(2) + latency.delay.saturating_add(latency.jitter) * 4;
    let client = reqwest::Client::builder()
        .timeout(per_try)
        .no_proxy()
        .add_root_certificate(cert)
        .build()
        .map_err(|e| LabError::State {
            path: PathBuf::new(),
            message: format!("building an HTTP client: {e}"),
        })?;
    let url = format!("{address}/readyz");
    let start = Instant::now();
    loop {
        let last = match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => format!("{url} answered {}", r.status()),
            Err(e) => format!("{url}: {e}"),
        };
        let problem = if rec.is_some_and(|r| !r.is_alive()) {
            Some("exited while starting".to_string())
        } else if start.elapsed() > timeout {
            Some(format!(
                "was not ready after {}s ({last})",
                timeout.as_secs()
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(match rec {
                Some(r) => component_error(PROXY_COMPONENT, region, problem, &r.log),
                None => LabError::Kube {
                    region: region.to_string(),
                    message: format!("latency proxy {address} {problem}"),
                },
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether something accepts connections at `address` now.
pub(crate) async fn accepts(address: &str) -> bool {
    let Some(addr) = socket_of(address) else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_ports() {
        assert_eq!(port_of("https://127.0.0.1:6443"), Some(6443));
        assert_eq!(
            socket_of("https://127.0.0.1:6443"),
            Some(SocketAddr::from(([127, 0, 0, 1], 6443)))
        );
        assert_eq!(
            socket_of("127.0.0.1:1"),
            Some(SocketAddr::from(([127, 0, 0, 1], 1)))
        );
        assert_eq!(socket_of("https://localhost:1"), None);
    }
}
