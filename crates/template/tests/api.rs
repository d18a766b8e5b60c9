//! Public API behaviour: options, custom functions, associated templates,
//! error fields and the work bounds.

use flotilla_template::{
    ErrorKind, FuncSet, Function, Limits, MissingKey, Param, Template, TemplateError, Value,
};
use serde_json::json;

fn render(funcs: FuncSet, text: &str, data: serde_json::Value) -> Result<String, TemplateError> {
    Template::new("t").funcs(funcs).parse(text)?.execute(&data)
}

#[test]
fn template_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Template>();
    check::<Value>();
    check::<TemplateError>();
}

#[test]
fn missingkey_option_from_argocd_strings() {
    let t = Template::new("")
        .option("missingkey=error")
        .unwrap()
        .parse("{{ .a }}")
        .unwrap();
    let e = t.execute(&json!({})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Exec);
    assert_eq!(e.line, 1);
    assert_eq!(e.column, Some(3));
    assert_eq!(
        e.to_string(),
        r#"template: :1:3: executing "" at <.a>: map has no entry for key "a""#
    );
    assert!(Template::new("x").option("missingkey=bogus").is_err());
    assert_eq!("zero".parse::<MissingKey>().unwrap(), MissingKey::Zero);
}

#[test]
fn parse_errors_name_template_and_line() {
    let e = Template::new("app.yaml")
        .parse("a\nb\n{{ if }}")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Parse);
    assert_eq!(e.template, "app.yaml");
    assert_eq!(e.line, 3);
    assert_eq!(e.to_string(), "template: app.yaml:3: missing value for if");
}

