//! Fixture repositories built with the real `git` CLI, and the loopback
//! smart-HTTP server.
#![allow(dead_code)]

#[allow(unused_imports)]
pub use flotilla_lab::git_http;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A `git` command with a clean, deterministic environment.
pub fn git_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Flotilla Test")
        .env("GIT_AUTHOR_EMAIL", "test@flotilla.invalid")
        .env("GIT_COMMITTER_NAME", "Flotilla Test")
        .env("GIT_COMMITTER_EMAIL", "test@flotilla.invalid")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
    cmd
}

/// Run git in `dir` and return its trimmed standard output; panic with its
/// standard error on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running git {args:?}: {e}"));
    assert!(
        out.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// A non-bare upstream repository that tests commit to and serve.
pub struct Upstream {
    pub dir: PathBuf,
}

impl Upstream {
    /// `git init -b main` at `root/name`.
    pub fn new(root: &Path, name: &str) -> Self {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "-q", "-b", "main"]);
        // Let http-backend and upload-pack serve it; allow fetching any reachable commit.
        git(
            &dir,
            &["config", "uploadpack.allowReachableSHA1InWant", "true"],
        );
        Upstream { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> &Self {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        self
    }

    pub fn remove(&self, rel: &str) -> &Self {
        git(&self.dir, &["rm", "-q", "-r", rel]);
        self
    }

    pub fn symlink(&self, rel: &str, target: &str) -> &Self {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&p);
        std::os::unix::fs::symlink(target, &p).unwrap();
        self
    }

    /// Stage everything and commit; returns the new commit id.
    pub fn commit(&self, message: &str) -> String {
        git(&self.dir, &["add", "-A"]);
        git(&self.dir, &["commit", "-q", "--allow-empty", "-m", message]);
        self.rev("HEAD")
    }

    pub fn rev(&self, rev: &str) -> String {
        git(&self.dir, &["rev-parse", rev])
    }

    pub fn tag(&self, name: &str) {
        git(&self.dir, &["tag", name]);
    }

    pub fn annotated_tag(&self, name: &str) {
        git(
            &self.dir,
            &["tag", "-a", "-m", &format!("release {name}"), name],
        );
    }

    pub fn checkout(&self, branch: &str) {
        git(&self.dir, &["checkout", "-q", branch]);
    }

    pub fn new_branch(&self, branch: &str) {
        git(&self.dir, &["checkout", "-q", "-b", branch]);
    }

    pub fn git(&self, args: &[&str]) -> String {
        git(&self.dir, args)
    }
}

/// A fake `ssh` program: records its arguments in `log` and runs the remote
/// command locally, so the SSH transport is exercised without an sshd.
pub fn fake_ssh(dir: &Path) -> (PathBuf, PathBuf) {
    let script = dir.join("fake-ssh");
    let log = dir.join("fake-ssh.log");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n\
             while [ $# -gt 0 ]; do case \"$1\" in -o|-i|-p|-F|-l|-J) shift 2 ;; -*) shift ;; *) shift; break ;; esac; done\n\
             exec sh -c \"$*\"\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}
