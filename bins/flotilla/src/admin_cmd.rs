//! `flotilla admin ...`: helpers for whoever runs a controller.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum AdminCmd {
    /// Print the argon2id hash of a password, for `api.users[].passwordHash`
    /// in flotilla.yaml.
    HashPassword(HashPasswordArgs),
}

#[derive(Args)]
pub struct HashPasswordArgs {
    /// Read the password from standard input (its first line) instead of
    /// asking for it on the terminal.
    #[arg(long)]
    password_stdin: bool,
}

pub async fn run(cmd: AdminCmd) -> anyhow::Result<()> {
    match cmd {
        AdminCmd::HashPassword(args) => {
            let password = read_password(args.password_stdin)?;
            let hash = tokio::task::spawn_blocking(move || {
                flotilla_controller::ui::auth::hash_password(&password)
            })
            .await
            .context("hashing the password")??;
            println!("{hash}");
            Ok(())
        }
    }
}

/// The password: the first line of standard input, or typed twice without
/// echo when standard input is a terminal.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let password = line.strip_suffix('\n').unwrap_or(&line);
        let password = password.strip_suffix('\r').unwrap_or(password);
        if password.is_empty() {
            bail!("no password on standard input");
        }
        return Ok(password.to_string());
    }
    let password = rpassword::prompt_password("Password: ").context("reading the password")?;
    if password.is_empty() {
        bail!("the password is empty");
    }
    let again = rpassword::prompt_password("Again: ").context("reading the password")?;
    if again != password {
        bail!("the two passwords differ");
    }
    Ok(password)
}
