//! `.Capabilities`: the Kubernetes version, API versions and Helm version
//! a render assumes (Helm's `chartutil.Capabilities`).

use std::collections::BTreeMap;
use std::sync::Arc;

use flotilla_template::{ElemType, Function, GoMethods, Param, Value};

use crate::error::HelmError;

/// The Kubernetes version templates see as `.Capabilities.KubeVersion`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeVersion {
    /// `v1.32.0`.
    pub version: String,
    /// `1`.
    pub major: String,
    /// `32`.
    pub minor: String,
}

impl KubeVersion {
    /// Parses a version as `helm template --kube-version` does (a semver,
    /// `v` optional; a partial `1.32` is `v1.32.0`).
    ///
    /// ```
    /// let v = flotilla_helm::KubeVersion::parse("1.32").unwrap();
    /// assert_eq!((v.version.as_str(), v.major.as_str(), v.minor.as_str()), ("v1.32.0", "1", "32"));
    /// ```
    pub fn parse(input: &str) -> Result<KubeVersion, HelmError> {
        let v = flotilla_template::semver::Version::parse(input).map_err(|e| {
            HelmError::InvalidKubeVersion {
                input: input.to_string(),
                message: e,
            }
        })?;
        Ok(KubeVersion {
            version: format!("v{v}"),
            major: v.major.to_string(),
            minor: v.minor.to_string(),
        })
    }
}

impl Default for KubeVersion {
    /// `v1.32.0`: what a Helm v3.17.4 release binary assumes (its Makefile
    /// sets the default from the client-go it is built with, v0.32). A
    /// `helm` built without those ldflags (the lab's) says `v1.20.0`.
    fn default() -> Self {
        KubeVersion {
            version: "v1.32.0".into(),
            major: "1".into(),
            minor: "32".into(),
        }
    }
}

/// `helm version` information templates see as `.Capabilities.HelmVersion`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelmVersion {
    /// `v3.17.4`.
    pub version: String,
    /// Git commit of the Helm build (empty here).
    pub git_commit: String,
    /// `clean` or `dirty` (empty here).
    pub git_tree_state: String,
    /// The Go version Helm was built with.
    pub go_version: String,
}

impl Default for HelmVersion {
    fn default() -> Self {
        HelmVersion {
            version: "v3.17.4".into(),
            git_commit: String::new(),
            git_tree_state: String::new(),
            go_version: String::new(),
        }
    }
}

/// What the cluster is assumed to offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// `.Capabilities.KubeVersion`.
    pub kube_version: KubeVersion,
    /// `.Capabilities.APIVersions`: Helm's defaults then any extra ones.
    pub api_versions: Vec<String>,
    /// `.Capabilities.HelmVersion`.
    pub helm_version: HelmVersion,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            kube_version: KubeVersion::default(),
            api_versions: DEFAULT_API_VERSIONS.iter().map(|s| s.to_string()).collect(),
            helm_version: HelmVersion::default(),
        }
    }
}

impl Capabilities {
    /// Helm's defaults for `kube_version` plus `extra` API versions (what
    /// `helm template --kube-version V --api-versions X` builds).
    pub fn with(kube_version: KubeVersion, extra: &[String]) -> Capabilities {
        let mut c = Capabilities {
            kube_version,
            ..Capabilities::default()
        };
        c.api_versions.extend(extra.iter().cloned());
        c
    }

    /// The template value.
    pub(crate) fn to_value(&self) -> Value {
        let kv = &self.kube_version;
        let kube = Value::map_with_methods(
            [
                ("Version", kv.version.as_str()),
                ("Major", kv.major.as_str()),
                ("Minor", kv.minor.as_str()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::str(v)))
            .collect(),
            Arc::new(KubeVersionMethods(kv.version.clone())),
        );
        let apis = Value::list_with_methods(
            ElemType::String,
            self.api_versions
                .iter()
                .map(|s| Value::str(s.as_str()))
                .collect(),
            Arc::new(VersionSet(self.api_versions.clone())),
        );
        let hv = &self.helm_version;
        let helm: BTreeMap<String, Value> = [
            ("Version", hv.version.as_str()),
            ("GitCommit", hv.git_commit.as_str()),
            ("GitTreeState", hv.git_tree_state.as_str()),
            ("GoVersion", hv.go_version.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::str(v)))
        .collect();
        let mut m = BTreeMap::new();
        m.insert("KubeVersion".to_string(), kube);
        m.insert("APIVersions".to_string(), apis);
        m.insert("HelmVersion".to_string(), Value::map(helm));
        Value::map(m)
    }
}

#[derive(Debug)]
struct KubeVersionMethods(String);

impl GoMethods for KubeVersionMethods {
    fn type_name(&self) -> Option<&'static str> {
        Some("chartutil.KubeVersion")
    }

    fn method(&self, _recv: &Value, name: &str) -> Option<Function> {
        let v = self.0.clone();
        match name {
            "String" | "GitVersion" => {
                Some(Function::new(&[], move |_, _| Ok(Value::str(v.as_str()))))
            }
            _ => None,
        }
    }
}

#[derive(Debug)]
struct VersionSet(Vec<String>);

impl GoMethods for VersionSet {
    fn method(&self, _recv: &Value, name: &str) -> Option<Function> {
        let set = self.0.clone();
        match name {
            "Has" => Some(Function::new(&[Param::String], move |_, a| {
                let want = a[0].as_str().unwrap_or("");
                Ok(Value::Bool(set.iter().any(|x| x == want)))
            })),
            _ => None,
        }
    }
}

/// The API versions a Helm v3.17.4 binary assumes without a cluster
/// (client-go v0.32's scheme, prioritised, plus apiextensions), in its order.
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1alpha1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha1",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1alpha1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];
