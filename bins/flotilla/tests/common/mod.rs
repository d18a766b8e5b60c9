//! What the CLI tests that run `flotilla` against a lab share.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `flotilla` with `FLOTILLA_HOME` set to `home` (and no `KUBECONFIG`).
pub fn flotilla(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .env("FLOTILLA_HOME", home)
        .env_remove("KUBECONFIG")
        .output()
        .expect("flotilla runs")
}

/// Runs `flotilla lab down` for a home when dropped, so a failing test (or
/// a command that died half-way) leaves no lab running.
pub struct Down<'a>(pub &'a Path);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = flotilla(self.0, &["lab", "down"]);
    }
}

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
