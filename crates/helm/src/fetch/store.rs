//! The on-disk cache, under a directory the caller chooses:
//!
//! ```text
//! blobs/sha256/<hex>.tgz     chart archives, by the sha256 of their bytes
//! refs/<hash>.json           (repository, chart, version) -> digest
//! index/<hash>.yaml          a repository's index.yaml (or an OCI tag list),
//!                            its modification time is when it was fetched
//! tmp/                       files being written; renamed into place
//! ```
//!
//! Every file is written to `tmp/` and renamed, so a reader never sees a
//! partial file and concurrent writers (tasks or processes) of one
//! content-addressed file are harmless.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::FetchError;

/// A resolution remembered: which archive a (repository, chart, version) is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CachedRef {
    pub name: String,
    pub version: String,
    pub digest: String,
    pub url: String,
}

#[derive(Debug)]
pub(crate) struct Store {
    root: PathBuf,
    counter: AtomicU64,
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl Store {
    pub(crate) fn open(root: &Path) -> Result<Self, FetchError> {
        for sub in ["blobs/sha256", "refs", "index", "tmp"] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d)
                .map_err(|e| FetchError::io("creating cache directory", &d, e))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            counter: AtomicU64::new(0),
        })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn blob_path(&self, hex: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(format!("{hex}.tgz"))
    }

    /// The archive with this digest, if cached.
    pub(crate) async fn blob(&self, hex: &str) -> Option<PathBuf> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let p = self.blob_path(hex);
        match tokio::fs::metadata(&p).await {
            Ok(m) if m.is_file() => Some(p),
            _ => None,
        }
    }

    /// Store an archive whose digest has been checked (or computed).
    pub(crate) async fn put_blob(&self, hex: &str, data: &[u8]) -> Result<PathBuf, FetchError> {
        let p = self.blob_path(hex);
        if let Some(existing) = self.blob(hex).await {
            return Ok(existing);
        }
        self.write_atomic(&p, data).await?;
        Ok(p)
    }

    fn keyed(&self, dir: &str, parts: &[&str], ext: &str) -> PathBuf {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p.as_bytes());
            h.update([0u8]);
        }
        let name = hex::encode(&h.finalize()[..16]);
        self.root.join(dir).join(format!("{name}.{ext}"))
    }

    pub(crate) async fn get_ref(
        &self,
        repo: &str,
        chart: &str,
        version: &str,
    ) -> Option<CachedRef> {
        let p = self.keyed("refs", &[repo, chart, version], "json");
        let data = tokio::fs::read(&p).await.ok()?;
        serde_json::from_slice(&data).ok()
    }

    pub(crate) async fn put_ref(
        &self,
        repo: &str,
        chart: &str,
        version: &str,
        r: &CachedRef,
    ) -> Result<(), FetchError> {
        let p = self.keyed("refs", &[repo, chart, version], "json");
        let data = serde_json::to_vec(r).map_err(|e| FetchError::Io {
            op: "encoding cache entry",
            path: p.display().to_string(),
            cause: e.to_string(),
        })?;
        self.write_atomic(&p, &data).await
    }

    /// A cached index (or tag list) and when it was fetched.
    pub(crate) async fn get_index(&self, key: &str) -> Option<(SystemTime, Vec<u8>)> {
        let p = self.keyed("index", &[key], "yaml");
        let meta = tokio::fs::metadata(&p).await.ok()?;
        let when = meta.modified().ok()?;
        let data = tokio::fs::read(&p).await.ok()?;
        Some((when, data))
    }

    pub(crate) async fn put_index(&self, key: &str, data: &[u8]) -> Result<(), FetchError> {
        let p = self.keyed("index", &[key], "yaml");
        self.write_atomic(&p, data).await
    }

    async fn write_atomic(&self, dest: &Path, data: &[u8]) -> Result<(), FetchError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}-{n}-{nanos}", std::process::id()));
        tokio::fs::write(&tmp, data)
            .await
            .map_err(|e| FetchError::io("writing cache file", &tmp, e))?;
        if let Err(e) = tokio::fs::rename(&tmp, dest).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(FetchError::io("renaming cache file into", dest, e));
        }
        Ok(())
    }
}
