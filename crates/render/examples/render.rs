//! Renders a directory as `kustomize build` would: `cargo run --example render -- DIR`.

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: render DIR");
        std::process::exit(2);
    };
    match flotilla_render::render_local(&dir, &flotilla_render::RenderOptions::default()) {
        Ok(out) => print!("{}", out.to_yaml()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
