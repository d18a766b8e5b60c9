//! Values against the real `helm` v3.17.4: each case is a generated chart
//! whose templates print `{{ toYaml .Values }}` (in the top chart and in
//! every subchart), rendered by `helm template` with the case's flags; the
//! printed values must equal what [`flotilla_helm::prepare`] computes for
//! the same chart and flags, or both must fail with the same message.

use std::path::Path;
use std::process::Command;

use flotilla_helm::{load_dir, prepare, Chart, ValueFile, ValuesOptions};
use flotilla_lab::assets::{ensure, AssetOptions, QuietProgress};

fn helm() -> std::path::PathBuf {
    let assets = ensure(&AssetOptions::from_env(), &["helm"], &QuietProgress).expect("helm asset");
    assets.path("helm").expect("helm binary").to_path_buf()
}

const PRINT: &str = "{{ toYaml .Values }}\n";

struct Case {
    name: &'static str,
    /// Files of the chart (`Chart.yaml` etc.); a `templates/values.yaml`
    /// printing the values is added to every chart directory.
    files: Vec<(&'static str, &'static str)>,
    /// Extra files outside the chart (value files, --set-file sources).
    extra: Vec<(&'static str, &'static str)>,
    /// helm flags; `-f NAME` and `--set-file k=NAME` refer to `extra`.
    flags: Vec<&'static str>,
}

fn chart_dirs(files: &[(&str, &str)]) -> Vec<String> {
    let mut dirs: Vec<String> = files
        .iter()
        .filter(|(p, _)| p.ends_with("Chart.yaml"))
        .map(|(p, _)| p.trim_end_matches("Chart.yaml").to_string())
        .collect();
    dirs.sort();
    dirs
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// helm's output as (source, body) pairs.
fn split_sources(out: &str) -> Vec<(String, String)> {
    let mut docs = Vec::new();
    for doc in out.split("---\n").filter(|d| !d.trim().is_empty()) {
        let (head, body) = doc.split_once('\n').unwrap_or((doc, ""));
        let src = head.trim_start_matches("# Source: ").to_string();
        docs.push((src, body.trim_end().to_string()));
    }
    docs
}

fn options(flags: &[&str], extra: &Path) -> ValuesOptions {
    let mut o = ValuesOptions::default();
    let mut it = flags.iter();
    while let Some(f) = it.next() {
        let v = it.next().expect("flag value").to_string();
        match *f {
            "-f" => o.value_files.push(ValueFile {
                name: v.clone(),
                data: std::fs::read(extra.join(&v)).unwrap(),
            }),
            "--set" => o.set.push(v),
            "--set-string" => o.set_string.push(v),
            "--set-json" => o.set_json.push(v),
            "--set-file" => o.set_file.push(v),
            "--set-literal" => o.set_literal.push(v),
            other => panic!("flag {other}"),
        }
    }
    o.base_dir = Some(extra.to_path_buf());
    o
}

/// Our values, printed per chart as helm prints them.
fn ours(chart: Chart, opts: &ValuesOptions) -> Result<Vec<(String, String)>, String> {
    let p = prepare(chart, opts).map_err(|e| e.to_string().trim_end().to_string())?;
    let mut out = Vec::new();
    fn walk(c: &Chart, path: &str, v: &flotilla_template::Value, out: &mut Vec<(String, String)>) {
        let y = flotilla_template::to_go_yaml(v).unwrap();
        out.push((
            format!("{path}/templates/values.yaml"),
            y.trim_end().to_string(),
        ));
        for d in &c.dependencies {
            let sv = match v {
                flotilla_template::Value::Map(m) => m.get(&d.metadata.name).unwrap(),
                _ => panic!("values not a map"),
            };
            walk(d, &format!("{path}/charts/{}", d.metadata.name), &sv, out);
        }
    }
    walk(&p.chart, &p.chart.metadata.name, &p.values, &mut out);
    Ok(out)
}

fn run(case: &Case) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("chart");
    let extra = tmp.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    for (p, t) in &case.files {
        write(&root, p, t);
    }
    for d in chart_dirs(&case.files) {
        write(&root, &format!("{d}templates/values.yaml"), PRINT);
    }
    for (p, t) in &case.extra {
        write(&extra, p, t);
    }
    let home = tmp.path().join("home");
    let mut cmd = Command::new(helm());
    cmd.current_dir(&extra)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .args(["template", "rel"])
        .arg(&root)
        .args(["--kube-version", "1.32.0"])
        .args(&case.flags);
    let out = cmd.output().unwrap();
    let theirs: Result<Vec<(String, String)>, String> = if out.status.success() {
        let mut v = split_sources(&String::from_utf8_lossy(&out.stdout));
        v.sort();
        Ok(v)
    } else {
        let e = String::from_utf8_lossy(&out.stderr).to_string();
        let text = match e.find("Error: ") {
            Some(i) => &e[i + "Error: ".len()..],
            None => &e,
        };
        Err(text.trim_end().to_string())
    };
    let chart = load_dir(&root).map_err(|e| format!("{}: load: {e}", case.name))?;
    let mine = ours(chart, &options(&case.flags, &extra)).map(|mut v| {
        v.sort();
        v
    });
    // gojsonschema reports the properties of an object in Go map order,
    // which varies between runs: compare schema reports line by line.
    let (theirs, mine) = match (theirs, mine) {
        (Err(a), Err(b)) if a.starts_with("values don't meet") => {
            let sort = |s: &str| {
                let mut v: Vec<String> = s.lines().map(str::to_string).collect();
                v.sort();
                Err(v.join("\n"))
            };
            (sort(&a), sort(&b))
        }
        other => other,
    };
    if std::env::var_os("SHOW").is_some() {
        eprintln!(
            "case {}:\n helm: {:#?}\n ours: {:#?}",
            case.name, theirs, mine
        );
    }
    if mine != theirs {
        return Err(format!(
            "case {}:\n helm: {:#?}\n ours: {:#?}",
            case.name, theirs, mine
        ));
    }
    Ok(())
}

