//! Renders a directory as `kustomize build` would and prints it (a
//! development aid for profiling: `cargo run --release -p flotilla-render
//! --example kbuild -- PATH [REPEAT]`).

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: kbuild PATH [REPEAT]");
        std::process::exit(2);
    };
    let repeat: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(1);
    let opts = flotilla_render::RenderOptions::default();
    let mut out = String::new();
    for _ in 0..repeat {
        match flotilla_render::render_local(&path, &opts) {
            Ok(r) => out = r.to_yaml(),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
    print!("{out}");
}
