//! Shared helpers for the benchmarks in this directory. Each benchmark is a
//! `[[bench]]` target with `harness = false` that measures Flotilla and the
//! peer tool (git, kustomize, kubectl, ...) in one run and prints both figures
//! and their ratio.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs a command to completion (stdin closed, stderr dropped); returns its
/// stdout, whether it succeeded, the wall time from spawn to reaped, and
/// its peak resident set in KiB (`ru_maxrss` from `wait4`).
// The child is reaped with `wait4` (for its resource usage), not `wait`.
#[allow(clippy::zombie_processes)]
pub fn run_measured(cmd: &mut Command) -> (Vec<u8>, bool, Duration, i64) {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let mut out = Vec::new();
    if let Some(mut s) = child.stdout.take() {
        std::io::Read::read_to_end(&mut s, &mut out).expect("reading stdout");
    }
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child (pid from `spawn`), with valid pointers.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let elapsed = start.elapsed();
    assert!(pid > 0, "wait4 failed");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (out, ok, elapsed, usage.ru_maxrss)
}

/// Re-runs a failed command to show its stderr, then stops the bench.
pub fn fail(cmd: &mut Command) -> ! {
    let out = cmd.stderr(Stdio::piped()).output().expect("re-running");
    panic!(
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a command and returns its stdout; panics with its stderr when it
/// fails.
pub fn run_ok(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `$FLOTILLA_BIN`, else `cargo build --release -p flotilla` and its output.
pub fn flotilla_bin() -> Result<PathBuf, Box<dyn std::error::Error>> {
    if let Some(p) = std::env::var_os("FLOTILLA_BIN") {
        return Ok(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) if Path::new(&t).is_absolute() => PathBuf::from(t),
        Some(t) => root.join(t),
        None => root.join("target"),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("building the release binary: cargo build --release -p flotilla ...");
    let mut build = Command::new(cargo);
    build
        .args(["build", "--release", "-q", "-p", "flotilla"])
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target);
    // The variables `cargo bench` sets for this process: build scripts that
    // track them would otherwise rebuild part of the dependency tree, here
    // and again at the next `cargo bench`.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "OUT_DIR",
            ]
            .contains(&k.as_ref())
        {
            build.env_remove(k.as_ref());
        }
    }
    if !build.status()?.success() {
        return Err("cargo build --release -p flotilla failed".into());
    }
    let bin = target.join("release/flotilla");
    if !bin.is_file() {
        return Err(format!("{} was not built", bin.display()).into());
    }
    Ok(bin)
}

/// A running `flotilla controller`, stopped (SIGTERM, then SIGKILL) when
/// dropped.
pub struct ControllerProcess {
    child: Child,
    /// The API address it printed (`http://127.0.0.1:PORT`).
    pub base: String,
}

impl ControllerProcess {
    /// Starts `bin controller --config CONFIG`, its log to `log`, and
    /// waits (up to 2 minutes) for the API address it prints.
    pub fn spawn(
        bin: &Path,
        config: &Path,
        log: &Path,
    ) -> Result<ControllerProcess, Box<dyn std::error::Error>> {
        let log_file = std::fs::File::create(log)?;
        let filter = std::env::var("FLOTILLA_LOG")
            .unwrap_or_else(|_| "warn,flotilla_controller=info".into());
        let mut child = Command::new(bin)
            .args(["controller", "--config"])
            .arg(config)
            .env("FLOTILLA_LOG", filter)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(a) = line.strip_prefix("flotilla controller: API on ") {
                    let _ = tx.send(a.trim().to_string());
                }
            }
        });
        let mut process = ControllerProcess {
            child,
            base: String::new(),
        };
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(a) => process.base = a.trim_end_matches('/').to_string(),
            Err(_) => {
                return Err(format!(
                    "the controller printed no API address; its log: {}",
                    log.display()
                )
                .into())
            }
        }
        Ok(process)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then SIGKILL after 30 s.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `Vm...:` line of /proc/PID/status, in MiB.
pub fn mem_mib(pid: u32, key: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kib / 1024.0)
}

/// utime + stime of a process, in seconds.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.get(s.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some((utime + stime) / if ticks > 0 { ticks as f64 } else { 100.0 })
}

/// The cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
