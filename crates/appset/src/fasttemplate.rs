//! `goTemplate: false`: Argo CD's plain `{{param}}` substitution, done with
//! `github.com/valyala/fasttemplate`.
//!
//! A string is only treated as a template when one of its lines holds `{{`
//! followed by `}}` (Argo CD's `.*{{.*}}.*` test). Each `{{tag}}` is then
//! replaced by the parameter named by the trimmed tag when that parameter is
//! a string; any other tag (unknown, empty, or naming a non-string value) is
//! written back as it was. A `{{` without a closing `}}` after it is an error.

use serde_json::Value;

use crate::params::Params;

/// A parsed fasttemplate: text pieces around tags.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FastTemplate {
    /// `texts.len() == tags.len() + 1`.
    texts: Vec<String>,
    tags: Vec<String>,
}

/// Whether Argo CD would treat `s` as a template (`.*{{.*}}.*`: `{{` and a
/// later `}}` on one line).
pub(crate) fn is_templated(s: &str) -> bool {
    s.split('\n').any(|line| {
        line.find("{{")
            .is_some_and(|start| line[start + 2..].contains("}}"))
    })
}

impl FastTemplate {
    /// Parses `text`; `Ok(None)` when it is no template at all.
    pub(crate) fn parse(text: &str) -> Result<Option<FastTemplate>, String> {
        if !is_templated(text) {
            return Ok(None);
        }
        let mut texts = Vec::new();
        let mut tags = Vec::new();
        let mut rest = text;
        loop {
            let Some(start) = rest.find("{{") else {
                texts.push(rest.to_string());
                break;
            };
            texts.push(rest[..start].to_string());
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(format!(
                    "invalid template: Cannot find end tag=\"}}}}\" in the template={text:?} starting from {after:?}"
                ));
            };
            tags.push(after[..end].to_string());
            rest = &after[end + 2..];
        }
        Ok(Some(FastTemplate { texts, tags }))
    }

    /// Substitutes string parameters for the tags.
    pub(crate) fn execute(&self, params: &Params) -> String {
        let mut out = String::with_capacity(self.texts.iter().map(String::len).sum::<usize>() + 16);
        for (i, text) in self.texts.iter().enumerate() {
            out.push_str(text);
            if let Some(tag) = self.tags.get(i) {
                let trimmed = tag.trim();
                match params.get(trimmed) {
                    Some(Value::String(value)) if !trimmed.is_empty() => out.push_str(value),
                    _ => {
                        out.push_str("{{");
                        out.push_str(tag);
                        out.push_str("}}");
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(text: &str, params: Value) -> Result<String, String> {
        let Value::Object(params) = params else {
            panic!()
        };
        Ok(match FastTemplate::parse(text)? {
            Some(t) => t.execute(&params),
            None => text.to_string(),
        })
    }

    #[test]
    fn substitutes_string_parameters() {
        let p = json!({"path": "apps/a", "path.basename": "a", "n": 3, "path[0]": "apps"});
        assert_eq!(run("{{path}}", p.clone()).unwrap(), "apps/a");
        assert_eq!(run("x-{{ path.basename }}-y", p.clone()).unwrap(), "x-a-y");
        assert_eq!(run("{{path[0]}}", p.clone()).unwrap(), "apps");
        // Unknown keys, non-strings and empty tags stay as written.
        assert_eq!(
            run("{{ nope }}/{{n}}/{{}}", p.clone()).unwrap(),
            "{{ nope }}/{{n}}/{{}}"
        );
        // Not a template: left alone, even with an unclosed brace.
        assert_eq!(run("a {{ b", p.clone()).unwrap(), "a {{ b");
        assert_eq!(run("a }} {{ b", p.clone()).unwrap(), "a }} {{ b");
        // Go template syntax is not evaluated.
        assert_eq!(run("{{ .path }}", p.clone()).unwrap(), "{{ .path }}");
        // A value holding braces is data, not a template.
        let q = json!({"v": "{{path}}", "path": "x"});
        assert_eq!(run("{{v}}", q).unwrap(), "{{path}}");
    }

    #[test]
    fn unclosed_tag_after_a_template_is_an_error() {
        let err = run("{{a}} {{b", json!({})).unwrap_err();
        assert!(err.contains("Cannot find end tag"), "{err}");
    }

    #[test]
    fn templated_test_is_per_line() {
        assert!(is_templated("{{a}}"));
        assert!(is_templated("x\n{{a}}\n"));
        assert!(!is_templated("{{a\n}}"));
        assert!(is_templated("{{}}"));
        assert!(!is_templated("{{}"));
    }
}
