//! Storage for the lab's regions: kube-controller-manager runs with
//! `--enable-hostpath-provisioner`, and every region gets two StorageClasses
//! with the `kubernetes.io/host-path` provisioner, so PersistentVolumeClaims
//! (a StatefulSet's `volumeClaimTemplates`) are bound to a provisioned
//! hostPath PersistentVolume as on a cloud:
//!
//! - `standard`, the default class (for claims that name none);
//! - `gp2`, the name EKS gives its class, which charts' values often name.

use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, PostParams};
use serde_json::json;

use crate::error::{LabError, Result};

/// The provisioner of the lab's classes (kube-controller-manager's hostPath
/// provisioner).
pub const PROVISIONER: &str = "kubernetes.io/host-path";

/// The default StorageClass of every region.
pub const DEFAULT_CLASS: &str = "standard";

/// Every StorageClass the lab creates: (name, is default).
pub const CLASSES: [(&str, bool); 2] = [(DEFAULT_CLASS, true), ("gp2", false)];

/// Creates the lab's StorageClasses in a region (those that exist are left
/// as they are).
pub async fn ensure_classes(client: &kube::Client, region: &str) -> Result<()> {
    let api: Api<StorageClass> = Api::all(client.clone());
    for (name, default) in CLASSES {
        let class: StorageClass = serde_json::from_value(json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": name,
                "labels": {"app.kubernetes.io/managed-by": "flotilla-lab"},
                "annotations": {
                    "storageclass.kubernetes.io/is-default-class": default.to_string(),
                },
            },
            "provisioner": PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": true,
        }))
        .map_err(|e| LabError::Kube {
            region: region.to_string(),
            message: format!("storage class manifest: {e}"),
        })?;
        match api.create(&PostParams::default(), &class).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => {
                return Err(LabError::Kube {
                    region: region.to_string(),
                    message: format!("creating StorageClass {name}: {e}"),
                })
            }
        }
    }
    Ok(())
}
