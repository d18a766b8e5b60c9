//! Rendering strings and JSON trees with one parameter set, in Go template
//! or fasttemplate mode, parsing each distinct template text once.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use flotilla_core::{field_path, index_path};
use flotilla_template::{FuncSet, MissingKey, Template, Value as TValue};
use serde_json::Value;

use crate::error::TemplateFailure;
use crate::fasttemplate::FastTemplate;
use crate::params::Params;

/// Renders template strings of one ApplicationSet: Go `text/template` with
/// Sprig and Argo CD's functions (`goTemplate: true`) or fasttemplate.
pub(crate) struct Renderer {
    go: bool,
    options: Vec<String>,
    cache: RefCell<HashMap<String, Rc<Template>>>,
}

/// A parsed template string.
#[derive(Clone)]
pub(crate) enum Piece {
    Go(Rc<Template>),
    Fast(FastTemplate),
}

/// The data a template is executed with: a parameter set, converted for
/// the Go engine once, on first use.
pub(crate) struct Data<'a> {
    params: &'a Params,
    go: OnceCell<TValue>,
}

impl<'a> Data<'a> {
    pub(crate) fn new(params: &'a Params) -> Self {
        Data {
            params,
            go: OnceCell::new(),
        }
    }

    pub(crate) fn params(&self) -> &'a Params {
        self.params
    }

    fn go_value(&self) -> TValue {
        self.go
            .get_or_init(|| {
                TValue::map(
                    self.params
                        .iter()
                        .map(|(k, v)| (k.clone(), TValue::from(v)))
                        .collect(),
                )
            })
            .clone()
    }
}

/// A template that failed, and the JSON path of the field it came from.
#[derive(Debug)]
pub(crate) struct FieldFailure {
    pub(crate) field: String,
    pub(crate) failure: Box<TemplateFailure>,
}

impl Renderer {
    /// A renderer for `goTemplate` and `goTemplateOptions`; an option Go
    /// does not know is an error naming it.
    pub(crate) fn new(go: bool, options: &[String]) -> Result<Self, String> {
        let renderer = Renderer {
            go,
            options: options.iter().map(|o| o.trim().to_string()).collect(),
            cache: RefCell::new(HashMap::new()),
        };
        if go {
            renderer.base().map_err(|e| e.message)?;
        }
        Ok(renderer)
    }

    /// Whether Go templates are used.
    pub(crate) fn is_go(&self) -> bool {
        self.go
    }

    fn base(&self) -> Result<Template, flotilla_template::TemplateError> {
        let mut t = Template::new("")
            .missing_key(MissingKey::Default)
            .funcs(FuncSet::ArgoCd);
        for option in &self.options {
            t = t.option(option)?;
        }
        Ok(t)
    }

    /// `text` parsed, or `None` when rendering would not change it.
    pub(crate) fn piece(&self, text: &str) -> Result<Option<Piece>, TemplateFailure> {
        if self.go {
            if !text.contains("{{") {
                return Ok(None);
            }
            if let Some(t) = self.cache.borrow().get(text) {
                return Ok(Some(Piece::Go(t.clone())));
            }
            let parsed = self.base().and_then(|t| t.parse(text)).map_err(|error| {
                TemplateFailure::Parse {
                    text: text.to_string(),
                    error,
                }
            })?;
            let parsed = Rc::new(parsed);
            self.cache
                .borrow_mut()
                .insert(text.to_string(), parsed.clone());
            Ok(Some(Piece::Go(parsed)))
        } else {
            FastTemplate::parse(text)
                .map(|t| t.map(Piece::Fast))
                .map_err(|message| TemplateFailure::Fast {
                    text: text.to_string(),
                    message,
                })
        }
    }

    /// Renders one string.
    pub(crate) fn render_str(
        &self,
        text: &str,
        data: &Data<'_>,
    ) -> Result<String, TemplateFailure> {
        match self.piece(text)? {
            None => Ok(text.to_string()),
            Some(piece) => execute(&piece, text, data),
        }
    }

