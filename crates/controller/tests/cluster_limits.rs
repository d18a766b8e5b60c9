//! `clusters.limits` names kubeconfig contexts: the controller refuses to
//! start with a name the kubeconfig lacks. No cluster is contacted
//! (connections are made on first use).

use flotilla_controller::config::ControllerConfig;
use flotilla_controller::Controller;

const KUBECONFIG: &str = "\
apiVersion: v1
kind: Config
clusters:
  - {name: cl-a, cluster: {server: 'https://127.0.0.1:1'}}
users:
  - {name: u, user: {token: t}}
contexts:
  - {name: ctx-a, context: {cluster: cl-a, user: u}}
current-context: ctx-a
";

/// Starts a controller whose `clusters.limits` is `limits`, in `dir`.
async fn start(dir: &std::path::Path, limits: &str) -> Result<Controller, String> {
    std::fs::create_dir_all(dir.join("apps")).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("kubeconfig"), KUBECONFIG).map_err(|e| e.to_string())?;
    let text = format!(
        "applications: [{{directory: apps}}]\nclusters:\n  kubeconfig: kubeconfig\n  qps: 5\n  limits: {limits}\n"
    );
    let config =
        ControllerConfig::parse(&text, &dir.join("flotilla.yaml")).map_err(|e| e.to_string())?;
    Controller::new(config).await.map_err(|e| e.to_string())
}

#[tokio::test]
async fn limits_must_name_kubeconfig_contexts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = start(&dir.path().join("ok"), "{ctx-a: {qps: 20, burst: 40}}").await;
    assert!(started.is_ok(), "{:?}", started.err());
    let err = match start(
        &dir.path().join("bad"),
        "{ctx-a: {qps: 20}, nope: {qps: 1}}",
    )
    .await
    {
        Ok(_) => panic!("a context the kubeconfig lacks was accepted"),
        Err(e) => e,
    };
    assert!(
        err.contains("clusters.limits: the kubeconfig has no context \"nope\""),
        "{err}"
    );
}
