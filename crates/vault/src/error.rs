//! Errors of the Vault client, the placeholder resolver, the VaultConfig
//! document and the preflight check.
//!
//! Every variant names what failed: the Vault path and HTTP method for API
//! calls, the file (and line) for documents. Secret values and tokens never
//! appear in any message: the client never puts a request or answer body in
//! an error, only Vault's own `errors` strings.

use std::fmt;
use std::path::PathBuf;

/// Joins Vault's `errors` strings for a message suffix: `: a; b`, or nothing.
fn messages(errors: &[String]) -> String {
    let parts: Vec<&str> = errors
        .iter()
        .map(|e| e.trim())
        .filter(|e| !e.is_empty())
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join("; "))
    }
}

/// An error from the Vault client or from one of the things built on it.
///
/// ```
/// use flotilla_vault::VaultError;
///
/// let err = VaultError::Api {
///     method: "GET".into(),
///     path: "secret/data/api/env".into(),
///     status: 403,
///     errors: vec!["permission denied".into()],
/// };
/// assert_eq!(err.to_string(), "Vault answered 403 to GET secret/data/api/env: permission denied");
/// assert!(err.is_permission_denied());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The client configuration is unusable (bad address, unreadable CA, ...).
    #[error("invalid Vault client configuration: {0}")]
    Config(String),

    /// Vault could not be reached at all (connection refused, DNS, TLS, timeout).
    #[error(
        "cannot reach Vault at {addr} ({method} {path}) after {attempts} attempt(s): {message}"
    )]
    Unreachable {
        /// The server address.
        addr: String,
        /// HTTP method of the request.
        method: String,
        /// Vault path of the request (after `/v1/`).
        path: String,
        /// How many attempts were made.
        attempts: u32,
        /// What the transport said.
        message: String,
    },

    /// Vault answered that it is sealed.
    #[error(
        "Vault at {addr} is sealed ({method} {path}); unseal it first (`flotilla vault unseal`)"
    )]
    Sealed {
        /// The server address.
        addr: String,
        /// HTTP method of the request.
        method: String,
        /// Vault path of the request.
        path: String,
    },

    /// Vault answered with an error status.
    #[error("Vault answered {status} to {method} {path}{}", messages(.errors))]
    Api {
        /// HTTP method of the request.
        method: String,
        /// Vault path of the request.
        path: String,
        /// HTTP status code.
        status: u16,
        /// Vault's `errors` messages.
        errors: Vec<String>,
    },

    /// Vault's answer did not have the expected shape.
    #[error("unexpected answer from Vault to {method} {path}: {message}")]
    Decode {
        /// HTTP method of the request.
        method: String,
        /// Vault path of the request.
        path: String,
        /// What was wrong with it (never the body itself).
        message: String,
    },

    /// Logging in failed.
    #[error("login with the {method} auth method at auth/{mount} failed: {source}")]
    Login {
        /// Auth method type (`kubernetes`, `approle`).
        method: String,
        /// Mount path of the auth method.
        mount: String,
        /// Why.
        #[source]
        source: Box<VaultError>,
    },

    /// A KV operation that cannot be done on this mount or secret.
    #[error("{path}: {message}")]
    Kv {
        /// The Vault path as the caller gave it.
        path: String,
        /// What is wrong.
        message: String,
    },

    /// A path that is not a valid Vault path.
    #[error("invalid Vault path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it is invalid.
        reason: String,
    },

    /// A local file could not be read or written.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// What was being done (`reading`, `writing`).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Applying a VaultConfig plan failed part way.
    #[error("applying {item} failed after {done} change(s) were made: {source}")]
    Apply {
        /// The plan item, e.g. `role auth/kubernetes/role/api`.
        item: String,
        /// Changes made before it.
        done: usize,
        /// Why.
        #[source]
        source: Box<VaultError>,
    },

    /// A VaultConfig plan holds items that cannot be applied; nothing was changed.
    #[error("the plan cannot be applied, nothing was changed:{}", .items.iter().map(|i| format!("\n  {i}")).collect::<String>())]
    Blocked {
        /// The blocked items and why.
        items: Vec<String>,
    },

    /// An HCL policy that does not parse.
    #[error(transparent)]
    Policy(#[from] PolicyError),

    /// A VaultConfig document that is not valid.
    #[error(transparent)]
    Document(#[from] DocumentError),
}

impl VaultError {
    /// The HTTP status Vault answered with, for [`VaultError::Api`].
    pub fn status(&self) -> Option<u16> {
        match self {
            VaultError::Api { status, .. } => Some(*status),
            VaultError::Login { source, .. } => source.status(),
            _ => None,
        }
    }

    /// True for a 404 answer.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// True for a 403 answer.
    pub fn is_permission_denied(&self) -> bool {
        self.status() == Some(403)
    }

    /// True when Vault is sealed.
    pub fn is_sealed(&self) -> bool {
        match self {
            VaultError::Sealed { .. } => true,
            VaultError::Login { source, .. } => source.is_sealed(),
            _ => false,
        }
    }

    /// True when Vault could not be reached.
    pub fn is_unreachable(&self) -> bool {
        match self {
            VaultError::Unreachable { .. } => true,
            VaultError::Login { source, .. } => source.is_unreachable(),
            _ => false,
        }
    }

    /// Vault's own `errors` messages, for [`VaultError::Api`].
    pub fn vault_errors(&self) -> &[String] {
        match self {
            VaultError::Api { errors, .. } => errors,
            VaultError::Login { source, .. } => source.vault_errors(),
            _ => &[],
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| VaultError::Io {
            action,
            path,
            source,
        }
    }
}

/// An HCL (or JSON) Vault policy that cannot be understood.
///
/// ```
/// use flotilla_vault::Policy;
///
/// let err = Policy::parse("broken", "path \"a\" {").unwrap_err();
/// assert!(err.to_string().starts_with("policy `broken`:"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy `{name}`: {message}")]
pub struct PolicyError {
    /// Name of the policy.
    pub name: String,
    /// What is wrong, with the line when the parser knows it.
    pub message: String,
}

/// A VaultConfig document that cannot be used.
///
/// ```
/// use flotilla_vault::VaultConfig;
///
/// let err = VaultConfig::from_yaml("kind: Deployment\n", "x.yaml").unwrap_err();
/// assert!(err.to_string().starts_with("x.yaml:"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", field_suffix(.field))]
pub struct DocumentError {
    /// The file (and line, when known) the document came from.
    pub file: String,
    /// The field, as a path such as `spec.authMethods[0].roles[1]`, when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

fn field_suffix(field: &Option<String>) -> String {
    match field {
        Some(field) if !field.is_empty() => format!(": `{field}`"),
        _ => String::new(),
    }
}

/// Where a placeholder failed to resolve: never holds a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceholderFailure {
    /// The resource, as `apps/v1/Deployment ns/name` (or its kind and name when the key is incomplete).
    pub resource: String,
    /// Where the manifest came from, when known.
    pub location: Option<String>,
    /// JSON path of the field holding the placeholder, e.g. `stringData.DB_URL`.
    pub field: String,
    /// The Vault path of the placeholder, when it parsed.
    pub path: Option<String>,
    /// The key of the placeholder, when it parsed.
    pub key: Option<String>,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for PlaceholderFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.resource)?;
        if let Some(location) = &self.location {
            write!(f, " ({location})")?;
        }
        write!(f, ": field `{}`", self.field)?;
        match (&self.path, &self.key) {
            (Some(path), Some(key)) => write!(f, ": `{path}#{key}`")?,
            (Some(path), None) => write!(f, ": `{path}`")?,
            _ => {}
        }
        write!(f, ": {}", self.reason)
    }
}

/// Placeholders that could not be resolved. Nothing was substituted:
/// manifests are left as they were.
///
/// ```
/// use flotilla_vault::{PlaceholderFailure, ResolveError};
///
/// let err = ResolveError { failures: vec![PlaceholderFailure {
///     resource: "v1/Secret app/api-env".into(),
///     location: None,
///     field: "stringData.DB_URL".into(),
///     path: Some("secret/data/api/env".into()),
///     key: Some("DB_URL".into()),
///     reason: "no key `DB_URL` in the secret".into(),
/// }]};
/// assert!(err.to_string().contains("secret/data/api/env#DB_URL"));
/// ```
#[derive(Debug, thiserror::Error)]
pub struct ResolveError {
    /// Every failure, in manifest order.
    pub failures: Vec<PlaceholderFailure>,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.failures.len();
        write!(
            f,
            "{n} secret placeholder{} could not be resolved",
            if n == 1 { "" } else { "s" }
        )?;
        for failure in &self.failures {
            write!(f, "\n  {failure}")?;
        }
        Ok(())
    }
}
