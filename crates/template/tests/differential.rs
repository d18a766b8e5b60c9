//! Differential test: every case of `tests/corpus/*.cases` is rendered by
//! Go (`tests/oracles/gotemplate`, text/template + Sprig/Helm, built here
//! with this machine's Go) and by flotilla-template; outputs and errors
//! must match byte for byte.
//!
//! Case file format:
//!
//! ```text
//! # comment
//! === @data                      default data (JSON) for the following cases
//! {"a": 1}
//! === case-id funcs=sprig opt=missingkey=error name=t match=REGEX errors=class
//! template text (several lines allowed; the newline before the next
//! header is not part of it)
//! --- data
//! {"json": "for this case only"}
//! --- tmpl other.tpl
//! an additional associated template, parsed before the main one
//! ```
//!
//! `match=REGEX` (regex with `_` for spaces) compares only that both outputs
//! match the pattern (random and time-dependent functions);
//! `errors=class` accepts any error text when both sides error (used where
//! the error text comes from a library whose wording we do not copy).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flotilla_template::{FuncSet, MissingKey, Template};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
struct Case {
    file: String,
    id: String,
    name: String,
    template: String,
    data: serde_json::Value,
    options: Vec<String>,
    funcs: String,
    templates: BTreeMap<String, String>,
    matcher: Option<String>,
    errors_class: bool,
}

fn parse_cases(file: &str, text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut default_data = serde_json::json!({});
    // Sections: (header, body lines)
    let mut sections: Vec<(String, Vec<&str>)> = Vec::new();
    for line in text.split('\n') {
        if line.starts_with("=== ") || line.starts_with("--- ") {
            sections.push((line.to_string(), Vec::new()));
        } else if let Some(last) = sections.last_mut() {
            last.1.push(line);
        }
    }
    let body = |lines: &Vec<&str>| -> String {
        let mut l = lines.clone();
        // Drop comment-only trailing lines? No: keep text exact, but allow
        // '#' comment lines before a header to be removed.
        while l.last().is_some_and(|s| s.starts_with("#")) {
            l.pop();
        }
        l.join("\n")
    };
    let mut cur: Option<Case> = None;
    for (header, lines) in &sections {
        if let Some(h) = header.strip_prefix("=== ") {
            if let Some(c) = cur.take() {
                cases.push(c);
            }
            let mut parts = h.split_whitespace();
            let id = parts.next().unwrap_or("").to_string();
            if id == "@data" {
                let b = body(lines);
                default_data = serde_json::from_str(&b)
                    .unwrap_or_else(|e| panic!("{}: bad @data JSON: {}", file, e));
                continue;
            }
            let mut c = Case {
                file: file.to_string(),
                id: id.clone(),
                name: "t".into(),
                template: body(lines),
                data: default_data.clone(),
                options: Vec::new(),
                funcs: "builtins".into(),
                templates: BTreeMap::new(),
                matcher: None,
                errors_class: false,
            };
            for p in parts {
                if let Some(v) = p.strip_prefix("funcs=") {
                    c.funcs = v.to_string();
                } else if let Some(v) = p.strip_prefix("opt=") {
                    c.options.push(v.to_string());
                } else if let Some(v) = p.strip_prefix("name=") {
                    c.name = if v == "EMPTY" {
                        String::new()
                    } else {
                        v.to_string()
                    };
                } else if let Some(v) = p.strip_prefix("match=") {
                    c.matcher = Some(v.replace('_', " "));
                } else if p == "errors=class" {
                    c.errors_class = true;
                } else {
                    panic!("{}: case {}: unknown attribute {}", file, id, p);
                }
            }
            cur = Some(c);
        } else if let Some(h) = header.strip_prefix("--- ") {
            let c = cur
                .as_mut()
                .unwrap_or_else(|| panic!("{}: section {} outside a case", file, h));
            if h == "data" {
                let b = body(lines);
                c.data = serde_json::from_str(&b)
                    .unwrap_or_else(|e| panic!("{}: case {}: bad data JSON: {}", file, c.id, e));
            } else if let Some(n) = h.strip_prefix("tmpl ") {
                c.templates.insert(n.trim().to_string(), body(lines));
            } else {
                panic!("{}: case {}: unknown section {}", file, c.id, h);
            }
        }
    }
    if let Some(c) = cur.take() {
        cases.push(c);
    }
    cases
}

fn load_corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cases"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read corpus file");
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        all.extend(parse_cases(&name, &text));
    }
    let mut seen = std::collections::HashSet::new();
    for c in &all {
        assert!(
            seen.insert(format!("{}/{}", c.file, c.id)),
            "duplicate case id {}/{}",
            c.file,
            c.id
        );
    }
    all
}

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oracles/gotemplate")
}

