//! The controller's configuration file, `flotilla.yaml`.
//!
//! `flotilla controller --config FILE` reads one YAML document with
//! camelCase keys. Every field but `applications` is optional; a complete
//! file looks like this:
//!
//! ```yaml
//! apiVersion: flotilla.dev/v1alpha1     # optional; if given, exactly this
//! kind: ControllerConfig                # optional; if given, exactly this
//! stateDir: ./state                     # default: <config dir>/.flotilla
//! pollInterval: 3m                      # default 180s, at least 100ms
//! selfHealDelay: 1s                     # default 1s
//! repositories:
//!   - url: https://github.com/acme/deploy.git
//!     substitute: ../deploy             # local path, file:// URL or mirror URL used instead; a path must exist
//!     username: git
//!     passwordFrom: {env: GIT_TOKEN}
//!   - url: https://charts.example.com     # a Helm chart repository (or oci://...)
//!     type: helm                        # git (default) or helm, as Argo CD's repository `type`
//!     substitute: http://127.0.0.1:8879 # charts served from here instead
//! clusters:
//!   kubeconfig: ~/.kube/config          # default: $KUBECONFIG, else ~/.kube/config
//!   contexts: [lab-eu, lab-us]          # default: every context of the kubeconfig
//!   qps: 200                            # default 200; a number > 0 or `unlimited`
//!   burst: 400                          # default 400, at least 1
//!   limits:                             # per context; what is left out comes from qps/burst
//!     lab-us: {qps: 20, burst: 40}
//!   labels:                             # per context: what the clusters generator and the UI see
//!     lab-us: {region: us-east-1, env: prod}
//! applications:                         # required, at least one entry
//!   - repo: https://github.com/acme/deploy.git
//!     revision: HEAD                    # default HEAD
//!     paths: ["appsets/*.yaml"]         # default ["*.yaml", "*.yml"]
//!   - directory: ./apps                 # *.yaml and *.yml directly in it
//! vault:
//!   address: https://127.0.0.1:8200
//!   tokenFrom: {env: VAULT_TOKEN}
//!   caCert: ./ca.pem                    # must exist
//!   namespace: team-a
//! api:
//!   listen: 127.0.0.1:8080              # default; port 0 picks a free port
//!   tokenFrom: {file: ./api-token}      # without it, mutating calls are refused
//!   anonymousRead: true                 # default false
//!   users:                              # web UI sign-in; hashes from `flotilla admin hash-password`
//!     - name: alice
//!       passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$..."   # argon2 PHC string
//!     - name: bob
//!       passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$..."
//!       readOnly: true                  # default false: sees everything, changes nothing
//!   tls:                                # serve HTTPS (rustls); both files must exist
//!     certFile: ./tls/cert.pem          # PEM, the certificate chain (leaf first)
//!     keyFile: ./tls/key.pem            # PEM, its private key (PKCS#8, PKCS#1 or SEC1)
//!   sessionTtl: 24h                     # default 24h (as Argo CD); between 1m and 365d
//! webhook:
//!   github: {secretFrom: {env: GH_SECRET}}
//!   gitlab: {secretFrom: {env: GL_SECRET}}
//!   gitea:  {secretFrom: {value: "inline-secret"}}
//! concurrency:
//!   reconciles: 10                      # default 10, at least 1
//!   syncs: 5                            # default 5, at least 1
//! ```
//!
//! `qps` and `burst` limit the requests sent to each cluster, as client-go's
//! `QPS` and `Burst` do (see [`flotilla_sync::ratelimit`]): every context's
//! connection has one token bucket, shared by every Application syncing to
//! it, holding `burst` tokens and refilled at `qps` per second; a request
//! (a watch when it starts) takes a token or waits for one. `qps` may be a
//! fraction (`0.5`: one request every two seconds); `unlimited` turns the
//! limit off, and `0` is refused rather than read as "no limit". The default
//! is [`DEFAULT_CLUSTER_LIMITS`] (200/400, the best measured; Argo CD's
//! application controller uses 50/100); client-go's own is 5/10
//! ([`flotilla_sync::CLIENT_GO_LIMITS`]).
//! A `limits` entry overrides them for one context: its keys must be listed
//! in `contexts` when `contexts` is given, and must be contexts of the
//! kubeconfig when the controller starts.
//!
//! Relative paths (`stateDir`, `substitute`, `directory`, `caCert`,
//! `kubeconfig`, `api.tls` files, secret `file`s) are resolved against the directory of the
//! configuration file; a leading `~` expands to `$HOME`. Durations are
//! written the [`humantime`] way (`500ms`, `180s`, `3m`, `1h 30m`).
//!
//! A secret reference is exactly one of `{env: NAME}` (the variable must be
//! set and non-empty), `{file: PATH}` (its content, one trailing newline
//! removed) or `{value: "..."}`. Secrets are resolved when the file is loaded
//! and held in [`SecretString`]s, which never print their value; no error
//! message quotes a secret either.
//!
//! `api.users` are the people who sign in to the web UI with a user name
//! and password; an empty user name with the API token (`tokenFrom`) as
//! the password signs in too, with full rights. A `passwordHash` is an
//! argon2 PHC string (`$argon2id$v=19$...`, as `flotilla admin
//! hash-password` prints); it is checked when the file is loaded, and shown
//! by no message. A `readOnly` user sees everything and changes nothing.
//! With `api.tls`, the API and the UI are served over HTTPS only, and
//! session cookies are marked `Secure`. A UI session lasts `sessionTtl`
//! after sign-in.
//!
//! An invalid file is reported with *every* problem found, each with its line
//! and column, see [`ConfigError::Invalid`]:
//!
//! ```text
//! flotilla.yaml: 3 problems:
//!   flotilla.yaml:4:5: repositories[0].url: required
//!   flotilla.yaml:9:5: applications[1]: give exactly one of `repo` or `directory`
//!   flotilla.yaml:12:15: pollInterval: "3 minutes" is not a duration (expected e.g. 180s, 3m)
//! ```
//!
//! ```
//! use std::time::Duration;
//! use flotilla_controller::config::ControllerConfig;
//!
//! let dir = std::env::temp_dir();
//! let config = ControllerConfig::parse(
//!     "applications: [{directory: .}]\npollInterval: 30s\n",
//!     &dir.join("flotilla.yaml"),
//! )?;
//! assert_eq!(config.poll_interval, Duration::from_secs(30));
//! assert_eq!(config.concurrency.reconciles, 10);
//! # Ok::<(), flotilla_controller::config::ConfigError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use flotilla_core::SecretString;
use flotilla_git::{normalize_url, GitError, RepoUrl};
pub use flotilla_sync::{ClusterLimits, DEFAULT_CLUSTER_LIMITS};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// The only `apiVersion` accepted (the field itself is optional).
pub const API_VERSION: &str = "flotilla.dev/v1alpha1";
/// The only `kind` accepted (the field itself is optional).
pub const KIND: &str = "ControllerConfig";
/// `pollInterval` when none is given: Argo CD's default of three minutes.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(180);
/// The shortest `pollInterval` accepted.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// `selfHealDelay` when none is given.
pub const DEFAULT_SELF_HEAL_DELAY: Duration = Duration::from_secs(1);
/// `api.listen` when none is given: `127.0.0.1:8080`.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 8080);
/// `api.sessionTtl` when none is given: 24 hours, as Argo CD's sessions.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The shortest `api.sessionTtl` accepted.
pub const MIN_SESSION_TTL: Duration = Duration::from_secs(60);
/// The longest `api.sessionTtl` accepted.
pub const MAX_SESSION_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// `concurrency.reconciles` when none is given.
pub const DEFAULT_RECONCILES: usize = 10;
/// `concurrency.syncs` when none is given.
pub const DEFAULT_SYNCS: usize = 5;
/// The state directory's name, in the configuration file's directory, when
/// `stateDir` is not given.
pub const DEFAULT_STATE_DIR: &str = ".flotilla";
/// The largest configuration file (and secret file) read, in bytes.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;
/// How deeply YAML collections may nest in the configuration file.
const MAX_DEPTH: usize = 32;
/// The glob patterns of a `repo` application source without `paths`.
const DEFAULT_PATHS: [&str; 2] = ["*.yaml", "*.yml"];
/// What a secret reference looks like, for messages.
const SECRET_REF_SHAPE: &str = "{env: NAME}, {file: PATH} or {value: ...}";

/// The controller's configuration, validated, with defaults applied, paths
/// resolved and secrets read.
///
/// `Debug` and `Display` show secrets as `<redacted>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerConfig {
    /// The file the configuration was read from, as given to
    /// [`ControllerConfig::load`] or [`ControllerConfig::parse`].
    pub file: PathBuf,
    /// Where the controller keeps its state (history, caches): `stateDir`
    /// resolved against the configuration file's directory, by default
    /// `<config dir>/.flotilla`.
    pub state_dir: PathBuf,
    /// How often every source is polled for new commits (`pollInterval`).
    pub poll_interval: Duration,
    /// How long drift events are gathered before a self-heal reconcile
    /// (`selfHealDelay`).
    pub self_heal_delay: Duration,
    /// Repository settings: credentials and local substitutes.
    pub repositories: Vec<RepositoryConfig>,
    /// Which clusters are deployed to.
    pub clusters: ClustersConfig,
    /// Where Applications and ApplicationSets are read from (at least one).
    pub applications: Vec<AppSourceConfig>,
    /// How Vault (or OpenBao) is reached, if the file says.
    pub vault: Option<VaultSettings>,
    /// The HTTP API.
    pub api: ApiConfig,
    /// Webhook secrets, per Git hosting service.
    pub webhook: WebhookConfig,
    /// How much work runs at once.
    pub concurrency: ConcurrencyConfig,
}

/// What a configured repository holds (Argo CD's repository `type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RepositoryType {
    /// A Git repository: fetched on every poll.
    #[default]
    Git,
    /// A Helm chart repository (HTTP index or `oci://` registry): never
    /// fetched as Git; its index is read when a chart source resolves.
    Helm,
}

/// One entry of `repositories`: how a repository is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryConfig {
    /// The repository URL, as written; matched against application sources
    /// after normalisation ([`flotilla_git::normalize_url`]).
    pub url: String,
    /// `type`: Git (default) or a Helm chart repository.
    pub kind: RepositoryType,
    /// Used instead of `url`: a local path (made absolute) or `file://` URL
    /// (with an absolute path), which existed when the configuration was
    /// loaded, or a mirror URL (`https://`, `ssh://`...), as written.
    pub substitute: Option<String>,
    /// The user name for HTTP(S) authentication.
    pub username: Option<String>,
    /// The password or token (`passwordFrom`).
    pub password: Option<SecretString>,
}

/// `clusters`: the kubeconfig whose contexts are deployment destinations,
/// and how fast requests may be sent to each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClustersConfig {
    /// The kubeconfig file (`~` expanded, resolved against the configuration
    /// file's directory). `None`: the caller's default lookup (`$KUBECONFIG`,
    /// else `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// The contexts to use; empty means every context of the kubeconfig.
    pub contexts: Vec<String>,
    /// `qps` and `burst`: the client-side rate limits of every context
    /// without an entry in `limits` ([`DEFAULT_CLUSTER_LIMITS`] unless
    /// given).
    pub default_limits: ClusterLimits,
    /// `limits`: rate limits per context name, each field not given there
    /// taken from `qps` and `burst`. When `contexts` is given, every name is
    /// one of them.
    pub limits: BTreeMap<String, ClusterLimits>,
    /// `labels`: labels per context name, as Argo CD's cluster Secrets carry
    /// them (the `clusters` generator's selector and `{{metadata.labels.*}}`
    /// read them). When `contexts` is given, every name is one of them.
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
}

impl ClustersConfig {
    /// The rate limits of a context: its `limits` entry, else the default.
    pub fn limits_for(&self, context: &str) -> ClusterLimits {
        self.limits
            .get(context)
            .copied()
            .unwrap_or(self.default_limits)
    }
}