#[test]
fn custom_function_for_vault_secret() {
    let secret = Function::new(&[Param::String], |_, args| {
        let path = args[0].as_str().unwrap_or_default();
        let mut m = std::collections::BTreeMap::new();
        m.insert(
            "Data".to_string(),
            Value::from(json!({"password": format!("pw-for-{}", path)})),
        );
        Ok(Value::map(m))
    });
    let t = Template::new("agent")
        .funcs(FuncSet::Sprig)
        .func("secret", secret)
        .parse(r#"{{ with secret "secret/data/db" }}{{ .Data.password | upper }}{{ end }}"#)
        .unwrap();
    assert_eq!(t.execute(&json!({})).unwrap(), "PW-FOR-SECRET/DATA/DB");
}

#[test]
fn custom_function_errors_are_wrapped_like_go() {
    let f = Function::new(&[], |_, _| Err("vault sealed".to_string()));
    let t = Template::new("t")
        .func("boom", f)
        .parse("{{ boom }}")
        .unwrap();
    assert_eq!(
        t.execute(&json!(null)).unwrap_err().to_string(),
        r#"template: t:1:3: executing "t" at <boom>: error calling boom: vault sealed"#
    );
}

#[test]
fn variadic_custom_function_and_type_checks() {
    let sum = Function::variadic(&[], Param::Int, |_, args| {
        Ok(Value::Int(
            args.iter()
                .map(|a| match a {
                    Value::Int(i) => *i,
                    _ => 0,
                })
                .sum(),
        ))
    });
    let t = Template::new("t")
        .func("sum", sum)
        .parse("{{ sum 1 2 3 }}")
        .unwrap();
    assert_eq!(t.execute(&json!({})).unwrap(), "6");
    let t = Template::new("t")
        .func(
            "sum",
            Function::variadic(&[], Param::Int, |_, _| Ok(Value::Int(0))),
        )
        .parse("{{ sum .n }}")
        .unwrap();
    let e = t.execute(&json!({"n": 1})).unwrap_err();
    assert!(e
        .to_string()
        .ends_with("wrong type for value; expected int; got float64"));
}

#[test]
fn associated_templates_and_execute_template() {
    let mut t = Template::new("root").funcs(FuncSet::Helm);
    t.add("_helpers.tpl", r#"{{ define "name" }}{{ .n }}-x{{ end }}"#)
        .unwrap();
    let t = t.parse(r#"{{ include "name" . | upper }}"#).unwrap();
    assert_eq!(t.execute(&json!({"n": "a"})).unwrap(), "A-X");
    assert_eq!(
        t.execute_template("name", &json!({"n": "b"})).unwrap(),
        "b-x"
    );
    assert_eq!(t.template_names(), vec!["_helpers.tpl", "name", "root"]);
    let e = t.execute_template("nope", &json!({})).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"template: no template "nope" associated with template "root""#
    );
}

#[test]
fn unparsed_template_is_incomplete() {
    let e = Template::new("x").execute(&json!({})).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"template: x: "x" is an incomplete or empty template"#
    );
}

#[test]
fn recursion_depth_is_bounded() {
    let t = Template::new("t")
        .parse(r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}"#)
        .unwrap();
    let e = t.execute(&json!({})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert!(e
        .to_string()
        .contains("exceeded maximum template depth (1000)"));

    let t = Template::new("t")
        .funcs(FuncSet::Helm)
        .limits(Limits {
            max_depth: 20,
            ..Limits::default()
        })
        .parse(r#"{{ define "r" }}{{ include "r" . }}{{ end }}{{ include "r" . }}"#)
        .unwrap();
    let e = t.execute(&json!({})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert!(e
        .to_string()
        .contains("exceeded maximum template depth (20)"));

    // tpl that evaluates itself.
    let t = Template::new("t")
        .funcs(FuncSet::Helm)
        .parse(r#"{{ tpl .x . }}"#)
        .unwrap();
    let e = t.execute(&json!({"x": "{{ tpl .x . }}"})).unwrap_err();
    assert!(e.to_string().contains("exceeded maximum template depth"));
}

#[test]
fn deep_recursion_does_not_overflow_the_stack() {
    // Run on a small thread stack: the engine grows its own stack.
    let h = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let t = Template::new("t")
                .parse(r#"{{ define "r" }}{{ if . }}{{ template "r" (slice . 1) }}{{ end }}{{ end }}{{ template "r" .l }}ok"#)
                .unwrap();
            let l: Vec<i32> = (0..900).collect();
            t.execute(&json!({ "l": l })).unwrap()
        })
        .unwrap();
    assert_eq!(h.join().unwrap(), "ok");
}

#[test]
fn output_size_is_bounded() {
    let t = Template::new("t")
        .funcs(FuncSet::Sprig)
        .limits(Limits {
            max_output_bytes: 1000,
            ..Limits::default()
        })
        .parse(r#"{{ range until 100 }}0123456789-{{ end }}"#)
        .unwrap();
    let e = t.execute(&json!({})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert!(e
        .to_string()
        .contains("output exceeds the limit of 1000 bytes"));
}

#[test]
fn range_iterations_are_bounded() {
    let t = Template::new("t")
        .limits(Limits {
            max_range_iterations: 50,
            ..Limits::default()
        })
        .parse(r#"{{ range 10 }}{{ range 10 }}{{ end }}{{ end }}"#)
        .unwrap();
    let e = t.execute(&json!({})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit);
    assert!(e
        .to_string()
        .contains("range iterations exceed the limit of 50"));
}

#[test]
fn collection_functions_are_bounded() {
    let e = render(
        FuncSet::Sprig,
        r#"{{ repeat 100000000 "abcdefgh" }}"#,
        json!({}),
    )
    .unwrap_err();
    assert!(e.to_string().contains("exceeds the limit"), "{}", e);
    let e = render(FuncSet::Sprig, r#"{{ len (until 100000000) }}"#, json!({})).unwrap_err();
    assert!(e.to_string().contains("more than"), "{}", e);
}

#[test]
fn paren_nesting_is_bounded_at_parse_time() {
    let text = format!("{{{{ {}1{} }}}}", "(".repeat(500), ")".repeat(500));
    let e = Template::new("t").parse(&text).unwrap_err();
    assert!(e.to_string().contains("max expression depth exceeded"));
}

#[test]
fn numbers_are_float64_like_argocd() {
    assert_eq!(
        render(
            FuncSet::Sprig,
            "{{ .a }} {{ .b }} {{ .c }}",
            json!({"a": 3, "b": 1000000, "c": 0.5})
        )
        .unwrap(),
        "3 1e+06 0.5"
    );
    let e = render(FuncSet::Sprig, "{{ eq .a 3 }}", json!({"a": 3})).unwrap_err();
    assert!(e
        .to_string()
        .ends_with("incompatible types for comparison: float64 and int"));
}

#[test]
fn maps_are_shared_references_like_go() {
    let out = render(
        FuncSet::Sprig,
        r#"{{ $d := dict }}{{ $_ := set $d "k" "v" }}{{ $e := $d }}{{ $_ := set $e "k2" 1 }}{{ $d }}"#,
        json!({}),
    )
    .unwrap();
    assert_eq!(out, "map[k:v k2:1]");
}

#[test]
fn argocd_and_helm_function_sets() {
    assert_eq!(
        render(FuncSet::ArgoCd, r#"{{ normalize "Prod_EU" }}"#, json!({})).unwrap(),
        "prod-eu"
    );
    assert!(render(FuncSet::Sprig, r#"{{ normalize "x" }}"#, json!({})).is_err());
    assert!(render(FuncSet::ArgoCd, r#"{{ env "HOME" }}"#, json!({})).is_err());
    assert_eq!(
        render(
            FuncSet::Helm,
            r#"{{ toYaml .v }}"#,
            json!({"v": {"b": [1, "x"], "a": "yes"}})
        )
        .unwrap(),
        "a: \"yes\"\nb:\n- 1\n- x"
    );
}

#[test]
fn values_convert_from_json() {
    let v = Value::from(json!({"a": [1, "x", null, true]}));
    assert_eq!(v.go_type(), "map[string]interface {}");
    assert_eq!(flotilla_template::sprint(&[v]), "map[a:[1 x <nil> true]]");
    assert_eq!(
        flotilla_template::sprintf(
            "%05.1f|%-4d|%q",
            &[Value::Float(3.25159), Value::Int(7), Value::str("a")]
        ),
        "003.3|7   |\"a\""
    );
}

#[test]
fn many_small_renders_stay_correct() {
    // ApplicationSets render every string field of every Application.
    let data = json!({"path": {"basename": "eu-west-1", "segments": ["a", "b", "prod"]}});
    for _ in 0..2000 {
        let t = Template::new("")
            .funcs(FuncSet::ArgoCd)
            .missing_key(MissingKey::Error)
            .parse("{{ .path.basename }}-{{ index .path.segments 2 }}")
            .unwrap();
        assert_eq!(t.execute(&data).unwrap(), "eu-west-1-prod");
    }
}

/// `cargo test --release -p flotilla-template --test api -- --ignored --nocapture`
#[test]
#[ignore]
fn throughput() {
    let data = json!({"path": {"path": "manifests/overlays/prod/eu-west-1", "basename": "eu-west-1", "segments": ["manifests", "overlays", "prod", "eu-west-1"]}, "cluster": {"name": "prod", "server": "https://1.2.3.4"}});
    let text = "{{ .cluster.name }}-{{ index .path.segments 2 }}-{{ .path.basename | upper }}";
    let n = 100_000;
    let start = std::time::Instant::now();
    for _ in 0..n {
        let t = Template::new("")
            .funcs(FuncSet::ArgoCd)
            .missing_key(MissingKey::Error)
            .parse(text)
            .unwrap();
        t.execute(&data).unwrap();
    }
    let parse_exec = start.elapsed();
    let t = Template::new("")
        .funcs(FuncSet::ArgoCd)
        .missing_key(MissingKey::Error)
        .parse(text)
        .unwrap();
    let v = Value::from(&data);
    let start = std::time::Instant::now();
    for _ in 0..n {
        t.execute_value(v.clone()).unwrap();
    }
    let exec = start.elapsed();
    println!(
        "parse+execute: {:?}/render; execute only: {:?}/render",
        parse_exec / n,
        exec / n
    );
}
