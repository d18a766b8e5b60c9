//! `flotilla helm template` side by side with `helm template` (v3.17.4 from
//! the lab assets), on one machine, in one run.
//!
//! For each fixture chart archive in `../shared/charts` (podinfo, vault,
//! consul, ingress-nginx; the reference's value files from
//! `values/<chart>-values.yaml` where one exists):
//!
//! 1. per process: `helm template NAME CHART --kube-version 1.32.13 [-f V]`
//!    and `flotilla helm template ...` with the same arguments, interleaved,
//!    `FLOTILLA_BENCH_RUNS` times each (default 15, after one warm-up run
//!    each); median wall time (spawn to `wait4`), ratio, and the peak
//!    resident set of the child (largest `ru_maxrss` over the runs);
//! 2. in process: the chart loaded once with `flotilla_helm::load`, then
//!    `template_chart(chart.clone(), ..)` `FLOTILLA_BENCH_ITERS` times
//!    (default 50, after one warm-up); median, and its ratio to helm's
//!    per-process median.
//!
//! Every output is compared byte for byte with helm's. Charts whose templates
//! call `randAlphaNum` (podinfo's test hooks) differ from themselves between
//! two helm runs; the lines where helm's own runs differ are found from its
//! runs and only those are compared by shape (same length, same text around
//! the part that varies). The table says so (`yes*`); anything else that
//! differs is a mismatch, printed with a diff excerpt, and the bench exits 1.
//!
//! Goals (from the issue): at least 20x faster per process, at least 50x in
//! process, at most 1/3 of helm's peak memory.
//!
//! The binary is `$FLOTILLA_BIN`, else built here with
//! `cargo build --release -p flotilla` (in the workspace's target directory).
//!
//! Run: `cargo bench -p flotilla-benches --bench helm`

use flotilla_benches::{fail, flotilla_bin, run_measured};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flotilla_lab::assets::{ensure, AssetOptions, QuietProgress};

type Error = Box<dyn std::error::Error>;

const KUBE_VERSION: &str = "1.32.13";
const CHARTS: [&str; 4] = [
    "podinfo-6.14.1.tgz",
    "vault-0.28.0.tgz",
    "consul-1.4.3.tgz",
    "ingress-nginx-4.10.1.tgz",
];
const GOAL_PROCESS: f64 = 20.0;
const GOAL_IN_PROCESS: f64 = 50.0;
const GOAL_MEMORY: f64 = 1.0 / 3.0;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn shared_charts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/charts")
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

/// The lines where helm's own runs differ from each other (randomness in the
/// chart), with the text every run shares before and after the part that
/// varies. `None` when the runs do not even have the same number of lines.
struct Reference<'a> {
    lines: Vec<&'a [u8]>,
    varying: Vec<Option<(usize, usize)>>,
}

fn lines(b: &[u8]) -> Vec<&[u8]> {
    b.split(|&c| c == b'\n').collect()
}

fn reference(runs: &[Vec<u8>]) -> Option<Reference<'_>> {
    let first = lines(&runs[0]);
    let mut varying: Vec<Option<(usize, usize)>> = vec![None; first.len()];
    for r in &runs[1..] {
        let other = lines(r);
        if other.len() != first.len() {
            return None;
        }
        for (i, (a, b)) in first.iter().zip(&other).enumerate() {
            if a == b {
                continue;
            }
            if a.len() != b.len() {
                return None;
            }
            let pre = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
            let suf = a
                .iter()
                .rev()
                .zip(b.iter().rev())
                .take_while(|(x, y)| x == y)
                .count();
            let (p, s) = varying[i].unwrap_or((pre, suf));
            varying[i] = Some((p.min(pre), s.min(suf)));
        }
    }
    Some(Reference {
        lines: first,
        varying,
    })
}

enum Verdict {
    Identical,
    /// Identical but for this many lines that differ between helm's own runs.
    IdenticalButRandom(usize),
    Mismatch(String),
}

fn compare(helm_runs: &[Vec<u8>], got: &[u8]) -> Verdict {
    if got == helm_runs[0].as_slice() {
        return Verdict::Identical;
    }
    let want = lines(&helm_runs[0]);
    let have = lines(got);
    let first_diff = || {
        let i = want
            .iter()
            .zip(&have)
            .position(|(a, b)| a != b)
            .unwrap_or(want.len().min(have.len()));
        format!(
            "{} vs {} bytes, {} vs {} lines; first difference at line {}:\n  helm:     {}\n  flotilla: {}",
            helm_runs[0].len(),
            got.len(),
            want.len(),
            have.len(),
            i + 1,
            want.get(i).map_or("<end>".into(), |l| String::from_utf8_lossy(l)),
            have.get(i).map_or("<end>".into(), |l| String::from_utf8_lossy(l)),
        )
    };
    let Some(r) = reference(helm_runs) else {
        return Verdict::Mismatch(first_diff());
    };
    if have.len() != r.lines.len() {
        return Verdict::Mismatch(first_diff());
    }
    let mut random = 0;
    for (i, (w, h)) in r.lines.iter().zip(&have).enumerate() {
        if w == h {
            continue;
        }
        match r.varying[i] {
            Some((pre, suf))
                if w.len() == h.len()
                    && w[..pre] == h[..pre]
                    && w[w.len() - suf..] == h[h.len() - suf..] =>
            {
                random += 1
            }
            _ => {
                return Verdict::Mismatch(format!(
                    "line {}:\n  helm:     {}\n  flotilla: {}",
                    i + 1,
                    String::from_utf8_lossy(w),
                    String::from_utf8_lossy(h)
                ))
            }
        }
    }
    Verdict::IdenticalButRandom(random)
}

