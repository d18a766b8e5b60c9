//! `flotilla vault ...`: converge Vault to a VaultConfig, check manifests
//! that use the Vault agent injector, initialise and unseal.
//!
//! Vault is reached through the variables the `vault` CLI reads
//! (`VAULT_ADDR`, `VAULT_TOKEN`, `VAULT_CACERT`, `VAULT_NAMESPACE`, ...).
//! Everything else lives in `flotilla_vault`; this module parses arguments,
//! calls it and prints.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use flotilla_core::{Location, Manifest};
use flotilla_vault::{
    check_manifests, CheckReport, ClientConfig, InitRequest, SecretString, UnsealKeys, VaultClient,
    VaultConfig,
};

/// `flotilla vault` subcommands.
#[derive(Debug, Subcommand)]
pub enum VaultCmd {
    /// Show the plan for a VaultConfig document and converge Vault to it.
    Apply(ApplyArgs),
    /// Check pods that use the Vault agent injector against Vault before deploying them.
    Check(CheckArgs),
    /// Initialise a new Vault; key shares and the root token go to a private file.
    Init(InitArgs),
    /// Unseal Vault with key shares from a key file (or standard input).
    Unseal(UnsealArgs),
}

/// Arguments of `flotilla vault apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The VaultConfig document.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// Show the plan only; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `flotilla vault check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A manifest file, a directory of manifests, or a kustomization directory.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// The namespace the manifests are deployed to (the Application's destination namespace).
    #[arg(short = 'n', long)]
    pub namespace: String,
    /// Check against this VaultConfig document instead of the live Vault.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also read manifests in subdirectories of a plain directory.
    #[arg(short = 'r', long)]
    pub recursive: bool,
}

/// Arguments of `flotilla vault init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Number of unseal key shares.
    #[arg(long, default_value_t = 5)]
    pub key_shares: u32,
    /// Shares needed to unseal.
    #[arg(long, default_value_t = 3)]
    pub key_threshold: u32,
    /// Where to write the key shares and root token (created with mode 0600; never overwritten).
    #[arg(
        short = 'o',
        long,
        default_value = "vault-init.json",
        value_name = "FILE"
    )]
    pub output: PathBuf,
    /// Also print the key shares and root token on standard output.
    #[arg(long)]
    pub show_keys: bool,
}

/// Arguments of `flotilla vault unseal`.
#[derive(Debug, Args)]
pub struct UnsealArgs {
    /// A key file written by `flotilla vault init` or `vault operator init -format=json`.
    /// Without it, keys are read from standard input, one per line.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

/// Runs a `flotilla vault` subcommand; the exit code (`check`: 1 on findings).
pub async fn run(cmd: VaultCmd) -> anyhow::Result<i32> {
    match cmd {
        VaultCmd::Apply(args) => apply(args).await,
        VaultCmd::Check(args) => check(args).await,
        VaultCmd::Init(args) => init(args).await,
        VaultCmd::Unseal(args) => unseal(args).await,
    }
}

fn client() -> anyhow::Result<VaultClient> {
    let config = ClientConfig::from_env().context("reading VAULT_* settings")?;
    VaultClient::new(config).context("setting up the Vault client")
}

async fn apply(args: ApplyArgs) -> anyhow::Result<i32> {
    let doc = VaultConfig::load(&args.file)?;
    let client = client()?;
    println!(
        "VaultConfig {} ({}) against Vault at {}{}",
        if doc.metadata.name.is_empty() {
            "(unnamed)"
        } else {
            &doc.metadata.name
        },
        args.file.display(),
        client.addr(),
        client
            .namespace()
            .map(|ns| format!(" (namespace {ns})"))
            .unwrap_or_default()
    );
    let plan = flotilla_vault::plan(&client, &doc)
        .await
        .with_context(|| format!("planning {}", args.file.display()))?;
    println!("{plan}");
    if args.dry_run {
        println!("dry run: nothing was changed");
        return Ok(if plan.blocked().is_empty() { 0 } else { 1 });
    }
    if plan.is_noop() && plan.blocked().is_empty() {
        println!("Vault already matches the document; nothing changed");
        return Ok(0);
    }
    let report = flotilla_vault::apply(&client, &plan)
        .await
        .with_context(|| format!("applying {}", args.file.display()))?;
    println!("applied {} change(s)", report.changed.len());
    Ok(0)
}

/// The manifests at `path`: a kustomization rendered as `flotilla render`
/// does, or the Kubernetes objects of a YAML file or directory.
fn load_manifests(path: &Path, recursive: bool) -> anyhow::Result<Vec<Manifest>> {
    if path.is_dir() {
        if ["kustomization.yaml", "kustomization.yml", "Kustomization"]
            .iter()
            .any(|k| path.join(k).is_file())
        {
            return kustomize_build(path);
        }
        let mut files = Vec::new();
        collect_files(path, recursive, &mut files)?;
        files.sort();
        let mut out = Vec::new();
        for file in files {
            out.extend(parse_file(&file)?);
        }
        return Ok(out);
    }
    parse_file(path)
}

fn collect_files(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if recursive && !entry.file_name().to_string_lossy().starts_with('.') {
                collect_files(&path, true, out)?;
            }
        } else if kind.is_file()
            && matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        {
            out.push(path);
        }
    }
    Ok(())
}

fn parse_file(path: &Path) -> anyhow::Result<Vec<Manifest>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_yaml(&text, &path.display().to_string())
}

