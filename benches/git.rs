//! flotilla-git side by side with the git CLI, on one machine, in one run.
//!
//! A repository with 10,000 files and 1,000 commits is generated with
//! `git fast-import`, served over smart HTTP on loopback (`git http-backend`),
//! and mirrored both into Flotilla's cache and into a bare clone made by git.
//! Then, for each operation, Flotilla in-process, the `flotilla` CLI (when a
//! built binary is found) and the git CLI are timed; the figure is the median
//! of several runs and the ratio is git's time over ours (> 1: we are faster).
//!
//! The CLI binary is `$FLOTILLA_BIN`, else `target/release/flotilla` (under
//! `$CARGO_TARGET_DIR` when set); without one that column is skipped.
//!
//! Run: `cargo bench -p flotilla-benches --bench git` (`FLOTILLA_BENCH_KEEP=1`
//! keeps the generated repositories and caches for a closer look).

use flotilla_benches::run_ok;
use flotilla_lab::git_http;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flotilla_git::{GitCache, Poll, Tree};

const APPS: usize = 100;
const FILES_PER_APP: usize = 100;
const COMMITS: usize = 1_000;
const ENVS: [&str; 3] = ["dev", "staging", "prod"];
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-south-1"];

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0");
    cmd
}

/// The 10,000 paths: per app, 19 base files and 3 environments x 3 regions x 9 files.
fn paths() -> Vec<String> {
    let mut out = Vec::with_capacity(APPS * FILES_PER_APP);
    for app in 0..APPS {
        let a = format!("apps/app-{app:03}");
        out.push(format!("{a}/base/kustomization.yaml"));
        for i in 0..18 {
            out.push(format!("{a}/base/resource-{i:02}.yaml"));
        }
        for env in ENVS {
            for region in REGIONS {
                let o = format!("{a}/overlays/{env}/{region}");
                out.push(format!("{o}/config.json"));
                out.push(format!("{o}/kustomization.yaml"));
                out.push(format!("{o}/values.yaml"));
                for i in 0..6 {
                    out.push(format!("{o}/patch-{i}.yaml"));
                }
            }
        }
    }
    assert_eq!(out.len(), APPS * FILES_PER_APP);
    out
}

fn content(path: &str, version: usize) -> String {
    if path.ends_with("config.json") {
        format!(
            "{{\"path\":\"{path}\",\"replicas\":{},\"version\":{version}}}\n",
            version % 7 + 1
        )
    } else {
        format!("# {path}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  version: \"{version}\"\n  filler: \"{}\"\n", "x".repeat(200))
    }
}

