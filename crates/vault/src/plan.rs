//! Plan and apply a [`VaultConfig`]: compare the document with what Vault
//! holds (normalising Vault's answers: durations in seconds, lists in any
//! order, defaults it adds), show what would change, then converge.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{json, Map, Value};

use crate::client::{as_u64, VaultClient};
use crate::document::{AuthMethodSpec, RoleSpec, SecretEngineSpec, VaultConfig};
use crate::error::VaultError;
use crate::kv::{kv_version_of, with_slash, KvVersion};
use crate::secret::{SecretString, REDACTED};
use crate::sys::MountEntry;

/// What a plan item is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ItemKind {
    /// A secrets engine mount.
    SecretEngine,
    /// An auth method mount.
    AuthMethod,
    /// An auth method's `config`.
    AuthConfig,
    /// An ACL policy.
    Policy,
    /// A role of an auth method.
    Role,
    /// A secret the document expects.
    Secret,
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ItemKind::SecretEngine => "secrets engine",
            ItemKind::AuthMethod => "auth method",
            ItemKind::AuthConfig => "auth config",
            ItemKind::Policy => "policy",
            ItemKind::Role => "role",
            ItemKind::Secret => "secret",
        })
    }
}

/// What applying does to an item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// It does not exist: create it.
    Create,
    /// It differs: change it.
    Update,
    /// It is as the document says.
    Unchanged,
    /// It is not in the document and the document prunes its kind: delete it.
    Delete,
    /// It cannot be converged (e.g. a mount of another type): apply refuses.
    Blocked(String),
    /// Needs a person (e.g. a secret value missing): reported, not changed.
    Attention(String),
}

/// One field that changes; values are shown redacted when secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Vault's name for the field.
    pub field: String,
    /// The current value, as text (`(unset)` when absent).
    pub from: String,
    /// The wanted value, as text.
    pub to: String,
}

#[derive(Clone, Debug)]
enum Op {
    EnableMount {
        path: String,
        body: Value,
    },
    TuneMount {
        path: String,
        body: Value,
    },
    DisableMount {
        path: String,
    },
    EnableAuth {
        path: String,
        body: Value,
    },
    TuneAuth {
        path: String,
        body: Value,
    },
    DisableAuth {
        path: String,
    },
    WriteAuthConfig {
        mount: String,
        body: Value,
        reviewer_jwt: Option<SecretString>,
    },
    WritePolicy {
        name: String,
        text: String,
    },
    DeletePolicy {
        name: String,
    },
    WriteRole {
        mount: String,
        name: String,
        body: Value,
    },
    DeleteRole {
        mount: String,
        name: String,
    },
}

/// One line of a plan.
#[derive(Clone, Debug)]
pub struct PlanItem {
    /// What it is about.
    pub kind: ItemKind,
    /// Its Vault name, e.g. `secret/` or `auth/kubernetes/role/api`.
    pub name: String,
    /// What applying does.
    pub action: Action,
    /// The fields that change.
    pub changes: Vec<Change>,
    ops: Vec<Op>,
}

impl PlanItem {
    fn new(kind: ItemKind, name: impl Into<String>, action: Action) -> Self {
        PlanItem {
            kind,
            name: name.into(),
            action,
            changes: Vec::new(),
            ops: Vec::new(),
        }
    }

    /// True for create, update and delete.
    pub fn is_change(&self) -> bool {
        matches!(
            self.action,
            Action::Create | Action::Update | Action::Delete
        )
    }
}

impl fmt::Display for PlanItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mark, note) = match &self.action {
            Action::Create => ("+", String::new()),
            Action::Update => ("~", String::new()),
            Action::Unchanged => ("=", String::new()),
            Action::Delete => ("-", String::new()),
            Action::Blocked(why) => ("x", format!(": blocked: {why}")),
            Action::Attention(why) => ("!", format!(": {why}")),
        };
        write!(f, "{mark} {} {}{note}", self.kind, self.name)?;
        for change in &self.changes {
            match change.field.as_str() {
                "-" => write!(f, "\n      - {}", change.from)?,
                "+" => write!(f, "\n      + {}", change.to)?,
                field => write!(f, "\n      {field}: {} -> {}", change.from, change.to)?,
            }
        }
        Ok(())
    }
}

