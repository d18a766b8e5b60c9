//! kustomize's resource order ("legacy" sort): by kind rank, then group,
//! version and kind, then namespace and name.

use super::resource::{Gvk, Resource};

/// Kinds that come first, in this order.
pub const DEFAULT_ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds that come last, in this order.
pub const DEFAULT_ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn gvk_sort_string(g: &Gvk) -> String {
    format!(
        "{}_{}_{}",
        if g.group.is_empty() { "~G" } else { &g.group },
        if g.version.is_empty() {
            "~V"
        } else {
            &g.version
        },
        if g.kind.is_empty() { "~K" } else { &g.kind }
    )
}

struct Key {
    gvk: Gvk,
    rank: i64,
    gvk_string: String,
    id_string: String,
}

fn less(a: &Key, b: &Key) -> bool {
    if a.gvk != b.gvk {
        if a.rank != b.rank {
            return a.rank < b.rank;
        }
        if a.gvk.kind == "Namespace"
            && b.gvk.kind == "Namespace"
            && (a.gvk.group.is_empty() || b.gvk.group.is_empty())
        {
            return a.gvk_string > b.gvk_string;
        }
        return a.gvk_string < b.gvk_string;
    }
    a.id_string < b.id_string
}

/// Sorts resources in kustomize's legacy order with the given first and last kinds.
pub fn legacy_sort(res: &mut Vec<Resource>, first: &[String], last: &[String]) {
    let rank = |kind: &str| -> i64 {
        let mut r = 0i64;
        for (i, k) in first.iter().enumerate() {
            if k == kind {
                r = -(first.len() as i64) + i as i64;
            }
        }
        for (i, k) in last.iter().enumerate() {
            if k == kind {
                r = 1 + i as i64;
            }
        }
        r
    };
    let mut keyed: Vec<(Key, Resource)> = std::mem::take(res)
        .into_iter()
        .map(|r| {
            let id = r.cur_id();
            let key = Key {
                rank: rank(&id.gvk.kind),
                gvk_string: gvk_sort_string(&id.gvk),
                id_string: format!(
                    "{}|{}|{}",
                    id.gvk.kustomize_string(),
                    if id.namespace.is_empty() {
                        "~X"
                    } else {
                        &id.namespace
                    },
                    if id.name.is_empty() { "~N" } else { &id.name }
                ),
                gvk: id.gvk,
            };
            (key, r)
        })
        .collect();
    // A stable insertion-merge sort that only relies on `less` (which is not
    // guaranteed to be a total order for unusual Namespace groups).
    merge_sort(&mut keyed);
    res.extend(keyed.into_iter().map(|(_, r)| r));
}

fn merge_sort(v: &mut Vec<(Key, Resource)>) {
    if v.len() <= 1 {
        return;
    }
    let right = v.split_off(v.len() / 2);
    let mut left = std::mem::take(v);
    let mut right = right;
    merge_sort(&mut left);
    merge_sort(&mut right);
    let mut l = left.into_iter().peekable();
    let mut r = right.into_iter().peekable();
    loop {
        match (l.peek(), r.peek()) {
            (Some(a), Some(b)) => {
                if less(&b.0, &a.0) {
                    v.push(r.next().expect("peeked"));
                } else {
                    v.push(l.next().expect("peeked"));
                }
            }
            (Some(_), None) => v.push(l.next().expect("peeked")),
            (None, Some(_)) => v.push(r.next().expect("peeked")),
            (None, None) => break,
        }
    }
}