/// One entry of `applications`: where Application and ApplicationSet
/// documents are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppSourceConfig {
    /// Files in a Git repository.
    Git {
        /// The repository URL.
        repo: String,
        /// The revision to read (`HEAD` by default).
        revision: String,
        /// Glob patterns relative to the repository root (by default
        /// `*.yaml` and `*.yml`).
        paths: Vec<String>,
    },
    /// Every `*.yaml` and `*.yml` file directly in a local directory.
    Directory {
        /// The directory, resolved against the configuration file's
        /// directory. It existed when the configuration was loaded.
        path: PathBuf,
    },
}

/// `vault`: how Vault or OpenBao is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultSettings {
    /// The server's address, an `http://` or `https://` URL.
    pub address: String,
    /// The token (`tokenFrom`).
    pub token: Option<SecretString>,
    /// A CA certificate (PEM) to trust; it existed when the configuration
    /// was loaded.
    pub ca_cert: Option<PathBuf>,
    /// The Vault Enterprise / OpenBao namespace.
    pub namespace: Option<String>,
}

/// `api`: the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// The address listened on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The bearer token required for mutating calls (`tokenFrom`). Without
    /// one, mutating calls are refused.
    pub token: Option<SecretString>,
    /// Whether read-only calls are allowed without the token.
    pub anonymous_read: bool,
    /// The people who sign in to the web UI (`users`), names unique.
    pub users: Vec<UserConfig>,
    /// The certificate pair to serve HTTPS with (`tls`); plain HTTP without.
    pub tls: Option<TlsConfig>,
    /// How long a web UI session lasts after sign-in (`sessionTtl`).
    pub session_ttl: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: DEFAULT_LISTEN,
            token: None,
            anonymous_read: false,
            users: Vec::new(),
            tls: None,
            session_ttl: DEFAULT_SESSION_TTL,
        }
    }
}

/// One `api.users` entry: someone who signs in to the web UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConfig {
    /// The user name (`name`), not empty.
    pub name: String,
    /// The argon2 PHC string (`passwordHash`, `$argon2id$v=19$...`). It
    /// parsed as an argon2 hash with valid parameters when the file was
    /// loaded. Held as a secret so that it is never printed.
    pub password_hash: SecretString,
    /// Whether the user may only look (`readOnly`, default false).
    pub read_only: bool,
}

/// `api.tls`: the certificate pair HTTPS is served with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain, PEM, leaf first (`certFile`); it existed when
    /// the configuration was loaded.
    pub cert_file: PathBuf,
    /// The private key, PEM (`keyFile`); it existed when the configuration
    /// was loaded.
    pub key_file: PathBuf,
}

/// `webhook`: the secret each Git hosting service signs (or sends) its
/// webhook calls with. A service without a secret has its webhook disabled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookConfig {
    /// GitHub's webhook secret (`github.secretFrom`).
    pub github: Option<SecretString>,
    /// GitLab's webhook token (`gitlab.secretFrom`).
    pub gitlab: Option<SecretString>,
    /// Gitea's (or Forgejo's) webhook secret (`gitea.secretFrom`).
    pub gitea: Option<SecretString>,
}

/// `concurrency`: how much work runs at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcurrencyConfig {
    /// Applications reconciled (rendered and diffed) at once.
    pub reconciles: usize,
    /// Syncs (applies to clusters) at once.
    pub syncs: usize,
}

impl Default for ConcurrencyConfig {
    fn default() -> Self {
        ConcurrencyConfig {
            reconciles: DEFAULT_RECONCILES,
            syncs: DEFAULT_SYNCS,
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", file.display())]
    Read {
        /// The file, as given.
        file: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// The file was read but is not a valid configuration. Every problem
    /// found is listed, in the order they appear in the file.
    #[error("{}", invalid_message(file, problems))]
    Invalid {
        /// The file, as given.
        file: PathBuf,
        /// What is wrong, and where.
        problems: Vec<Problem>,
    },
}

fn invalid_message(file: &Path, problems: &[Problem]) -> String {
    let name = file.display();
    let count = problems.len();
    let mut out = format!(
        "{name}: {count} problem{}:",
        if count == 1 { "" } else { "s" }
    );
    for problem in problems {
        out.push_str(&format!("\n  {name}:{problem}"));
    }
    out
}

/// One thing wrong with a configuration file, and where.
///
/// Displays as `LINE:COLUMN: FIELD: MESSAGE` (without `FIELD: ` when the
/// problem is not about one field, such as a YAML syntax error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1 (in characters).
    pub column: usize,
    /// The field's path, such as `repositories[1].url`; empty when the
    /// problem concerns the whole file.
    pub field: String,
    /// What is wrong. Never contains a secret value.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl ControllerConfig {
    /// Reads and validates the configuration file at `path`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Read`] if the file cannot be read (or is not UTF-8),
    /// [`ConfigError::Invalid`] with every problem found otherwise.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let read_error = |source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        };
        let file = fs::File::open(path).map_err(read_error)?;
        let mut text = String::new();
        file.take(MAX_CONFIG_BYTES as u64 + 1)
            .read_to_string(&mut text)
            .map_err(read_error)?;
        Self::parse(&text, path)
    }

    /// Validates a configuration given as text. `file` names it in messages,
    /// and its directory is the base of relative paths. Secret references
    /// are resolved (environment variables and files are read), and the
    /// paths that must exist are checked.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] with every problem found.
    pub fn parse(text: &str, file: &Path) -> Result<Self, ConfigError> {
        parse_with_env(text, file, &|name| std::env::var(name).ok())
    }

    /// The `repositories` entry for `url`, compared after normalisation
    /// ([`flotilla_git::normalize_url`]).
    pub fn repository(&self, url: &str) -> Option<&RepositoryConfig> {
        let key = normalize_url(url);
        self.repositories
            .iter()
            .find(|repo| normalize_url(&repo.url) == key)
    }
}

/// Shows the effective configuration in the file's layout, secrets as
/// `<redacted>`.
impl fmt::Display for ControllerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn secret(s: &Option<SecretString>) -> String {
            match s {
                Some(s) => s.to_string(),
                None => "(none)".to_string(),
            }
        }
        writeln!(f, "# {}", self.file.display())?;
        writeln!(f, "stateDir: {}", self.state_dir.display())?;
        writeln!(
            f,
            "pollInterval: {}",
            humantime::format_duration(self.poll_interval)
        )?;
        writeln!(
            f,
            "selfHealDelay: {}",
            humantime::format_duration(self.self_heal_delay)
        )?;
        if !self.repositories.is_empty() {
            writeln!(f, "repositories:")?;
            for repo in &self.repositories {
                writeln!(f, "  - url: {}", repo.url)?;
                if repo.kind == RepositoryType::Helm {
                    writeln!(f, "    type: helm")?;
                }
                if let Some(s) = &repo.substitute {
                    writeln!(f, "    substitute: {s}")?;
                }
                if let Some(u) = &repo.username {
                    writeln!(f, "    username: {u}")?;
                }
                if repo.password.is_some() {
                    writeln!(f, "    password: {}", secret(&repo.password))?;
                }
            }
        }
        writeln!(f, "clusters:")?;
        match &self.clusters.kubeconfig {
            Some(k) => writeln!(f, "  kubeconfig: {}", k.display())?,
            None => writeln!(f, "  kubeconfig: (default)")?,
        }
        if self.clusters.contexts.is_empty() {
            writeln!(f, "  contexts: (all)")?;
        } else {
            writeln!(f, "  contexts: [{}]", self.clusters.contexts.join(", "))?;
        }
        let qps = |limits: &ClusterLimits| {
            if limits.is_unlimited() {
                "unlimited".to_string()
            } else {
                limits.qps.to_string()
            }
        };
        let default = &self.clusters.default_limits;
        writeln!(f, "  qps: {}", qps(default))?;
        writeln!(f, "  burst: {}", default.burst)?;
        if !self.clusters.limits.is_empty() {
            writeln!(f, "  limits:")?;
            for (context, limits) in &self.clusters.limits {
                writeln!(
                    f,
                    "    {context}: {{qps: {}, burst: {}}}",
                    qps(limits),
                    limits.burst
                )?;
            }
        }
        if !self.clusters.labels.is_empty() {
            writeln!(f, "  labels:")?;
            for (context, labels) in &self.clusters.labels {
                let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                writeln!(f, "    {context}: {{{}}}", pairs.join(", "))?;
            }
        }
        writeln!(f, "applications:")?;
        for source in &self.applications {
            match source {
                AppSourceConfig::Git {
                    repo,
                    revision,
                    paths,
                } => {
                    writeln!(f, "  - repo: {repo}")?;
                    writeln!(f, "    revision: {revision}")?;
                    writeln!(f, "    paths: [{}]", paths.join(", "))?;
                }
                AppSourceConfig::Directory { path } => {
                    writeln!(f, "  - directory: {}", path.display())?;
                }
            }
        }
        if let Some(vault) = &self.vault {
            writeln!(f, "vault:")?;
            writeln!(f, "  address: {}", vault.address)?;
            writeln!(f, "  token: {}", secret(&vault.token))?;
            if let Some(ca) = &vault.ca_cert {
                writeln!(f, "  caCert: {}", ca.display())?;
            }
            if let Some(ns) = &vault.namespace {
                writeln!(f, "  namespace: {ns}")?;
            }
        }
        writeln!(f, "api:")?;
        writeln!(f, "  listen: {}", self.api.listen)?;
        writeln!(f, "  token: {}", secret(&self.api.token))?;
        writeln!(f, "  anonymousRead: {}", self.api.anonymous_read)?;
        if !self.api.users.is_empty() {
            writeln!(f, "  users:")?;
            for user in &self.api.users {
                writeln!(f, "    - name: {}", user.name)?;
                writeln!(f, "      passwordHash: {}", user.password_hash)?;
                writeln!(f, "      readOnly: {}", user.read_only)?;
            }
        }
        if let Some(tls) = &self.api.tls {
            writeln!(f, "  tls:")?;
            writeln!(f, "    certFile: {}", tls.cert_file.display())?;
            writeln!(f, "    keyFile: {}", tls.key_file.display())?;
        }
        writeln!(
            f,
            "  sessionTtl: {}",
            humantime::format_duration(self.api.session_ttl)
        )?;
        writeln!(f, "webhook:")?;
        writeln!(f, "  github: {}", secret(&self.webhook.github))?;
        writeln!(f, "  gitlab: {}", secret(&self.webhook.gitlab))?;
        writeln!(f, "  gitea: {}", secret(&self.webhook.gitea))?;
        writeln!(f, "concurrency:")?;
        writeln!(f, "  reconciles: {}", self.concurrency.reconciles)?;
        write!(f, "  syncs: {}", self.concurrency.syncs)
    }
}

/// [`ControllerConfig::parse`] with environment variables read through `env`.
fn parse_with_env(
    text: &str,
    file: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ControllerConfig, ConfigError> {
    let invalid = |problems| ConfigError::Invalid {
        file: file.to_path_buf(),
        problems,
    };
    if text.len() > MAX_CONFIG_BYTES {
        return Err(invalid(vec![Problem {
            line: 1,
            column: 1,
            field: String::new(),
            message: format!("the file is larger than {} KiB", MAX_CONFIG_BYTES / 1024),
        }]));
    }
    let root = match parse_tree(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return Err(invalid(vec![Problem {
                line: 1,
                column: 1,
                field: String::new(),
                message: "the file is empty; it needs at least `applications`".to_string(),
            }]))
        }
        Err(problem) => return Err(invalid(vec![problem])),
    };
    let mut checker = Checker {
        base: config_dir(file),
        env,
        problems: Vec::new(),
    };
    let config = checker.config(&root, file);
    let mut problems = checker.problems;
    match config {
        Some(config) if problems.is_empty() => Ok(config),
        _ => {
            problems.sort_by_key(|p| (p.line, p.column));
            Err(invalid(problems))
        }
    }
}

/// The directory relative paths in `file` are resolved against, absolute
/// when the current directory is known.
fn config_dir(file: &Path) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new(""));
    let dir = if parent.is_absolute() {
        parent.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(cwd) => cwd.join(parent),
            Err(_) => parent.to_path_buf(),
        }
    };
    clean(&dir)
}

