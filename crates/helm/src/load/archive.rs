//! Chart archives: gzip + tar, read as Helm's `LoadArchiveFiles` reads
//! them (top directory stripped, `\` paths normalised, absolute paths and
//! parent references refused, 5 MiB per file, 100 MiB per archive), and
//! more strictly than Helm where Helm is lax: links and device entries are
//! refused, entries are counted, and the decompressed stream is capped so
//! a decompression bomb stops early.

use std::io::Read;

use super::{Budget, LoadError, LoadLimits};
use crate::chart::ChartFile;

/// A reader that fails once more than `left` bytes were read.
struct Capped<R> {
    inner: R,
    left: u64,
    hit: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            self.hit = true;
            return Err(std::io::Error::other("decompressed size limit"));
        }
        let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Reads the files of a chart archive, paths relative to the chart root.
pub fn archive_files(
    data: &[u8],
    origin: &str,
    limits: &LoadLimits,
) -> Result<Vec<ChartFile>, LoadError> {
    read_archive(data, origin, &mut Budget::new(limits))
}

fn clean(path: &str) -> String {
    // Go's path.Clean for a relative path.
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if matches!(out.last(), Some(l) if *l != "..") {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

pub(crate) fn read_archive(
    data: &[u8],
    origin: &str,
    budget: &mut Budget,
) -> Result<Vec<ChartFile>, LoadError> {
    let limits = budget.limits;
    let max_archive = limits.max_archive_bytes;
    // Headers, padding and extension records come on top of file data.
    let stream_cap = max_archive
        .saturating_add((limits.max_files as u64 + 2).saturating_mul(2048))
        .saturating_add(1 << 20);
    let gz = flate2::read::GzDecoder::new(data);
    let mut capped = Capped {
        inner: gz,
        left: stream_cap,
        hit: false,
    };
    let bomb = || {
        LoadError::new(
            origin,
            format!("decompressed chart is larger than the maximum file size {max_archive}"),
        )
    };
    let mut files = Vec::new();
    let mut remaining = max_archive;
    let mut entries_seen = 0usize;
    {
        let mut ar = tar::Archive::new(&mut capped);
        let entries = ar.entries().map_err(|e| {
            LoadError::new(
                origin,
                format!("file '{origin}' does not appear to be a valid chart file (details: {e})"),
            )
        })?;
        for entry in entries {
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => return Err(read_error(origin, e)),
            };
            entries_seen += 1;
            if entries_seen > limits.max_files {
                return Err(LoadError::new(
                    origin,
                    format!("chart archive has more than {} entries", limits.max_files),
                ));
            }
            let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let kind = entry.header().entry_type();
            use tar::EntryType as T;
            match kind {
                T::Directory | T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => {
                    continue
                }
                T::Regular | T::Continuous => {}
                T::Symlink | T::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    return Err(LoadError::in_file(
                        origin,
                        &raw_name,
                        format!("chart archive entry {raw_name:?} is a link (to {target:?}); links are not allowed in charts"),
                    ));
                }
                other => {
                    return Err(LoadError::in_file(
                        origin,
                        &raw_name,
                        format!(
                            "chart archive entry {raw_name:?} is not a regular file ({other:?})"
                        ),
                    ))
                }
            }
            let delim = if raw_name.contains('\\') { '\\' } else { '/' };
            let parts: Vec<&str> = raw_name.split(delim).collect();
            let n = parts[1..].join("/");
            let refuse = |m: &str| LoadError::in_file(origin, &raw_name, m.to_string());
            if n.starts_with('/') {
                return Err(refuse("chart illegally contains absolute paths"));
            }
            let n = clean(&n);
            if n == "." {
                return Err(refuse(&format!(
                    "chart illegally contains content outside the base directory: {raw_name:?}"
                )));
            }
            if n.starts_with("..") {
                return Err(refuse("chart illegally references parent directory"));
            }
            let b = n.as_bytes();
            if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/' {
                return Err(refuse("chart contains illegally named files"));
            }
            if parts[0] == "Chart.yaml" {
                return Err(refuse("chart yaml not in base directory"));
            }
            let size = entry.header().size().unwrap_or(u64::MAX);
            if size > remaining || size > budget.remaining_total {
                return Err(bomb());
            }
            if size > limits.max_file_bytes {
                return Err(refuse(&format!(
                    "decompressed chart file {raw_name:?} is larger than the maximum file size {}",
                    limits.max_file_bytes
                )));
            }
            let mut buf = Vec::with_capacity(size as usize);
            (&mut entry)
                .take(remaining)
                .read_to_end(&mut buf)
                .map_err(|e| read_error(origin, e))?;
            let written = buf.len() as u64;
            remaining -= written;
            budget.remaining_total = budget.remaining_total.saturating_sub(written);
            if written < size || remaining == 0 {
                return Err(bomb());
            }
            files.push(ChartFile { name: n, data: buf });
        }
    }
    if capped.hit {
        return Err(bomb());
    }
    if files.is_empty() {
        return Err(LoadError::new(origin, "no files in chart archive"));
    }
    Ok(files)
}

fn read_error(origin: &str, e: std::io::Error) -> LoadError {
    if e.to_string().contains("decompressed size limit") {
        return LoadError::new(
            origin,
            "decompressed chart archive exceeds the size limit".to_string(),
        );
    }
    LoadError::new(
        origin,
        format!("file '{origin}' does not appear to be a valid chart file (details: {e})"),
    )
}
