//! The KV secrets engine, versions 1 and 2, with paths resolved as the
//! `vault kv` commands resolve them: `secret/api/env` on a KV v2 mount reads
//! `secret/data/api/env`.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::client::{as_u64, data_of, Request, VaultClient};
use crate::error::VaultError;
use crate::secret::SecretData;

/// The version of a KV secrets engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KvVersion {
    /// KV version 1: unversioned.
    V1,
    /// KV version 2: versioned, with `data/` and `metadata/` paths.
    V2,
}

/// A mount as `sys/internal/ui/mounts/<path>` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    /// Mount path with a trailing slash, e.g. `secret/`.
    pub path: String,
    /// Engine type, e.g. `kv`.
    pub engine: String,
    /// For KV mounts, the version.
    pub kv_version: Option<KvVersion>,
    /// The mount's options.
    pub options: BTreeMap<String, String>,
}

impl MountInfo {
    /// Mount information from the `data` of `sys/internal/ui/mounts/<path>`
    /// or an entry of `sys/mounts`.
    pub fn from_data(path: &str, data: &Map<String, Value>) -> Self {
        let engine = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let options: BTreeMap<String, String> = data
            .get("options")
            .and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| match v {
                        Value::String(s) => Some((k.clone(), s.clone())),
                        Value::Number(n) => Some((k.clone(), n.to_string())),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let kv_version = kv_version_of(&engine, options.get("version").map(String::as_str));
        let path = data
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or(path)
            .to_string();
        MountInfo {
            path: with_slash(&path),
            engine,
            kv_version,
            options,
        }
    }
}

/// The KV version of an engine type and `version` option (`kv-v2` counts as 2).
pub(crate) fn kv_version_of(engine: &str, version: Option<&str>) -> Option<KvVersion> {
    match engine {
        "kv-v2" => Some(KvVersion::V2),
        "kv" | "generic" => match version.map(str::trim) {
            Some("2") => Some(KvVersion::V2),
            _ => Some(KvVersion::V1),
        },
        _ => None,
    }
}

pub(crate) fn with_slash(path: &str) -> String {
    let p = path.trim_matches('/');
    format!("{p}/")
}

/// A secret's location inside its KV mount, and the API paths to reach it.
///
/// ```
/// use flotilla_vault::{KvPath, KvVersion};
///
/// let p = KvPath::new("secret/", "api/env", KvVersion::V2);
/// assert_eq!(p.data_path(), "secret/data/api/env");
/// assert_eq!(p.metadata_path(), "secret/metadata/api/env");
/// let v1 = KvPath::new("kv/", "api/env", KvVersion::V1);
/// assert_eq!(v1.data_path(), "kv/api/env");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KvPath {
    /// The mount, with a trailing slash.
    pub mount: String,
    /// The secret's path inside the mount.
    pub secret: String,
    /// The mount's KV version.
    pub version: KvVersion,
}

impl KvPath {
    /// A path from its parts.
    pub fn new(mount: &str, secret: &str, version: KvVersion) -> Self {
        KvPath {
            mount: with_slash(mount),
            secret: secret.trim_matches('/').to_string(),
            version,
        }
    }

    fn join(&self, middle: &str) -> String {
        let mut out = self.mount.clone();
        out.push_str(middle);
        out.push_str(&self.secret);
        out
    }

    /// Where the secret is read and written (`<mount>data/<secret>` on KV v2).
    pub fn data_path(&self) -> String {
        match self.version {
            KvVersion::V1 => self.join(""),
            KvVersion::V2 => self.join("data/"),
        }
    }

    /// Where its metadata is (`<mount>metadata/<secret>`, KV v2 only; the
    /// data path on KV v1). Also where KV v2 lists keys.
    pub fn metadata_path(&self) -> String {
        match self.version {
            KvVersion::V1 => self.join(""),
            KvVersion::V2 => self.join("metadata/"),
        }
    }

    fn v2_path(&self, middle: &str) -> String {
        self.join(middle)
    }

    /// The logical path, as `vault kv` takes it: `secret/api/env`.
    pub fn logical(&self) -> String {
        self.join("")
    }
}

/// Metadata of one version of a KV v2 secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvVersionMeta {
    /// The version number.
    pub version: u64,
    /// When it was written (RFC 3339).
    pub created_time: String,
    /// When it was deleted (empty when it is not).
    pub deletion_time: String,
    /// Whether it was destroyed.
    pub destroyed: bool,
}

impl KvVersionMeta {
    fn from_value(v: &Value) -> Self {
        KvVersionMeta {
            version: as_u64(v.get("version")).unwrap_or(0),
            created_time: v
                .get("created_time")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            deletion_time: v
                .get("deletion_time")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            destroyed: v.get("destroyed").and_then(Value::as_bool).unwrap_or(false),
        }
    }

