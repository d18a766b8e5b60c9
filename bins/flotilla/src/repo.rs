//! `flotilla repo`: look at a Git repository the way Flotilla sees it.
//!
//! ```text
//! flotilla repo resolve URL REV          the full commit id REV resolves to
//! flotilla repo ls URL REV [GLOB]        paths of the files (matching GLOB)
//! flotilla repo cat URL REV PATH         the content of a file
//! ```
//!
//! Repositories are fetched into the cache (`--cache DIR`, by default
//! `$FLOTILLA_HOME/cache/git` with `FLOTILLA_HOME` defaulting to
//! `~/.flotilla`); `--offline` uses only what the cache holds. `--repo
//! URL=LOCAL` reads URL from a local clone or directory instead. HTTPS
//! credentials come from `FLOTILLA_GIT_USERNAME` and `FLOTILLA_GIT_PASSWORD`
//! (or `--password-file`), never from the command line.

use std::io::Write;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use flotilla_git::{
    CacheOptions, Credentials, GitCache, GlobMode, HostKeyPolicy, Limits, SshKey, Tree,
};

/// Options shared by every `repo` subcommand.
#[derive(Debug, Clone, Args)]
pub struct RepoOpts {
    /// Read URL from LOCAL (a clone, a `file://` URL or a plain directory)
    /// instead; URLs are compared after normalisation. Repeatable.
    #[arg(long = "repo", value_name = "URL=LOCAL", value_parser = parse_substitution)]
    pub substitutions: Vec<(String, String)>,

    /// Cache directory [default: $FLOTILLA_HOME/cache/git, FLOTILLA_HOME
    /// defaulting to ~/.flotilla].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,

    /// Use only what the cache holds; do not contact the remote.
    #[arg(long)]
    pub offline: bool,

    /// Fetch only this many commits of history.
    #[arg(long, value_name = "N")]
    pub depth: Option<NonZeroU32>,

    /// HTTPS user name (the password comes from FLOTILLA_GIT_PASSWORD or --password-file).
    #[arg(long, env = "FLOTILLA_GIT_USERNAME", value_name = "USER")]
    pub username: Option<String>,

    /// File holding the HTTPS password or token.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// SSH private key for ssh:// and user@host:path URLs.
    #[arg(long, value_name = "FILE")]
    pub ssh_key: Option<PathBuf>,

    /// Known hosts file to verify SSH servers against (with --ssh-key).
    #[arg(long, value_name = "FILE", requires = "ssh_key")]
    pub known_hosts: Option<PathBuf>,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Plain lines.
    Text,
    /// JSON, for scripts.
    Json,
}

/// `flotilla repo ...`
#[derive(Debug, Clone, Subcommand)]
pub enum RepoCmd {
    /// Print the full commit id that REV resolves to (HEAD, a branch, a tag, a
    /// commit id, refs/..., or a semver constraint such as "1.2.*").
    Resolve {
        /// Repository URL (https://, ssh://, user@host:path, file:// or a path).
        url: String,
        /// Revision.
        rev: String,
        #[command(flatten)]
        opts: RepoOpts,
    },
    /// Print the paths of the files at REV, or of those matching GLOB
    /// (`git ls-files` pathspec semantics, as Argo CD's git files generator).
    Ls {
        /// Repository URL.
        url: String,
        /// Revision.
        rev: String,
        /// Glob pattern, e.g. "overlays/**/config.json".
        glob: Option<String>,
        /// Match GLOB with doublestar semantics (Argo CD's new globbing).
        #[arg(long)]
        doublestar: bool,
        #[command(flatten)]
        opts: RepoOpts,
    },
    /// Print the file PATH at REV.
    Cat {
        /// Repository URL.
        url: String,
        /// Revision.
        rev: String,
        /// Path of the file in the repository.
        path: String,
        #[command(flatten)]
        opts: RepoOpts,
    },
}

/// Parses a `--repo URL=LOCAL` substitution (shared by every command that
/// reads repositories).
pub fn parse_substitution(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((url, local)) if !url.trim().is_empty() && !local.trim().is_empty() => {
            Ok((url.trim().to_string(), local.trim().to_string()))
        }
        _ => Err(format!("expected URL=LOCAL, got {s:?}")),
    }
}

/// `$FLOTILLA_HOME/cache/git`, `FLOTILLA_HOME` defaulting to `~/.flotilla`.
pub fn default_cache_dir() -> Result<PathBuf> {
    let home = match std::env::var_os("FLOTILLA_HOME").filter(|v| !v.is_empty()) {
        Some(h) => PathBuf::from(h),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .context("neither FLOTILLA_HOME nor HOME is set; pass --cache DIR")?;
            PathBuf::from(home).join(".flotilla")
        }
    };
    Ok(home.join("cache").join("git"))
}