/// Drops `.` components (and a trailing slash) from a path.
fn clean(path: &Path) -> PathBuf {
    let cleaned: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if cleaned.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        cleaned
    }
}

// ---------------------------------------------------------------------------
// A located YAML tree.

/// A YAML node and where it starts (1-based line and column).
#[derive(Debug)]
struct Node {
    line: usize,
    column: usize,
    value: Value,
}

#[derive(Debug)]
enum Value {
    /// A scalar; `plain` when written without quotes or block style (only
    /// plain scalars can be null, booleans or numbers).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    /// `*name`: aliases are not supported in the configuration.
    Alias,
}

impl Node {
    fn is_null(&self) -> bool {
        matches!(
            &self.value,
            Value::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL")
        )
    }

    /// What the node is, for "expected X, found Y" messages. Never shows
    /// the value.
    fn kind(&self) -> &'static str {
        match &self.value {
            Value::Map(_) => "a mapping",
            Value::Seq(_) => "a list",
            Value::Alias => "an alias (aliases are not supported)",
            Value::Scalar { .. } if self.is_null() => "nothing",
            Value::Scalar { text, plain: true } if bool_value(text).is_some() => "a boolean",
            Value::Scalar { text, plain: true } if text.parse::<f64>().is_ok() => "a number",
            Value::Scalar { .. } => "a string",
        }
    }
}

fn bool_value(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

enum Frame {
    Seq {
        line: usize,
        column: usize,
        items: Vec<Node>,
    },
    Map {
        line: usize,
        column: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Builds the tree of the single document in `text` (None when there is
/// none), or the syntax problem that stops it.
fn parse_tree(text: &str) -> Result<Option<Node>, Problem> {
    let whole_file = |line, column, message: &str| Problem {
        line,
        column,
        field: String::new(),
        message: message.to_string(),
    };
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root = None;
    let mut documents = 0;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            whole_file(
                e.marker().line(),
                e.marker().col() + 1,
                &format!("YAML syntax error: {}", e.info()),
            )
        })?;
        let (line, column) = (mark.line(), mark.col() + 1);
        let node = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(whole_file(
                        line,
                        column,
                        "only one YAML document is allowed",
                    ));
                }
                continue;
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => continue,
            Event::Alias(_) => Node {
                line,
                column,
                value: Value::Alias,
            },
            Event::Scalar(text, style, _, _) => Node {
                line,
                column,
                value: Value::Scalar {
                    text,
                    plain: style == TScalarStyle::Plain,
                },
            },
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(whole_file(
                        line,
                        column,
                        &format!("nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        line,
                        column,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        line,
                        column,
                        entries: Vec::new(),
                        key: None,
                    }
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    line,
                    column,
                    items,
                }) => Node {
                    line,
                    column,
                    value: Value::Seq(items),
                },
                Some(Frame::Map {
                    line,
                    column,
                    entries,
                    ..
                }) => {
                    // A block mapping's start mark lies after its first key;
                    // a flow mapping's is its `{`. The earlier is right.
                    let (line, column) = match entries.first() {
                        Some((key, _)) => (line, column).min((key.line, key.column)),
                        None => (line, column),
                    };
                    Node {
                        line,
                        column,
                        value: Value::Map(entries),
                    }
                }
                None => continue,
            },
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(root)
}

// ---------------------------------------------------------------------------
// Validation.

/// The keys of a mapping that the schema knows, first occurrence of each.
struct Fields<'n> {
    line: usize,
    column: usize,
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    /// The value of `key`, unless absent or null.
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entry(key)
            .map(|(_, value)| value)
            .filter(|value| !value.is_null())
    }

    /// The key node and value of `key`, even when the value is null.
    fn entry(&self, key: &str) -> Option<(&'n Node, &'n Node)> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, k, v)| (*k, *v))
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// What a path must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    File,
    Dir,
}

struct Checker<'e> {
    base: PathBuf,
    env: &'e dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
}

const TOP_KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "stateDir",
    "pollInterval",
    "selfHealDelay",
    "repositories",
    "clusters",
    "applications",
    "vault",
    "api",
    "webhook",
    "concurrency",
];