/// Kubernetes objects of a YAML stream; documents without `apiVersion` and
/// `kind` (values files, config.json) are skipped.
fn parse_yaml(text: &str, file: &str) -> anyhow::Result<Vec<Manifest>> {
    let mut out = Vec::new();
    for (i, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value: serde_json::Value = serde::Deserialize::deserialize(document).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            anyhow::anyhow!("{file}{at}: not YAML: {e}")
        })?;
        let is_object = value.get("apiVersion").is_some() && value.get("kind").is_some();
        if is_object {
            let location = Location::in_file(file).with_document(i as u32 + 1);
            out.push(Manifest::from_value_at(value, location)?);
        }
    }
    Ok(out)
}

/// A kustomization rendered natively, exactly as `kustomize build` would.
fn kustomize_build(dir: &Path) -> anyhow::Result<Vec<Manifest>> {
    let rendered = flotilla_render::render_local(dir, &flotilla_render::RenderOptions::default())
        .with_context(|| format!("rendering {}", dir.display()))?;
    Ok(rendered.manifests)
}

async fn check(args: CheckArgs) -> anyhow::Result<i32> {
    let manifests = load_manifests(&args.path, args.recursive)?;
    let report: CheckReport = match &args.config {
        Some(file) => {
            let doc = VaultConfig::load(file)?;
            check_manifests(&doc, &manifests, &args.namespace).await?
        }
        None => {
            let client = client()?;
            check_manifests(&client, &manifests, &args.namespace)
                .await
                .with_context(|| format!("checking against Vault at {}", client.addr()))?
        }
    };
    println!("{report}");
    Ok(if report.is_clean() { 0 } else { 1 })
}

/// Creates `path` for writing, readable by its owner only; fails if it exists.
pub(crate) fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).with_context(|| {
        if path.exists() {
            format!(
                "{} already exists; refusing to overwrite a key file",
                path.display()
            )
        } else {
            format!("creating {}", path.display())
        }
    })
}

async fn init(args: InitArgs) -> anyhow::Result<i32> {
    if args.key_threshold == 0 || args.key_threshold > args.key_shares {
        bail!(
            "--key-threshold must be between 1 and --key-shares ({}), got {}",
            args.key_shares,
            args.key_threshold
        );
    }
    let client = client()?;
    if client.init_status().await? {
        bail!("Vault at {} is already initialised", client.addr());
    }
    // Create the file first: keys that cannot be written must never be generated.
    let mut file = create_private(&args.output)?;
    let response = match client
        .init(&InitRequest::shamir(args.key_shares, args.key_threshold))
        .await
    {
        Ok(r) => r,
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(&args.output);
            return Err(e).context(format!("initialising Vault at {}", client.addr()));
        }
    };
    let text = serde_json::to_string_pretty(&response.to_key_file())?;
    if let Err(e) = file
        .write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
    {
        // Vault is initialised now; these keys exist nowhere else. Losing them
        // loses the Vault, so they go to standard error as a last resort.
        eprintln!(
            "error: writing {}: {e}\nVault IS initialised and this is the only copy of its keys; store them now:\n{text}",
            args.output.display()
        );
        return Ok(1);
    }
    println!(
        "Vault at {} initialised: {} key shares, {} needed to unseal.",
        client.addr(),
        args.key_shares,
        args.key_threshold
    );
    println!(
        "Unseal keys and the root token are in {} (mode 0600). Hand the shares to different people, then delete the file.",
        args.output.display()
    );
    println!(
        "Next: flotilla vault unseal --key-file {}",
        args.output.display()
    );
    if args.show_keys {
        println!("{text}");
    }
    Ok(0)
}

fn read_keys(args: &UnsealArgs) -> anyhow::Result<UnsealKeys> {
    if let Some(path) = &args.key_file {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    eprintln!(
                        "warning: {} can be read by other users (chmod 600 it)",
                        path.display()
                    );
                }
            }
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        return UnsealKeys::from_json(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Unseal keys, one per line, then end of input (Ctrl-D):");
    }
    let mut text = String::new();
    stdin
        .read_to_string(&mut text)
        .context("reading unseal keys from standard input")?;
    if text.trim_start().starts_with('{') {
        return UnsealKeys::from_json(&text).map_err(|e| anyhow::anyhow!("standard input: {e}"));
    }
    let keys: Vec<SecretString> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(SecretString::new)
        .collect();
    if keys.is_empty() {
        bail!("no unseal keys given (use --key-file FILE or pipe keys on standard input)");
    }
    Ok(UnsealKeys { keys })
}

async fn unseal(args: UnsealArgs) -> anyhow::Result<i32> {
    let keys = read_keys(&args)?;
    let client = client()?;
    let before = client.seal_status().await?;
    if !before.initialized {
        bail!(
            "Vault at {} is not initialised; run `flotilla vault init` first",
            client.addr()
        );
    }
    if !before.sealed {
        println!("Vault at {} is already unsealed", client.addr());
        return Ok(0);
    }
    let status = client
        .unseal_with(&keys)
        .await
        .with_context(|| format!("unsealing Vault at {}", client.addr()))?;
    if status.sealed {
        println!(
            "Vault at {} is still sealed: {} of {} key shares given",
            client.addr(),
            status.progress,
            status.t
        );
        return Ok(1);
    }
    println!("Vault at {} is unsealed", client.addr());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kubernetes_objects_are_read() {
        let m = parse_yaml(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nreplicas: 3\n---\n",
            "x.yaml",
        )
        .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0].location.as_ref().unwrap().to_string(),
            "x.yaml (document 1)"
        );
    }
}
