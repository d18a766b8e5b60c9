//! Shared helpers for the benchmarks in this directory. Each benchmark is a
//! `[[bench]]` target with `harness = false` that measures Flotilla and the
//! peer tool (git, kustomize, kubectl, ...) in one run and prints both figures
//! and their ratio.
