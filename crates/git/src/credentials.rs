//! Credentials: HTTPS user name and password (or token), SSH key file.
//!
//! Secrets are wrapped in [`Secret`], whose `Debug` prints `***`; they are
//! handed to the transport only when the server asks, and never logged.

use std::fmt;
use std::path::{Path, PathBuf};

/// A secret string (password, token). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: only for handing it to the transport.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

/// How to authenticate to a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// HTTP(S) basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: Secret,
    },
    /// An access token sent as the basic-auth password with the user name
    /// `x-access-token`, as Argo CD does when only a password is configured.
    Token(Secret),
    /// An SSH private key file, for `ssh://` and SCP-like URLs.
    SshKey(SshKey),
}

impl Credentials {
    /// Basic authentication with `username` and `password`.
    pub fn basic(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// An access token.
    pub fn token(token: impl Into<Secret>) -> Self {
        Credentials::Token(token.into())
    }

    /// An SSH private key file, verifying hosts against the user's known hosts.
    pub fn ssh_key(private_key: impl Into<PathBuf>) -> Self {
        Credentials::SshKey(SshKey::new(private_key))
    }

    /// User name and password for HTTP(S), if these credentials carry them.
    pub(crate) fn http_identity(&self) -> Option<(String, String)> {
        match self {
            Credentials::Basic { username, password } => {
                Some((username.clone(), password.expose().to_string()))
            }
            Credentials::Token(token) => {
                Some(("x-access-token".to_string(), token.expose().to_string()))
            }
            Credentials::SshKey(_) => None,
        }
    }

    pub(crate) fn ssh_key_ref(&self) -> Option<&SshKey> {
        match self {
            Credentials::SshKey(key) => Some(key),
            _ => None,
        }
    }
}

/// How host keys are checked for SSH connections.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// ssh's own default: the user's and system known hosts files; unknown hosts fail.
    #[default]
    Default,
    /// Only the given known hosts file; unknown or changed hosts fail.
    KnownHosts(PathBuf),
    /// Accept any host key. Only for tests and throw-away setups.
    AcceptAny,
}

/// An SSH private key and the host key policy that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshKey {
    /// The private key file (passed to `ssh -i`).
    pub private_key: PathBuf,
    /// How to verify the server's host key.
    pub host_keys: HostKeyPolicy,
}

impl SshKey {
    /// A key file with the default host key policy.
    pub fn new(private_key: impl Into<PathBuf>) -> Self {
        SshKey {
            private_key: private_key.into(),
            host_keys: HostKeyPolicy::Default,
        }
    }

    /// Verify hosts against this known hosts file only.
    pub fn with_known_hosts(mut self, file: impl Into<PathBuf>) -> Self {
        self.host_keys = HostKeyPolicy::KnownHosts(file.into());
        self
    }
}

