//! Starting, watching and stopping the lab's processes.
//!
//! Processes run in their own process group so that they outlive the
//! `flotilla lab up` command that started them; their pid, binary and log are
//! recorded in the lab state so a later command can find, check and stop
//! them, and so a pid reused by an unrelated process after a crash is not
//! mistaken for ours.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::error::{io, tail_lines, LabError, Result};

/// A running (or once-running) lab process, as recorded in the state file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProcessRecord {
    /// Component name (`etcd`, `kube-apiserver`, ...).
    pub component: String,
    /// Process id.
    pub pid: u32,
    /// The binary that was started.
    pub binary: PathBuf,
    /// Where its output goes.
    pub log: PathBuf,
    /// Main address it serves (`https://127.0.0.1:6443`, ...).
    pub address: String,
    /// Every port it listens on.
    pub ports: Vec<u16>,
}

impl ProcessRecord {
    /// Records the process in `dir/<component>.json`, written as soon as it
    /// is spawned so that a crash before the lab state is saved still leaves
    /// a trace the next `up` or `down` finds.
    pub fn save(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let path = dir.join(format!("{}.json", self.component));
        let text = serde_json::to_string_pretty(self).map_err(|e| LabError::State {
            path: path.clone(),
            message: e.to_string(),
        })?;
        fs::write(&path, text).map_err(io("writing", &path))
    }

    /// The record of `component` under `dir`, if one was saved.
    pub fn load(dir: &Path, component: &str) -> Option<Self> {
        let path = dir.join(format!("{component}.json"));
        let text = fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Every record saved under `dir`.
    pub fn load_all(dir: &Path) -> Vec<Self> {
        let Ok(entries) = fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| fs::read_to_string(e.path()).ok())
            .filter_map(|t| serde_json::from_str(&t).ok())
            .collect()
    }

    /// Whether the recorded process is still running (and is still ours: its
    /// executable is the recorded binary).
    pub fn is_alive(&self) -> bool {
        is_alive(self.pid, &self.binary)
    }
}

/// Whether `pid` runs `binary` and is not a zombie.
pub fn is_alive(pid: u32, binary: &Path) -> bool {
    let stat = match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s,
        Err(_) => return false,
    };
    // Field 3, after the parenthesised command name, is the state.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .unwrap_or("?");
    if state == "Z" || state == "X" {
        return false;
    }
    match fs::read_link(format!("/proc/{pid}/exe")) {
        Ok(exe) => {
            let exe = exe
                .to_string_lossy()
                .trim_end_matches(" (deleted)")
                .to_string();
            let want = fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
            Path::new(&exe) == want
        }
        Err(_) => false,
    }
}

/// Starts `binary` with `args` detached from the caller (own process group,
/// no stdin, output appended to `log`), and reaps it in a background thread
/// so that a process that dies is seen as dead.
pub fn spawn(
    component: &str,
    scope: &str,
    binary: &Path,
    args: &[String],
    envs: &[(String, String)],
    log: &Path,
) -> Result<u32> {
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir).map_err(io("creating", dir))?;
    }
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io("opening", log))?;
    let err = out.try_clone().map_err(io("opening", log))?;
    {
        use std::io::Write;
        let mut header = out.try_clone().map_err(io("opening", log))?;
        let _ = writeln!(
            header,
            "==> starting {} {}",
            binary.display(),
            args.join(" ")
        );
    }
    let mut cmd = Command::new(binary);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|source| LabError::Spawn {
        component: component.to_string(),
        scope: scope.to_string(),
        source,
    })?;
    let pid = child.id();
    std::thread::Builder::new()
        .name(format!("reap-{component}"))
        .spawn(move || {
            let _ = child.wait();
        })
        .map_err(|source| LabError::Spawn {
            component: component.to_string(),
            scope: scope.to_string(),
            source,
        })?;
    Ok(pid)
}

/// Stops a recorded process: SIGTERM, then SIGKILL after `grace`. Returns
/// once it is gone. A process that is not ours (pid reused) is left alone.
pub fn stop(record: &ProcessRecord, grace: Duration) {
    if !record.is_alive() {
        return;
    }
    let pid = Pid::from_raw(record.pid as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !record.is_alive() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = kill(pid, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && record.is_alive() {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A free TCP port on 127.0.0.1, preferring `preferred` when it is free.
pub fn free_port(preferred: Option<u16>) -> Result<u16> {
    if let Some(p) = preferred.filter(|p| *p != 0) {
        if TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return Ok(p);
        }
    }
    let l = TcpListener::bind(("127.0.0.1", 0)).map_err(LabError::Port)?;
    let port = l.local_addr().map_err(LabError::Port)?.port();
    Ok(port)
}

/// Whether something accepts connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// The error for a component that died or did not become ready.
pub fn component_error(component: &str, scope: &str, problem: String, log: &Path) -> LabError {
    let scope = if scope == "lab" {
        "the lab".to_string()
    } else {
        format!("region {scope}")
    };
    LabError::Component {
        component: format!("{component} for {scope}"),
        problem,
        log: log.to_path_buf(),
        tail: tail_lines(log, 25),
    }
}

/// Resident memory of a process in bytes (from /proc), if it runs.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawned_process_is_alive_until_stopped_and_its_log_is_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("logs/sleep.log");
        let sleep = PathBuf::from("/bin/sleep");
        let pid = spawn("sleep", "test", &sleep, &["30".into()], &[], &log).unwrap();
        let rec = ProcessRecord {
            component: "sleep".into(),
            pid,
            binary: sleep.clone(),
            log: log.clone(),
            address: String::new(),
            ports: vec![],
        };
        assert!(rec.is_alive());
        // A different binary at the same pid is not ours.
        assert!(!is_alive(pid, Path::new("/bin/true")));
        stop(&rec, Duration::from_secs(2));
        assert!(!rec.is_alive());
        assert!(fs::read_to_string(&log)
            .unwrap()
            .contains("starting /bin/sleep 30"));
    }

    #[test]
    fn a_process_that_exits_is_seen_dead() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("f.log");
        let bin = PathBuf::from("/bin/sh");
        let pid = spawn(
            "sh",
            "test",
            &bin,
            &["-c".into(), "echo boom; exit 3".into()],
            &[],
            &log,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while is_alive(pid, &bin) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!is_alive(pid, &bin));
        let err = component_error("sh", "test", "exited".into(), &log).to_string();
        assert!(err.contains("boom"), "{err}");
    }

    #[test]
    fn free_port_avoids_taken_ports() {
        let l = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let taken = l.local_addr().unwrap().port();
        let p = free_port(Some(taken)).unwrap();
        assert_ne!(p, taken);
        assert!(port_open(taken));
    }
}