    /// Compiles a JSON tree whose strings (and mapping keys) are templates.
    pub(crate) fn compile(&self, value: &Value, path: &str) -> Result<Node, FieldFailure> {
        let at = |failure| FieldFailure {
            field: path.to_string(),
            failure: Box::new(failure),
        };
        Ok(match value {
            Value::String(s) => match self.piece(s).map_err(at)? {
                None => Node::Static(value.clone()),
                Some(piece) => Node::Text {
                    field: path.to_string(),
                    text: s.clone(),
                    piece,
                },
            },
            Value::Array(items) => {
                let nodes = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.compile(item, &index_path(path, i)))
                    .collect::<Result<Vec<_>, _>>()?;
                if nodes.iter().all(|n| matches!(n, Node::Static(_))) {
                    Node::Static(value.clone())
                } else {
                    Node::Array(nodes)
                }
            }
            Value::Object(map) => {
                let mut entries = Vec::with_capacity(map.len());
                let mut all_static = true;
                for (key, member) in map {
                    let member_path = field_path(path, key);
                    let key_node = match self.piece(key).map_err(|failure| FieldFailure {
                        field: member_path.clone(),
                        failure: Box::new(failure),
                    })? {
                        None => Key::Static(key.clone()),
                        Some(piece) => {
                            all_static = false;
                            Key::Text {
                                field: member_path.clone(),
                                text: key.clone(),
                                piece,
                            }
                        }
                    };
                    let node = self.compile(member, &member_path)?;
                    all_static &= matches!(node, Node::Static(_));
                    entries.push((key_node, node));
                }
                if all_static {
                    Node::Static(value.clone())
                } else {
                    Node::Object(entries)
                }
            }
            other => Node::Static(other.clone()),
        })
    }
}

/// Executes a parsed template.
fn execute(piece: &Piece, text: &str, data: &Data<'_>) -> Result<String, TemplateFailure> {
    match piece {
        Piece::Go(t) => {
            t.execute_value(data.go_value())
                .map_err(|error| TemplateFailure::Execute {
                    text: text.to_string(),
                    error,
                })
        }
        Piece::Fast(t) => Ok(t.execute(data.params())),
    }
}

/// A JSON tree with its templates parsed.
pub(crate) enum Node {
    /// Nothing to render below.
    Static(Value),
    Text {
        field: String,
        text: String,
        piece: Piece,
    },
    Object(Vec<(Key, Node)>),
    Array(Vec<Node>),
}

/// A mapping key, possibly templated.
pub(crate) enum Key {
    Static(String),
    Text {
        field: String,
        text: String,
        piece: Piece,
    },
}

impl Node {
    /// The tree rendered with `data`.
    pub(crate) fn eval(&self, data: &Data<'_>) -> Result<Value, FieldFailure> {
        Ok(match self {
            Node::Static(v) => v.clone(),
            Node::Text { field, text, piece } => {
                Value::String(execute(piece, text, data).map_err(|failure| FieldFailure {
                    field: field.clone(),
                    failure: Box::new(failure),
                })?)
            }
            Node::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|n| n.eval(data))
                    .collect::<Result<_, _>>()?,
            ),
            Node::Object(entries) => {
                let mut map = serde_json::Map::with_capacity(entries.len());
                for (key, node) in entries {
                    let key = match key {
                        Key::Static(k) => k.clone(),
                        Key::Text { field, text, piece } => {
                            execute(piece, text, data).map_err(|failure| FieldFailure {
                                field: field.clone(),
                                failure: Box::new(failure),
                            })?
                        }
                    };
                    map.insert(key, node.eval(data)?);
                }
                Value::Object(map)
            }
        })
    }
}

/// Where a generator's JSON is while interpolating it with another
/// generator's parameters.
#[derive(Clone, Copy)]
enum Place<'k> {
    /// A generator entry (`{list: ..., selector: ...}`).
    Generator,
    /// Inside the object of one generator kind (`list`, `git`, ...).
    Kind(&'k str),
    /// Anywhere else: every string and key is rendered.
    Plain,
}

/// Renders the strings of a generator (as JSON) with the parameters of the
/// first child of a matrix, as Argo CD interpolates a matrix's second child.
///
/// Generator-level `template`s are left alone (a matrix child's template is
/// not used), and so are `values` of `clusters` and `git` generators: those
/// are rendered once, later, with the parameters of both generators, so that
/// a parameter value is never evaluated as a template.
pub(crate) fn interpolate_generator(
    renderer: &Renderer,
    generator: &Value,
    data: &Data<'_>,
    path: &str,
) -> Result<Value, FieldFailure> {
    interpolate(renderer, generator, data, path, Place::Generator)
}

