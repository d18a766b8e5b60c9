//! A chart repository's `index.yaml` (Helm's `repo.IndexFile`): only what
//! resolving and downloading a chart needs. Entries Helm would skip as
//! invalid (no name, no version, a version that is not semver) are kept
//! out of resolution, as Helm's `loadIndex` drops them.

use std::collections::{BTreeMap, HashMap};

use semver::Version;
use yaml_rust2::parser::{Event, EventReceiver, Parser};
use yaml_rust2::scanner::TScalarStyle;

/// One version of one chart in the index.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    /// `version` as the index spells it.
    pub version: String,
    /// The parsed version (loose, as Masterminds `NewVersion`), when it parses.
    pub parsed: Option<Version>,
    /// `urls`: absolute, or relative to the repository URL.
    pub urls: Vec<String>,
    /// `digest`: the archive's sha256 in hex, lowercased, when given.
    pub digest: Option<String>,
}

/// A parsed `index.yaml`.
#[derive(Debug, Clone, Default)]
pub struct RepoIndex {
    /// Chart name to versions (in the index's order).
    pub entries: BTreeMap<String, Vec<IndexEntry>>,
}

/// A YAML node with every scalar kept as the text it spells (`version:
/// 1.0` is `"1.0"`, a digest of digits stays as written): what Helm's
/// `sigs.k8s.io/yaml` hands to a string field.
#[derive(Debug, Clone)]
enum Raw {
    Null,
    Str(String),
    Seq(Vec<Raw>),
    Map(Vec<(String, Raw)>),
}

impl Raw {
    fn get(&self, key: &str) -> Option<&Raw> {
        match self {
            Raw::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn str(&self) -> Option<String> {
        match self {
            Raw::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
}

/// Most nodes aliases may add to an index (indexes written by Helm have
/// none; the size of the rest is bounded by the download limit): bounded
/// work on hostile input.
const MAX_ALIAS_NODES: usize = 1_000_000;

/// Open containers: anchor id, node count when opened, contents.
enum Frame {
    Seq(usize, usize, Vec<Raw>),
    Map(usize, usize, Vec<(String, Raw)>, Option<String>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    /// Anchored nodes and their sizes in nodes.
    anchors: HashMap<usize, (Raw, usize)>,
    doc: Option<Raw>,
    nodes: usize,
    alias_nodes: usize,
    error: Option<String>,
}

impl Builder {
    /// Add `node`, which counts `cost` new nodes and spans `size` nodes
    /// (for an anchor's later aliases).
    fn push(&mut self, node: Raw, anchor: usize, cost: usize, size: usize) {
        self.nodes = self.nodes.saturating_add(cost);
        if self.error.is_some() {
            return;
        }
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                if self.doc.is_none() {
                    self.doc = Some(node);
                }
            }
            Some(Frame::Seq(_, _, v)) => v.push(node),
            Some(Frame::Map(_, _, m, key)) => match key.take() {
                None => match node {
                    Raw::Str(k) => *key = Some(k),
                    Raw::Null => *key = Some(String::new()),
                    _ => self.error = Some("a mapping key is not a scalar".to_string()),
                },
                Some(k) => m.push((k, node)),
            },
        }
    }
}

impl EventReceiver for Builder {
    fn on_event(&mut self, ev: Event) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(v, style, anchor, _) => {
                let null = style == TScalarStyle::Plain
                    && matches!(v.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let node = if null { Raw::Null } else { Raw::Str(v) };
                self.push(node, anchor, 1, 1);
            }
            Event::Alias(id) => {
                let size = self.anchors.get(&id).map_or(1, |(_, n)| *n);
                self.alias_nodes = self.alias_nodes.saturating_add(size);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    self.error = Some(format!(
                        "aliases expand the index by more than {MAX_ALIAS_NODES} nodes"
                    ));
                    return;
                }
                let node = self.anchors.get(&id).map_or(Raw::Null, |(n, _)| n.clone());
                self.push(node, 0, size, size);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::Seq(anchor, self.nodes, Vec::new()))
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push(Frame::Map(anchor, self.nodes, Vec::new(), None))
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(a, start, v)) => {
                    let size = self.nodes - start + 1;
                    self.push(Raw::Seq(v), a, 1, size)
                }
                Some(Frame::Map(a, start, m, _)) => {
                    let size = self.nodes - start + 1;
                    self.push(Raw::Map(m), a, 1, size)
                }
                None => {}
            },
            _ => {}
        }
    }
}

