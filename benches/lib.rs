//! Shared helpers for the benchmarks in this directory. Each benchmark is a
//! `[[bench]]` target with `harness = false` that measures Flotilla and the
//! peer tool (git, kustomize, kubectl, ...) in one run and prints both figures
//! and their ratio.

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