fn interpolate(
    renderer: &Renderer,
    value: &Value,
    data: &Data<'_>,
    path: &str,
    place: Place<'_>,
) -> Result<Value, FieldFailure> {
    let at = |field: &str| {
        let field = field.to_string();
        move |failure| FieldFailure {
            field,
            failure: Box::new(failure),
        }
    };
    Ok(match value {
        Value::String(s) => Value::String(renderer.render_str(s, data).map_err(at(path))?),
        Value::Array(items) => {
            let inner = match place {
                Place::Kind("matrix" | "merge") => Place::Generator,
                _ => Place::Plain,
            };
            Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| interpolate(renderer, item, data, &index_path(path, i), inner))
                    .collect::<Result<_, _>>()?,
            )
        }
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (key, member) in map {
                let member_path = field_path(path, key);
                let (keep, inner) = match place {
                    Place::Generator => (false, Place::Kind(key.as_str())),
                    Place::Kind(kind) => match key.as_str() {
                        "template" => (true, Place::Plain),
                        "values" if matches!(kind, "clusters" | "git") => (true, Place::Plain),
                        "generators" if matches!(kind, "matrix" | "merge") => {
                            (false, Place::Kind(kind))
                        }
                        _ => (false, Place::Plain),
                    },
                    Place::Plain => (false, Place::Plain),
                };
                if keep {
                    out.insert(key.clone(), member.clone());
                    continue;
                }
                let new_key = match place {
                    Place::Plain => renderer.render_str(key, data).map_err(at(&member_path))?,
                    _ => key.clone(),
                };
                let new_value = interpolate(renderer, member, data, &member_path, inner)?;
                out.insert(new_key, new_value);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Params {
        match v {
            Value::Object(m) => m,
            _ => panic!(),
        }
    }

    #[test]
    fn go_templates_render_and_are_cached() {
        let r = Renderer::new(true, &["missingkey=error".to_string()]).unwrap();
        let p = params(json!({"path": {"basename": "eu", "segments": ["a", "b", "prod"]}}));
        let d = Data::new(&p);
        assert_eq!(
            r.render_str("{{ .path.basename }}-{{ index .path.segments 2 }}", &d)
                .unwrap(),
            "eu-prod"
        );
        assert_eq!(r.render_str("plain", &d).unwrap(), "plain");
        r.render_str("{{ .path.basename }}-{{ index .path.segments 2 }}", &d)
            .unwrap();
        assert_eq!(r.cache.borrow().len(), 1);
        let err = r.render_str("{{ .nope }}", &d).unwrap_err();
        assert!(
            err.to_string()
                .contains("map has no entry for key \"nope\""),
            "{err}"
        );
        // Values are data: their braces are not evaluated.
        let q = params(json!({"v": "{{ .x }}"}));
        assert_eq!(
            r.render_str("{{ .v }}", &Data::new(&q)).unwrap(),
            "{{ .x }}"
        );
    }

    #[test]
    fn unknown_option_is_refused() {
        let err = Renderer::new(true, &["missingkey=maybe".to_string()])
            .err()
            .unwrap();
        assert!(err.contains("missingkey=maybe"), "{err}");
    }

    #[test]
    fn compiled_trees_render_keys_and_values() {
        let r = Renderer::new(false, &[]).unwrap();
        let tree = json!({
            "metadata": {"name": "{{name}}-app", "labels": {"{{key}}": "v", "static": "s"}},
            "spec": {"list": ["{{name}}", 3, true], "n": 1}
        });
        let node = r.compile(&tree, "").unwrap();
        let p = params(json!({"name": "a", "key": "k"}));
        assert_eq!(
            node.eval(&Data::new(&p)).unwrap(),
            json!({
                "metadata": {"name": "a-app", "labels": {"k": "v", "static": "s"}},
                "spec": {"list": ["a", 3, true], "n": 1}
            })
        );
    }

    #[test]
    fn interpolation_leaves_values_and_templates() {
        let r = Renderer::new(true, &[]).unwrap();
        let generator = json!({
            "git": {
                "repoURL": "{{ .repo }}",
                "files": [{"path": "{{ .dir }}/*.json"}],
                "values": {"x": "{{ .path.path }}"},
                "template": {"metadata": {"name": "{{ .name }}"}}
            },
            "selector": {"matchLabels": {"env": "{{ .env }}"}}
        });
        let p = params(json!({"repo": "https://r", "dir": "d", "env": "prod"}));
        let out = interpolate_generator(&r, &generator, &Data::new(&p), "g").unwrap();
        assert_eq!(
            out,
            json!({
                "git": {
                    "repoURL": "https://r",
                    "files": [{"path": "d/*.json"}],
                    "values": {"x": "{{ .path.path }}"},
                    "template": {"metadata": {"name": "{{ .name }}"}}
                },
                "selector": {"matchLabels": {"env": "prod"}}
            })
        );
    }
}