    /// True when this version was deleted or destroyed.
    pub fn is_gone(&self) -> bool {
        self.destroyed || !self.deletion_time.is_empty()
    }
}

/// A secret read from KV.
#[derive(Clone, Debug)]
pub struct KvSecret {
    /// Its key/value pairs (empty when the version was deleted or destroyed).
    pub data: SecretData,
    /// KV v2: which version this is.
    pub metadata: Option<KvVersionMeta>,
}

/// A KV v2 secret's metadata: all its versions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvMetadata {
    /// The newest version.
    pub current_version: u64,
    /// The oldest version still kept.
    pub oldest_version: u64,
    /// How many versions are kept (0: the mount's default).
    pub max_versions: u64,
    /// Whether writes must carry `cas`.
    pub cas_required: bool,
    /// Custom metadata.
    pub custom_metadata: BTreeMap<String, String>,
    /// Every kept version.
    pub versions: BTreeMap<u64, KvVersionMeta>,
}

impl VaultClient {
    /// The mount that holds `path`, from `sys/internal/ui/mounts/<path>`
    /// (cached per mount). `None` when no mount holds it (or the token may
    /// not see it).
    pub async fn mount_for(&self, path: &str) -> Result<Option<MountInfo>, VaultError> {
        let trimmed = path.trim_matches('/');
        if trimmed.is_empty() {
            return Err(VaultError::InvalidPath {
                path: path.into(),
                reason: "it is empty".into(),
            });
        }
        if let Some(info) = self.cached_mount(trimmed) {
            return Ok(Some(info));
        }
        // One lookup at a time: concurrent readers of the same mount wait
        // for the first answer instead of all asking.
        let _guard = self.inner.mount_lookup.lock().await;
        if let Some(info) = self.cached_mount(trimmed) {
            return Ok(Some(info));
        }
        let probe = format!("sys/internal/ui/mounts/{trimmed}");
        let answer = match self.send(Request::get(&probe).allow_404()).await {
            Ok(answer) => answer,
            // Vault answers 403 "preflight capability check returned 403" when no mount matches.
            Err(e) if e.is_permission_denied() => return Ok(None),
            Err(e) => return Err(e),
        };
        if answer.status == 404 {
            return Ok(None);
        }
        let data = data_of(answer.body.as_ref().unwrap_or(&Value::Null), "GET", &probe)?;
        if data.get("path").and_then(Value::as_str).is_none() {
            return Ok(None);
        }
        let info = MountInfo::from_data(trimmed, &data);
        if let Ok(mut cache) = self.inner.mounts.lock() {
            cache.insert(info.path.clone(), info.clone());
        }
        Ok(Some(info))
    }

    fn cached_mount(&self, trimmed: &str) -> Option<MountInfo> {
        let cache = self.inner.mounts.lock().ok()?;
        let probe = format!("{trimmed}/");
        cache
            .iter()
            .filter(|(mount, _)| probe.starts_with(mount.as_str()))
            .max_by_key(|(mount, _)| mount.len())
            .map(|(_, info)| info.clone())
    }

    /// Forgets the cached mount versions (after mounts changed).
    pub fn clear_mount_cache(&self) {
        if let Ok(mut cache) = self.inner.mounts.lock() {
            cache.clear();
        }
    }

    /// Resolves a logical KV path (`secret/api/env`, as `vault kv` takes
    /// it) to its mount and version.
    pub async fn kv_path(&self, path: &str) -> Result<KvPath, VaultError> {
        let info = self.mount_for(path).await?.ok_or_else(|| VaultError::Kv {
            path: path.into(),
            message: "no secrets engine is mounted at a prefix of this path (or the token may not see it)"
                .into(),
        })?;
        let version = info.kv_version.ok_or_else(|| VaultError::Kv {
            path: path.into(),
            message: format!("mount {} is a {} engine, not KV", info.path, info.engine),
        })?;
        let trimmed = path.trim_matches('/');
        let secret = strip_mount(trimmed, &info.path);
        Ok(KvPath::new(&info.path, secret, version))
    }

    /// Like [`VaultClient::kv_path`], also accepting the API form of a KV v2
    /// path (`secret/data/api/env`), as secret placeholders use it.
    pub async fn kv_path_api(&self, path: &str) -> Result<KvPath, VaultError> {
        let mut kv = self.kv_path(path).await?;
        if kv.version == KvVersion::V2 {
            if let Some(rest) = kv.secret.strip_prefix("data/") {
                kv.secret = rest.to_string();
            }
        }
        Ok(kv)
    }

