//! The Vault references of a Vault agent (consul-template) template:
//! `{{ with secret "secret/data/api/env" }}`, `{{ range secrets "..." }}`.
//!
//! A small scanner over the template's actions — enough to find the string
//! literals passed to `secret` and `secrets`, which is all the preflight
//! check needs; it does not evaluate templates.

/// The template function that uses a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateFunction {
    /// `secret "path"`: a read (or a write when more arguments follow).
    Secret,
    /// `secrets "path"`: a list.
    Secrets,
}

/// One Vault path a template uses.
///
/// ```
/// use flotilla_vault::{template_secret_refs, TemplateFunction};
///
/// let refs = template_secret_refs(r#"{{- with secret "secret/api/env" -}}DB_URL={{ .Data.data.DB_URL }}{{- end }}"#);
/// assert_eq!(refs.len(), 1);
/// assert_eq!(refs[0].path, "secret/api/env");
/// assert_eq!(refs[0].function, TemplateFunction::Secret);
/// assert_eq!(refs[0].line, 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateRef {
    /// Which function.
    pub function: TemplateFunction,
    /// The path, without any `?version=` query.
    pub path: String,
    /// The query after `?`, if any.
    pub query: Option<String>,
    /// True when `secret` has more arguments (`secret "path" "k=v"` writes).
    pub writes: bool,
    /// 1-based line of the reference in the template.
    pub line: usize,
}

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Other,
}

fn tokenize(action: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = action.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                    s.push(match chars[i] {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                } else {
                    s.push(chars[i]);
                }
                i += 1;
            }
            i += 1;
            tokens.push(Token::Str(s));
        } else if c == '`' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '`' {
                s.push(chars[i]);
                i += 1;
            }
            i += 1;
            tokens.push(Token::Str(s));
        } else if c.is_alphanumeric() || c == '_' || c == '.' || c == '$' {
            let mut s = String::new();
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '$'))
            {
                s.push(chars[i]);
                i += 1;
            }
            tokens.push(Token::Ident(s));
        } else {
            i += 1;
            tokens.push(Token::Other);
        }
    }
    tokens
}

/// Every `secret`/`secrets` call with a literal path in `template`.
pub fn template_secret_refs(template: &str) -> Vec<TemplateRef> {
    let mut refs = Vec::new();
    let mut rest = template;
    let mut consumed = 0;
    while let Some(open) = rest.find("{{") {
        let start = open + 2;
        let Some(close) = rest[start..].find("}}") else {
            break;
        };
        let action = &rest[start..start + close];
        let line = template[..consumed + open].matches('\n').count() + 1;
        let trimmed = action.trim_start_matches('-').trim();
        if !trimmed.starts_with("/*") {
            let tokens = tokenize(action.trim_matches('-'));
            for (i, token) in tokens.iter().enumerate() {
                let function = match token {
                    Token::Ident(name) if name == "secret" => TemplateFunction::Secret,
                    Token::Ident(name) if name == "secrets" => TemplateFunction::Secrets,
                    _ => continue,
                };
                if let Some(Token::Str(raw)) = tokens.get(i + 1) {
                    let (path, query) = match raw.split_once('?') {
                        Some((p, q)) => (p, Some(q.to_string())),
                        None => (raw.as_str(), None),
                    };
                    let writes = function == TemplateFunction::Secret
                        && matches!(tokens.get(i + 2), Some(Token::Str(_)));
                    refs.push(TemplateRef {
                        function,
                        path: path.trim().trim_matches('/').to_string(),
                        query,
                        writes,
                        line,
                    });
                }
            }
        }
        let advance = start + close + 2;
        consumed += advance;
        rest = &rest[advance..];
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_refs_and_skips_comments() {
        let t = "{{/* secret \"not/this\" */}}\n{{ with secret \"secret/data/a?version=2\" }}{{ .Data.data.x }}{{ end }}\n{{ range secrets `secret/metadata/` }}{{ . }}{{ end }}\n{{ secret \"pki/issue/x\" \"common_name=a\" }}";
        let refs = template_secret_refs(t);
        assert_eq!(refs.len(), 3, "{refs:?}");
        assert_eq!(refs[0].path, "secret/data/a");
        assert_eq!(refs[0].query.as_deref(), Some("version=2"));
        assert_eq!(refs[0].line, 2);
        assert_eq!(refs[1].function, TemplateFunction::Secrets);
        assert_eq!(refs[1].path, "secret/metadata");
        assert!(refs[2].writes);
    }

    #[test]
    fn ignores_fields_named_secret() {
        assert!(template_secret_refs("{{ .Data.secret }}").is_empty());
        assert!(template_secret_refs("no actions").is_empty());
    }
}
