//! Differential tests on the fixture charts of `../shared/charts` (the
//! reference's vault, consul and ingress-nginx, and podinfo): our
//! `helm template` output against `helm` v3.17.4's, byte for byte.

mod oracle;

use oracle::{compare, shared_charts, Flags};

fn check(cases: Vec<(String, std::path::PathBuf, Flags)>) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(label, chart, f)| compare(label, chart, f).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

fn variants(name: &str, base: Flags) -> Vec<(String, std::path::PathBuf, Flags)> {
    let chart = shared_charts().join(name);
    assert!(chart.is_file(), "fixture {} not found", chart.display());
    let mut out = Vec::new();
    out.push((format!("{name} (defaults)"), chart.clone(), base.clone()));
    let mut crds = base.clone();
    crds.include_crds = true;
    out.push((format!("{name} --include-crds"), chart.clone(), crds));
    let mut named = base.clone();
    named.name = Some("prod".into());
    named.namespace = Some("gen-algo-prod-eu".into());
    named.kube_version = "1.30.2".into();
    out.push((
        format!("{name} prod -n gen-algo-prod-eu --kube-version 1.30.2"),
        chart.clone(),
        named,
    ));
    let mut hooks = base;
    hooks.no_hooks = true;
    hooks.skip_tests = true;
    out.push((format!("{name} --no-hooks --skip-tests"), chart, hooks));
    out
}

#[test]
fn podinfo_matches_helm() {
    // podinfo's test hooks are named with `randAlphaNum 5`.
    let mut f = Flags::kube("1.32.0");
    f.mask = Some(r"(?m)(name: \S+-test-)[a-z0-9]{5}$");
    check(variants("podinfo-6.14.1.tgz", f));
}

#[test]
fn vault_matches_helm() {
    let mut cases = variants("vault-0.28.0.tgz", Flags::kube("1.32.0"));
    let mut f = Flags::kube("1.32.0");
    f.values = vec![shared_charts().join("values/vault-values.yaml")];
    cases.push((
        "vault -f vault-values.yaml".into(),
        shared_charts().join("vault-0.28.0.tgz"),
        f.clone(),
    ));
    f.include_crds = true;
    cases.push((
        "vault -f vault-values.yaml --include-crds".into(),
        shared_charts().join("vault-0.28.0.tgz"),
        f,
    ));
    check(cases);
}

#[test]
fn consul_matches_helm() {
    let mut cases = variants("consul-1.4.3.tgz", Flags::kube("1.32.0"));
    let mut f = Flags::kube("1.32.0");
    f.values = vec![shared_charts().join("values/consul-values.yaml")];
    cases.push((
        "consul -f consul-values.yaml".into(),
        shared_charts().join("consul-1.4.3.tgz"),
        f.clone(),
    ));
    f.include_crds = true;
    cases.push((
        "consul -f consul-values.yaml --include-crds".into(),
        shared_charts().join("consul-1.4.3.tgz"),
        f,
    ));
    check(cases);
}

#[test]
fn ingress_nginx_matches_helm() {
    let mut base = Flags::kube("1.32.0");
    base.set = vec!["controller.ingressClassResource.name=nginx".into()];
    let mut cases = variants("ingress-nginx-4.10.1.tgz", base);
    cases.push((
        "ingress-nginx (no --set)".into(),
        shared_charts().join("ingress-nginx-4.10.1.tgz"),
        Flags::kube("1.32.0"),
    ));
    check(cases);
}

#[test]
fn show_only_on_fixture_matches_helm() {
    let chart = shared_charts().join("podinfo-6.14.1.tgz");
    let mut f = Flags::kube("1.32.0");
    f.show_only = vec![
        "templates/service.yaml".into(),
        "templates/deployment.yaml".into(),
    ];
    f.mask = Some(r"(?m)(name: \S+-test-)[a-z0-9]{5}$");
    let mut cases = vec![(
        "podinfo --show-only service,deployment".to_string(),
        chart.clone(),
        f,
    )];
    let mut g = Flags::kube("1.32.0");
    g.show_only = vec!["templates/*.yaml".into()];
    g.mask = Some(r"(?m)(name: \S+-test-)[a-z0-9]{5}$");
    cases.push((
        "podinfo --show-only templates/*.yaml".into(),
        chart.clone(),
        g,
    ));
    let mut missing = Flags::kube("1.32.0");
    missing.show_only = vec!["templates/nope.yaml".into()];
    missing.expect_error = true;
    cases.push((
        "podinfo --show-only templates/nope.yaml (error)".into(),
        chart,
        missing,
    ));
    check(cases);
}