/// What `apply` would do, item by item, in the order it would do it.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The items.
    pub items: Vec<PlanItem>,
    /// Things in Vault the document does not list and does not prune.
    pub unmanaged: Vec<String>,
}

impl Plan {
    /// True when applying changes nothing.
    pub fn is_noop(&self) -> bool {
        !self.items.iter().any(PlanItem::is_change)
    }

    /// Items that would be created, updated, deleted.
    pub fn changes(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.is_change())
    }

    /// Items apply refuses.
    pub fn blocked(&self) -> Vec<&PlanItem> {
        self.items
            .iter()
            .filter(|i| matches!(i.action, Action::Blocked(_)))
            .collect()
    }

    /// Items that need a person.
    pub fn attention(&self) -> Vec<&PlanItem> {
        self.items
            .iter()
            .filter(|i| matches!(i.action, Action::Attention(_)))
            .collect()
    }

    fn count(&self, f: impl Fn(&Action) -> bool) -> usize {
        self.items.iter().filter(|i| f(&i.action)).count()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for item in &self.items {
            writeln!(f, "  {item}")?;
        }
        if !self.unmanaged.is_empty() {
            writeln!(
                f,
                "  (kept, not in the document: {}; set spec.prune to delete such items)",
                self.unmanaged.join(", ")
            )?;
        }
        write!(
            f,
            "{} to create, {} to update, {} to delete, {} unchanged",
            self.count(|a| *a == Action::Create),
            self.count(|a| *a == Action::Update),
            self.count(|a| *a == Action::Delete),
            self.count(|a| *a == Action::Unchanged),
        )?;
        let attention = self.count(|a| matches!(a, Action::Attention(_)));
        if attention > 0 {
            write!(f, ", {attention} need attention")?;
        }
        let blocked = self.count(|a| matches!(a, Action::Blocked(_)));
        if blocked > 0 {
            write!(f, ", {blocked} blocked")?;
        }
        Ok(())
    }
}

/// What `apply` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Items changed, as `kind name`.
    pub changed: Vec<String>,
}

fn show(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "(unset)".into(),
        Some(Value::String(s)) if s.is_empty() => "\"\"".into(),
        Some(Value::String(s)) if s.contains('\n') => {
            format!("({} lines)", s.trim_end().lines().count())
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Fields Vault keeps as lists (and accepts as comma-separated strings).
fn is_list_field(field: &str) -> bool {
    (field.contains("bound_") && !field.ends_with("selector"))
        || field.ends_with("policies")
        || field.ends_with("cidrs")
}

fn is_duration_field(field: &str) -> bool {
    field.ends_with("ttl") || field.ends_with("period")
}

/// A value in a comparable form: lists as sorted sets, durations in seconds.
fn normalise(field: &str, value: Option<&Value>) -> Value {
    let value = value.cloned().unwrap_or(Value::Null);
    if is_duration_field(field) {
        return match &value {
            Value::Null => json!(0),
            Value::String(s) => crate::duration::parse_duration(s)
                .map(|n| json!(n))
                .unwrap_or(value.clone()),
            Value::Number(_) => json!(as_u64(Some(&value)).unwrap_or(0)),
            _ => value,
        };
    }
    match value {
        Value::Array(items) => {
            let mut set: Vec<String> = items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.trim().to_string(),
                    other => other.to_string(),
                })
                .filter(|s| !s.is_empty())
                .collect();
            if field.ends_with("policies") {
                set.iter_mut().for_each(|s| *s = s.to_ascii_lowercase());
            }
            set.sort();
            set.dedup();
            json!(set)
        }
        Value::String(s) if is_list_field(field) => {
            // Vault accepts comma-separated strings for lists.
            normalise(
                field,
                Some(&Value::Array(
                    s.split(',')
                        .map(|p| Value::String(p.trim().to_string()))
                        .collect(),
                )),
            )
        }
        Value::Null if is_list_field(field) => {
            json!([])
        }
        Value::String(s) => Value::String(s.trim().to_string()),
        other => other,
    }
}