/// Quote `s` for a POSIX shell (gix runs `core.sshCommand` through `sh`).
pub(crate) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The `ssh` command line used for SSH transports (before gix appends the
/// port, the host and the remote `git-upload-pack` command).
///
/// `BatchMode=yes` makes ssh fail instead of prompting for a password or a
/// host key confirmation: this runs unattended.
pub(crate) fn ssh_command(
    program: &Path,
    key: Option<&SshKey>,
    connect_timeout_secs: u64,
) -> String {
    let mut cmd = vec![
        shell_quote(&program.display().to_string()),
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        format!("ConnectTimeout={}", connect_timeout_secs.max(1)),
    ];
    if let Some(key) = key {
        cmd.push("-i".into());
        cmd.push(shell_quote(&key.private_key.display().to_string()));
        cmd.push("-o".into());
        cmd.push("IdentitiesOnly=yes".into());
        match &key.host_keys {
            HostKeyPolicy::Default => {}
            HostKeyPolicy::KnownHosts(file) => {
                cmd.push("-o".into());
                cmd.push(shell_quote(&format!(
                    "UserKnownHostsFile={}",
                    file.display()
                )));
                cmd.push("-o".into());
                cmd.push("StrictHostKeyChecking=yes".into());
            }
            HostKeyPolicy::AcceptAny => {
                cmd.push("-o".into());
                cmd.push("StrictHostKeyChecking=no".into());
                cmd.push("-o".into());
                cmd.push("UserKnownHostsFile=/dev/null".into());
            }
        }
    }
    cmd.join(" ")
}

/// Credentials configured per URL prefix (compared on normalised URLs, as
/// Argo CD's credential templates are), the longest matching prefix winning.
#[derive(Debug, Clone, Default)]
pub(crate) struct CredentialStore {
    entries: Vec<(String, Credentials)>,
}

impl CredentialStore {
    pub(crate) fn insert(&mut self, prefix_key: String, creds: Credentials) {
        self.entries.retain(|(p, _)| p != &prefix_key);
        self.entries.push((prefix_key, creds));
    }

    pub(crate) fn lookup(&self, key: &str) -> Option<&Credentials> {
        self.entries
            .iter()
            .filter(|(prefix, _)| {
                key == prefix
                    || (key.starts_with(prefix.as_str())
                        && (prefix.ends_with('/')
                            || key.as_bytes().get(prefix.len()) == Some(&b'/')))
            })
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let c = Credentials::basic("bob", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
        let t = Credentials::token("ghp_123");
        assert!(!format!("{t:?}").contains("ghp_123"));
        assert_eq!(
            t.http_identity(),
            Some(("x-access-token".to_string(), "ghp_123".to_string()))
        );
        assert_eq!(Credentials::ssh_key("/k").http_identity(), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/usr/bin/ssh"), "/usr/bin/ssh");
        assert_eq!(
            shell_quote("/path with space/key"),
            "'/path with space/key'"
        );
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn ssh_command_lines() {
        assert_eq!(
            ssh_command(Path::new("ssh"), None, 20),
            "ssh -o BatchMode=yes -o ConnectTimeout=20"
        );
        let key =
            SshKey::new("/home/me/.ssh/id deploy").with_known_hosts("/etc/flotilla/known_hosts");
        assert_eq!(
            ssh_command(Path::new("/usr/bin/ssh"), Some(&key), 5),
            "/usr/bin/ssh -o BatchMode=yes -o ConnectTimeout=5 -i '/home/me/.ssh/id deploy' -o IdentitiesOnly=yes \
             -o UserKnownHostsFile=/etc/flotilla/known_hosts -o StrictHostKeyChecking=yes"
        );
        let mut any = SshKey::new("/k");
        any.host_keys = HostKeyPolicy::AcceptAny;
        assert!(ssh_command(Path::new("ssh"), Some(&any), 0)
            .ends_with("-i /k -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"));
        assert!(ssh_command(Path::new("ssh"), Some(&any), 0).contains("ConnectTimeout=1"));
    }

    #[test]
    fn store_longest_prefix_at_path_boundary() {
        let mut s = CredentialStore::default();
        s.insert("https://github.com/org".into(), Credentials::token("org"));
        s.insert(
            "https://github.com/org/special".into(),
            Credentials::token("special"),
        );
        s.insert("https://github.com".into(), Credentials::token("all"));
        let tok = |k: &str| match s.lookup(k) {
            Some(Credentials::Token(t)) => Some(t.expose().to_string()),
            _ => None,
        };
        assert_eq!(tok("https://github.com/org/repo").as_deref(), Some("org"));
        assert_eq!(
            tok("https://github.com/org/special").as_deref(),
            Some("special")
        );
        assert_eq!(
            tok("https://github.com/organisation/x").as_deref(),
            Some("all")
        );
        assert_eq!(tok("https://gitlab.com/org/repo"), None);
        assert_eq!(tok("https://github.community/x"), None);
    }
}