impl Checker<'_> {
    fn problem(&mut self, at: (usize, usize), field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            line: at.0,
            column: at.1,
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn at(node: &Node) -> (usize, usize) {
        (node.line, node.column)
    }

    /// The whole configuration. `None` only when the top level is not a
    /// mapping; otherwise fallbacks stand in for invalid fields (and the
    /// problems say why).
    fn config(&mut self, root: &Node, file: &Path) -> Option<ControllerConfig> {
        let top = self.fields(root, "", TOP_KEYS, "a mapping", false)?;

        for (key, expected) in [("apiVersion", API_VERSION), ("kind", KIND)] {
            if let Some(node) = top.get(key) {
                if let Some(value) = self.string(node, key) {
                    if value != expected {
                        self.problem(
                            Self::at(node),
                            key,
                            format!("{value:?} is not supported (expected {expected})"),
                        );
                    }
                }
            }
        }

        let state_dir = top
            .get("stateDir")
            .and_then(|node| self.path(node, "stateDir"))
            .unwrap_or_else(|| self.base.join(DEFAULT_STATE_DIR));

        let poll_interval = match top.get("pollInterval") {
            Some(node) => match self.duration(node, "pollInterval") {
                Some(d) if d < MIN_POLL_INTERVAL => {
                    self.problem(
                        Self::at(node),
                        "pollInterval",
                        format!(
                            "must be at least {}",
                            humantime::format_duration(MIN_POLL_INTERVAL)
                        ),
                    );
                    DEFAULT_POLL_INTERVAL
                }
                Some(d) => d,
                None => DEFAULT_POLL_INTERVAL,
            },
            None => DEFAULT_POLL_INTERVAL,
        };
        let self_heal_delay = top
            .get("selfHealDelay")
            .and_then(|node| self.duration(node, "selfHealDelay"))
            .unwrap_or(DEFAULT_SELF_HEAL_DELAY);

        let repositories = match top.get("repositories") {
            Some(node) => self.repositories(node),
            None => Vec::new(),
        };
        let clusters = top
            .get("clusters")
            .and_then(|node| self.clusters(node))
            .unwrap_or_default();
        let applications = match self.required(&top, "applications", "") {
            Some(node) => self.applications(node),
            None => Vec::new(),
        };
        let vault = top.get("vault").and_then(|node| self.vault(node));
        let api = top
            .get("api")
            .and_then(|node| self.api(node))
            .unwrap_or_default();
        let webhook = top
            .get("webhook")
            .and_then(|node| self.webhook(node))
            .unwrap_or_default();
        let concurrency = top
            .get("concurrency")
            .and_then(|node| self.concurrency(node))
            .unwrap_or_default();

        Some(ControllerConfig {
            file: file.to_path_buf(),
            state_dir,
            poll_interval,
            self_heal_delay,
            repositories,
            clusters,
            applications,
            vault,
            api,
            webhook,
            concurrency,
        })
    }

    /// Checks that `node` is a mapping whose keys are strings, each given
    /// once and each in `known`; returns the known entries. `what` names the
    /// expected shape in the message when `node` is not a mapping. With
    /// `secret`, unknown keys are not quoted (they could be a mistyped
    /// secret).
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        known: &[&str],
        what: &str,
        secret: bool,
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            let message = if path.is_empty() {
                format!("the configuration must be a mapping, found {}", node.kind())
            } else {
                format!("expected {what}, found {}", node.kind())
            };
            self.problem(Self::at(node), path, message);
            return None;
        };
        let mut fields = Fields {
            line: node.line,
            column: node.column,
            entries: Vec::new(),
        };
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for (key_node, value) in entries {
            let key = match &key_node.value {
                Value::Scalar { text, .. } if !key_node.is_null() => text.as_str(),
                _ => {
                    self.problem(
                        Self::at(key_node),
                        path,
                        format!("keys must be strings, found {}", key_node.kind()),
                    );
                    continue;
                }
            };
            if let Some((_, line)) = seen.iter().find(|(k, _)| *k == key) {
                let message = format!("given twice (first on line {line})");
                self.problem(Self::at(key_node), &join(path, key), message);
                continue;
            }
            seen.push((key, key_node.line));
            if known.contains(&key) {
                fields.entries.push((key, key_node, value));
            } else if secret {
                self.problem(
                    Self::at(key_node),
                    path,
                    "unknown key in a secret reference (expected `env`, `file` or `value`)",
                );
            } else {
                let message = unknown_key_message(key, known);
                self.problem(Self::at(key_node), &join(path, key), message);
            }
        }
        Some(fields)
    }

    /// The value of a required key; reports it when absent or null.
    fn required<'n>(&mut self, fields: &Fields<'n>, key: &str, path: &str) -> Option<&'n Node> {
        match fields.entry(key) {
            Some((_, value)) if !value.is_null() => Some(value),
            Some((key_node, _)) => {
                self.problem(Self::at(key_node), &join(path, key), "must not be empty");
                None
            }
            None => {
                self.problem((fields.line, fields.column), &join(path, key), "required");
                None
            }
        }
    }

    /// A non-empty string (any scalar: `revision: 1234` is the string
    /// "1234"). Messages never quote the value.
    fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if !node.is_null() => {
                if text.trim().is_empty() {
                    self.problem(Self::at(node), path, "must not be empty");
                    None
                } else {
                    Some(text.clone())
                }
            }
            _ => {
                let message = format!("expected a string, found {}", node.kind());
                self.problem(Self::at(node), path, message);
                None
            }
        }
    }

    fn seq<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            Value::Scalar { .. } if !node.is_null() => {
                let message = format!(
                    "expected a list of {what}, found a single value (write it as `[...]`)"
                );
                self.problem(Self::at(node), path, message);
                None
            }
            _ => {
                let message = format!("expected a list of {what}, found {}", node.kind());
                self.problem(Self::at(node), path, message);
                None
            }
        }
    }

    /// A list of strings, each given once.
    fn string_list(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        let items = self.seq(node, path, "strings")?;
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let field = format!("{path}[{i}]");
            match self.string(item, &field) {
                Some(s) if out.contains(&s) => {
                    self.problem(Self::at(item), &field, format!("{s:?} is listed twice"));
                    ok = false;
                }
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        if let Value::Scalar { text, plain: true } = &node.value {
            if let Some(b) = bool_value(text) {
                return Some(b);
            }
        }
        let message = format!("expected true or false, found {}", node.kind());
        self.problem(Self::at(node), path, message);
        None
    }

    /// A whole number, at least 1.
    fn count(&mut self, node: &Node, path: &str) -> Option<usize> {
        let number = match &node.value {
            Value::Scalar { text, plain: true } => text.parse::<i64>().ok(),
            _ => None,
        };
        match number {
            Some(n) if n >= 1 => match usize::try_from(n) {
                Ok(n) => Some(n),
                Err(_) => {
                    self.problem(Self::at(node), path, format!("{n} is too large"));
                    None
                }
            },
            Some(n) => {
                self.problem(
                    Self::at(node),
                    path,
                    format!("must be at least 1 (got {n})"),
                );
                None
            }
            None => {
                let message = format!("expected a whole number, found {}", node.kind());
                self.problem(Self::at(node), path, message);
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let Value::Scalar { text, .. } = &node.value else {
            let message = format!("expected a duration (e.g. 180s, 3m), found {}", node.kind());
            self.problem(Self::at(node), path, message);
            return None;
        };
        let text = text.trim();
        match humantime::parse_duration(text) {
            Ok(d) => Some(d),
            Err(_) if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) => {
                let message = format!("{text} is not a duration: give a unit (e.g. {text}s)");
                self.problem(Self::at(node), path, message);
                None
            }
            Err(_) => {
                let message = format!("{text:?} is not a duration (expected e.g. 180s, 3m)");
                self.problem(Self::at(node), path, message);
                None
            }
        }
    }

    /// A path: `~` expanded, resolved against the configuration's directory.
    fn path(&mut self, node: &Node, path: &str) -> Option<PathBuf> {
        let raw = self.string(node, path)?;
        self.resolve(&raw, node, path)
    }

    fn resolve(&mut self, raw: &str, node: &Node, path: &str) -> Option<PathBuf> {
        let expanded = if raw == "~" || raw.starts_with("~/") {
            match (self.env)("HOME").filter(|h| !h.is_empty()) {
                Some(home) => Path::new(&home).join(raw[1..].trim_start_matches('/')),
                None => {
                    self.problem(Self::at(node), path, "`~` needs $HOME, which is not set");
                    return None;
                }
            }
        } else {
            PathBuf::from(raw)
        };
        Some(clean(&self.base.join(expanded)))
    }

    /// Checks that `resolved` (written `raw`) exists and is a `want`.
    fn must_exist(
        &mut self,
        resolved: &Path,
        raw: &str,
        want: Want,
        node: &Node,
        path: &str,
    ) -> bool {
        let shown = if Path::new(raw).is_absolute() {
            format!("{}", resolved.display())
        } else {
            format!("{raw} (resolved to {})", resolved.display())
        };
        let message = match fs::metadata(resolved) {
            Ok(meta) if want == Want::Dir && !meta.is_dir() => {
                format!("{shown} is not a directory")
            }
            Ok(meta) if want == Want::File && !meta.is_file() => format!("{shown} is not a file"),
            Ok(_) => return true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => format!("{shown} does not exist"),
            Err(e) => format!("cannot access {shown}: {e}"),
        };
        self.problem(Self::at(node), path, message);
        false
    }

    /// A path that must exist as a `want`.
    fn existing_path(&mut self, node: &Node, path: &str, want: Want) -> Option<PathBuf> {
        let raw = self.string(node, path)?;
        let resolved = self.resolve(&raw, node, path)?;
        self.must_exist(&resolved, &raw, want, node, path)
            .then_some(resolved)
    }

    /// A secret reference, resolved.
    fn secret(&mut self, node: &Node, path: &str) -> Option<SecretString> {
        let what = format!("a secret reference ({SECRET_REF_SHAPE})");
        let fields = self.fields(node, path, &["env", "file", "value"], &what, true)?;
        let given: Vec<&str> = fields.entries.iter().map(|(k, _, _)| *k).collect();
        if given.len() != 1 {
            self.problem(
                (fields.line, fields.column),
                path,
                "give exactly one of `env`, `file` or `value`",
            );
            return None;
        }
        let key = given[0];
        let field = join(path, key);
        let value = self.required(&fields, key, path)?;
        match key {
            "env" => {
                let name = self.string(value, &field)?;
                match (self.env)(&name) {
                    Some(v) if !v.is_empty() => Some(SecretString::new(v)),
                    Some(_) => {
                        self.problem(
                            Self::at(value),
                            &field,
                            format!("environment variable `{name}` is empty"),
                        );
                        None
                    }
                    None => {
                        self.problem(
                            Self::at(value),
                            &field,
                            format!("environment variable `{name}` is not set"),
                        );
                        None
                    }
                }
            }
            "file" => {
                let raw = self.string(value, &field)?;
                let resolved = self.resolve(&raw, value, &field)?;
                match read_secret_file(&resolved) {
                    Ok(text) if text.is_empty() => {
                        let message = format!("secret file {} is empty", resolved.display());
                        self.problem(Self::at(value), &field, message);
                        None
                    }
                    Ok(text) => Some(SecretString::new(text)),
                    Err(e) => {
                        let message =
                            format!("cannot read secret file {}: {e}", resolved.display());
                        self.problem(Self::at(value), &field, message);
                        None
                    }
                }
            }
            _ => self.string(value, &field).map(SecretString::new),
        }
    }

    /// Checks a repository URL: it parses, and holds no password.
    fn repo_url(&mut self, url: &str, node: &Node, path: &str, password_hint: &str) -> bool {
        let message = match RepoUrl::parse(url) {
            Ok(parsed) if parsed.embedded_password().is_some() => {
                format!("the URL holds a password; give it with {password_hint} instead")
            }
            Ok(_) => return true,
            Err(GitError::InvalidUrl { reason, .. }) => {
                format!("not a repository URL: {reason}")
            }
            Err(e) => format!("not a repository URL: {e}"),
        };
        self.problem(Self::at(node), path, message);
        false
    }

    fn repositories(&mut self, node: &Node) -> Vec<RepositoryConfig> {
        let Some(items) = self.seq(node, "repositories", "repositories") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        // (normalised URL, index, line) of each valid URL so far.
        let mut seen: Vec<(String, usize, usize)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("repositories[{i}]");
            let known = ["url", "type", "substitute", "username", "passwordFrom"];
            let Some(fields) = self.fields(item, &path, &known, "a mapping", false) else {
                continue;
            };
            let url_field = join(&path, "url");
            let url = self.required(&fields, "url", &path).and_then(|url_node| {
                let url = self.string(url_node, &url_field)?;
                if !self.repo_url(&url, url_node, &url_field, "`passwordFrom`") {
                    return None;
                }
                let key = normalize_url(&url);
                if let Some((_, j, line)) = seen.iter().find(|(k, _, _)| *k == key) {
                    let message = format!(
                        "the same repository as repositories[{j}].url (line {line}); list each repository once"
                    );
                    self.problem(Self::at(url_node), &url_field, message);
                    return None;
                }
                seen.push((key, i, url_node.line));
                Some(url)
            });
            let kind = match fields.get("type") {
                None => RepositoryType::Git,
                Some(n) => {
                    let field = join(&path, "type");
                    match self.string(n, &field).as_deref() {
                        Some("git") => RepositoryType::Git,
                        Some("helm") => RepositoryType::Helm,
                        Some(other) => {
                            let message =
                                format!("{other:?} is not a repository type: write git or helm");
                            self.problem(Self::at(n), &field, message);
                            RepositoryType::Git
                        }
                        None => RepositoryType::Git,
                    }
                }
            };
            let substitute = fields
                .get("substitute")
                .and_then(|n| self.substitute(n, &join(&path, "substitute")));
            let username = fields
                .get("username")
                .and_then(|n| self.string(n, &join(&path, "username")));
            let password = fields
                .get("passwordFrom")
                .and_then(|n| self.secret(n, &join(&path, "passwordFrom")));
            if let Some(url) = url {
                out.push(RepositoryConfig {
                    url,
                    kind,
                    substitute,
                    username,
                    password,
                });
            }
        }
        out
    }

    /// A local path or `file://` URL; returned resolved (absolute).
    fn substitute(&mut self, node: &Node, path: &str) -> Option<String> {
        let raw = self.string(node, path)?;
        let is_url = raw
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("file://"));
        let local = if is_url {
            let rest = &raw[7..];
            rest.strip_prefix("localhost").unwrap_or(rest)
        } else if raw.contains("://") {
            // A mirror (http, https, ssh): used as it is.
            return self
                .repo_url(&raw, node, path, "`passwordFrom`")
                .then_some(raw);
        } else {
            raw.as_str()
        };
        let resolved = self.resolve(local, node, path)?;
        if !self.must_exist(&resolved, local, Want::Dir, node, path) {
            return None;
        }
        Some(if is_url {
            format!("file://{}", resolved.display())
        } else {
            resolved.display().to_string()
        })
    }

    fn clusters(&mut self, node: &Node) -> Option<ClustersConfig> {
        let fields = self.fields(
            node,
            "clusters",
            &["kubeconfig", "contexts", "qps", "burst", "limits", "labels"],
            "a mapping",
            false,
        )?;
        let kubeconfig = fields
            .get("kubeconfig")
            .and_then(|n| self.path(n, "clusters.kubeconfig"));
        let contexts = fields
            .get("contexts")
            .and_then(|n| self.string_list(n, "clusters.contexts"))
            .unwrap_or_default();
        let default_limits = self.rate_limits(&fields, "clusters", DEFAULT_CLUSTER_LIMITS);
        let limits = fields
            .get("limits")
            .map(|n| self.context_limits(n, &contexts, default_limits))
            .unwrap_or_default();
        let labels = fields
            .get("labels")
            .map(|n| self.context_labels(n, &contexts))
            .unwrap_or_default();
        Some(ClustersConfig {
            kubeconfig,
            contexts,
            default_limits,
            limits,
            labels,
        })
    }

    /// `qps` and `burst` of the mapping at `path`, each taken from
    /// `inherited` when not given (or invalid: the problem is reported).
    fn rate_limits(
        &mut self,
        fields: &Fields<'_>,
        path: &str,
        inherited: ClusterLimits,
    ) -> ClusterLimits {
        let qps = fields
            .get("qps")
            .and_then(|n| self.qps(n, &join(path, "qps")))
            .unwrap_or(inherited.qps);
        let burst = fields
            .get("burst")
            .and_then(|n| {
                let field = join(path, "burst");
                let burst = self.count(n, &field)?;
                match u32::try_from(burst) {
                    Ok(burst) => Some(burst),
                    Err(_) => {
                        let message = format!("{burst} is too large (at most {})", u32::MAX);
                        self.problem(Self::at(n), &field, message);
                        None
                    }
                }
            })
            .unwrap_or(inherited.burst);
        ClusterLimits::new(qps, burst)
    }

    /// Requests per second: a finite number above 0, or `unlimited`
    /// ([`ClusterLimits::UNLIMITED`]'s `qps`).
    fn qps(&mut self, node: &Node, path: &str) -> Option<f64> {
        const SHAPE: &str = "a number of requests per second (e.g. 50, 0.5) or `unlimited`";
        let text = match &node.value {
            Value::Scalar { text, .. } if text.trim() == "unlimited" => {
                return Some(ClusterLimits::UNLIMITED.qps)
            }
            Value::Scalar { text, plain: true } if !node.is_null() => text.trim(),
            _ => {
                let message = format!("expected {SHAPE}, found {}", node.kind());
                self.problem(Self::at(node), path, message);
                return None;
            }
        };
        match text.parse::<f64>() {
            Ok(qps) if qps.is_finite() && qps > 0.0 => Some(qps),
            Ok(qps) if qps.is_finite() => {
                let message =
                    format!("must be greater than 0 (got {text}); write `unlimited` for no limit");
                self.problem(Self::at(node), path, message);
                None
            }
            _ => {
                let message = format!("{text:?} is not {SHAPE}");
                self.problem(Self::at(node), path, message);
                None
            }
        }
    }

    /// `clusters.limits`: context name to `{qps, burst}`, fields not given
    /// taken from `inherited`. With `contexts` given, every name must be
    /// one of them.
    fn context_limits(
        &mut self,
        node: &Node,
        contexts: &[String],
        inherited: ClusterLimits,
    ) -> BTreeMap<String, ClusterLimits> {
        const PATH: &str = "clusters.limits";
        let mut out = BTreeMap::new();
        let Value::Map(entries) = &node.value else {
            let message = format!(
                "expected a mapping of context names to {{qps: ..., burst: ...}}, found {}",
                node.kind()
            );
            self.problem(Self::at(node), PATH, message);
            return out;
        };
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for (key_node, value) in entries {
            let context = match &key_node.value {
                Value::Scalar { text, .. } if !key_node.is_null() => text.as_str(),
                _ => {
                    let message =
                        format!("context names must be strings, found {}", key_node.kind());
                    self.problem(Self::at(key_node), PATH, message);
                    continue;
                }
            };
            let field = limits_field(context);
            if let Some((_, line)) = seen.iter().find(|(k, _)| *k == context) {
                let message = format!("given twice (first on line {line})");
                self.problem(Self::at(key_node), &field, message);
                continue;
            }
            seen.push((context, key_node.line));
            let mut known = true;
            if !contexts.is_empty() && !contexts.iter().any(|c| c == context) {
                let message = format!(
                    "unknown context {context:?}: not in clusters.contexts ({})",
                    contexts.join(", ")
                );
                self.problem(Self::at(key_node), &field, message);
                known = false;
            }
            let what = "a mapping ({qps: ..., burst: ...})";
            let Some(fields) = self.fields(value, &field, &["qps", "burst"], what, false) else {
                continue;
            };
            let limits = self.rate_limits(&fields, &field, inherited);
            if known {
                out.insert(context.to_string(), limits);
            }
        }
        out
    }

    /// `clusters.labels`: context name to a mapping of label names to
    /// string values. With `contexts` given, every name must be one of them.
    fn context_labels(
        &mut self,
        node: &Node,
        contexts: &[String],
    ) -> BTreeMap<String, BTreeMap<String, String>> {
        const PATH: &str = "clusters.labels";
        let mut out = BTreeMap::new();
        let Value::Map(entries) = &node.value else {
            let message = format!(
                "expected a mapping of context names to {{label: value, ...}}, found {}",
                node.kind()
            );
            self.problem(Self::at(node), PATH, message);
            return out;
        };
        for (key_node, value) in entries {
            let context = match &key_node.value {
                Value::Scalar { text, .. } if !key_node.is_null() => text.clone(),
                _ => {
                    let message =
                        format!("context names must be strings, found {}", key_node.kind());
                    self.problem(Self::at(key_node), PATH, message);
                    continue;
                }
            };
            let field = limits_field(&context).replacen("clusters.limits", PATH, 1);
            if out.contains_key(&context) {
                self.problem(Self::at(key_node), &field, "given twice".to_string());
                continue;
            }
            if !contexts.is_empty() && !contexts.contains(&context) {
                let message = format!(
                    "unknown context {context:?}: not in clusters.contexts ({})",
                    contexts.join(", ")
                );
                self.problem(Self::at(key_node), &field, message);
                continue;
            }
            let Value::Map(pairs) = &value.value else {
                let message = format!(
                    "expected a mapping of label names to values, found {}",
                    value.kind()
                );
                self.problem(Self::at(value), &field, message);
                continue;
            };
            let mut labels = BTreeMap::new();
            for (k, v) in pairs {
                let (Value::Scalar { text: k, .. }, Value::Scalar { text: v, .. }) =
                    (&k.value, &v.value)
                else {
                    let message = "label names and values must be strings".to_string();
                    self.problem(Self::at(k), &field, message);
                    continue;
                };
                labels.insert(k.clone(), v.clone());
            }
            out.insert(context, labels);
        }
        out
    }

    fn applications(&mut self, node: &Node) -> Vec<AppSourceConfig> {
        let Some(items) = self.seq(node, "applications", "sources") else {
            return Vec::new();
        };
        if items.is_empty() {
            self.problem(
                Self::at(node),
                "applications",
                "must list at least one source (`repo` or `directory`)",
            );
        }
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| self.app_source(item, &format!("applications[{i}]")))
            .collect()
    }

    fn app_source(&mut self, node: &Node, path: &str) -> Option<AppSourceConfig> {
        let known = ["repo", "revision", "paths", "directory"];
        let fields = self.fields(node, path, &known, "a mapping", false)?;
        match (fields.get("repo"), fields.get("directory")) {
            (Some(repo_node), None) => {
                let repo_field = join(path, "repo");
                let repo = self.string(repo_node, &repo_field).filter(|repo| {
                    self.repo_url(
                        repo,
                        repo_node,
                        &repo_field,
                        "`passwordFrom` in `repositories`",
                    )
                });
                let revision = match fields.get("revision") {
                    Some(n) => self.string(n, &join(path, "revision")),
                    None => Some("HEAD".to_string()),
                };
                let paths = match fields.get("paths") {
                    Some(n) => self.globs(n, &join(path, "paths")),
                    None => Some(DEFAULT_PATHS.iter().map(|p| p.to_string()).collect()),
                };
                Some(AppSourceConfig::Git {
                    repo: repo?,
                    revision: revision?,
                    paths: paths?,
                })
            }
            (None, Some(dir_node)) => {
                for key in ["revision", "paths"] {
                    if let Some((key_node, _)) = fields.entry(key) {
                        self.problem(
                            Self::at(key_node),
                            &join(path, key),
                            "applies only to a `repo` source",
                        );
                    }
                }
                let path = self.existing_path(dir_node, &join(path, "directory"), Want::Dir)?;
                Some(AppSourceConfig::Directory { path })
            }
            _ => {
                self.problem(
                    (fields.line, fields.column),
                    path,
                    "give exactly one of `repo` or `directory`",
                );
                None
            }
        }
    }

    /// Glob patterns relative to a repository root: at least one.
    fn globs(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        let globs = self.string_list(node, path)?;
        if globs.is_empty() {
            self.problem(Self::at(node), path, "must list at least one pattern");
            return None;
        }
        let mut ok = true;
        if let Value::Seq(items) = &node.value {
            for (i, (glob, item)) in globs.iter().zip(items).enumerate() {
                if glob.starts_with('/') || glob.split('/').any(|part| part == "..") {
                    let message =
                        format!("{glob:?} must stay inside the repository (relative, no `..`)");
                    self.problem(Self::at(item), &format!("{path}[{i}]"), message);
                    ok = false;
                }
            }
        }
        ok.then_some(globs)
    }

    fn vault(&mut self, node: &Node) -> Option<VaultSettings> {
        let known = ["address", "tokenFrom", "caCert", "namespace"];
        let fields = self.fields(node, "vault", &known, "a mapping", false)?;
        let address = self.required(&fields, "address", "vault").and_then(|n| {
            let address = self.string(n, "vault.address")?;
            let lower = address.to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                Some(address)
            } else {
                let message = format!(
                    "{address:?} is not an http:// or https:// URL (e.g. https://127.0.0.1:8200)"
                );
                self.problem(Self::at(n), "vault.address", message);
                None
            }
        });
        let token = fields
            .get("tokenFrom")
            .and_then(|n| self.secret(n, "vault.tokenFrom"));
        let ca_cert = fields
            .get("caCert")
            .and_then(|n| self.existing_path(n, "vault.caCert", Want::File));
        let namespace = fields
            .get("namespace")
            .and_then(|n| self.string(n, "vault.namespace"));
        Some(VaultSettings {
            address: address?,
            token,
            ca_cert,
            namespace,
        })
    }

    fn api(&mut self, node: &Node) -> Option<ApiConfig> {
        let known = [
            "listen",
            "tokenFrom",
            "anonymousRead",
            "users",
            "tls",
            "sessionTtl",
        ];
        let fields = self.fields(node, "api", &known, "a mapping", false)?;
        let listen = fields
            .get("listen")
            .and_then(|n| {
                let text = self.string(n, "api.listen")?;
                match text.trim().parse::<SocketAddr>() {
                    Ok(addr) => Some(addr),
                    Err(_) => {
                        let message = format!(
                            "{text:?} is not an address (expected IP:PORT, e.g. 127.0.0.1:8080)"
                        );
                        self.problem(Self::at(n), "api.listen", message);
                        None
                    }
                }
            })
            .unwrap_or(DEFAULT_LISTEN);
        let token = fields
            .get("tokenFrom")
            .and_then(|n| self.secret(n, "api.tokenFrom"));
        let anonymous_read = fields
            .get("anonymousRead")
            .and_then(|n| self.bool(n, "api.anonymousRead"))
            .unwrap_or(false);
        let users = fields
            .get("users")
            .map(|n| self.users(n))
            .unwrap_or_default();
        let tls = fields.get("tls").and_then(|n| self.tls(n));
        let session_ttl = match fields.get("sessionTtl") {
            Some(n) => match self.duration(n, "api.sessionTtl") {
                Some(d) if (MIN_SESSION_TTL..=MAX_SESSION_TTL).contains(&d) => d,
                Some(_) => {
                    // MIN_SESSION_TTL and MAX_SESSION_TTL.
                    self.problem(Self::at(n), "api.sessionTtl", "must be between 1m and 365d");
                    DEFAULT_SESSION_TTL
                }
                None => DEFAULT_SESSION_TTL,
            },
            None => DEFAULT_SESSION_TTL,
        };
        Some(ApiConfig {
            listen,
            token,
            anonymous_read,
            users,
            tls,
            session_ttl,
        })
    }

    /// `api.users`: each `{name, passwordHash, readOnly}`, names unique,
    /// hashes argon2 PHC strings (never quoted in a message).
    fn users(&mut self, node: &Node) -> Vec<UserConfig> {
        let Some(items) = self.seq(node, "api.users", "users") else {
            return Vec::new();
        };
        let mut out: Vec<UserConfig> = Vec::new();
        // (name, line) of each user so far.
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("api.users[{i}]");
            let known = ["name", "passwordHash", "readOnly"];
            let Some(fields) = self.fields(item, &path, &known, "a mapping", false) else {
                continue;
            };
            let name_field = join(&path, "name");
            let name = self.required(&fields, "name", &path).and_then(|n| {
                let name = self.string(n, &name_field)?;
                if name != name.trim() || name.chars().any(char::is_control) {
                    let message = format!(
                        "{name:?}: a user name has no leading or trailing spaces and no control characters"
                    );
                    self.problem(Self::at(n), &name_field, message);
                    return None;
                }
                if let Some((_, line)) = seen.iter().find(|(seen, _)| *seen == name) {
                    let message = format!("user {name:?} is listed twice (first on line {line})");
                    self.problem(Self::at(n), &name_field, message);
                    return None;
                }
                seen.push((name.clone(), n.line));
                Some(name)
            });
            let hash_field = join(&path, "passwordHash");
            let hash = self.required(&fields, "passwordHash", &path).and_then(|n| {
                let hash = self.string(n, &hash_field)?;
                match check_password_hash(hash.trim()) {
                    Ok(()) => Some(SecretString::new(hash.trim())),
                    Err(reason) => {
                        let who = match &name {
                            Some(name) => format!("user {name:?}"),
                            None => "this user".to_string(),
                        };
                        let message = format!(
                            "the password hash of {who} is not an argon2 PHC string ({reason}); \
                             make one with `flotilla admin hash-password`"
                        );
                        self.problem(Self::at(n), &hash_field, message);
                        None
                    }
                }
            });
            let read_only = fields
                .get("readOnly")
                .and_then(|n| self.bool(n, &join(&path, "readOnly")))
                .unwrap_or(false);
            if let (Some(name), Some(password_hash)) = (name, hash) {
                out.push(UserConfig {
                    name,
                    password_hash,
                    read_only,
                });
            }
        }
        out
    }

    /// `api.tls`: `{certFile, keyFile}`, both existing files.
    fn tls(&mut self, node: &Node) -> Option<TlsConfig> {
        let known = ["certFile", "keyFile"];
        let fields = self.fields(node, "api.tls", &known, "a mapping", false)?;
        let cert_file = self
            .required(&fields, "certFile", "api.tls")
            .and_then(|n| self.existing_path(n, "api.tls.certFile", Want::File));
        let key_file = self
            .required(&fields, "keyFile", "api.tls")
            .and_then(|n| self.existing_path(n, "api.tls.keyFile", Want::File));
        Some(TlsConfig {
            cert_file: cert_file?,
            key_file: key_file?,
        })
    }

    fn webhook(&mut self, node: &Node) -> Option<WebhookConfig> {
        let services = ["github", "gitlab", "gitea"];
        let fields = self.fields(node, "webhook", &services, "a mapping", false)?;
        let mut secrets = services.map(|service| {
            let path = join("webhook", service);
            let node = fields.get(service)?;
            let inner = self.fields(node, &path, &["secretFrom"], "a mapping", false)?;
            let secret_node = self.required(&inner, "secretFrom", &path)?;
            self.secret(secret_node, &join(&path, "secretFrom"))
        });
        Some(WebhookConfig {
            github: secrets[0].take(),
            gitlab: secrets[1].take(),
            gitea: secrets[2].take(),
        })
    }

    fn concurrency(&mut self, node: &Node) -> Option<ConcurrencyConfig> {
        let known = ["reconciles", "syncs"];
        let fields = self.fields(node, "concurrency", &known, "a mapping", false)?;
        let reconciles = fields
            .get("reconciles")
            .and_then(|n| self.count(n, "concurrency.reconciles"))
            .unwrap_or(DEFAULT_RECONCILES);
        let syncs = fields
            .get("syncs")
            .and_then(|n| self.count(n, "concurrency.syncs"))
            .unwrap_or(DEFAULT_SYNCS);
        Some(ConcurrencyConfig { reconciles, syncs })
    }
}

