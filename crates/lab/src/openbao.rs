//! The lab's OpenBao: a real server with integrated (raft) storage and TLS from the lab
//! CA, initialised with one key share and unsealed. The root token and the
//! unseal key are kept in `openbao/init.json` with mode 0600.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::assets::Assets;
use crate::error::{io, LabError, Result};
use crate::lab::Lab;
use crate::pki::{self, Ca};
use crate::process::{self, component_error, free_port, ProcessRecord};

/// How to reach the lab's OpenBao.
#[derive(Clone)]
pub struct OpenBaoInfo {
    /// `https://127.0.0.1:<port>`.
    pub addr: String,
    /// The root token.
    pub root_token: String,
    /// CA certificate that signed its serving certificate.
    pub ca_cert: PathBuf,
}

impl std::fmt::Debug for OpenBaoInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenBaoInfo")
            .field("addr", &self.addr)
            .field("root_token", &"<redacted>")
            .field("ca_cert", &self.ca_cert)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct InitFile {
    #[serde(alias = "keys_base64")]
    unseal_keys_b64: Vec<String>,
    root_token: String,
}

fn dir(lab: &Lab) -> PathBuf {
    lab.dir().join("openbao")
}

fn init_path(lab: &Lab) -> PathBuf {
    dir(lab).join("init.json")
}

/// Address, token and CA of a running lab OpenBao.
pub fn info(lab: &Lab, rec: &ProcessRecord) -> Result<OpenBaoInfo> {
    let path = init_path(lab);
    let text = fs::read_to_string(&path).map_err(io("reading", &path))?;
    let init: InitFile = serde_json::from_str(&text).map_err(|e| LabError::State {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok(OpenBaoInfo {
        addr: rec.address.clone(),
        root_token: init.root_token,
        ca_cert: lab.ca_path(),
    })
}

fn bao_err(addr: &str, message: impl Into<String>) -> LabError {
    LabError::OpenBao {
        addr: addr.to_string(),
        message: message.into(),
    }
}

/// Starts OpenBao if it is not running, initialises it the first time and
/// unseals it.
pub(crate) async fn up(
    lab: &Lab,
    previous: Option<ProcessRecord>,
    assets: &Assets,
    timeout: Duration,
) -> Result<ProcessRecord> {
    let d = dir(lab);
    fs::create_dir_all(d.join("data")).map_err(io("creating", &d))?;
    let ca = Ca::load_or_create(&lab.dir().join("pki"))?;
    let cert = ca.issue(
        &d,
        "server",
        "openbao",
        &[],
        &["localhost"],
        &pki::loopback_ips(),
    )?;
    let http = {
        let pem = fs::read(&ca.files.cert).map_err(io("reading", &ca.files.cert))?;
        let c = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| bao_err("(lab)", format!("lab CA: {e}")))?;
        reqwest::Client::builder()
            .add_root_certificate(c)
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| bao_err("(lab)", e.to_string()))?
    };
    let run_dir = d.join("run");
    let previous = ProcessRecord::load(&run_dir, "openbao").or(previous);
    let rec = match previous.filter(|p| p.is_alive()) {
        Some(p) => p,
        None => {
            let port = free_port(None)?;
            let cluster_port =
                free_port(None).and_then(|p| if p == port { free_port(None) } else { Ok(p) })?;
            let config = d.join("bao.hcl");
            let text = format!(
                "storage \"raft\" {{\n  path = \"{data}\"\n  node_id = \"lab\"\n  performance_multiplier = 1\n}}\n\
                 listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{cluster_port}\"\n  tls_cert_file = \"{cert}\"\n  tls_key_file = \"{key}\"\n}}\n\
                 api_addr = \"https://127.0.0.1:{port}\"\n\
                 cluster_addr = \"https://127.0.0.1:{cluster_port}\"\n\
                 ui = false\n",
                data = d.join("data").display(),
                cert = cert.cert.display(),
                key = cert.key.display(),
            );
            fs::write(&config, text).map_err(io("writing", &config))?;
            let bin = assets.path("bao")?.to_path_buf();
            let log = d.join("openbao.log");
            let args = vec![
                "server".to_string(),
                format!("-config={}", config.display()),
            ];
            let pid = process::spawn("openbao", "lab", &bin, &args, &[], &log)?;
            let rec = ProcessRecord {
                component: "openbao".into(),
                pid,
                binary: bin,
                log,
                address: format!("https://127.0.0.1:{port}"),
                ports: vec![port, cluster_port],
            };
            rec.save(&run_dir)?;
            rec
        }
    };
    let addr = rec.address.clone();
    // Wait until it answers at all.
    let start = Instant::now();
    let health = loop {
        match http.get(format!("{addr}/v1/sys/health")).send().await {
            Ok(r) => break r.json::<serde_json::Value>().await.unwrap_or_default(),
            Err(e) => {
                if !rec.is_alive() {
                    return Err(component_error(
                        "openbao",
                        "lab",
                        "exited while starting".into(),
                        &rec.log,
                    ));
                }
                if start.elapsed() > timeout {
                    return Err(component_error(
                        "openbao",
                        "lab",
                        format!("did not answer after {}s: {e}", timeout.as_secs()),
                        &rec.log,
                    ));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let init_file = init_path(lab);
    if health["initialized"] != json!(true) {
        let r = http
            .put(format!("{addr}/v1/sys/init"))
            .json(&json!({"secret_shares": 1, "secret_threshold": 1}))
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| bao_err(&addr, format!("sys/init: {e}")))?;
        if !r.status().is_success() {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            return Err(bao_err(
                &addr,
                format!("sys/init answered {status}: {body}"),
            ));
        }
        let body = r
            .text()
            .await
            .map_err(|e| bao_err(&addr, format!("sys/init answer: {e}")))?;
        // The answer holds the root token and unseal key: never echo it.
        let init: InitFile = serde_json::from_str(&body).map_err(|e| {
            bao_err(
                &addr,
                format!(
                    "sys/init answer is not what OpenBao sends (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        let text =
            serde_json::to_string_pretty(&init).map_err(|e| bao_err(&addr, e.to_string()))?;
        pki::write_private(&init_file, &text)?;
    }
    let init: InitFile = {
        let text = fs::read_to_string(&init_file).map_err(io("reading", &init_file))?;
        serde_json::from_str(&text).map_err(|e| LabError::State {
            path: init_file.clone(),
            message: e.to_string(),
        })?
    };
    // Unseal until sys/health says active.
    let start = Instant::now();
    loop {
        let h: serde_json::Value = match http.get(format!("{addr}/v1/sys/health")).send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        };
        if h["sealed"] == json!(false) && h["standby"] == json!(false) {
            break;
        }
        if h["sealed"] == json!(true) {
            for key in &init.unseal_keys_b64 {
                let r = http
                    .put(format!("{addr}/v1/sys/unseal"))
                    .json(&json!({ "key": key }))
                    .timeout(timeout)
                    .send()
                    .await
                    .map_err(|e| bao_err(&addr, format!("sys/unseal: {e}")))?;
                if !r.status().is_success() {
                    return Err(bao_err(
                        &addr,
                        format!("sys/unseal answered {}", r.status()),
                    ));
                }
            }
        }
        if start.elapsed() > timeout {
            return Err(component_error(
                "openbao",
                "lab",
                format!("not unsealed and active after {}s", timeout.as_secs()),
                &rec.log,
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(rec)
}
