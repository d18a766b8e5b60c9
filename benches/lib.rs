//! Shared helpers for the benchmarks in this directory. Each benchmark is a
//! `[[bench]]` target with `harness = false` that measures Flotilla and the
//! peer tool (git, kustomize, kubectl, ...) in one run and prints both figures
//! and their ratio.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
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