/// Fields of `desired` whose normalised value differs in `current`.
fn diff_fields(desired: &Map<String, Value>, current: Option<&Map<String, Value>>) -> Vec<Change> {
    desired
        .iter()
        .filter(|(k, v)| {
            normalise(k, Some(v)) != normalise(k, current.and_then(|c| c.get(k.as_str())))
        })
        .map(|(k, v)| Change {
            field: k.clone(),
            from: show(current.and_then(|c| c.get(k.as_str()))),
            to: show(Some(v)),
        })
        .collect()
}

fn normalise_policy_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

fn role_body(method: &AuthMethodSpec, role: &RoleSpec) -> Map<String, Value> {
    let mut body = Map::new();
    if method.method == "kubernetes" {
        body.insert(
            "bound_service_account_names".into(),
            json!(role.bound_service_account_names),
        );
        body.insert(
            "bound_service_account_namespaces".into(),
            json!(role.bound_service_account_namespaces),
        );
        if let Some(a) = &role.audience {
            body.insert("audience".into(), json!(a));
        }
    }
    if !role.policies.is_empty() {
        let policies: Vec<String> = role
            .policies
            .iter()
            .map(|p| p.to_ascii_lowercase())
            .collect();
        body.insert("token_policies".into(), json!(policies));
    }
    if let Some(ttl) = role.ttl {
        body.insert("token_ttl".into(), json!(ttl.0));
    }
    if let Some(ttl) = role.max_ttl {
        body.insert("token_max_ttl".into(), json!(ttl.0));
    }
    if let Some(b) = role.no_default_policy {
        body.insert("token_no_default_policy".into(), json!(b));
    }
    if let Some(b) = role.bind_secret_id {
        body.insert("bind_secret_id".into(), json!(b));
    }
    if let Some(ttl) = role.secret_id_ttl {
        body.insert("secret_id_ttl".into(), json!(ttl.0));
    }
    if let Some(n) = role.secret_id_num_uses {
        body.insert("secret_id_num_uses".into(), json!(n));
    }
    if !role.secret_id_bound_cidrs.is_empty() {
        body.insert(
            "secret_id_bound_cidrs".into(),
            json!(role.secret_id_bound_cidrs),
        );
    }
    for (k, v) in &role.extra {
        body.insert(k.clone(), v.clone());
    }
    body
}

fn engine_body(spec: &SecretEngineSpec) -> Value {
    let mut options: Map<String, Value> = spec
        .options
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if spec.kv_version() == Some(KvVersion::V2) {
        options.insert("version".into(), json!("2"));
    }
    let mut body = json!({"type": spec.vault_type()});
    if let Some(d) = &spec.description {
        body["description"] = json!(d);
    }
    if !options.is_empty() {
        body["options"] = Value::Object(options);
    }
    if let Some(config) = &spec.config {
        let mut c = Map::new();
        if let Some(t) = config.default_lease_ttl {
            c.insert("default_lease_ttl".into(), json!(format!("{}s", t.0)));
        }
        if let Some(t) = config.max_lease_ttl {
            c.insert("max_lease_ttl".into(), json!(format!("{}s", t.0)));
        }
        if !c.is_empty() {
            body["config"] = Value::Object(c);
        }
    }
    body
}

/// Compares tuning (description, lease TTLs) with a mount entry.
fn tune_changes(
    description: Option<&String>,
    tuning: Option<&crate::document::MountTuning>,
    current: &MountEntry,
    changes: &mut Vec<Change>,
    tune: &mut Map<String, Value>,
) {
    if let Some(d) = description {
        if d.trim() != current.description.trim() {
            changes.push(Change {
                field: "description".into(),
                from: show(Some(&json!(current.description))),
                to: d.clone(),
            });
            tune.insert("description".into(), json!(d));
        }
    }
    if let Some(t) = tuning {
        for (field, want, have) in [
            (
                "default_lease_ttl",
                t.default_lease_ttl,
                current.default_lease_ttl,
            ),
            ("max_lease_ttl", t.max_lease_ttl, current.max_lease_ttl),
        ] {
            if let Some(want) = want {
                if want.0 != have {
                    changes.push(Change {
                        field: field.into(),
                        from: if have == 0 {
                            "(system default)".into()
                        } else {
                            crate::duration::Seconds(have).to_string()
                        },
                        to: want.to_string(),
                    });
                    tune.insert(field.into(), json!(format!("{}s", want.0)));
                }
            }
        }
    }
}