const PARENT: &str = "apiVersion: v2\nname: parent\nversion: 1.0.0\n";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "set types",
            files: vec![("Chart.yaml", PARENT), ("values.yaml", "keep: 1\nf: 1.50\nbig: 1000000\n")],
            extra: vec![],
            flags: vec![
                "--set",
                "a=1,b=true,c=null,d=0x1,e=007,g=-3,h=FALSE,i=0,j=1e3,k=+4,l=,m=9223372036854775808",
            ],
        },
        Case {
            name: "null deletes defaults",
            files: vec![
                ("Chart.yaml", PARENT),
                ("values.yaml", "a:\n  b: 1\n  c: 2\n  d: {e: 1}\nx: 1\nnul: null\n"),
            ],
            extra: vec![("v.yaml", "a:\n  d: null\nx: null\nnew: null\n")],
            flags: vec!["-f", "v.yaml", "--set", "a.b=null"],
        },
        Case {
            name: "lists and indexes",
            files: vec![("Chart.yaml", PARENT), ("values.yaml", "list: [x, y, z]\n")],
            extra: vec![],
            flags: vec![
                "--set",
                "list[1]=b,n[0].a=1,n[0].b=2,n[2].c=3,m[0][1]=z,brace={a,b,c},one={x}",
            ],
        },
        Case {
            name: "escapes",
            files: vec![("Chart.yaml", PARENT)],
            extra: vec![],
            flags: vec!["--set", r"a\.b=1,c=x\,y,d=a\=b,e\[0\]=q,nodes.ingress\.class=nginx"],
        },
        Case {
            name: "flag order",
            files: vec![("Chart.yaml", PARENT)],
            extra: vec![("f1.yaml", "k: file\nm: {a: 1, b: 1}\n"), ("f2.yaml", "m: {b: 2}\nl: [1]\n"), ("content.txt", "line1\nline2\n")],
            flags: vec![
                "-f", "f1.yaml", "-f", "f2.yaml",
                "--set-json", r#"k="json",obj={"a":[1,2.5,{"b":null}]},e="#,
                "--set", "k=set,s1=10",
                "--set-string", "s1=10,s2=true",
                "--set-file", "file=content.txt",
                "--set-literal", "lit=a,b=c\\d",
            ],
        },
        Case {
            name: "subchart values and globals",
            files: vec![
                ("Chart.yaml", "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: 0.1.0\n"),
                ("values.yaml", "global:\n  region: eu\n  nested: {a: 1}\nsub:\n  replicas: 3\n  over: parent\n"),
                ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n"),
                ("charts/sub/values.yaml", "replicas: 1\nover: child\nown: x\nglobal:\n  region: us\n  childonly: 1\n  nested: {b: 2}\n"),
            ],
            extra: vec![],
            flags: vec!["--set", "global.fromset=1,sub.own=y"],
        },
        Case {
            name: "conditions, tags and aliases",
            files: vec![
                ("Chart.yaml", "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: \"~0.1\"\n  alias: first\n  condition: first.enabled\n- name: sub\n  version: 0.1.0\n  alias: second\n  condition: second.enabled,global.second\n- name: other\n  version: \">=1\"\n  tags: [extras]\n- name: third\n  version: 1.0.0\n  condition: third.on\n"),
                ("values.yaml", "first: {enabled: true, x: 1}\nsecond: {enabled: false}\ntags: {extras: false}\nthird: {on: notabool}\n"),
                ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n"),
                ("charts/sub/values.yaml", "x: 0\ny: 0\n"),
                ("charts/other/Chart.yaml", "apiVersion: v2\nname: other\nversion: 1.2.0\n"),
                ("charts/third/Chart.yaml", "apiVersion: v2\nname: third\nversion: 1.0.0\n"),
            ],
            extra: vec![],
            flags: vec!["--set", "tags.extras=true"],
        },
        Case {
            name: "import-values and exports",
            files: vec![
                ("Chart.yaml", "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: lib\n  version: 1.0.0\n  import-values:\n  - data\n  - child: deep.settings\n    parent: imported\n  - child: missing\n    parent: nowhere\n"),
                ("values.yaml", "imported:\n  b: parent-wins\nmyval: 1\n"),
                ("charts/lib/Chart.yaml", "apiVersion: v2\nname: lib\nversion: 1.0.0\n"),
                ("charts/lib/values.yaml", "exports:\n  data:\n    fromExport: 1\n    myval: 2\ndeep:\n  settings: {a: 1, b: child, n: null}\n"),
            ],
            extra: vec![],
            flags: vec![],
        },
        Case {
            name: "table conflicts",
            files: vec![
                ("Chart.yaml", PARENT),
                ("values.yaml", "t: {a: 1}\ns: scalar\nl: [1, 2]\n"),
            ],
            extra: vec![],
            flags: vec!["--set", "t=flat,l[0]=9"],
        },
        Case {
            name: "schema failures",
            files: vec![
                ("Chart.yaml", "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: sub\n  version: 0.1.0\n"),
                ("values.yaml", "replicas: 1\nimage: {tag: latest}\n"),
                ("values.schema.json", r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","required":["name"],"properties":{"replicas":{"type":"integer","minimum":1},"image":{"type":"object","properties":{"tag":{"type":"string","enum":["latest","stable"]}}}}}"#),
                ("charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n"),
                ("charts/sub/values.schema.json", r#"{"type":"object","properties":{"port":{"type":"integer"}},"additionalProperties":false}"#),
            ],
            extra: vec![],
            flags: vec!["--set", "replicas=0,image.tag=x,sub.port=abc"],
        },
        Case {
            name: "schema passes",
            files: vec![
                ("Chart.yaml", PARENT),
                ("values.yaml", "replicas: 2\nratio: 0.5\n"),
                ("values.schema.json", r#"{"type":"object","properties":{"replicas":{"type":"integer"},"ratio":{"type":"number"}}}"#),
            ],
            extra: vec![],
            flags: vec![],
        },
        Case {
            name: "v1 requirements and nested conditions",
            files: vec![
                ("Chart.yaml", "apiVersion: v1\nname: parent\nversion: 1.0.0\n"),
                ("requirements.yaml", "dependencies:\n- name: mid\n  version: 1.0.0\n  condition: mid.enabled\n"),
                ("values.yaml", "mid:\n  enabled: true\n  leaf:\n    enabled: false\n"),
                ("charts/mid/Chart.yaml", "apiVersion: v2\nname: mid\nversion: 1.0.0\ndependencies:\n- name: leaf\n  version: 1.0.0\n  condition: leaf.enabled\n- name: leaf2\n  version: 1.0.0\n  condition: leaf2.enabled\n"),
                ("charts/mid/values.yaml", "leaf2:\n  enabled: true\n"),
                ("charts/mid/charts/leaf/Chart.yaml", "apiVersion: v2\nname: leaf\nversion: 1.0.0\n"),
                ("charts/mid/charts/leaf2/Chart.yaml", "apiVersion: v2\nname: leaf2\nversion: 1.0.0\n"),
                ("charts/mid/charts/leaf2/values.yaml", "global:\n  deep: {x: 1}\nv: 1\n"),
            ],
            extra: vec![],
            flags: vec!["--set", "global.deep.y=2"],
        },
        Case {
            name: "error: key without value",
            files: vec![("Chart.yaml", PARENT)],
            extra: vec![],
            flags: vec!["--set", "a.b"],
        },
        Case {
            name: "error: map onto string",
            files: vec![("Chart.yaml", PARENT)],
            extra: vec![("v.yaml", "a: str\n")],
            flags: vec!["-f", "v.yaml", "--set", "a.b=1"],
        },
        Case {
            name: "error: bad index",
            files: vec![("Chart.yaml", PARENT)],
            extra: vec![],
            flags: vec!["--set", "a[x]=1"],
        },
        Case {
            name: "error: trailing comma",
            files: vec![("Chart.yaml", PARENT)],
            extra: vec![],
            flags: vec!["--set", "a=1,b,"],
        },
        Case {
            name: "error: missing dependency",
            files: vec![(
                "Chart.yaml",
                "apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: gone\n  version: 1.0.0\n",
            )],
            extra: vec![],
            flags: vec![],
        },
    ]
}

#[test]
fn values_match_helm() {
    let mut failures = Vec::new();
    for c in cases() {
        if let Err(e) = run(&c) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
