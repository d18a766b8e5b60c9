//! `flotilla admin hash-password`: the hash it prints is one the controller
//! accepts in `api.users` and verifies the password against.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use flotilla_controller::ui::auth::verify_password;

fn hash_password(stdin: &str, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(["admin", "hash-password"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flotilla runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn hash_password_prints_an_argon2id_hash_that_verifies() {
    let out = hash_password("s3cret pass\n", &["--password-stdin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let hash = stdout.trim_end();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(verify_password("s3cret pass", hash));
    assert!(!verify_password("s3cret pass\n", hash));
    assert!(!verify_password("other", hash));

    // The configuration accepts it.
    let dir = tempfile::tempdir().unwrap();
    let text =
        format!("applications: [{{directory: .}}]\napi: {{users: [{{name: ann, passwordHash: '{hash}'}}]}}\n");
    let config = flotilla_controller::config::ControllerConfig::parse(
        &text,
        &dir.path().join("flotilla.yaml"),
    )
    .unwrap();
    assert_eq!(config.api.users[0].name, "ann");

    // Standard input that is not a terminal is read without the flag too.
    let out = hash_password("other\r\n", &[]);
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap();
    assert!(verify_password("other", hash.trim_end()));

    let empty = hash_password("", &["--password-stdin"]);
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no password"));
}
