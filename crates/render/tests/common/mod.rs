//! Shared helpers: the kustomize oracle and our renderer side by side.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use flotilla_lab::assets::{ensure, AssetOptions, QuietProgress};

/// The kustomize v5.5.0 binary of the lab assets (built once, cached).
pub fn kustomize() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let assets = ensure(&AssetOptions::from_env(), &["kustomize"], &QuietProgress)
            .expect("kustomize lab asset");
        assets
            .path("kustomize")
            .expect("kustomize binary")
            .to_path_buf()
    })
}

/// `kustomize build dir`: stdout on success, stderr on failure.
pub fn oracle(dir: &Path) -> Result<String, String> {
    let out = Command::new(kustomize())
        .arg("build")
        .arg(dir)
        .output()
        .expect("running kustomize");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).expect("utf-8 output"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Our rendering of a local directory.
pub fn ours(dir: &Path) -> Result<String, flotilla_render::RenderError> {
    flotilla_render::render_local(dir, &flotilla_render::RenderOptions::default())
        .map(|r| r.to_yaml())
}

/// The fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Compares both renderings of `dir` byte for byte; returns a description of
/// the first difference.
pub fn compare(dir: &Path) -> Result<(), String> {
    let want = oracle(dir);
    let got = ours(dir);
    match (want, got) {
        (Ok(w), Ok(g)) if w == g => Ok(()),
        (Ok(w), Ok(g)) => {
            let line = w
                .lines()
                .zip(g.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(w.lines().count().min(g.lines().count()));
            Err(format!(
                "{}: output differs at line {}:\n--- kustomize\n{}\n--- flotilla\n{}",
                dir.display(),
                line + 1,
                w.lines()
                    .skip(line.saturating_sub(3))
                    .take(8)
                    .collect::<Vec<_>>()
                    .join("\n"),
                g.lines()
                    .skip(line.saturating_sub(3))
                    .take(8)
                    .collect::<Vec<_>>()
                    .join("\n")
            ))
        }
        (Ok(_), Err(e)) => Err(format!(
            "{}: kustomize succeeded, we failed: {e}",
            dir.display()
        )),
        (Err(e), Ok(_)) => Err(format!(
            "{}: we succeeded, kustomize failed: {e}",
            dir.display()
        )),
        (Err(_), Err(_)) => Ok(()),
    }
}

/// A tiny deterministic PRNG (SplitMix64).
pub struct Rng(pub u64);

impl Rng {
    /// Next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `p` percent.
    pub fn chance(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    /// One of the items.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}
