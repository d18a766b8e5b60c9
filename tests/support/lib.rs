//! Helpers shared by the integration tests.

use std::path::Path;
use std::process::Command;

/// Runs a command and returns its stdout, failing with its stderr.
pub fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        anyhow::bail!(
            "{cmd:?} failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `kubectl` from the lab's bin directory, with the lab's kubeconfig.
pub fn kubectl(lab: &flotilla_lab::Lab, context: &str) -> Command {
    let mut c = Command::new(lab.bin_dir().join("kubectl"));
    c.env("KUBECONFIG", lab.kubeconfig_path())
        .arg("--context")
        .arg(context);
    c
}

/// Whether anything accepts connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    flotilla_lab::process::port_open(port)
}

/// Whether a process with this pid still exists (and is not a zombie).
pub fn pid_running(pid: u32, binary: &Path) -> bool {
    flotilla_lab::process::is_alive(pid, binary)
}
pub mod browser;
pub mod e2e;
