//! Auth methods and the token's life: login, renewal, login again before expiry.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::{as_u64, Request, VaultClient};
use crate::error::VaultError;
use crate::secret::SecretString;

/// Where a Kubernetes ServiceAccount JWT comes from.
#[derive(Clone, Debug)]
pub enum JwtSource {
    /// The token itself.
    Inline(SecretString),
    /// A file read at each login (projected tokens rotate on disk).
    File(PathBuf),
}

impl JwtSource {
    async fn read(&self) -> Result<SecretString, VaultError> {
        match self {
            JwtSource::Inline(token) => Ok(token.clone()),
            JwtSource::File(path) => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(VaultError::io("reading the ServiceAccount token", path))?;
                Ok(SecretString::new(text.trim()))
            }
        }
    }
}

/// How the client obtains its Vault token.
///
/// ```
/// use flotilla_vault::{AuthMethod, JwtSource, SecretString};
///
/// let auth = AuthMethod::Kubernetes {
///     mount: "kubernetes".into(),
///     role: "gen-algo-api-role".into(),
///     jwt: JwtSource::Inline(SecretString::new("eyJhbGci...")),
/// };
/// assert_eq!(auth.kind(), "kubernetes");
/// assert!(!format!("{auth:?}").contains("eyJ"));
/// ```
#[derive(Clone, Debug, Default)]
pub enum AuthMethod {
    /// No token: only unauthenticated endpoints (init, unseal, health) work.
    #[default]
    None,
    /// A token given as is (`VAULT_TOKEN`).
    Token(SecretString),
    /// The Kubernetes auth method: a ServiceAccount JWT and a Vault role.
    Kubernetes {
        /// Mount path of the auth method, e.g. `kubernetes`.
        mount: String,
        /// The Vault role.
        role: String,
        /// The JWT.
        jwt: JwtSource,
    },
    /// The AppRole auth method.
    AppRole {
        /// Mount path of the auth method, e.g. `approle`.
        mount: String,
        /// The role ID.
        role_id: SecretString,
        /// The secret ID, unless the role does not bind one.
        secret_id: Option<SecretString>,
    },
}

impl AuthMethod {
    /// A short name: `none`, `token`, `kubernetes`, `approle`.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::Token(_) => "token",
            AuthMethod::Kubernetes { .. } => "kubernetes",
            AuthMethod::AppRole { .. } => "approle",
        }
    }

    fn can_login(&self) -> bool {
        matches!(
            self,
            AuthMethod::Kubernetes { .. } | AuthMethod::AppRole { .. }
        )
    }
}

/// What Vault said about a token after a login or renewal (no token inside).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthInfo {
    /// The token's accessor.
    pub accessor: String,
    /// All policies attached to the token.
    pub policies: Vec<String>,
    /// Lease duration in seconds (0: does not expire).
    pub lease_duration: u64,
    /// Whether the token can be renewed.
    pub renewable: bool,
    /// Auth metadata (e.g. `service_account_name`, `service_account_namespace`).
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// What `auth/token/lookup-self` says about the current token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenInfo {
    /// The token's accessor.
    pub accessor: String,
    /// Policies of the token.
    pub policies: Vec<String>,
    /// Seconds left (0: does not expire).
    pub ttl: u64,
    /// Whether it can be renewed.
    pub renewable: bool,
    /// Display name.
    pub display_name: String,
}

/// The client's current token and when it is due for renewal.
#[derive(Default)]
pub(crate) struct TokenState {
    token: Option<SecretString>,
    info: Option<AuthInfo>,
    obtained: Option<Instant>,
    /// Lease at login (renewals may shorten it as max TTL nears).
    login_ttl: u64,
    /// Lease at the last login or renewal.
    ttl: u64,
    checked: bool,
}

impl TokenState {
    /// True when two thirds of the lease have passed.
    fn due(&self) -> bool {
        match self.obtained {
            Some(at) if self.ttl > 0 => {
                at.elapsed() >= Duration::from_millis(self.ttl * 1000 * 2 / 3)
            }
            _ => false,
        }
    }