    fn require_v2(kv: &KvPath, what: &str) -> Result<(), VaultError> {
        if kv.version == KvVersion::V2 {
            Ok(())
        } else {
            Err(VaultError::Kv {
                path: kv.logical(),
                message: format!(
                    "{what} needs a KV version 2 mount; {} is version 1",
                    kv.mount
                ),
            })
        }
    }

    /// Reads the newest version of a secret; `None` when it does not exist.
    pub async fn kv_read(&self, path: &str) -> Result<Option<KvSecret>, VaultError> {
        let kv = self.kv_path(path).await?;
        self.kv_read_at(&kv, None).await
    }

    /// Reads one version of a KV v2 secret.
    pub async fn kv_read_version(
        &self,
        path: &str,
        version: u64,
    ) -> Result<Option<KvSecret>, VaultError> {
        let kv = self.kv_path(path).await?;
        Self::require_v2(&kv, "reading a version")?;
        self.kv_read_at(&kv, Some(version)).await
    }

    /// Reads a resolved path, at a version (KV v2) or the newest.
    pub async fn kv_read_at(
        &self,
        kv: &KvPath,
        version: Option<u64>,
    ) -> Result<Option<KvSecret>, VaultError> {
        let api = kv.data_path();
        let mut request = Request::get(&api).allow_404();
        if let Some(v) = version {
            Self::require_v2(kv, "reading a version")?;
            request = request.query("version", v.to_string());
        }
        let answer = self.send(request).await?;
        let body = answer.body.unwrap_or(Value::Null);
        match kv.version {
            KvVersion::V1 => {
                if answer.status == 404 {
                    return Ok(None);
                }
                Ok(Some(KvSecret {
                    data: SecretData::new(data_of(&body, "GET", &api)?),
                    metadata: None,
                }))
            }
            KvVersion::V2 => {
                let metadata = body.pointer("/data/metadata").filter(|m| m.is_object());
                if answer.status == 404 && metadata.is_none() {
                    return Ok(None);
                }
                let data = match body.pointer("/data/data") {
                    Some(Value::Object(map)) => map.clone(),
                    _ => Map::new(),
                };
                Ok(Some(KvSecret {
                    data: SecretData::new(data),
                    metadata: metadata.map(KvVersionMeta::from_value),
                }))
            }
        }
    }

    /// Writes a secret (a new version on KV v2). Returns the new version's metadata on KV v2.
    pub async fn kv_write(
        &self,
        path: &str,
        data: &SecretData,
    ) -> Result<Option<KvVersionMeta>, VaultError> {
        let kv = self.kv_path(path).await?;
        self.kv_write_at(&kv, data, None).await
    }

    /// Writes a KV v2 secret only if its current version is `cas` (0: only if it does not exist).
    pub async fn kv_write_cas(
        &self,
        path: &str,
        data: &SecretData,
        cas: u64,
    ) -> Result<Option<KvVersionMeta>, VaultError> {
        let kv = self.kv_path(path).await?;
        Self::require_v2(&kv, "check-and-set")?;
        self.kv_write_at(&kv, data, Some(cas)).await
    }

    async fn kv_write_at(
        &self,
        kv: &KvPath,
        data: &SecretData,
        cas: Option<u64>,
    ) -> Result<Option<KvVersionMeta>, VaultError> {
        let api = kv.data_path();
        let body = match kv.version {
            KvVersion::V1 => Value::Object(data.expose().clone()),
            KvVersion::V2 => {
                let mut body = json!({"data": Value::Object(data.expose().clone())});
                if let Some(cas) = cas {
                    body["options"] = json!({"cas": cas});
                }
                body
            }
        };
        let answer = self.send(Request::post(&api, body)).await?;
        Ok(match kv.version {
            KvVersion::V1 => None,
            KvVersion::V2 => answer
                .body
                .as_ref()
                .and_then(|b| b.get("data"))
                .map(KvVersionMeta::from_value),
        })
    }

    /// Merges `data` into a secret: a JSON merge patch on KV v2 (keys set to
    /// `null` are removed), read-modify-write on KV v1.
    pub async fn kv_patch(
        &self,
        path: &str,
        data: &SecretData,
    ) -> Result<Option<KvVersionMeta>, VaultError> {
        let kv = self.kv_path(path).await?;
        match kv.version {
            KvVersion::V2 => {
                let api = kv.data_path();
                let mut request = Request::new(Method::PATCH, &api)
                    .body(json!({"data": Value::Object(data.expose().clone())}));
                request.content_type = Some("application/merge-patch+json");
                let answer = self.send(request).await?;
                Ok(answer
                    .body
                    .as_ref()
                    .and_then(|b| b.get("data"))
                    .map(KvVersionMeta::from_value))
            }
            KvVersion::V1 => {
                let current = self
                    .kv_read_at(&kv, None)
                    .await?
                    .ok_or_else(|| VaultError::Kv {
                        path: path.into(),
                        message: "cannot patch a secret that does not exist".into(),
                    })?;
                let mut merged = current.data.into_exposed();
                for (k, v) in data.expose() {
                    if v.is_null() {
                        merged.remove(k);
                    } else {
                        merged.insert(k.clone(), v.clone());
                    }
                }
                self.kv_write_at(&kv, &SecretData::new(merged), None).await
            }
        }
    }