/// The field path of a `clusters.limits` entry: `clusters.limits.NAME`, or
/// `clusters.limits["NAME"]` when the name holds more than letters, digits,
/// `-` and `_`.
fn limits_field(context: &str) -> String {
    let plain = !context.is_empty()
        && context
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        format!("clusters.limits.{context}")
    } else {
        format!("clusters.limits[{context:?}]")
    }
}

/// Checks that `hash` is an argon2 PHC string with valid parameters; the
/// reason it is not otherwise (never quoting it).
fn check_password_hash(hash: &str) -> Result<(), String> {
    let parsed = argon2::PasswordHash::new(hash).map_err(|e| e.to_string())?;
    argon2::Algorithm::try_from(parsed.algorithm.as_str())
        .map_err(|_| format!("the algorithm is {}, not argon2", parsed.algorithm))?;
    argon2::Params::try_from(&parsed).map_err(|e| format!("parameters: {e}"))?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("it has no salt or no hash".to_string());
    }
    Ok(())
}

/// Reads a secret file (at most [`MAX_CONFIG_BYTES`]), one trailing newline
/// removed.
fn read_secret_file(path: &Path) -> io::Result<String> {
    let file = fs::File::open(path)?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > MAX_CONFIG_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} KiB", MAX_CONFIG_BYTES / 1024),
        ));
    }
    if let Some(stripped) = text.strip_suffix('\n') {
        let stripped = stripped.strip_suffix('\r').unwrap_or(stripped);
        text.truncate(stripped.len());
    }
    Ok(text)
}