struct Row {
    chart: String,
    bytes: usize,
    helm: Duration,
    cli: Duration,
    lib: Duration,
    helm_kib: i64,
    cli_kib: i64,
    verdict: String,
}

fn main() -> Result<(), Error> {
    let runs = env_usize("FLOTILLA_BENCH_RUNS", 15).max(1);
    let iters = env_usize("FLOTILLA_BENCH_ITERS", 50).max(1);
    let helm = ensure(&AssetOptions::from_env(), &["helm"], &QuietProgress)?
        .path("helm")?
        .to_path_buf();
    let flotilla = flotilla_bin()?;
    let ok = Command::new(&flotilla)
        .args(["helm", "template", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return Err(format!("{} has no `helm template` subcommand", flotilla.display()).into());
    }
    let charts = shared_charts();
    // helm's state (repositories, cache) in a directory of its own.
    let home = tempfile::tempdir()?;
    println!(
        "helm template: {} charts, {runs} runs per process, {iters} in-process renders, --kube-version {KUBE_VERSION}",
        CHARTS.len()
    );
    println!("helm: {}\nflotilla: {}", helm.display(), flotilla.display());

    let mut rows = Vec::new();
    let mut mismatches = 0;
    for file in CHARTS {
        let archive = charts.join(file);
        if !archive.is_file() {
            return Err(format!("fixture {} is missing", archive.display()).into());
        }
        let stem = file.trim_end_matches(".tgz");
        let name = stem.rsplit_once('-').map_or(stem, |(n, _)| n);
        let values_file = charts.join("values").join(format!("{name}-values.yaml"));
        let values_file = values_file.is_file().then_some(values_file);
        let mut args: Vec<std::ffi::OsString> = vec![
            "template".into(),
            name.into(),
            archive.clone().into(),
            "--kube-version".into(),
            KUBE_VERSION.into(),
        ];
        if let Some(v) = &values_file {
            args.push("-f".into());
            args.push(v.clone().into());
        }
        println!(
            "{stem}: {name} {}{}",
            archive.display(),
            values_file
                .as_ref()
                .map_or(String::new(), |v| format!(" -f {}", v.display()))
        );
        let helm_cmd = || {
            let mut c = Command::new(&helm);
            c.args(&args)
                .env("HELM_CACHE_HOME", home.path().join("cache"))
                .env("HELM_CONFIG_HOME", home.path().join("config"))
                .env("HELM_DATA_HOME", home.path().join("data"));
            c
        };
        let cli_cmd = || {
            let mut c = Command::new(&flotilla);
            c.arg("helm").args(&args);
            c
        };

        // Per process, interleaved (which goes first alternates), after one
        // warm-up run each.
        let mut helm_out = Vec::new();
        let mut cli_out = Vec::new();
        let (mut helm_t, mut cli_t) = (Vec::new(), Vec::new());
        let (mut helm_kib, mut cli_kib) = (0, 0);
        for i in 0..=runs {
            for side in [i % 2, 1 - i % 2] {
                let (mk, outs, times, kib): (&dyn Fn() -> Command, _, _, _) = if side == 0 {
                    (&helm_cmd, &mut helm_out, &mut helm_t, &mut helm_kib)
                } else {
                    (&cli_cmd, &mut cli_out, &mut cli_t, &mut cli_kib)
                };
                let (out, ok, t, rss) = run_measured(&mut mk());
                if !ok {
                    fail(&mut mk());
                }
                if i > 0 {
                    times.push(t);
                    *kib = (*kib).max(rss);
                }
                outs.push(out);
            }
        }

        // In process: loaded once, rendered `iters` times (plus a warm-up).
        let start = Instant::now();
        let chart = flotilla_helm::load::load(&archive)?;
        let load_t = start.elapsed();
        let mut values = flotilla_helm::values::ValuesOptions::default();
        if let Some(v) = &values_file {
            values.value_files.push(flotilla_helm::values::ValueFile {
                name: v.display().to_string(),
                data: std::fs::read(v)?,
            });
        }
        let opts = flotilla_helm::TemplateOptions {
            release_name: name.to_string(),
            namespace: "default".into(),
            capabilities: flotilla_helm::Capabilities::with(
                flotilla_helm::KubeVersion::parse(KUBE_VERSION)?,
                &[],
            ),
            ..Default::default()
        };
        let output = flotilla_helm::OutputOptions::default();
        let mut lib_out = Vec::new();
        let mut lib_t = Vec::with_capacity(iters);
        for i in 0..=iters {
            let start = Instant::now();
            let text = flotilla_helm::template_chart(chart.clone(), &values, &opts, &output)?;
            let t = start.elapsed();
            if i > 0 {
                lib_t.push(t);
            }
            // Kept outside the timing; a few are enough to compare.
            if i < 3 {
                lib_out.push(text.into_bytes());
            }
        }
        println!(
            "  load (once, in process): {:.2} ms; output {} bytes",
            load_t.as_secs_f64() * 1e3,
            helm_out[0].len()
        );

        // Outputs.
        let mut random = 0;
        let mut bad = Vec::new();
        for (what, outs) in [("CLI", &cli_out), ("library", &lib_out)] {
            for (i, o) in outs.iter().enumerate() {
                match compare(&helm_out, o) {
                    Verdict::Identical => {}
                    Verdict::IdenticalButRandom(n) => random = random.max(n),
                    Verdict::Mismatch(m) => bad.push(format!("{what} run {i}: {m}")),
                }
            }
        }
        let verdict = if !bad.is_empty() {
            mismatches += 1;
            println!(
                "  !!! OUTPUT MISMATCH for {stem}: {} of {} outputs differ from helm's",
                bad.len(),
                cli_out.len() + lib_out.len()
            );
            for b in bad.iter().take(3) {
                println!("  !!! {b}");
            }
            "NO".to_string()
        } else if random > 0 {
            println!(
                "  identical except {random} line(s) that also differ between helm's own runs (random names)"
            );
            "yes*".to_string()
        } else {
            "yes".to_string()
        };
        rows.push(Row {
            chart: stem.to_string(),
            bytes: helm_out[0].len(),
            helm: median(&mut helm_t),
            cli: median(&mut cli_t),
            lib: median(&mut lib_t),
            helm_kib,
            cli_kib,
            verdict,
        });
    }

    let ms = |d: Duration| format!("{:.2}ms", d.as_secs_f64() * 1e3);
    let mib = |k: i64| format!("{:.1}MiB", k as f64 / 1024.0);
    let goal = |ok: bool| if ok { "ok" } else { "MISS" };
    let mut table = String::new();
    let _ = writeln!(
        table,
        "\n{:<22} {:>8} {:>10} {:>10} {:>13} {:>10} {:>13} {:>10} {:>10} {:>12} {:>9}",
        "chart",
        "output",
        "helm",
        "flotilla",
        "process",
        "library",
        "in-process",
        "helm RSS",
        "flot RSS",
        "memory",
        "identical"
    );
    let _ = writeln!(
        table,
        "{:<22} {:>8} {:>10} {:>10} {:>13} {:>10} {:>13} {:>10} {:>10} {:>12} {:>9}",
        "",
        "bytes",
        "median",
        "median",
        format!("(>={GOAL_PROCESS:.0}x)"),
        "median",
        format!("(>={GOAL_IN_PROCESS:.0}x)"),
        "peak",
        "peak",
        "(<=0.33)",
        ""
    );
    let mut misses = Vec::new();
    for r in &rows {
        let process = r.helm.as_secs_f64() / r.cli.as_secs_f64();
        let in_process = r.helm.as_secs_f64() / r.lib.as_secs_f64();
        let memory = r.cli_kib as f64 / r.helm_kib.max(1) as f64;
        for (what, ok) in [
            ("per process", process >= GOAL_PROCESS),
            ("in process", in_process >= GOAL_IN_PROCESS),
            ("memory", memory <= GOAL_MEMORY),
        ] {
            if !ok {
                misses.push(format!("{} {what}", r.chart));
            }
        }
        let _ = writeln!(
            table,
            "{:<22} {:>8} {:>10} {:>10} {:>13} {:>10} {:>13} {:>10} {:>10} {:>12} {:>9}",
            r.chart,
            r.bytes,
            ms(r.helm),
            ms(r.cli),
            format!("{process:.1}x {}", goal(process >= GOAL_PROCESS)),
            ms(r.lib),
            format!("{in_process:.1}x {}", goal(in_process >= GOAL_IN_PROCESS)),
            mib(r.helm_kib),
            mib(r.cli_kib),
            format!("{memory:.2} {}", goal(memory <= GOAL_MEMORY)),
            r.verdict
        );
    }
    print!("{table}");
    println!(
        "(medians of {runs} interleaved runs per process and {iters} in-process renders; RSS is the largest ru_maxrss of the child over the runs; in-process ratio is helm per process / library call)"
    );
    if rows.iter().any(|r| r.verdict == "yes*") {
        println!("(yes*: byte-identical except lines that differ between two helm runs of the same chart, randAlphaNum names; those compared by length and surrounding text)");
    }
    if misses.is_empty() {
        println!("goals: all met");
    } else {
        println!("goals MISSED: {}", misses.join(", "));
    }
    if mismatches > 0 {
        println!("identical output: NO ({mismatches} chart(s) differ from helm)");
        std::process::exit(1);
    }
    println!("identical output: yes ({} charts)", rows.len());
    Ok(())
}
