//! Reading a git files generator's file: one mapping, or a list of
//! mappings, each a parameter set.
//!
//! Files whose name ends in `.json` are read as strict JSON, so that the
//! comments or trailing commas people write into `config.json` files are
//! reported with their line and column (Argo CD reads every file as YAML,
//! which can turn a `// comment` into a strange key instead). Other files
//! are read as YAML the way Argo CD reads them (`sigs.k8s.io/yaml`: YAML 1.1
//! scalars, first document only, numbers as `float64`), after a pass that
//! bounds alias expansion.

use serde_json::Value;
use yaml_rust2::parser::{Event, Parser};

use crate::params::Params;

/// Most YAML nodes a file may expand to through aliases.
const MAX_YAML_NODES: usize = 1_000_000;

/// Why a file could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileError {
    pub(crate) line: Option<u32>,
    pub(crate) column: Option<u32>,
    pub(crate) reason: String,
}

impl FileError {
    fn at(line: usize, column: usize, reason: impl Into<String>) -> Self {
        FileError {
            line: u32::try_from(line).ok().filter(|l| *l > 0),
            column: u32::try_from(column).ok().filter(|c| *c > 0),
            reason: reason.into(),
        }
    }

    fn whole(reason: impl Into<String>) -> Self {
        FileError {
            line: None,
            column: None,
            reason: reason.into(),
        }
    }
}

/// The parameter sets of the file at `path` (its name decides JSON or YAML).
pub(crate) fn read_objects(path: &str, bytes: &[u8]) -> Result<Vec<Params>, FileError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        FileError::whole(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value = if path.to_ascii_lowercase().ends_with(".json") {
        read_json(text)?
    } else {
        read_yaml(text)?
    };
    objects(value)
}

fn objects(value: Value) -> Result<Vec<Params>, FileError> {
    match value {
        Value::Null => Ok(vec![Params::new()]),
        Value::Object(map) => Ok(vec![map]),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(map) => Ok(map),
                other => Err(FileError::whole(format!(
                    "item {i} of the list is {}, but each item must be a mapping of parameters",
                    flotilla_core::json_type_name(&other)
                ))),
            })
            .collect(),
        other => Err(FileError::whole(format!(
            "the file holds {}, but it must hold a mapping of parameters or a list of mappings",
            flotilla_core::json_type_name(&other)
        ))),
    }
}

fn read_json(text: &str) -> Result<Value, FileError> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| {
        let message = e.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        };
        let hint = if comment_at(text, e.line(), e.column()) {
            " (JSON does not allow comments)"
        } else {
            ""
        };
        FileError::at(
            e.line(),
            e.column(),
            format!("not valid JSON: {message}{hint}"),
        )
    })
}

/// Whether a `//` or `/*` comment starts at or just before 1-based `line`:`column`.
fn comment_at(text: &str, line: usize, column: usize) -> bool {
    let Some(l) = text.lines().nth(line.saturating_sub(1)) else {
        return false;
    };
    let start = column.saturating_sub(1).min(l.len());
    let from = l
        .char_indices()
        .map(|(i, _)| i)
        .rfind(|i| *i <= start)
        .unwrap_or(0);
    let rest = l[from..].trim_start();
    rest.starts_with("//") || rest.starts_with("/*")
}

/// A YAML text (e.g. a list generator's `elementsYaml`) as JSON, read as
/// Argo CD reads it.
pub(crate) fn read_yaml_value(text: &str) -> Result<Value, FileError> {
    read_yaml(text)
}

fn read_yaml(text: &str) -> Result<Value, FileError> {
    check_yaml(text)?;
    let value = flotilla_template::from_go_yaml(text).map_err(FileError::whole)?;
    let json = value.to_json().map_err(FileError::whole)?;
    Ok(json)
}

/// Scans the first YAML document: syntax errors with their position, and
/// a bound on what aliases expand to.
fn check_yaml(text: &str) -> Result<(), FileError> {
    let mut parser = Parser::new_from_str(text);
    // Expanded size of each anchored node, and of the open collections.
    let mut anchors: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut total: usize = 0;
    let mut seen_document = false;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            let m = e.marker();
            FileError::at(
                m.line(),
                m.col() + 1,
                format!("not valid YAML: {}", e.info()),
            )
        })?;
        let size = match event {
            Event::StreamEnd => return Ok(()),
            Event::DocumentStart => {
                if seen_document {
                    return Ok(());
                }
                seen_document = true;
                continue;
            }
            Event::DocumentEnd => return Ok(()),
            Event::Scalar(_, _, anchor, _) => {
                if anchor > 0 {
                    anchors.insert(anchor, 1);
                }
                1
            }
            Event::Alias(id) => anchors.get(&id).copied().unwrap_or(1),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((anchor, total));
                total = total.saturating_add(1);
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, start)) = open.pop() {
                    if anchor > 0 {
                        anchors.insert(anchor, total - start);
                    }
                }
                continue;
            }
            _ => continue,
        };
        total = total.saturating_add(size);
        if total > MAX_YAML_NODES {
            return Err(FileError::at(
                mark.line(),
                mark.col() + 1,
                format!("YAML aliases expand to more than {MAX_YAML_NODES} nodes"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARTICLE_CONFIG: &str = r#"{
 "cluster": {
   "name": "cluster-name or arn", // obtain from your kubeconfig when you setup access to your cluster.
   "region": "us-east-2",
   "server": "<cluster-endpoint>"
 }
}
"#;

    #[test]
    fn json_objects_and_lists() {
        let one = read_objects("a/config.json", br#"{"cluster": {"name": "x"}}"#).unwrap();
        assert_eq!(
            Value::Object(one[0].clone()),
            json!({"cluster": {"name": "x"}})
        );
        let many = read_objects("a/c.json", br#"[{"a": 1}, {"a": 2}]"#).unwrap();
        assert_eq!(many.len(), 2);
        assert_eq!(read_objects("a/c.json", b"").unwrap(), vec![Params::new()]);
        assert_eq!(
            read_objects("a/c.json", b"null").unwrap(),
            vec![Params::new()]
        );
        assert!(read_objects("a/c.json", b"[]").unwrap().is_empty());
        let err = read_objects("a/c.json", b"[1]").unwrap_err();
        assert!(err.reason.contains("item 0"), "{err:?}");
        let err = read_objects("a/c.json", b"\"x\"").unwrap_err();
        assert!(err.reason.contains("a string"), "{err:?}");
    }

    #[test]
    fn article_comment_is_reported_with_line_and_column() {
        let err = read_objects("config.json", ARTICLE_CONFIG.as_bytes()).unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.column.is_some());
        assert!(err.reason.contains("not valid JSON"), "{err:?}");
        assert!(err.reason.contains("comments"), "{err:?}");
    }

    #[test]
    fn yaml_reads_like_go() {
        let v = read_objects("c.yaml", b"a: yes\nb: 0777\nc: '1'\nd: 3\n").unwrap();
        assert_eq!(
            Value::Object(v[0].clone()),
            json!({"a": true, "b": 511.0, "c": "1", "d": 3.0})
        );
        let v = read_objects("c.yaml", b"- a: 1\n- a: 2\n").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(read_objects("c.yaml", b"").unwrap(), vec![Params::new()]);
    }

    #[test]
    fn yaml_errors_have_a_line() {
        let err = read_objects("c.yaml", b"a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.line.is_some(), "{err:?}");
        assert!(err.reason.starts_with("not valid YAML"), "{err:?}");
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = read_objects("bomb.yaml", text.as_bytes()).unwrap_err();
        assert!(err.reason.contains("aliases expand"), "{err:?}");
    }
}