/// "unknown key", with a hint when a known key is close.
fn unknown_key_message(key: &str, known: &[&str]) -> String {
    let from = format!("{key}From");
    if known.contains(&from.as_str()) {
        return format!(
            "unknown key; secrets are given by reference: `{from}: {SECRET_REF_SHAPE}`"
        );
    }
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let best = known
        .iter()
        .map(|k| {
            let distance = if squash(k) == squash(key) {
                0
            } else {
                edit_distance(key, k)
            };
            (distance, *k)
        })
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance);
    match best {
        Some((_, suggestion)) => format!("unknown key; did you mean `{suggestion}`?"),
        None => format!(
            "unknown key (expected one of {})",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn problems(text: &str, dir: &Path, vars: &[(&str, &str)]) -> Vec<Problem> {
        match parse_with_env(text, &dir.join("flotilla.yaml"), &env_of(vars)) {
            Ok(config) => panic!("expected problems, got {config:?}"),
            Err(ConfigError::Invalid { problems, .. }) => problems,
            Err(e) => panic!("unexpected error {e}"),
        }
    }

    fn located(problems: &[Problem]) -> Vec<String> {
        problems
            .iter()
            .map(|p| format!("{}:{} {}", p.line, p.column, p.field))
            .collect()
    }

    fn parse_ok(text: &str, file: &Path, vars: &[(&str, &str)]) -> ControllerConfig {
        match parse_with_env(text, file, &env_of(vars)) {
            Ok(config) => config,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn full_example_with_every_field() {
        let root = tempfile::tempdir().unwrap();
        let conf = root.path().join("conf");
        fs::create_dir_all(conf.join("apps")).unwrap();
        fs::create_dir_all(root.path().join("deploy")).unwrap();
        fs::write(conf.join("ca.pem"), "-----BEGIN CERTIFICATE-----\n").unwrap();
        fs::write(conf.join("api-token"), "api-s3cret\n").unwrap();
        let text = r#"
apiVersion: flotilla.dev/v1alpha1
kind: ControllerConfig
stateDir: ./state
pollInterval: 3m
selfHealDelay: 500ms
repositories:
  - url: https://github.com/acme/deploy.git
    substitute: ../deploy
    username: git
    passwordFrom: {env: GIT_TOKEN}
  - url: https://github.com/acme/other
    substitute: file://../deploy
clusters:
  kubeconfig: ~/.kube/config
  contexts: [lab-eu, lab-us]
  qps: 40
  burst: 80
  limits:
    lab-us: {qps: 20, burst: 40}
applications:
  - repo: https://github.com/acme/deploy.git
    revision: main
    paths: ["appsets/*.yaml"]
  - repo: https://github.com/acme/other
  - directory: ./apps
vault:
  address: https://127.0.0.1:8200
  tokenFrom: {env: VAULT_TOKEN}
  caCert: ./ca.pem
  namespace: team-a
api:
  listen: 0.0.0.0:0
  tokenFrom: {file: ./api-token}
  anonymousRead: true
webhook:
  github: {secretFrom: {env: GH_SECRET}}
  gitlab: {secretFrom: {env: GL_SECRET}}
  gitea:  {secretFrom: {value: "inline-secret"}}
concurrency:
  reconciles: 20
  syncs: 2
"#;
        let file = conf.join("flotilla.yaml");
        let vars = [
            ("GIT_TOKEN", "git-s3cret"),
            ("VAULT_TOKEN", "vault-s3cret"),
            ("GH_SECRET", "gh-s3cret"),
            ("GL_SECRET", "gl-s3cret"),
            ("HOME", "/home/flo"),
        ];
        let config = parse_ok(text, &file, &vars);
        let deploy = root.path().join("conf").join("..").join("deploy");
        assert_eq!(config.file, file);
        assert_eq!(config.state_dir, conf.join("state"));
        assert_eq!(config.poll_interval, Duration::from_secs(180));
        assert_eq!(config.self_heal_delay, Duration::from_millis(500));
        assert_eq!(config.repositories.len(), 2);
        let repo = &config.repositories[0];
        assert_eq!(repo.url, "https://github.com/acme/deploy.git");
        assert_eq!(repo.substitute.as_deref(), Some(deploy.to_str().unwrap()));
        assert_eq!(repo.username.as_deref(), Some("git"));
        assert_eq!(repo.password.as_ref().unwrap().expose(), "git-s3cret");
        let other = &config.repositories[1];
        assert_eq!(
            other.substitute.as_deref(),
            Some(format!("file://{}", deploy.display()).as_str())
        );
        assert_eq!(other.password, None);
        assert_eq!(
            config.clusters,
            ClustersConfig {
                kubeconfig: Some(PathBuf::from("/home/flo/.kube/config")),
                contexts: vec!["lab-eu".to_string(), "lab-us".to_string()],
                default_limits: ClusterLimits::new(40.0, 80),
                limits: BTreeMap::from([("lab-us".to_string(), ClusterLimits::new(20.0, 40))]),
                labels: BTreeMap::new(),
            }
        );
        assert_eq!(
            config.clusters.limits_for("lab-eu"),
            ClusterLimits::new(40.0, 80)
        );
        assert_eq!(
            config.applications,
            vec![
                AppSourceConfig::Git {
                    repo: "https://github.com/acme/deploy.git".to_string(),
                    revision: "main".to_string(),
                    paths: vec!["appsets/*.yaml".to_string()],
                },
                AppSourceConfig::Git {
                    repo: "https://github.com/acme/other".to_string(),
                    revision: "HEAD".to_string(),
                    paths: vec!["*.yaml".to_string(), "*.yml".to_string()],
                },
                AppSourceConfig::Directory {
                    path: conf.join("apps")
                },
            ]
        );
        let vault = config.vault.as_ref().unwrap();
        assert_eq!(vault.address, "https://127.0.0.1:8200");
        assert_eq!(vault.token.as_ref().unwrap().expose(), "vault-s3cret");
        assert_eq!(
            vault.ca_cert.as_deref(),
            Some(conf.join("ca.pem").as_path())
        );
        assert_eq!(vault.namespace.as_deref(), Some("team-a"));
        assert_eq!(
            config.api.listen,
            "0.0.0.0:0".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(config.api.token.as_ref().unwrap().expose(), "api-s3cret");
        assert!(config.api.anonymous_read);
        assert_eq!(
            config.webhook.github.as_ref().unwrap().expose(),
            "gh-s3cret"
        );
        assert_eq!(
            config.webhook.gitlab.as_ref().unwrap().expose(),
            "gl-s3cret"
        );
        assert_eq!(
            config.webhook.gitea.as_ref().unwrap().expose(),
            "inline-secret"
        );
        assert_eq!(
            config.concurrency,
            ConcurrencyConfig {
                reconciles: 20,
                syncs: 2
            }
        );
        // Lookup by URL, after normalisation.
        let found = config
            .repository("HTTPS://GitHub.com/acme/deploy/")
            .unwrap();
        assert_eq!(found.username.as_deref(), Some("git"));
        assert!(config.repository("https://github.com/acme/nope").is_none());

        // Neither Debug nor Display shows a secret.
        for shown in [
            format!("{config:?}"),
            format!("{config:#?}"),
            config.to_string(),
        ] {
            for secret in ["s3cret", "inline-secret"] {
                assert!(!shown.contains(secret), "{secret} leaked in {shown}");
            }
            assert!(shown.contains("<redacted>"));
        }
        assert!(config.to_string().contains("pollInterval: 3m"));
        assert!(config
            .to_string()
            .contains("  qps: 40\n  burst: 80\n  limits:\n    lab-us: {qps: 20, burst: 40}\n"));
    }

    #[test]
    fn a_repository_type_is_git_or_helm() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flotilla.yaml");
        let config = parse_ok(
            "applications: [{directory: .}]\nrepositories:\n  - url: https://charts.example.com\n    type: helm\n  - url: https://github.com/a/b.git\n    type: git\n  - url: https://github.com/a/c.git\n",
            &file,
            &[],
        );
        let kinds: Vec<RepositoryType> = config.repositories.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                RepositoryType::Helm,
                RepositoryType::Git,
                RepositoryType::Git
            ]
        );
        assert!(config.to_string().contains("type: helm"));
        let problems = problems(
            "applications: [{directory: .}]\nrepositories:\n  - url: https://charts.example.com\n    type: oci\n",
            dir.path(),
            &[],
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            (problems[0].line, problems[0].field.as_str()),
            (4, "repositories[0].type")
        );
        assert!(
            problems[0].message.contains("write git or helm"),
            "{problems:?}"
        );
    }

    #[test]
    fn cluster_labels() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flotilla.yaml");
        let config = parse_ok(
            "\
applications: [{directory: .}]
clusters:
  labels:
    lab-eu: {region: eu-west-1, env: prod}
",
            &file,
            &[],
        );
        assert_eq!(
            config.clusters.labels["lab-eu"],
            BTreeMap::from([
                ("env".to_string(), "prod".to_string()),
                ("region".to_string(), "eu-west-1".to_string())
            ])
        );
        let text = "\
applications: [{directory: .}]
clusters:
  contexts: [lab-eu]
  labels:
    lab-us: {region: us}
    lab-eu: [region]
";
        let shown: Vec<String> = problems(text, dir.path(), &[])
            .iter()
            .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.field, p.message))
            .collect();
        assert_eq!(
            shown,
            vec![
                "5:5 clusters.labels.lab-us: unknown context \"lab-us\": not in clusters.contexts (lab-eu)",
                "6:13 clusters.labels.lab-eu: expected a mapping of label names to values, found a list",
            ]
        );
    }

    #[test]
    fn cluster_rate_limits() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flotilla.yaml");
        // Per-context entries take what they leave out from qps/burst.
        let config = parse_ok(
            "\
applications: [{directory: .}]
clusters:
  qps: 0.5
  burst: 3
  limits:
    lab-eu: {qps: unlimited}
    lab-us: {burst: 7}
    'arn:aws:eks:us-west-2:1:cluster/x': {qps: 200, burst: 400}
",
            &file,
            &[],
        );
        let clusters = &config.clusters;
        assert_eq!(clusters.default_limits, ClusterLimits::new(0.5, 3));
        assert!(clusters.limits_for("lab-eu").is_unlimited());
        assert_eq!(clusters.limits_for("lab-us"), ClusterLimits::new(0.5, 7));
        assert_eq!(
            clusters.limits_for("arn:aws:eks:us-west-2:1:cluster/x"),
            ClusterLimits::new(200.0, 400)
        );
        assert_eq!(clusters.limits_for("other"), ClusterLimits::new(0.5, 3));
        assert!(config
            .to_string()
            .contains("  qps: 0.5\n  burst: 3\n  limits:\n"));
        assert!(config
            .to_string()
            .contains("lab-eu: {qps: unlimited, burst: 3}"));
        let config = parse_ok(
            "applications: [{directory: .}]\nclusters: {qps: unlimited}\n",
            &file,
            &[],
        );
        assert_eq!(config.clusters.default_limits, ClusterLimits::UNLIMITED);
        assert!(config.to_string().contains("  qps: unlimited\n"));

        let text = "\
applications: [{directory: .}]
clusters:
  contexts: [lab-eu, lab-us]
  qps: 0
  burst: 0
  limits:
    lab-eu: {qps: -5, burst: 5000000000}
    lab-ap: {qps: 10}
    lab-us: {qps: fast, brust: 3}
    lab-eu: {qps: 1}
    'a.b': 20
    [x]: {}