const SYSTEM_MOUNTS: [&str; 3] = ["sys/", "identity/", "cubbyhole/"];

/// Compares `doc` with the Vault `client` talks to.
///
/// Reads only (mount tables, auth config, policies, roles and — for the
/// secrets the document expects — their keys); secret values are never
/// kept or shown.
pub async fn plan(client: &VaultClient, doc: &VaultConfig) -> Result<Plan, VaultError> {
    let mut plan = Plan::default();
    let mounts = client.list_mounts().await?;
    let auths = client.list_auth().await?;

    // Secrets engines.
    let mut new_mounts = BTreeSet::new();
    for spec in &doc.spec.secret_engines {
        let key = with_slash(&spec.path);
        let name = key.clone();
        let Some(current) = mounts.get(&key) else {
            let mut item = PlanItem::new(ItemKind::SecretEngine, name, Action::Create);
            item.changes.push(Change {
                field: "type".into(),
                from: "(unset)".into(),
                to: match spec.kv_version() {
                    Some(KvVersion::V2) => "kv (version 2)".into(),
                    Some(KvVersion::V1) => "kv (version 1)".into(),
                    None => spec.vault_type().into(),
                },
            });
            item.ops.push(Op::EnableMount {
                path: key.clone(),
                body: engine_body(spec),
            });
            new_mounts.insert(key);
            plan.items.push(item);
            continue;
        };
        if current.engine != spec.vault_type() {
            plan.items.push(PlanItem::new(
                ItemKind::SecretEngine,
                name,
                Action::Blocked(format!(
                    "it is a `{}` engine, the document wants `{}`; Flotilla does not remount (that deletes its data): disable it by hand or change the document",
                    current.engine,
                    spec.vault_type()
                )),
            ));
            continue;
        }
        let mut changes = Vec::new();
        let mut tune = Map::new();
        let have = kv_version_of(
            &current.engine,
            current.options.get("version").map(String::as_str),
        );
        let want = spec.kv_version();
        let mut options = Map::new();
        match (have, want) {
            (Some(KvVersion::V2), Some(KvVersion::V1)) => {
                plan.items.push(PlanItem::new(
                    ItemKind::SecretEngine,
                    name,
                    Action::Blocked(
                        "it is KV version 2; a KV mount cannot be downgraded to version 1".into(),
                    ),
                ));
                continue;
            }
            (Some(KvVersion::V1), Some(KvVersion::V2)) => {
                changes.push(Change {
                    field: "options.version".into(),
                    from: "1".into(),
                    to: "2 (upgrade in place; Vault migrates the data)".into(),
                });
                options.insert("version".into(), json!("2"));
            }
            _ => {}
        }
        for (k, v) in &spec.options {
            if k == "version" {
                continue;
            }
            if current.options.get(k) != Some(v) {
                changes.push(Change {
                    field: format!("options.{k}"),
                    from: show(current.options.get(k).map(|s| json!(s)).as_ref()),
                    to: v.clone(),
                });
                options.insert(k.clone(), json!(v));
            }
        }
        if !options.is_empty() {
            tune.insert("options".into(), Value::Object(options));
        }
        tune_changes(
            spec.description.as_ref(),
            spec.config.as_ref(),
            current,
            &mut changes,
            &mut tune,
        );
        let mut item = PlanItem::new(
            ItemKind::SecretEngine,
            name,
            if changes.is_empty() {
                Action::Unchanged
            } else {
                Action::Update
            },
        );
        if !tune.is_empty() {
            item.ops.push(Op::TuneMount {
                path: key,
                body: Value::Object(tune),
            });
        }
        item.changes = changes;
        plan.items.push(item);
    }

    // Auth methods, their config.
    let mut role_items = Vec::new();
    for spec in &doc.spec.auth_methods {
        let mount = spec.mount().to_string();
        let key = with_slash(&mount);
        let existing = auths.get(&key);
        match existing {
            None => {
                let mut body = json!({"type": spec.method});
                if let Some(d) = &spec.description {
                    body["description"] = json!(d);
                }
                let mut item =
                    PlanItem::new(ItemKind::AuthMethod, format!("auth/{key}"), Action::Create);
                item.changes.push(Change {
                    field: "type".into(),
                    from: "(unset)".into(),
                    to: spec.method.clone(),
                });
                item.ops.push(Op::EnableAuth {
                    path: mount.clone(),
                    body,
                });
                if let Some(t) = &spec.tune {
                    let mut tune = Map::new();
                    tune_changes(
                        None,
                        Some(t),
                        &MountEntry::default(),
                        &mut item.changes,
                        &mut tune,
                    );
                    if !tune.is_empty() {
                        item.ops.push(Op::TuneAuth {
                            path: mount.clone(),
                            body: Value::Object(tune),
                        });
                    }
                }
                plan.items.push(item);
            }
            Some(current) if current.engine != spec.method => {
                plan.items.push(PlanItem::new(
                    ItemKind::AuthMethod,
                    format!("auth/{key}"),
                    Action::Blocked(format!(
                        "it is a `{}` auth method, the document wants `{}`",
                        current.engine, spec.method
                    )),
                ));
                continue;
            }
            Some(current) => {
                let mut changes = Vec::new();
                let mut tune = Map::new();
                tune_changes(
                    spec.description.as_ref(),
                    spec.tune.as_ref(),
                    current,
                    &mut changes,
                    &mut tune,
                );
                let mut item = PlanItem::new(
                    ItemKind::AuthMethod,
                    format!("auth/{key}"),
                    if changes.is_empty() {
                        Action::Unchanged
                    } else {
                        Action::Update
                    },
                );
                if !tune.is_empty() {
                    item.ops.push(Op::TuneAuth {
                        path: mount.clone(),
                        body: Value::Object(tune),
                    });
                }
                item.changes = changes;
                plan.items.push(item);
            }
        }

        if let Some(k) = &spec.kubernetes {
            let mut desired = Map::new();
            desired.insert(
                "kubernetes_host".into(),
                json!(k.kubernetes_host.trim().trim_end_matches('/')),
            );
            if let Some(ca) = doc.kubernetes_ca(k)? {
                desired.insert("kubernetes_ca_cert".into(), json!(ca.trim()));
            }
            if let Some(i) = &k.issuer {
                desired.insert("issuer".into(), json!(i));
            }
            if let Some(b) = k.disable_iss_validation {
                desired.insert("disable_iss_validation".into(), json!(b));
            }
            if let Some(b) = k.disable_local_ca_jwt {
                desired.insert("disable_local_ca_jwt".into(), json!(b));
            }
            let jwt = match &k.token_reviewer_jwt {
                Some(from) => Some(doc.secret_value(from, "kubernetes.tokenReviewerJwt")?),
                None => None,
            };
            let current = if existing.is_some() {
                client.read_auth_config(&mount).await?
            } else {
                None
            };
            let name = format!("auth/{mount}/config");
            let mut changes = diff_fields(&desired, current.as_ref());
            for change in &mut changes {
                if change.field == "kubernetes_host" {
                    // Vault keeps the host as written; compare without a trailing slash.
                    let have = current
                        .as_ref()
                        .and_then(|c| c.get("kubernetes_host"))
                        .and_then(Value::as_str)
                        .map(|h| h.trim_end_matches('/').to_string());
                    if have.as_deref() == desired.get("kubernetes_host").and_then(Value::as_str) {
                        change.field.clear();
                    }
                }
            }
            changes.retain(|c| !c.field.is_empty());
            let jwt_set = current
                .as_ref()
                .and_then(|c| c.get("token_reviewer_jwt_set"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            match (&jwt, jwt_set) {
                (Some(_), false) => changes.push(Change {
                    field: "token_reviewer_jwt".into(),
                    from: "(unset)".into(),
                    to: REDACTED.into(),
                }),
                (None, true) => changes.push(Change {
                    field: "token_reviewer_jwt".into(),
                    from: REDACTED.into(),
                    to: "(unset: Vault reviews each login with the login's own JWT)".into(),
                }),
                _ => {}
            }
            let action = if current.is_none() {
                Action::Create
            } else if changes.is_empty() {
                Action::Unchanged
            } else {
                Action::Update
            };
            let mut item = PlanItem::new(ItemKind::AuthConfig, name, action);
            if item.action != Action::Unchanged {
                item.ops.push(Op::WriteAuthConfig {
                    mount: mount.clone(),
                    body: Value::Object(desired),
                    reviewer_jwt: jwt,
                });
            }
            item.changes = changes;
            plan.items.push(item);
        }

        // Roles come after policies; collect them now.
        let existing_roles: BTreeSet<String> = if existing.is_some() {
            client.list_roles(&mount).await?.into_iter().collect()
        } else {
            BTreeSet::new()
        };
        for role in &spec.roles {
            let name = format!("auth/{mount}/role/{}", role.name);
            let desired = role_body(spec, role);
            let current = if existing_roles.contains(&role.name) {
                client.read_role(&mount, &role.name).await?
            } else {
                None
            };
            let changes = diff_fields(&desired, current.as_ref());
            let action = match (&current, changes.is_empty()) {
                (None, _) => Action::Create,
                (Some(_), true) => Action::Unchanged,
                (Some(_), false) => Action::Update,
            };
            let mut item = PlanItem::new(ItemKind::Role, name, action);
            if item.action != Action::Unchanged {
                item.ops.push(Op::WriteRole {
                    mount: mount.clone(),
                    name: role.name.clone(),
                    body: Value::Object(desired),
                });
            }
            item.changes = changes;
            role_items.push(item);
        }
        let listed: BTreeSet<&str> = spec.roles.iter().map(|r| r.name.as_str()).collect();
        for extra in existing_roles
            .iter()
            .filter(|r| !listed.contains(r.as_str()))
        {
            let name = format!("auth/{mount}/role/{extra}");
            if doc.spec.prune.roles {
                let mut item = PlanItem::new(ItemKind::Role, name, Action::Delete);
                item.ops.push(Op::DeleteRole {
                    mount: mount.clone(),
                    name: extra.clone(),
                });
                role_items.push(item);
            } else {
                plan.unmanaged.push(format!("role {name}"));
            }
        }
    }

    // Policies.
    let existing_policies: BTreeSet<String> = client.list_policies().await?.into_iter().collect();
    let mut listed_policies = BTreeSet::new();
    for spec in &doc.spec.policies {
        let name = spec.name.trim().to_ascii_lowercase();
        listed_policies.insert(name.clone());
        let text = doc.policy_text(spec)?;
        let current = if existing_policies.contains(&name) {
            client.read_policy(&name).await?
        } else {
            None
        };
        let mut item = match &current {
            None => PlanItem::new(ItemKind::Policy, &name, Action::Create),
            Some(have) if normalise_policy_text(have) == normalise_policy_text(&text) => {
                PlanItem::new(ItemKind::Policy, &name, Action::Unchanged)
            }
            Some(have) => {
                let mut item = PlanItem::new(ItemKind::Policy, &name, Action::Update);
                let old: BTreeSet<String> = normalise_policy_text(have)
                    .lines()
                    .map(str::to_string)
                    .collect();
                let new: BTreeSet<String> = normalise_policy_text(&text)
                    .lines()
                    .map(str::to_string)
                    .collect();
                for line in old.difference(&new) {
                    item.changes.push(Change {
                        field: "-".into(),
                        from: line.clone(),
                        to: String::new(),
                    });
                }
                for line in new.difference(&old) {
                    item.changes.push(Change {
                        field: "+".into(),
                        from: String::new(),
                        to: line.clone(),
                    });
                }
                item
            }
        };
        if item.action != Action::Unchanged {
            item.ops.push(Op::WritePolicy { name, text });
        }
        plan.items.push(item);
    }
    let mut deletes = Vec::new();
    for name in existing_policies.difference(&listed_policies) {
        if name == "default" || name == "root" {
            continue;
        }
        if doc.spec.prune.policies {
            let mut item = PlanItem::new(ItemKind::Policy, name, Action::Delete);
            item.ops.push(Op::DeletePolicy { name: name.clone() });
            deletes.push(item);
        } else {
            plan.unmanaged.push(format!("policy {name}"));
        }
    }

    // Roles (they name policies, so they come after them).
    let (role_deletes, role_writes): (Vec<PlanItem>, Vec<PlanItem>) = role_items
        .into_iter()
        .partition(|i| i.action == Action::Delete);
    plan.items.extend(role_writes);

    // Secrets the document expects.
    for spec in &doc.spec.secrets {
        let path = spec.path.trim_matches('/').to_string();
        let mut keys_hint = spec
            .keys
            .iter()
            .map(|k| format!("{k}=..."))
            .collect::<Vec<_>>()
            .join(" ");
        if keys_hint.is_empty() {
            keys_hint = "KEY=...".into();
        }
        let put = format!("`bao kv put {path} {keys_hint}` (or `vault kv put`)");
        let in_new_mount = new_mounts
            .iter()
            .any(|m| format!("{path}/").starts_with(m.as_str()));
        let action = if in_new_mount {
            Action::Attention(format!(
                "its engine is created by this plan; then write it with {put}"
            ))
        } else {
            let read = async {
                let kv = client.kv_path_api(&path).await?;
                client.kv_read_at(&kv, None).await
            };
            match read.await {
                Ok(Some(secret)) if !secret.metadata.as_ref().is_some_and(|m| m.is_gone()) => {
                    let missing: Vec<&String> = spec
                        .keys
                        .iter()
                        .filter(|k| secret.data.get(k).is_none())
                        .collect();
                    if missing.is_empty() {
                        Action::Unchanged
                    } else {
                        Action::Attention(format!(
                            "keys missing: {}; add them with `bao kv patch {path} ...`",
                            missing
                                .iter()
                                .map(|k| k.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }
                }
                Ok(_) => Action::Attention(format!("not in Vault; write it with {put}")),
                Err(e) => Action::Attention(format!("cannot check it: {e}")),
            }
        };
        plan.items
            .push(PlanItem::new(ItemKind::Secret, path, action));
    }

    // Deletions last, dependents first.
    plan.items.extend(role_deletes);
    plan.items.extend(deletes);
    let listed_auth: BTreeSet<String> = doc
        .spec
        .auth_methods
        .iter()
        .map(|a| with_slash(a.mount()))
        .collect();
    for (key, _) in auths
        .iter()
        .filter(|(k, _)| !listed_auth.contains(*k) && k.as_str() != "token/")
    {
        if doc.spec.prune.auth_methods {
            let mut item =
                PlanItem::new(ItemKind::AuthMethod, format!("auth/{key}"), Action::Delete);
            item.ops.push(Op::DisableAuth { path: key.clone() });
            plan.items.push(item);
        } else {
            plan.unmanaged.push(format!("auth method auth/{key}"));
        }
    }
    let listed_mounts: BTreeSet<String> = doc
        .spec
        .secret_engines
        .iter()
        .map(|e| with_slash(&e.path))
        .collect();
    for (key, _) in mounts
        .iter()
        .filter(|(k, _)| !listed_mounts.contains(*k) && !SYSTEM_MOUNTS.contains(&k.as_str()))
    {
        if doc.spec.prune.secret_engines {
            let mut item = PlanItem::new(ItemKind::SecretEngine, key.clone(), Action::Delete);
            item.ops.push(Op::DisableMount { path: key.clone() });
            plan.items.push(item);
        } else {
            plan.unmanaged.push(format!("secrets engine {key}"));
        }
    }
    Ok(plan)
}

/// Carries out `plan` in order. Refuses, changing nothing, when any item
/// is blocked; stops at the first failure, naming the item.
pub async fn apply(client: &VaultClient, plan: &Plan) -> Result<ApplyReport, VaultError> {
    let blocked = plan.blocked();
    if !blocked.is_empty() {
        return Err(VaultError::Blocked {
            items: blocked.iter().map(|i| i.to_string()).collect(),
        });
    }
    let mut report = ApplyReport::default();
    for item in plan.items.iter().filter(|i| i.is_change()) {
        let label = format!("{} {}", item.kind, item.name);
        for op in &item.ops {
            let result = run_op(client, op).await;
            if let Err(source) = result {
                return Err(VaultError::Apply {
                    item: label,
                    done: report.changed.len(),
                    source: Box::new(source),
                });
            }
        }
        tracing::info!(item = %label, action = ?item.action, "applied");
        report.changed.push(label);
    }
    Ok(report)
}

async fn run_op(client: &VaultClient, op: &Op) -> Result<(), VaultError> {
    match op {
        Op::EnableMount { path, body } => client.enable_mount(path, body.clone()).await,
        Op::TuneMount { path, body } => client.tune_mount(path, body.clone()).await,
        Op::DisableMount { path } => client.disable_mount(path).await,
        Op::EnableAuth { path, body } => client.enable_auth(path, body.clone()).await,
        Op::TuneAuth { path, body } => client.tune_auth(path, body.clone()).await,
        Op::DisableAuth { path } => client.disable_auth(path).await,
        Op::WriteAuthConfig {
            mount,
            body,
            reviewer_jwt,
        } => {
            let mut body = body.clone();
            if let Some(jwt) = reviewer_jwt {
                body["token_reviewer_jwt"] = json!(jwt.expose());
            }
            client.write_auth_config(mount, body).await
        }
        Op::WritePolicy { name, text } => client.write_policy(name, text).await,
        Op::DeletePolicy { name } => client.delete_policy(name).await,
        Op::WriteRole { mount, name, body } => client.write_role(mount, name, body.clone()).await,
        Op::DeleteRole { mount, name } => client.delete_role(mount, name).await,
    }
}

/// Plans, and unless `dry_run`, applies: the plan and what was done.
pub async fn converge(
    client: &VaultClient,
    doc: &VaultConfig,
    dry_run: bool,
) -> Result<(Plan, Option<ApplyReport>), VaultError> {
    let plan = plan(client, doc).await?;
    if dry_run {
        return Ok((plan, None));
    }
    let report = apply(client, &plan).await?;
    Ok((plan, Some(report)))
}

/// Roles of a document by `(mount, name)`, for the offline check.
pub(crate) fn document_roles(
    doc: &VaultConfig,
) -> BTreeMap<(String, String), (&AuthMethodSpec, &RoleSpec)> {
    doc.spec
        .auth_methods
        .iter()
        .flat_map(|m| {
            m.roles
                .iter()
                .map(move |r| ((m.mount().to_string(), r.name.clone()), (m, r)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_vault_shapes() {
        assert_eq!(
            normalise("token_ttl", Some(&json!("24h"))),
            normalise("token_ttl", Some(&json!(86400)))
        );
        assert_eq!(
            normalise("token_policies", Some(&json!(["b", "A"]))),
            normalise("token_policies", Some(&json!("a,b")))
        );
        assert_eq!(normalise("secret_id_bound_cidrs", None), json!([]));
        assert_eq!(normalise("token_max_ttl", None), json!(0));
    }

    #[test]
    fn diffs_only_wanted_fields() {
        let desired: Map<String, Value> = serde_json::from_value(json!({
            "bound_service_account_namespaces": ["gen-algo-*"],
            "token_ttl": 86400
        }))
        .unwrap();
        let current: Map<String, Value> = serde_json::from_value(json!({
            "bound_service_account_namespaces": ["gen-algo"],
            "token_ttl": 86400,
            "token_type": "default"
        }))
        .unwrap();
        let changes = diff_fields(&desired, Some(&current));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "bound_service_account_namespaces");
        assert_eq!(changes[0].from, r#"["gen-algo"]"#);
    }
}