impl RepoIndex {
    /// Parse `index.yaml` (YAML or JSON). `Err` carries a reason for the message.
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        if data.iter().all(u8::is_ascii_whitespace) {
            return Err("empty index.yaml file".to_string());
        }
        let text = std::str::from_utf8(data).map_err(|e| format!("not UTF-8: {e}"))?;
        let mut b = Builder::default();
        Parser::new(text.chars())
            .load(&mut b, false)
            .map_err(|e| e.to_string())?;
        if let Some(e) = b.error {
            return Err(e);
        }
        let root = match b.doc {
            Some(r @ Raw::Map(_)) => r,
            _ => return Err("the index is not a mapping".to_string()),
        };
        if root
            .get("apiVersion")
            .and_then(Raw::str)
            .is_none_or(|s| s.is_empty())
        {
            return Err("no API version specified".to_string());
        }
        let mut entries = BTreeMap::new();
        match root.get("entries") {
            None | Some(Raw::Null) => {}
            Some(Raw::Map(m)) => {
                for (name, versions) in m {
                    let list = match versions {
                        Raw::Seq(a) => a.as_slice(),
                        Raw::Null => &[],
                        _ => return Err(format!("entries.{name}: not a list")),
                    };
                    let mut out = Vec::new();
                    for e in list {
                        if let Some(entry) = entry(name, e)? {
                            out.push(entry);
                        }
                    }
                    entries.insert(name.clone(), out);
                }
            }
            Some(_) => return Err("entries: not a mapping".to_string()),
        }
        Ok(RepoIndex { entries })
    }
}

fn entry(chart: &str, e: &Raw) -> Result<Option<IndexEntry>, String> {
    if !matches!(e, Raw::Map(_)) {
        return Ok(None);
    }
    let entry_name = e.get("name").and_then(Raw::str).unwrap_or_default();
    let version = e.get("version").and_then(Raw::str).unwrap_or_default();
    if entry_name.is_empty() || version.is_empty() {
        tracing::debug!(chart, version, "skipping invalid index entry");
        return Ok(None);
    }
    let parsed = flotilla_git::parse_tag_version(&version);
    if parsed.is_none() {
        tracing::debug!(chart, version, "skipping index entry: not semver");
        return Ok(None);
    }
    let urls = match e.get("urls") {
        Some(Raw::Seq(a)) => a
            .iter()
            .filter_map(Raw::str)
            .filter(|s| !s.is_empty())
            .collect(),
        None | Some(Raw::Null) => Vec::new(),
        Some(_) => {
            return Err(format!(
                "entries.{chart} version {version}: urls is not a list"
            ))
        }
    };
    let digest = e
        .get("digest")
        .and_then(Raw::str)
        .map(|d| normalise_digest(&d))
        .filter(|d| !d.is_empty());
    Ok(Some(IndexEntry {
        version,
        parsed,
        urls,
        digest,
    }))
}

/// `sha256:ABC..` or `abc..` to lowercase hex.
pub(crate) fn normalise_digest(d: &str) -> String {
    d.trim()
        .strip_prefix("sha256:")
        .unwrap_or(d.trim())
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_and_skips_invalid_ones() {
        let idx = RepoIndex::parse(
            br#"
apiVersion: v1
entries:
  a:
  - name: a
    version: 1.0
    urls: [a-1.0.tgz]
    digest: ABCDEF
  - name: a
    version: not-a-version
    urls: [x.tgz]
  - name: a
    urls: [y.tgz]
  b: []
generated: "2024-01-01T00:00:00Z"
"#,
        )
        .unwrap();
        let a = &idx.entries["a"];
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].version, "1.0");
        assert_eq!(a[0].digest.as_deref(), Some("abcdef"));
        assert!(idx.entries["b"].is_empty());
    }

    #[test]
    fn scalars_keep_their_text() {
        let idx = RepoIndex::parse(
            b"apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.10\n    urls: [x.tgz]\n    digest: 0000000000000000000000000000000000000000000000000000000000000000\n",
        )
        .unwrap();
        assert_eq!(idx.entries["a"][0].version, "1.10");
        assert_eq!(
            idx.entries["a"][0].digest.as_deref(),
            Some("0".repeat(64).as_str())
        );
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut y = String::from("apiVersion: v1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            y.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let err = RepoIndex::parse(y.as_bytes()).unwrap_err();
        assert!(err.contains("nodes"), "{err}");
    }

    #[test]
    fn refuses_what_helm_refuses() {
        assert!(RepoIndex::parse(b"").unwrap_err().contains("empty"));
        assert!(RepoIndex::parse(b"entries: {}\n")
            .unwrap_err()
            .contains("no API version"));
        assert!(RepoIndex::parse(b"apiVersion: v1\nentries: [1, 2]\n").is_err());
    }

    #[test]
    fn reads_the_shared_fixture_index() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/charts/index.yaml"
        );
        let data = std::fs::read(path).unwrap();
        let idx = RepoIndex::parse(&data).unwrap();
        let vault = &idx.entries["vault"][0];
        assert_eq!(vault.version, "0.28.0");
        assert_eq!(vault.urls, vec!["vault-0.28.0.tgz".to_string()]);
        assert_eq!(vault.digest.as_ref().map(String::len), Some(64));
    }
}