";
        let found = problems(text, dir.path(), &[]);
        let shown: Vec<String> = found
            .iter()
            .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.field, p.message))
            .collect();
        assert_eq!(
            shown,
            vec![
                "4:8 clusters.qps: must be greater than 0 (got 0); write `unlimited` for no limit",
                "5:10 clusters.burst: must be at least 1 (got 0)",
                "7:19 clusters.limits.lab-eu.qps: must be greater than 0 (got -5); write `unlimited` for no limit",
                "7:30 clusters.limits.lab-eu.burst: 5000000000 is too large (at most 4294967295)",
                "8:5 clusters.limits.lab-ap: unknown context \"lab-ap\": not in clusters.contexts (lab-eu, lab-us)",
                "9:19 clusters.limits.lab-us.qps: \"fast\" is not a number of requests per second (e.g. 50, 0.5) or `unlimited`",
                "9:25 clusters.limits.lab-us.brust: unknown key; did you mean `burst`?",
                "10:5 clusters.limits.lab-eu: given twice (first on line 7)",
                "11:5 clusters.limits[\"a.b\"]: unknown context \"a.b\": not in clusters.contexts (lab-eu, lab-us)",
                "11:12 clusters.limits[\"a.b\"]: expected a mapping ({qps: ..., burst: ...}), found a number",
                "12:5 clusters.limits: context names must be strings, found a list",
            ],
        );
        let one = |text: &str| {
            let found = problems(text, dir.path(), &[]);
            assert_eq!(found.len(), 1, "{found:#?}");
            let p = &found[0];
            format!("{}:{} {}: {}", p.line, p.column, p.field, p.message)
        };
        assert_eq!(
            one("applications: [{directory: .}]\nclusters: {qps: '50'}\n"),
            "2:17 clusters.qps: expected a number of requests per second (e.g. 50, 0.5) or `unlimited`, found a string"
        );
        assert_eq!(
            one("applications: [{directory: .}]\nclusters: {qps: inf}\n"),
            "2:17 clusters.qps: \"inf\" is not a number of requests per second (e.g. 50, 0.5) or `unlimited`"
        );
        assert_eq!(
            one("applications: [{directory: .}]\nclusters: {limits: [a]}\n"),
            "2:20 clusters.limits: expected a mapping of context names to {qps: ..., burst: ...}, found a list"
        );
    }

    #[test]
    fn defaults_from_a_minimal_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flotilla.yaml");
        let config = parse_ok("applications: [{directory: .}]\n", &file, &[]);
        assert_eq!(config.state_dir, dir.path().join(".flotilla"));
        assert_eq!(config.poll_interval, DEFAULT_POLL_INTERVAL);
        assert_eq!(config.self_heal_delay, Duration::from_secs(1));
        assert!(config.repositories.is_empty());
        assert_eq!(config.clusters, ClustersConfig::default());
        assert_eq!(config.clusters.default_limits, DEFAULT_CLUSTER_LIMITS);
        assert_eq!(
            config.clusters.limits_for("any"),
            ClusterLimits::new(200.0, 400)
        );
        assert!(config.to_string().contains("  qps: 200\n  burst: 400\n"));
        assert_eq!(
            config.applications,
            vec![AppSourceConfig::Directory {
                path: dir.path().to_path_buf()
            }]
        );
        assert_eq!(config.vault, None);
        assert_eq!(config.api, ApiConfig::default());
        assert_eq!(config.api.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.api.token, None);
        assert!(!config.api.anonymous_read);
        assert_eq!(config.webhook, WebhookConfig::default());
        assert_eq!(config.concurrency.reconciles, 10);
        assert_eq!(config.concurrency.syncs, 5);
        // Null values mean "not given".
        let config = parse_ok(
            "applications: [{directory: .}]\nvault:\nstateDir: ~\napi: null\n",
            &file,
            &[],
        );
        assert_eq!(config.vault, None);
        assert_eq!(config.state_dir, dir.path().join(".flotilla"));
    }

    #[test]
    fn every_problem_is_listed_with_its_location() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("apps")).unwrap();
        let text = "\
apiVersion: flotilla.dev/v2
pollIntervall: 3m
selfHealDelay: in a while
repositories:
  - username: git
  - url: https://github.com/acme/deploy.git
  - url: HTTPS://GitHub.com/acme/deploy/
applications:
  - repo: https://github.com/acme/deploy.git
    directory: ./apps
  - directory: ./missing
api:
  listen: localhost
concurrency:
  reconciles: 0
  syncs: many
clusters:
  contexts: lab-eu
webhook:
  github: {secretFrom: {env: A, value: b}}
  gitlab: {secretFrom: {env: UNSET}}