/// The Git cache in `dir` (`--cache`, else [`default_cache_dir`]) with the
/// `--repo URL=LOCAL` substitutions: what every command reading Git opens.
pub fn open_cache_at(
    dir: Option<&std::path::Path>,
    options: CacheOptions,
    substitutions: &[(String, String)],
) -> Result<GitCache> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => default_cache_dir()?,
    };
    let cache = GitCache::with_options(&dir, options)
        .with_context(|| format!("opening the Git cache {}", dir.display()))?;
    for (from, to) in substitutions {
        cache
            .substitute(from, to)
            .with_context(|| format!("--repo {from}={to}"))?;
    }
    Ok(cache)
}

fn open_cache(opts: &RepoOpts, url: &str, limits: Limits) -> Result<GitCache> {
    let options = CacheOptions {
        depth: opts.depth,
        limits,
        ..CacheOptions::default()
    };
    let cache = open_cache_at(opts.cache.as_deref(), options, &opts.substitutions)?;
    let password = match (&opts.password_file, std::env::var("FLOTILLA_GIT_PASSWORD")) {
        (Some(file), _) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("reading password file {}", file.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
        (None, Ok(p)) if !p.is_empty() => Some(p),
        _ => None,
    };
    if let Some(password) = password {
        let creds = match &opts.username {
            Some(user) => Credentials::basic(user.clone(), password),
            None => Credentials::token(password),
        };
        cache.add_credentials(url, creds)?;
    } else if opts.username.is_some() {
        bail!("--username needs a password: set FLOTILLA_GIT_PASSWORD or use --password-file");
    }
    if let Some(key) = &opts.ssh_key {
        let mut ssh = SshKey::new(key);
        if let Some(kh) = &opts.known_hosts {
            ssh.host_keys = HostKeyPolicy::KnownHosts(kh.clone());
        }
        cache.add_credentials(url, Credentials::SshKey(ssh))?;
    }
    Ok(cache)
}

async fn open_tree(cache: &GitCache, url: &str, rev: &str, offline: bool) -> Result<Arc<dyn Tree>> {
    if offline {
        let effective = cache.effective_url(url)?;
        let plain_dir = matches!(effective.transport(), flotilla_git::Transport::File { path }
            if path.is_dir() && !path.join(".git").exists() && !path.join("objects").is_dir());
        if !plain_dir {
            return Ok(Arc::new(cache.snapshot_cached(url, rev).await?));
        }
    }
    Ok(cache.open_tree(url, rev).await?)
}

/// Run a `repo` subcommand, printing to standard output.
pub async fn run(cmd: RepoCmd) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match run_to(cmd, &mut out).await {
        Err(e) if is_broken_pipe(&e) => Ok(()),
        other => other,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Run a `repo` subcommand, writing its output to `out`.
pub async fn run_to(cmd: RepoCmd, out: &mut dyn Write) -> Result<()> {
    match cmd {
        RepoCmd::Resolve { url, rev, opts } => {
            let cache = open_cache(&opts, &url, Limits::default())?;
            let resolved = if opts.offline {
                cache.resolve_cached(&url, &rev).await?
            } else {
                cache.resolve(&url, &rev).await?
            };
            match opts.output {
                Output::Text => writeln!(out, "{}", resolved.commit)?,
                Output::Json => writeln!(
                    out,
                    "{}",
                    serde_json::json!({
                        "commit": resolved.commit.to_string(),
                        "revision": rev,
                        "resolvedAs": resolved.kind.to_string(),
                    })
                )?,
            }
        }
        RepoCmd::Ls {
            url,
            rev,
            glob,
            doublestar,
            opts,
        } => {
            // An explicit listing may be long; keep the walk bounded but generous.
            let limits = Limits {
                max_glob_matches: 5_000_000,
                max_walk_entries: 10_000_000,
                ..Limits::default()
            };
            let cache = open_cache(&opts, &url, limits)?;
            let tree = open_tree(&cache, &url, &rev, opts.offline).await?;
            let mode = if doublestar {
                GlobMode::Doublestar
            } else {
                GlobMode::Git
            };
            let paths = tree.glob_with(glob.as_deref().unwrap_or(""), mode)?;
            match opts.output {
                Output::Text => {
                    let mut buf = std::io::BufWriter::new(out);
                    for p in &paths {
                        writeln!(buf, "{p}")?;
                    }
                    buf.flush()?;
                }
                Output::Json => writeln!(out, "{}", serde_json::to_string_pretty(&paths)?)?,
            }
        }
        RepoCmd::Cat {
            url,
            rev,
            path,
            opts,
        } => {
            let cache = open_cache(&opts, &url, Limits::default())?;
            let tree = open_tree(&cache, &url, &rev, opts.offline).await?;
            let bytes = tree.read(&path)?;
            match opts.output {
                Output::Text => out.write_all(&bytes)?,
                Output::Json => writeln!(
                    out,
                    "{}",
                    serde_json::json!({
                        "path": path,
                        "location": tree.location(),
                        "content": String::from_utf8_lossy(&bytes),
                    })
                )?,
            }
            out.flush()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: RepoCmd,
    }

    fn git(dir: &std::path::Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t.invalid")
            .args(args)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    async fn run_args(args: &[&str]) -> Result<String> {
        let cli = Cli::try_parse_from(std::iter::once("repo").chain(args.iter().copied()))?;
        let mut out = Vec::new();
        run_to(cli.cmd, &mut out).await?;
        Ok(String::from_utf8(out)?)
    }

    #[test]
    fn parses_arguments() {
        let cli = Cli::try_parse_from([
            "repo",
            "ls",
            "https://example.com/r.git",
            "main",
            "overlays/**/config.json",
            "--repo",
            "https://example.com/r=/tmp/r",
            "--cache",
            "/tmp/c",
            "--offline",
        ])
        .unwrap();
        match cli.cmd {
            RepoCmd::Ls {
                glob,
                opts,
                doublestar,
                ..
            } => {
                assert_eq!(glob.as_deref(), Some("overlays/**/config.json"));
                assert!(!doublestar);
                assert!(opts.offline);
                assert_eq!(opts.cache, Some(PathBuf::from("/tmp/c")));
                assert_eq!(
                    opts.substitutions,
                    vec![("https://example.com/r".to_string(), "/tmp/r".to_string())]
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["repo", "resolve", "u", "r", "--repo", "no-equals"]).is_err());
        assert!(Cli::try_parse_from(["repo", "cat", "u", "r"]).is_err());
        assert!(Cli::try_parse_from(["repo", "resolve", "u", "r", "--known-hosts", "k"]).is_err());
    }

    #[tokio::test]
    async fn resolve_ls_and_cat_on_a_real_repository() {
        let tmp = tempfile::TempDir::new().unwrap();
        let repo = tmp.path().join("deploy");
        std::fs::create_dir_all(repo.join("overlays/prod/eu")).unwrap();
        std::fs::write(
            repo.join("overlays/prod/eu/config.json"),
            "{\"region\":\"eu\"}\n",
        )
        .unwrap();
        std::fs::write(repo.join("README.md"), "hi\n").unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "one"]);
        git(&repo, &["tag", "v1.0.0"]);
        let head = git(&repo, &["rev-parse", "HEAD"]);
        let cache = tmp.path().join("cache").display().to_string();
        let public = "https://git.example.invalid/org/deploy.git";
        let sub = format!("{public}={}", repo.display());
        let common = ["--cache", cache.as_str(), "--repo", sub.as_str()];

        let args: Vec<&str> = ["resolve", public, "1.0.*"]
            .iter()
            .copied()
            .chain(common)
            .collect();
        assert_eq!(run_args(&args).await.unwrap(), format!("{head}\n"));
        let args: Vec<&str> = ["ls", public, "main", "**/config.json"]
            .iter()
            .copied()
            .chain(common)
            .collect();
        assert_eq!(
            run_args(&args).await.unwrap(),
            "overlays/prod/eu/config.json\n"
        );
        let args: Vec<&str> = ["ls", public, "main"]
            .iter()
            .copied()
            .chain(common)
            .collect();
        assert_eq!(
            run_args(&args).await.unwrap(),
            "README.md\noverlays/prod/eu/config.json\n"
        );
        let args: Vec<&str> = ["cat", public, "v1.0.0", "overlays/prod/eu/config.json"]
            .iter()
            .copied()
            .chain(common)
            .collect();
        assert_eq!(run_args(&args).await.unwrap(), "{\"region\":\"eu\"}\n");
        // Offline: what the cache holds.
        let args: Vec<&str> = ["resolve", public, "main", "--offline"]
            .iter()
            .copied()
            .chain(common)
            .collect();
        assert_eq!(run_args(&args).await.unwrap(), format!("{head}\n"));
        let args: Vec<&str> = ["resolve", public, "main", "-o", "json"]
            .iter()
            .copied()
            .chain(common)
            .collect();
        let json: serde_json::Value =
            serde_json::from_str(&run_args(&args).await.unwrap()).unwrap();
        assert_eq!(json["commit"], head);

        // Errors name the repository and what was missing.
        let args: Vec<&str> = ["cat", public, "main", "nope.yaml"]
            .iter()
            .copied()
            .chain(common)
            .collect();
        let err = format!("{:#}", run_args(&args).await.unwrap_err());
        assert!(err.contains("nope.yaml") && err.contains("deploy"), "{err}");
        let args: Vec<&str> = ["cat", public, "main", "../etc/passwd"]
            .iter()
            .copied()
            .chain(common)
            .collect();
        let err = format!("{:#}", run_args(&args).await.unwrap_err());
        assert!(err.contains("escapes"), "{err}");
        let args: Vec<&str> = ["resolve", public, "no-such-branch"]
            .iter()
            .copied()
            .chain(common)
            .collect();
        let err = format!("{:#}", run_args(&args).await.unwrap_err());
        assert!(err.contains("no-such-branch"), "{err}");
    }

    #[test]
    fn default_cache_dir_follows_flotilla_home() {
        // Only checks the shape; the environment is shared between tests.
        let dir = default_cache_dir().unwrap();
        assert!(dir.ends_with("cache/git"), "{}", dir.display());
    }
}
