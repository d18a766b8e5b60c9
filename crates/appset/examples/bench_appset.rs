//! The ApplicationSet benchmark (`benches/appset.rs`), runnable from this crate
//! until `flotilla-benches` depends on `flotilla-appset`:
//! `cargo run --release -p flotilla-appset --example bench_appset`.

#[path = "../../../benches/appset.rs"]
mod bench;

fn main() {
    bench::main();
}