";
        let found = problems(text, dir.path(), &[("A", "a")]);
        assert_eq!(
            located(&found),
            vec![
                "1:13 apiVersion",
                "2:1 pollIntervall",
                "3:16 selfHealDelay",
                "5:5 repositories[0].url",
                "7:10 repositories[2].url",
                "9:5 applications[0]",
                "11:16 applications[1].directory",
                "13:11 api.listen",
                "15:15 concurrency.reconciles",
                "16:10 concurrency.syncs",
                "18:13 clusters.contexts",
                "20:24 webhook.github.secretFrom",
                "21:30 webhook.gitlab.secretFrom.env",
            ],
            "{found:#?}"
        );
        let messages: Vec<&str> = found.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages[0],
            "\"flotilla.dev/v2\" is not supported (expected flotilla.dev/v1alpha1)"
        );
        assert_eq!(messages[1], "unknown key; did you mean `pollInterval`?");
        assert_eq!(
            messages[2],
            "\"in a while\" is not a duration (expected e.g. 180s, 3m)"
        );
        assert_eq!(messages[3], "required");
        assert!(
            messages[4].contains("repositories[1].url (line 6)"),
            "{}",
            messages[4]
        );
        assert_eq!(messages[5], "give exactly one of `repo` or `directory`");
        assert!(messages[6].contains("does not exist"), "{}", messages[6]);
        assert!(messages[7].contains("\"localhost\" is not an address"));
        assert_eq!(messages[8], "must be at least 1 (got 0)");
        assert_eq!(messages[9], "expected a whole number, found a string");
        assert!(messages[10].starts_with("expected a list of strings"));
        assert_eq!(messages[11], "give exactly one of `env`, `file` or `value`");
        assert_eq!(messages[12], "environment variable `UNSET` is not set");

        let error = parse_with_env(text, Path::new("flotilla.yaml"), &env_of(&[("A", "a")]))
            .unwrap_err()
            .to_string();
        let lines: Vec<&str> = error.lines().collect();
        assert_eq!(lines[0], "flotilla.yaml: 13 problems:");
        assert_eq!(
            lines[3],
            "  flotilla.yaml:3:16: selfHealDelay: \"in a while\" is not a duration (expected e.g. 180s, 3m)"
        );
        assert_eq!(
            lines[4],
            "  flotilla.yaml:5:5: repositories[0].url: required"
        );
    }

    #[test]
    fn display_of_one_problem() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flotilla.yaml");
        let error = parse_with_env("pollInterval: 3m\n", &file, &env_of(&[])).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{0}: 1 problem:\n  {0}:1:1: applications: required",
                file.display()
            )
        );
    }

    #[test]
    fn unknown_keys_get_suggestions() {
        let dir = tempfile::tempdir().unwrap();
        let text = "\
applications: [{directory: .}]
poll_interval: 3m
SelfHealDelay: 1s
repositories:
  - url: https://example.com/a
    password: hunter2
vault: {adress: https://v:8200}
concurrency: {reconcile: 3}
frobnicate: true
";
        let found = problems(text, dir.path(), &[]);
        let shown: Vec<String> = found
            .iter()
            .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.field, p.message))
            .collect();
        assert_eq!(
            shown,
            vec![
                "2:1 poll_interval: unknown key; did you mean `pollInterval`?",
                "3:1 SelfHealDelay: unknown key; did you mean `selfHealDelay`?",
                "6:5 repositories[0].password: unknown key; secrets are given by reference: \
                 `passwordFrom: {env: NAME}, {file: PATH} or {value: ...}`",
                "7:8 vault.address: required",
                "7:9 vault.adress: unknown key; did you mean `address`?",
                "8:15 concurrency.reconcile: unknown key; did you mean `reconciles`?",
                "9:1 frobnicate: unknown key (expected one of `apiVersion`, `kind`, `stateDir`, \
                 `pollInterval`, `selfHealDelay`, `repositories`, `clusters`, `applications`, \
                 `vault`, `api`, `webhook`, `concurrency`)",
            ]
        );
        assert!(found.iter().all(|p| !p.message.contains("hunter2")));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn secret_references() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("token"), "from-file\n\n").unwrap();
        fs::write(dir.path().join("crlf"), "crlf-token\r\n").unwrap();
        fs::write(dir.path().join("empty"), "\n").unwrap();
        let file = dir.path().join("flotilla.yaml");
        let text = "\
applications: [{directory: .}]
api: {tokenFrom: {file: token}}
vault: {address: http://127.0.0.1:8200, tokenFrom: {file: crlf}}
webhook:
  github: {secretFrom: {env: GH}}
  gitea: {secretFrom: {value: 'inline'}}
";
        let config = parse_ok(text, &file, &[("GH", "from-env")]);
        assert_eq!(config.api.token.as_ref().unwrap().expose(), "from-file\n");
        let vault = config.vault.as_ref().unwrap();
        assert_eq!(vault.token.as_ref().unwrap().expose(), "crlf-token");
        assert_eq!(config.webhook.github.as_ref().unwrap().expose(), "from-env");
        assert_eq!(config.webhook.gitea.as_ref().unwrap().expose(), "inline");
        assert_eq!(config.webhook.gitlab, None);
        for shown in [format!("{config:?}"), config.to_string()] {
            for secret in ["from-file", "crlf-token", "from-env", "inline"] {
                assert!(!shown.contains(secret), "{secret} leaked in {shown}");
            }
        }

        let text = "\
applications: [{directory: .}]
api: {tokenFrom: top-secret-value}
vault: {address: http://v, tokenFrom: {value: top-secret-value, env: X}}
repositories:
  - url: https://example.com/r
    passwordFrom: {file: missing}
  - url: https://example.com/s
    passwordFrom: {file: empty}
  - url: https://example.com/t
    passwordFrom: {top-secret-value}
  - url: https://example.com/u
    passwordFrom: {env: EMPTY}
  - url: https://example.com/v
    passwordFrom: {value: ''}
  - url: https://example.com/w
    passwordFrom: {value: [top-secret-value]}
  - url: https://user:top-secret-value@example.com/x
webhook: {gitlab: {}}
";
        let found = problems(text, dir.path(), &[("EMPTY", "")]);
        let shown: Vec<String> = found
            .iter()
            .map(|p| format!("{}:{} {}: {}", p.line, p.column, p.field, p.message))
            .collect();
        for line in &shown {
            assert!(!line.contains("top-secret-value"), "leaked: {line}");
        }
        let expected_starts = [
            "2:18 api.tokenFrom: expected a secret reference ({env: NAME}, {file: PATH} or {value: ...}), found a string",
            "3:39 vault.tokenFrom: give exactly one of `env`, `file` or `value`",
            "6:26 repositories[0].passwordFrom.file: cannot read secret file",
            "8:26 repositories[1].passwordFrom.file: secret file",
            "10:19 repositories[2].passwordFrom: give exactly one of",
            "10:20 repositories[2].passwordFrom: unknown key in a secret reference",
            "12:25 repositories[3].passwordFrom.env: environment variable `EMPTY` is empty",
            "14:27 repositories[4].passwordFrom.value: must not be empty",
            "16:27 repositories[5].passwordFrom.value: expected a string, found a list",
            "17:10 repositories[6].url: the URL holds a password; give it with `passwordFrom` instead",
            "18:19 webhook.gitlab.secretFrom: required",
        ];
        assert_eq!(shown.len(), expected_starts.len(), "{shown:#?}");
        for (line, start) in shown.iter().zip(expected_starts) {
            assert!(
                line.starts_with(start),
                "{line:?} should start with {start:?}"
            );
        }
        let error = parse_with_env(text, &file, &env_of(&[("EMPTY", "")]))
            .unwrap_err()
            .to_string();
        assert!(!error.contains("top-secret-value"));
    }

    #[test]
    fn relative_paths_resolve_against_the_config_dir() {
        let root = tempfile::tempdir().unwrap();
        let conf = root.path().join("etc");
        fs::create_dir_all(conf.join("apps")).unwrap();
        fs::create_dir_all(root.path().join("shared")).unwrap();
        fs::create_dir_all(root.path().join("mirror")).unwrap();
        let text = format!(
            "\
stateDir: var/state
clusters: {{kubeconfig: kube/config}}
repositories:
  - url: https://example.com/a
    substitute: file://{}/mirror
applications:
  - directory: apps
  - directory: ../shared
  - directory: {}
",
            root.path().display(),
            root.path().join("shared").display()
        );
        let config = parse_ok(&text, &conf.join("flotilla.yaml"), &[]);
        assert_eq!(config.state_dir, conf.join("var/state"));
        assert_eq!(config.clusters.kubeconfig, Some(conf.join("kube/config")));
        assert_eq!(
            config.repositories[0].substitute,
            Some(format!("file://{}/mirror", root.path().display()))
        );
        assert_eq!(
            config.applications,
            vec![
                AppSourceConfig::Directory {
                    path: conf.join("apps")
                },
                AppSourceConfig::Directory {
                    path: conf.join("../shared")
                },
                AppSourceConfig::Directory {
                    path: root.path().join("shared")
                },
            ]
        );
        // A relative file name: the base is the current directory.
        assert_eq!(
            config_dir(Path::new("flotilla.yaml")),
            std::env::current_dir().unwrap()
        );
        // `~` needs HOME.
        let found = problems("applications: [{directory: ~/apps}]\n", root.path(), &[]);
        assert_eq!(found[0].message, "`~` needs $HOME, which is not set");
    }

    #[test]
    fn shapes_and_syntax() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let one = |text: &str| {
            let found = problems(text, d, &[]);
            assert_eq!(found.len(), 1, "{found:#?}");
            let p = &found[0];
            format!("{}:{} {}: {}", p.line, p.column, p.field, p.message)
        };
        assert!(one("applications: [\n").starts_with("2:1 : YAML syntax error"));
        assert_eq!(
            one("- applications\n"),
            "1:1 : the configuration must be a mapping, found a list"
        );
        assert_eq!(
            one("# nothing\n"),
            "1:1 : the file is empty; it needs at least `applications`"
        );
        assert_eq!(
            one("applications: [{directory: .}]\n---\napplications: []\n"),
            "2:1 : only one YAML document is allowed"
        );
        let found = problems("x: &a {directory: .}\napplications: [*a]\n", d, &[]);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].field, "x");
        assert_eq!(
            (found[1].line, found[1].column, found[1].message.as_str()),
            (
                2,
                16,
                "expected a mapping, found an alias (aliases are not supported)"
            )
        );
        assert_eq!(
            one("applications: [{directory: .}]\napplications: []\n"),
            "2:1 applications: given twice (first on line 1)"
        );
        assert_eq!(
            one("applications: []\n"),
            "1:15 applications: must list at least one source (`repo` or `directory`)"
        );
        assert_eq!(
            one("applications: ./apps\n"),
            "1:15 applications: expected a list of sources, found a single value (write it as `[...]`)"
        );
        assert_eq!(
            one("applications: [{repo: 'https://h/r', paths: ['../x']}]\n"),
            "1:46 applications[0].paths[0]: \"../x\" must stay inside the repository (relative, no `..`)"
        );
        assert_eq!(
            one("applications: [{directory: ., revision: main}]\n"),
            "1:31 applications[0].revision: applies only to a `repo` source"
        );
        assert_eq!(
            one("applications: [{repo: 'ftp://h/r'}]\n"),
            "1:23 applications[0].repo: not a repository URL: unsupported scheme \"ftp\" (use https, http, ssh, git or file)"
        );
        assert_eq!(
            one("applications: [{directory: .}]\npollInterval: 10ms\n"),
            "2:15 pollInterval: must be at least 100ms"
        );
        assert_eq!(
            one("applications: [{directory: .}]\npollInterval: 180\n"),
            "2:15 pollInterval: 180 is not a duration: give a unit (e.g. 180s)"
        );
        assert_eq!(
            one("applications: [{directory: .}]\napi: {anonymousRead: yes}\n"),
            "2:22 api.anonymousRead: expected true or false, found a string"
        );
        assert_eq!(
            one("applications: [{directory: .}]\nvault: {address: 127.0.0.1:8200}\n"),
            "2:18 vault.address: \"127.0.0.1:8200\" is not an http:// or https:// URL (e.g. https://127.0.0.1:8200)"
        );
        assert!(one(
            "applications: [{directory: .}]\nvault: {address: 'http://v', caCert: ca.pem}\n"
        )
        .starts_with("2:38 vault.caCert: ca.pem (resolved to "));
        // A mirror URL is taken as it is, but may not hold a password.
        let config = parse_ok(
            "applications: [{directory: .}]\nrepositories: [{url: 'https://h/r', substitute: 'https://m/r'}]\n",
            &d.join("flotilla.yaml"),
            &[],
        );
        assert_eq!(
            config.repositories[0].substitute.as_deref(),
            Some("https://m/r")
        );
        assert_eq!(
            one("applications: [{directory: .}]\nrepositories: [{url: 'https://h/r', substitute: 'https://u:pw@m/r'}]\n"),
            "2:49 repositories[0].substitute: the URL holds a password; give it with `passwordFrom` instead"
        );
        assert_eq!(
            one("applications: [{directory: .}]\nclusters: {contexts: [a, a]}\n"),
            "2:26 clusters.contexts[1]: \"a\" is listed twice"
        );
        assert_eq!(
            one("applications: [{directory: .}]\n[1]: 2\n"),
            "2:1 : keys must be strings, found a list"
        );
        let deep = format!("applications: {}{}\n", "[".repeat(40), "]".repeat(40));
        assert!(one(&deep).contains("nested deeper than 32 levels"));
        let big = format!("# {}\n", "x".repeat(MAX_CONFIG_BYTES));
        assert!(one(&big).contains("larger than"));
    }

    #[test]
    fn load_reads_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flotilla.yaml");
        match ControllerConfig::load(&file) {
            Err(ConfigError::Read { file: f, source }) => {
                assert_eq!(f, file);
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
        fs::write(&file, "applications:\n  - directory: .\npollInterval: 1m\n").unwrap();
        let config = ControllerConfig::load(&file).unwrap();
        assert_eq!(config.file, file);
        assert_eq!(config.poll_interval, Duration::from_secs(60));
    }

    const HASH: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$3ERcuocvevQ8TgR7Aomfxw$Mzb8MWT8aWmpmTxXF4TjWgmk5VI82dyFUiJnx126yxQ";

    #[test]
    fn ui_users_tls_and_session_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("tls")).unwrap();
        fs::write(d.join("tls/cert.pem"), "cert").unwrap();
        fs::write(d.join("tls/key.pem"), "key").unwrap();
        let text = format!(
            "applications: [{{directory: .}}]\napi:\n  users:\n    - name: alice\n      passwordHash: '{HASH}'\n    - {{name: bob, passwordHash: '{HASH}', readOnly: true}}\n  tls: {{certFile: tls/cert.pem, keyFile: ./tls/key.pem}}\n  sessionTtl: 8h\n"
        );
        let config = parse_ok(&text, &d.join("flotilla.yaml"), &[]);
        let api = &config.api;
        assert_eq!(api.users.len(), 2);
        assert_eq!(api.users[0].name, "alice");
        assert_eq!(api.users[0].password_hash.expose(), HASH);
        assert!(!api.users[0].read_only);
        assert_eq!(api.users[1].name, "bob");
        assert!(api.users[1].read_only);
        let tls = api.tls.as_ref().unwrap();
        assert_eq!(tls.cert_file, d.join("tls/cert.pem"));
        assert_eq!(tls.key_file, d.join("tls/key.pem"));
        assert_eq!(api.session_ttl, Duration::from_secs(8 * 3600));
        // Hashes are never shown.
        let shown = format!("{config}\n{config:?}");
        assert!(!shown.contains("3ERcuocv"), "{shown}");
        assert!(shown.contains("passwordHash: <redacted>"), "{shown}");
        assert!(shown.contains("sessionTtl: 8h"), "{shown}");

        let defaults = parse_ok("applications: [{directory: .}]\n", &d.join("f.yaml"), &[]);
        assert!(defaults.api.users.is_empty());
        assert_eq!(defaults.api.tls, None);
        assert_eq!(defaults.api.session_ttl, DEFAULT_SESSION_TTL);
        assert_eq!(DEFAULT_SESSION_TTL, Duration::from_secs(86400));
    }

    #[test]
    fn ui_users_problems() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let text = format!(
            "applications: [{{directory: .}}]\napi:\n  users:\n    - {{name: alice, passwordHash: 'hunter2-plain'}}\n    - {{name: bob, passwordHash: '$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo'}}\n    - {{name: alice, passwordHash: '{HASH}'}}\n    - {{passwordHash: '{HASH}', readonly: true}}\n  tls: {{certFile: missing.pem}}\n  sessionTtl: 10s\n"
        );
        let found = problems(&text, d, &[]);
        assert_eq!(
            located(&found),
            [
                "4:35 api.users[0].passwordHash",
                "5:33 api.users[1].passwordHash",
                "6:14 api.users[2].name",
                "7:7 api.users[3].name",
                "7:123 api.users[3].readonly",
                "8:8 api.tls.keyFile",
                "8:19 api.tls.certFile",
                "9:15 api.sessionTtl",
            ],
            "{found:#?}"
        );
        let messages: Vec<&str> = found.iter().map(|p| p.message.as_str()).collect();
        assert!(
            messages[0]
                .starts_with("the password hash of user \"alice\" is not an argon2 PHC string"),
            "{}",
            messages[0]
        );
        assert!(messages[0].contains("flotilla admin hash-password"));
        assert!(!messages[0].contains("hunter2"), "{}", messages[0]);
        assert!(
            messages[1].contains("user \"bob\"")
                && messages[1].contains("pbkdf2-sha256, not argon2"),
            "{}",
            messages[1]
        );
        assert!(messages[2].contains("listed twice (first on line 4)"));
        assert_eq!(messages[3], "required");
        assert!(messages[4].contains("did you mean `readOnly`"));
        assert_eq!(messages[5], "required");
        assert!(messages[6].contains("does not exist"));
        assert_eq!(messages[7], "must be between 1m and 365d");
    }
}