/// Write a fast-import stream making `commits` commits on main (the first adds every file).
fn fast_import(dir: &Path, all: &[String], first: usize, commits: usize, parent: bool) {
    let mut child = git(dir)
        .args(["fast-import", "--quiet", "--force"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import starts");
    {
        let mut w = std::io::BufWriter::new(child.stdin.take().expect("stdin"));
        let data = |w: &mut dyn Write, s: &str| {
            write!(w, "data {}\n{}\n", s.len(), s).expect("write");
        };
        for n in first..first + commits {
            writeln!(w, "commit refs/heads/main").unwrap();
            writeln!(
                w,
                "committer Bench <bench@flotilla.invalid> {} +0000",
                1_700_000_000 + n * 60
            )
            .unwrap();
            data(&mut w, &format!("commit {n}"));
            if n == first && parent {
                writeln!(w, "from refs/heads/main^0").unwrap();
            }
            if n == 0 {
                for p in all {
                    writeln!(w, "M 100644 inline {p}").unwrap();
                    data(&mut w, &content(p, 0));
                }
            } else {
                // Touch three files per commit, spread over the tree.
                for k in 0..3 {
                    let p = &all[(n * 7919 + k * 104_729) % all.len()];
                    writeln!(w, "M 100644 inline {p}").unwrap();
                    data(&mut w, &content(p, n));
                }
            }
        }
        writeln!(w, "done").unwrap();
        w.flush().unwrap();
    }
    let status = child.wait().expect("fast-import ran");
    assert!(status.success(), "fast-import failed");
}

/// Best and median of a set of runs.
#[derive(Clone, Copy)]
struct Stat {
    best: Duration,
    median: Duration,
}

fn stat(mut v: Vec<Duration>) -> Stat {
    v.sort();
    Stat {
        best: v[0],
        median: v[v.len() / 2],
    }
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Stat {
    // One warm-up run.
    std::hint::black_box(f());
    stat(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn flotilla_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FLOTILLA_BIN") {
        return Some(PathBuf::from(p));
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut candidates = Vec::new();
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(t).join("release/flotilla"));
    }
    candidates.push(manifest.join("../target/release/flotilla"));
    candidates.into_iter().find(|p| p.is_file())
}

struct Row {
    name: &'static str,
    ours: Stat,
    cli: Option<Stat>,
    cli_note: &'static str,
    git: Stat,
    git_what: &'static str,
}

fn ms(s: Stat) -> String {
    format!(
        "{:.2} ({:.2})",
        s.best.as_secs_f64() * 1000.0,
        s.median.as_secs_f64() * 1000.0
    )
}

fn ratio(git: Stat, ours: Stat) -> String {
    format!(
        "{:.1}x",
        git.best.as_secs_f64() / ours.best.as_secs_f64().max(1e-9)
    )
}

fn main() {
    let started = Instant::now();
    let tmp = std::env::temp_dir().join(format!("flotilla-bench-git-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let served = tmp.join("served");
    let upstream = served.join("bench.git");
    std::fs::create_dir_all(&upstream).unwrap();
    run_ok(git(&upstream).args(["init", "-q", "--bare", "-b", "main"]));

    let all = paths();
    let t = Instant::now();
    fast_import(&upstream, &all, 0, COMMITS, false);
    run_ok(git(&upstream).args(["repack", "-adq"]));
    let count =
        String::from_utf8(run_ok(git(&upstream).args(["rev-list", "--count", "main"]))).unwrap();
    let files = run_ok(git(&upstream).args(["ls-tree", "-r", "--name-only", "main"]))
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    println!(
        "generated {files} files, {} commits with git fast-import in {:.1}s",
        count.trim(),
        t.elapsed().as_secs_f64()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(git_http::GitHttpServer::start(&served))
        .unwrap();
    let url = server.url("bench.git");
    let cache_dir = tmp.join("cache");
    let cache = GitCache::new(&cache_dir).unwrap();

    // Initial clones, side by side (reported, not the focus).
    let t = Instant::now();
    let first = rt.block_on(cache.fetch_revision(&url, "main")).unwrap();
    let our_clone = t.elapsed();
    let ms1 = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let mirror = tmp.join("git-mirror.git");
    let t = Instant::now();
    run_ok(git(&tmp).args(["clone", "-q", "--mirror", &url, mirror.to_str().unwrap()]));
    let git_clone = t.elapsed();
    println!(
        "initial clone over loopback HTTP: flotilla {} / git clone --mirror {}",
        ms1(our_clone),
        ms1(git_clone)
    );

    let bin = flotilla_bin();
    match &bin {
        Some(b) => println!("flotilla CLI: {}", b.display()),
        None => println!("flotilla CLI: not built (set FLOTILLA_BIN or build target/release/flotilla); CLI column skipped"),
    }
    let cache_arg = cache_dir.to_str().unwrap().to_string();
    let cli = |args: &[&str]| -> Vec<u8> {
        let b = bin.as_ref().expect("checked");
        let mut c = Command::new(b);
        c.arg("repo").args(args).args(["--cache", &cache_arg]);
        run_ok(&mut c)
    };
    let mut rows = Vec::new();

    // 1. Resolve a branch on a warm cache.
    let ours = time(200, || {
        rt.block_on(cache.resolve_cached(&url, "main")).unwrap()
    });
    let git_t = time(30, || run_ok(git(&mirror).args(["rev-parse", "main"])));
    let cli_t = bin
        .as_ref()
        .map(|_| time(30, || cli(&["resolve", "--offline", &url, "main"])));
    let resolved = String::from_utf8(run_ok(git(&mirror).args(["rev-parse", "main"]))).unwrap();
    assert_eq!(resolved.trim(), first.commit.to_string());
    if bin.is_some() {
        assert_eq!(
            String::from_utf8(cli(&["resolve", "--offline", &url, "main"]))
                .unwrap()
                .trim(),
            resolved.trim()
        );
    }
    rows.push(Row {
        name: "resolve branch (warm cache)",
        ours,
        cli: cli_t,
        cli_note: "repo resolve --offline",
        git: git_t,
        git_what: "git rev-parse main",
    });

    // 2. Glob **/config.json.
    let expected: Vec<String> = all
        .iter()
        .filter(|p| p.ends_with("/config.json"))
        .cloned()
        .collect();
    let ours = time(20, || {
        let tree = rt.block_on(cache.snapshot_cached(&url, "main")).unwrap();
        let m = tree.glob("**/config.json").unwrap();
        assert_eq!(m.len(), expected.len());
        m
    });
    let git_t = time(20, || {
        let out = run_ok(git(&mirror).args(["ls-tree", "-r", "--name-only", "main"]));
        let n = out
            .split(|b| *b == b'\n')
            .filter(|l| l.ends_with(b"/config.json"))
            .count();
        assert_eq!(n, expected.len());
        n
    });
    let cli_t = bin.as_ref().map(|_| {
        time(10, || {
            let out = cli(&["ls", "--offline", &url, "main", "**/config.json"]);
            assert_eq!(
                out.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(),
                expected.len()
            );
        })
    });
    rows.push(Row {
        name: "glob **/config.json",
        ours,
        cli: cli_t,
        cli_note: "repo ls --offline URL main GLOB",
        git: git_t,
        git_what: "git ls-tree -r --name-only + filter",
    });

    // 3. Read 1,000 files.
    let sample: Vec<&String> = all.iter().step_by(all.len() / 1000).take(1000).collect();
    let batch_input: String = sample.iter().map(|p| format!("main:{p}\n")).collect();
    let total: usize = sample.iter().map(|p| content(p, 0).len()).sum();
    let ours = time(10, || {
        let tree = rt.block_on(cache.snapshot_cached(&url, "main")).unwrap();
        let n: usize = sample.iter().map(|p| tree.read(p).unwrap().len()).sum();
        assert!(n >= total / 2);
        n
    });
    let git_t = time(10, || {
        let mut child = git(&mirror)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = batch_input.clone();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.stdout.len() >= total / 2);
        out.stdout.len()
    });
    rows.push(Row {
        name: "read 1,000 files",
        ours,
        cli: None,
        cli_note: "n/a (one process per file)",
        git: git_t,
        git_what: "git cat-file --batch",
    });

    // 4. Detect "no change" against the loopback HTTP remote.
    let head = first.commit;
    let before = cache.stats().fetches;
    let ours = time(30, || {
        let p = rt.block_on(cache.poll(&url, "main", Some(head))).unwrap();
        assert!(matches!(p, Poll::Unchanged(_)));
    });
    assert_eq!(cache.stats().fetches, before, "polling fetched");
    let git_t = time(30, || run_ok(git(&tmp).args(["ls-remote", &url])));
    let cli_t = bin
        .as_ref()
        .map(|_| time(15, || cli(&["resolve", &url, "main"])));
    rows.push(Row {
        name: "detect no change (HTTP)",
        ours,
        cli: cli_t,
        cli_note: "repo resolve URL main",
        git: git_t,
        git_what: "git ls-remote URL",
    });

    // 5. Fetch one new commit.
    let mut next = COMMITS;
    let mut ours_runs = Vec::new();
    let mut git_runs = Vec::new();
    let mut cli_runs = Vec::new();
    for i in 0..11 {
        fast_import(&upstream, &all, next, 1, true);
        next += 1;
        let t = Instant::now();
        let out = rt.block_on(cache.fetch(&url)).unwrap();
        let o = t.elapsed();
        assert!(out.received_pack);
        let t = Instant::now();
        run_ok(git(&mirror).args(["fetch", "-q", "origin"]));
        let g = t.elapsed();
        if i > 0 {
            ours_runs.push(o);
            git_runs.push(g);
        }
        if bin.is_some() {
            fast_import(&upstream, &all, next, 1, true);
            next += 1;
            let t = Instant::now();
            cli(&["cat", &url, "main", "apps/app-000/base/kustomization.yaml"]);
            if i > 0 {
                cli_runs.push(t.elapsed());
            }
            run_ok(git(&mirror).args(["fetch", "-q", "origin"]));
        }
    }
    let latest = String::from_utf8(run_ok(git(&upstream).args(["rev-parse", "main"]))).unwrap();
    assert_eq!(
        rt.block_on(cache.resolve_cached(&url, "main"))
            .unwrap()
            .commit
            .to_string(),
        latest.trim()
    );
    rows.push(Row {
        name: "fetch one new commit (HTTP)",
        ours: stat(ours_runs),
        cli: (!cli_runs.is_empty()).then(|| stat(cli_runs)),
        cli_note: "repo cat URL main FILE (fetch + read)",
        git: stat(git_runs),
        git_what: "git fetch (mirror)",
    });

    println!();
    println!(
        "times in ms: best of N (median); ratio = git's best / ours (> 1: flotilla is faster)"
    );
    println!(
        "{:<28} {:>17} {:>17} {:>7} {:>17} {:>7}",
        "operation", "flotilla in-proc", "flotilla CLI", "git/CLI", "git CLI", "git/ours"
    );
    for r in &rows {
        let cli = r.cli.map(ms).unwrap_or_else(|| "-".into());
        let cli_ratio = r.cli.map(|c| ratio(r.git, c)).unwrap_or_else(|| "-".into());
        println!(
            "{:<28} {:>17} {:>17} {:>7} {:>17} {:>7}",
            r.name,
            ms(r.ours),
            cli,
            cli_ratio,
            ms(r.git),
            ratio(r.git, r.ours),
        );
    }
    println!();
    for r in &rows {
        let cli = if r.cli.is_some() || r.cli_note.starts_with("n/a") {
            r.cli_note
        } else {
            "skipped"
        };
        println!("{:<28} git: {}; flotilla CLI: {}", r.name, r.git_what, cli);
    }
    println!("total bench time {:.1}s", started.elapsed().as_secs_f64());
    drop(server);
    drop(rt);
    if std::env::var_os("FLOTILLA_BENCH_KEEP").is_some() {
        println!("kept {}", tmp.display());
    } else {
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