/// Builds the Go oracle once per source hash.
fn build_oracle() -> PathBuf {
    let dir = oracle_dir();
    let mut h = Sha256::new();
    for f in ["main.go", "go.mod", "go.sum"] {
        let b = std::fs::read(dir.join(f))
            .unwrap_or_else(|e| panic!("oracle source {} missing: {}", f, e));
        h.update(f.as_bytes());
        h.update(&b);
    }
    let hash = hex::encode(h.finalize());
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("gotemplate-oracle-{}", &hash[..16]));
    if out.exists() {
        return out;
    }
    let go = which_go().unwrap_or_else(|| {
        panic!(
            "the differential test needs Go (`go` on PATH or /usr/local/go/bin/go) to build \
             the text/template oracle in tests/oracles/gotemplate"
        )
    });
    let tmp = out.with_extension("tmp");
    let status = Command::new(&go)
        .current_dir(&dir)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=readonly")
        .args(["build", "-o"])
        .arg(&tmp)
        .arg(".")
        .status()
        .unwrap_or_else(|e| panic!("running {}: {}", go.display(), e));
    assert!(
        status.success(),
        "building the Go oracle failed ({})",
        status
    );
    std::fs::rename(&tmp, &out).expect("install oracle binary");
    out
}

fn which_go() -> Option<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for p in std::env::split_paths(&paths) {
            let c = p.join("go");
            if c.is_file() {
                return Some(c);
            }
        }
    }
    let c = PathBuf::from("/usr/local/go/bin/go");
    c.is_file().then_some(c)
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ok(String),
    Err(String),
}

fn run_go(cases: &[Case]) -> Vec<Outcome> {
    let bin = build_oracle();
    let mut child = Command::new(&bin)
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start oracle");
    let mut input = String::new();
    for c in cases {
        let req = serde_json::json!({
            "id": format!("{}/{}", c.file, c.id),
            "name": c.name,
            "template": c.template,
            "data": c.data,
            "options": c.options,
            "funcs": c.funcs,
            "templates": c.templates,
        });
        input.push_str(&req.to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        stdin
            .write_all(input.as_bytes())
            .expect("write oracle input");
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).map(|_| buf)
    });
    // A case that makes Go loop forever must not hang the test run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let status = loop {
        if let Some(st) = child.try_wait().expect("oracle status") {
            break st;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the Go oracle did not finish within 300 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    writer.join().expect("writer thread");
    let stdout = reader
        .join()
        .expect("reader thread")
        .expect("read oracle output");
    assert!(status.success(), "oracle failed: {}", status);
    let text = String::from_utf8_lossy(&stdout);
    let res: Vec<Outcome> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("oracle JSON");
            match v.get("error").and_then(|e| e.as_str()) {
                Some(e) => Outcome::Err(e.to_string()),
                None => Outcome::Ok(v["output"].as_str().unwrap_or("").to_string()),
            }
        })
        .collect();
    assert_eq!(
        res.len(),
        cases.len(),
        "oracle answered a different number of cases"
    );
    res
}

fn run_rust(c: &Case) -> Outcome {
    let funcs = match c.funcs.as_str() {
        "builtins" => FuncSet::Builtins,
        "sprig" => FuncSet::Sprig,
        "argocd" => FuncSet::ArgoCd,
        "helm" => FuncSet::Helm,
        other => panic!("unknown funcs {}", other),
    };
    let mut t = Template::new(c.name.clone()).funcs(funcs);
    for o in &c.options {
        t = match t.option(o) {
            Ok(t) => t,
            Err(e) => return Outcome::Err(e.to_string()),
        };
    }
    let _ = MissingKey::Default;
    for (n, text) in &c.templates {
        if let Err(e) = t.add(n, text) {
            return Outcome::Err(e.to_string());
        }
    }
    let t = match t.parse(&c.template) {
        Ok(t) => t,
        Err(e) => return Outcome::Err(e.to_string()),
    };
    match t.execute(&c.data) {
        Ok(s) => Outcome::Ok(s),
        Err(e) => Outcome::Err(e.to_string()),
    }
}

#[test]
fn differential_against_go() {
    let cases = load_corpus();
    assert!(cases.len() >= 300, "corpus has only {} cases", cases.len());
    let go = run_go(&cases);
    let only = std::env::var("CASE").ok();
    let mut passed = 0;
    let mut failures = Vec::new();
    for (c, g) in cases.iter().zip(go) {
        let key = format!("{}/{}", c.file, c.id);
        if let Some(o) = &only {
            if !key.contains(o.as_str()) {
                continue;
            }
        }
        let r = run_rust(c);
        if std::env::var("SHOW").is_ok() {
            eprintln!("=== {}\n  go:   {:?}\n  rust: {:?}", key, g, r);
        }
        let ok = match (&g, &r) {
            (Outcome::Ok(a), Outcome::Ok(b)) => match &c.matcher {
                Some(m) => {
                    let re = regex::Regex::new(&format!("^(?s:{})$", m)).expect("match regex");
                    re.is_match(a) && re.is_match(b)
                }
                None => a == b,
            },
            (Outcome::Err(a), Outcome::Err(b)) => c.errors_class || a == b,
            _ => false,
        };
        if ok {
            passed += 1;
        } else {
            failures.push(format!(
                "--- {}\n  template: {:?}\n  go:   {:?}\n  rust: {:?}",
                key, c.template, g, r
            ));
        }
    }
    for f in &failures {
        eprintln!("{}", f);
    }
    let total = passed + failures.len();
    println!(
        "differential: {} cases, {} passed, {} failed",
        total,
        passed,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Go",
        failures.len(),
        total
    );
}