    /// Lists the keys under a KV path (folders end with `/`).
    pub async fn kv_list(&self, path: &str) -> Result<Vec<String>, VaultError> {
        let kv = self.kv_path(path).await?;
        self.list(&kv.metadata_path()).await
    }

    /// A KV v2 secret's metadata; `None` when it does not exist.
    pub async fn kv_metadata(&self, path: &str) -> Result<Option<KvMetadata>, VaultError> {
        let kv = self.kv_path(path).await?;
        Self::require_v2(&kv, "metadata")?;
        let api = kv.metadata_path();
        let Some(data) = self.read_data(&api).await? else {
            return Ok(None);
        };
        let versions = data
            .get("versions")
            .and_then(Value::as_object)
            .map(|vs| {
                vs.iter()
                    .filter_map(|(k, v)| {
                        let n: u64 = k.parse().ok()?;
                        let mut meta = KvVersionMeta::from_value(v);
                        meta.version = n;
                        Some((n, meta))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(KvMetadata {
            current_version: as_u64(data.get("current_version")).unwrap_or(0),
            oldest_version: as_u64(data.get("oldest_version")).unwrap_or(0),
            max_versions: as_u64(data.get("max_versions")).unwrap_or(0),
            cas_required: data
                .get("cas_required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            custom_metadata: data
                .get("custom_metadata")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default(),
            versions,
        }))
    }

    /// Deletes a secret: on KV v2 soft-deletes the newest version (it can be
    /// undeleted); on KV v1 removes it.
    pub async fn kv_delete(&self, path: &str) -> Result<(), VaultError> {
        let kv = self.kv_path(path).await?;
        self.delete(&kv.data_path()).await
    }

    /// Soft-deletes versions of a KV v2 secret.
    pub async fn kv_delete_versions(&self, path: &str, versions: &[u64]) -> Result<(), VaultError> {
        self.kv_versions_op(path, "delete/", versions, "deleting versions")
            .await
    }

    /// Restores soft-deleted versions of a KV v2 secret.
    pub async fn kv_undelete(&self, path: &str, versions: &[u64]) -> Result<(), VaultError> {
        self.kv_versions_op(path, "undelete/", versions, "undeleting")
            .await
    }

    /// Destroys versions of a KV v2 secret for good.
    pub async fn kv_destroy(&self, path: &str, versions: &[u64]) -> Result<(), VaultError> {
        self.kv_versions_op(path, "destroy/", versions, "destroying versions")
            .await
    }

    /// Removes a KV v2 secret with all its versions and metadata.
    pub async fn kv_delete_metadata(&self, path: &str) -> Result<(), VaultError> {
        let kv = self.kv_path(path).await?;
        Self::require_v2(&kv, "deleting metadata")?;
        self.delete(&kv.metadata_path()).await
    }

    async fn kv_versions_op(
        &self,
        path: &str,
        middle: &str,
        versions: &[u64],
        what: &str,
    ) -> Result<(), VaultError> {
        let kv = self.kv_path(path).await?;
        Self::require_v2(&kv, what)?;
        if versions.is_empty() {
            return Err(VaultError::Kv {
                path: path.into(),
                message: format!("{what}: no versions given"),
            });
        }
        self.write(&kv.v2_path(middle), json!({"versions": versions}))
            .await
            .map(|_| ())
    }
}

/// The part of `path` after `mount` (`secret/` from `secret/api/env` gives `api/env`).
fn strip_mount<'a>(path: &'a str, mount: &str) -> &'a str {
    let mount = mount.trim_end_matches('/');
    match path.strip_prefix(mount) {
        Some(rest) => rest.trim_start_matches('/'),
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_the_mount() {
        assert_eq!(strip_mount("secret/api/env", "secret/"), "api/env");
        assert_eq!(strip_mount("secret", "secret/"), "");
        assert_eq!(strip_mount("team/kv/a", "team/kv/"), "a");
    }

    #[test]
    fn versions_from_engine_and_options() {
        assert_eq!(kv_version_of("kv", Some("2")), Some(KvVersion::V2));
        assert_eq!(kv_version_of("kv", None), Some(KvVersion::V1));
        assert_eq!(kv_version_of("kv-v2", None), Some(KvVersion::V2));
        assert_eq!(kv_version_of("pki", None), None);
    }
}