    fn set(&mut self, token: SecretString, info: AuthInfo, login: bool) {
        if login {
            self.login_ttl = info.lease_duration;
        }
        self.ttl = info.lease_duration;
        self.obtained = Some(Instant::now());
        self.token = Some(token);
        self.info = Some(info);
        self.checked = true;
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The token and [`AuthInfo`] of an answer's `auth` field.
fn parse_auth(
    body: Option<&Value>,
    method: &str,
    path: &str,
) -> Result<(SecretString, AuthInfo), VaultError> {
    let decode = |message: &str| VaultError::Decode {
        method: method.into(),
        path: path.into(),
        message: message.into(),
    };
    let auth = body
        .and_then(|b| b.get("auth"))
        .filter(|a| a.is_object())
        .ok_or_else(|| decode("no `auth` in the answer"))?;
    let token = auth
        .get("client_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| decode("no `auth.client_token` in the answer"))?;
    let metadata = auth
        .get("metadata")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok((
        SecretString::new(token),
        AuthInfo {
            accessor: auth
                .get("accessor")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            policies: strings(auth.get("policies")),
            lease_duration: as_u64(auth.get("lease_duration")).unwrap_or(0),
            renewable: auth
                .get("renewable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            metadata,
        },
    ))
}

impl VaultClient {
    /// The token to send now: logs in first, or renews (else logs in again)
    /// when two thirds of its lease have passed.
    pub(crate) async fn token(&self) -> Result<Option<SecretString>, VaultError> {
        let mut state = self.inner.token.lock().await;
        match &self.inner.auth {
            AuthMethod::None => Ok(None),
            AuthMethod::Token(token) => {
                if state.token.is_none() {
                    state.token = Some(token.clone());
                }
                if self.inner.renew_token {
                    if !state.checked {
                        state.checked = true;
                        match self.lookup_with(token).await {
                            Ok(info) => {
                                state.ttl = info.ttl;
                                state.login_ttl = info.ttl;
                                state.obtained = Some(Instant::now());
                                state.info = Some(AuthInfo {
                                    accessor: info.accessor,
                                    policies: info.policies,
                                    lease_duration: info.ttl,
                                    renewable: info.renewable,
                                    metadata: Default::default(),
                                });
                            }
                            // Without lookup-self the token is used as is, never renewed.
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot look up the Vault token; it will not be renewed")
                            }
                        }
                    }
                    let renewable = state.info.as_ref().is_some_and(|i| i.renewable);
                    if renewable && state.due() {
                        let (new_token, info) = self.renew_with(token, None).await?;
                        state.set(new_token, info, false);
                    }
                }
                Ok(state.token.clone())
            }
            AuthMethod::Kubernetes { .. } | AuthMethod::AppRole { .. } => {
                let current = state.token.clone();
                match current {
                    None => {
                        let (token, info) = self.login_with_method().await?;
                        state.set(token, info, true);
                    }
                    Some(token) if state.due() => {
                        let renewable = state.info.as_ref().is_some_and(|i| i.renewable);
                        let renewed = if renewable {
                            match self.renew_with(&token, Some(state.login_ttl)).await {
                                // A renewal capped by the max TTL leaves too little: log in again.
                                Ok((t, info)) if info.lease_duration * 3 >= state.login_ttl => {
                                    Some((t, info))
                                }
                                Ok(_) => None,
                                Err(e) => {
                                    tracing::info!(error = %e, "token renewal failed; logging in again");
                                    None
                                }
                            }
                        } else {
                            None
                        };
                        match renewed {
                            Some((t, info)) => state.set(t, info, false),
                            None => {
                                let (t, info) = self.login_with_method().await?;
                                state.set(t, info, true);
                            }
                        }
                    }
                    Some(_) => {}
                }
                Ok(state.token.clone())
            }
        }
    }

    async fn login_with_method(&self) -> Result<(SecretString, AuthInfo), VaultError> {
        let (mount, body, kind) = match &self.inner.auth {
            AuthMethod::Kubernetes { mount, role, jwt } => {
                let jwt = jwt.read().await?;
                (
                    mount,
                    json!({"role": role, "jwt": jwt.expose()}),
                    "kubernetes",
                )
            }
            AuthMethod::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                let mut body = json!({"role_id": role_id.expose()});
                if let Some(secret_id) = secret_id {
                    body["secret_id"] = Value::String(secret_id.expose().to_string());
                }
                (mount, body, "approle")
            }
            _ => {
                return Err(VaultError::Config(format!(
                    "the {} auth method cannot log in",
                    self.inner.auth.kind()
                )))
            }
        };
        let mount = mount.trim_matches('/');
        let path = format!("auth/{mount}/login");
        let result = async {
            let answer = self
                .execute(&Request::post(&path, body).unauthenticated(), None)
                .await?;
            parse_auth(answer.body.as_ref(), "POST", &path)
        }
        .await;
        match result {
            Ok((token, info)) => {
                tracing::info!(method = kind, mount, accessor = %info.accessor, ttl = info.lease_duration, "logged in to Vault");
                Ok((token, info))
            }
            Err(source) => Err(VaultError::Login {
                method: kind.into(),
                mount: mount.into(),
                source: Box::new(source),
            }),
        }
    }

    /// Logs in with the configured auth method now (also when the current
    /// token is still valid) and returns what Vault said about the new token.
    ///
    /// Fails for [`AuthMethod::None`] and [`AuthMethod::Token`].
    pub async fn login(&self) -> Result<AuthInfo, VaultError> {
        if !self.inner.auth.can_login() {
            return Err(VaultError::Config(format!(
                "the {} auth method cannot log in",
                self.inner.auth.kind()
            )));
        }
        let mut state = self.inner.token.lock().await;
        let (token, info) = self.login_with_method().await?;
        state.set(token, info.clone(), true);
        Ok(info)
    }

    /// What Vault said about the current token at the last login, renewal
    /// or lookup (`None` before the first request, or for a plain token
    /// that is not renewed).
    pub async fn auth_info(&self) -> Option<AuthInfo> {
        self.inner.token.lock().await.info.clone()
    }

    async fn lookup_with(&self, token: &SecretString) -> Result<TokenInfo, VaultError> {
        let path = "auth/token/lookup-self";
        let answer = self.execute(&Request::get(path), Some(token)).await?;
        let data = answer
            .body
            .as_ref()
            .and_then(|b| b.get("data"))
            .cloned()
            .unwrap_or(Value::Null);
        Ok(TokenInfo {
            accessor: data
                .get("accessor")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            policies: strings(data.get("policies")),
            ttl: as_u64(data.get("ttl")).unwrap_or(0),
            renewable: data
                .get("renewable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            display_name: data
                .get("display_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
        })
    }

    async fn renew_with(
        &self,
        token: &SecretString,
        increment: Option<u64>,
    ) -> Result<(SecretString, AuthInfo), VaultError> {
        let path = "auth/token/renew-self";
        let body = match increment {
            Some(secs) if secs > 0 => json!({"increment": format!("{secs}s")}),
            _ => json!({}),
        };
        let answer = self
            .execute(&Request::post(path, body), Some(token))
            .await?;
        let (new_token, info) = parse_auth(answer.body.as_ref(), "POST", path)?;
        tracing::debug!(accessor = %info.accessor, ttl = info.lease_duration, "renewed the Vault token");
        Ok((new_token, info))
    }

    /// `auth/token/lookup-self` for the current token.
    pub async fn lookup_self(&self) -> Result<TokenInfo, VaultError> {
        let token = self
            .token()
            .await?
            .ok_or_else(|| VaultError::Config("no token configured".into()))?;
        self.lookup_with(&token).await
    }

    /// `auth/token/renew-self` for the current token, now.
    pub async fn renew_self(&self) -> Result<AuthInfo, VaultError> {
        let mut state = self.inner.token.lock().await;
        let token = match state.token.clone() {
            Some(t) => t,
            None => {
                drop(state);
                self.token()
                    .await?
                    .ok_or_else(|| VaultError::Config("no token configured".into()))?;
                state = self.inner.token.lock().await;
                state
                    .token
                    .clone()
                    .ok_or_else(|| VaultError::Config("no token configured".into()))?
            }
        };
        let (new_token, info) = self.renew_with(&token, None).await?;
        state.set(new_token, info.clone(), false);
        Ok(info)
    }
}
