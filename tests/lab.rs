//! The lab against its real components: etcd, kube-apiserver,
//! controller-manager, scheduler, kwok and OpenBao, started on loopback.

use std::time::{Duration, Instant};

use flotilla_lab::{process::ProcessRecord, TestLab};
use flotilla_tests::{kubectl, pid_running, port_open, run};
use k8s_openapi::api::authentication::v1::TokenReview;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, PostParams};

fn all_processes(lab: &TestLab) -> Vec<ProcessRecord> {
    let state = lab.lab().state().unwrap().unwrap();
    let mut v: Vec<ProcessRecord> = state
        .regions
        .values()
        .flat_map(|r| r.processes.clone())
        .collect();
    v.extend(state.openbao);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_regions_run_workloads_and_leave_nothing_behind() -> anyhow::Result<()> {
    let lab = TestLab::start(&["a", "b", "c"], false).await?;
    let procs = all_processes(&lab);
    assert_eq!(procs.len(), 15, "five components per region");

    for region in ["a", "b", "c"] {
        let ctx = format!("lab-{region}");
        // The API works through kube-rs ...
        let client = lab.client(region).await?;
        let ns: Api<Namespace> = Api::all(client.clone());
        let names: Vec<String> = ns
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect();
        assert!(
            names.contains(&"kube-system".to_string()),
            "{region}: {names:?}"
        );

        // ... and through kubectl, as a user would drive it.
        let out = run(kubectl(lab.lab(), &ctx).args(["get", "ns", "-o", "name"]))?;
        assert!(out.contains("namespace/default"), "{out}");
        // The ReplicaSet controller backs off (for minutes on a loaded
        // machine) when it creates pods before the namespace's `default`
        // ServiceAccount exists: wait for it, as a user's tooling would.
        let deadline = Instant::now() + Duration::from_secs(120);
        while kubectl(lab.lab(), &ctx)
            .args(["get", "serviceaccount", "default", "-o", "name"])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            assert!(
                Instant::now() < deadline,
                "{region}: no default ServiceAccount"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        run(kubectl(lab.lab(), &ctx).args([
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=2",
        ]))?;
        run(kubectl(lab.lab(), &ctx).args([
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "--timeout=180s",
        ]))?;
        let pods = run(kubectl(lab.lab(), &ctx).args([
            "get",
            "pods",
            "-l",
            "app=web",
            "--field-selector=status.phase=Running",
            "-o",
            "name",
        ]))?;
        assert_eq!(pods.lines().count(), 2, "{region}: {pods}");

        // Service-account tokens are signed and verifiable (TokenReview),
        // which Vault's Kubernetes auth method relies on.
        run(kubectl(lab.lab(), &ctx).args(["create", "serviceaccount", "reader"]))?;
        let token = run(kubectl(lab.lab(), &ctx).args(["create", "token", "reader"]))?;
        let review: TokenReview = serde_json::from_value(serde_json::json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token.trim()},
        }))?;
        let reviewed = Api::<TokenReview>::all(client)
            .create(&PostParams::default(), &review)
            .await?;
        let status = reviewed.status.unwrap_or_default();
        assert_eq!(
            status.authenticated,
            Some(true),
            "{region}: {:?}",
            status.error
        );
        assert_eq!(
            status.user.and_then(|u| u.username).as_deref(),
            Some("system:serviceaccount:default:reader")
        );
    }

    // Regions are separate clusters: a deployment in one is not in another.
    let b = lab.client("b").await?;
    let cms: Api<ConfigMap> = Api::namespaced(b, "default");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "only-in-b"}}))?,
    )
    .await?;
    let a_cms: Api<ConfigMap> = Api::namespaced(lab.client("a").await?, "default");
    assert!(a_cms.get_opt("only-in-b").await?.is_none());

    let ports: Vec<u16> = procs.iter().flat_map(|p| p.ports.clone()).collect();
    drop(lab);
    for p in &procs {
        assert!(!pid_running(p.pid, &p.binary), "{} still runs", p.component);
    }
    for port in ports {
        assert!(!port_open(port), "port {port} is still open");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openbao_and_crashed_components_recover_with_their_data() -> anyhow::Result<()> {
    let lab = TestLab::start(&["solo"], true).await?;
    let info = lab.openbao()?.expect("OpenBao runs");
    let init = lab.lab().dir().join("openbao/init.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&init)?.permissions().mode() & 0o777,
        0o600
    );
    assert!(
        !format!("{info:?}").contains(&info.root_token),
        "Debug shows the token"
    );

    let ca = reqwest::Certificate::from_pem(&std::fs::read(&info.ca_cert)?)?;
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()?;
    let health = |http: reqwest::Client, addr: String| async move {
        http.get(format!("{addr}/v1/sys/health"))
            .send()
            .await?
            .json::<serde_json::Value>()
            .await
    };
    let h = health(http.clone(), info.addr.clone()).await?;
    assert_eq!(h["initialized"], true);
    assert_eq!(h["sealed"], false);
    // The root token works.
    let me = http
        .get(format!("{}/v1/auth/token/lookup-self", info.addr))
        .header("X-Vault-Token", &info.root_token)
        .send()
        .await?;
    assert!(me.status().is_success(), "{}", me.status());

    // Data written before a crash survives it.
    let client = lab.client("solo").await?;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "before-crash"}}))?,
    )
    .await?;

    let state = lab.lab().state()?.expect("state");
    let etcd = state.regions["solo"].processes[0].clone();
    let kwok = state.regions["solo"].processes[4].clone();
    let bao = state.openbao.clone().expect("openbao");
    for p in [&etcd, &kwok, &bao] {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p.pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )?;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while [&etcd, &kwok, &bao].iter().any(|p| p.is_alive()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A dead component is reported, with its log kept. (Components that
    // depend on a killed one may stop too: the controller-manager exits
    // when its API server loses etcd for long enough.)
    let status = lab.lab().status().await?;
    let stopped: Vec<&str> = status
        .iter()
        .filter(|s| s.state == "stopped")
        .map(|s| s.component.as_str())
        .collect();
    for killed in ["etcd", "kwok", "openbao"] {
        assert!(
            stopped.contains(&killed),
            "{killed} not reported: {stopped:?}"
        );
    }
    for s in status.iter().filter(|s| s.state == "stopped") {
        assert!(s.log.is_file(), "{} has no log", s.component);
    }
    assert!(
        stopped.iter().all(|c| [
            "etcd",
            "kwok",
            "openbao",
            "kube-controller-manager",
            "kube-scheduler"
        ]
        .contains(c)),
        "{stopped:?}"
    );

    // `up` again repairs the lab: same data, OpenBao unsealed again with the
    // same root token.
    let assets = flotilla_lab::assets::cached(
        &flotilla_lab::assets::AssetOptions::from_env(),
        &["kubernetes", "etcd", "kwok", "openbao"],
    )?
    .expect("assets were built for this lab");
    let opts = flotilla_lab::UpOptions {
        regions: vec!["solo".into()],
        vault: true,
        ..Default::default()
    };
    lab.lab().up(&opts, &assets).await?;
    let status = lab.lab().status().await?;
    assert!(status.iter().all(|s| s.state == "running"), "{status:?}");
    let cms: Api<ConfigMap> = Api::namespaced(lab.client("solo").await?, "default");
    assert!(cms.get_opt("before-crash").await?.is_some());
    let info2 = lab.openbao()?.expect("OpenBao runs");
    assert_eq!(info2.root_token, info.root_token);
    let h = health(http, info2.addr).await?;
    assert_eq!(h["sealed"], false);
    Ok(())
}
