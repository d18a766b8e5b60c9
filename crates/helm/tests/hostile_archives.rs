//! Chart archives built to hurt: links, paths out of the chart, files and
//! archives that decompress past Helm's limits, nested archives that
//! multiply. Each is refused with an error naming the archive (and the
//! entry), and loading stops without reading the rest.

use flotilla_helm::load::load_archive_with;
use flotilla_helm::{load_archive, LoadLimits};

const CHART_YAML: &str = "apiVersion: v2\nname: web\nversion: 0.1.0\n";

enum Entry<'a> {
    File(&'a str, Vec<u8>),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

/// A gzipped tar of `entries`, written with raw headers so that names
/// `tar::Builder` would refuse (`..`, absolute) can be made.
fn tgz(entries: &[Entry<'_>]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(0);
        match e {
            Entry::File(name, data) => {
                set_name(&mut h, name);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append(&h, data.as_slice()).unwrap();
            }
            Entry::Symlink(name, target) | Entry::Hardlink(name, target) => {
                set_name(&mut h, name);
                h.set_entry_type(if matches!(e, Entry::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_size(0);
                h.set_link_name(target).unwrap();
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap().finish().unwrap()
}

/// Writes the name bytes as they are (no normalisation).
fn set_name(h: &mut tar::Header, name: &str) {
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

fn chart(extra: Vec<Entry<'static>>) -> Vec<u8> {
    let mut entries = vec![Entry::File("web/Chart.yaml", CHART_YAML.into())];
    entries.extend(extra);
    tgz(&entries)
}

fn refused(data: &[u8]) -> String {
    refused_with(data, &LoadLimits::default())
}

fn refused_with(data: &[u8], limits: &LoadLimits) -> String {
    match load_archive_with(data, "web-0.1.0.tgz", limits) {
        Ok(_) => panic!("a hostile archive loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_well_formed_archive_loads() {
    let data = chart(vec![Entry::File(
        "web/templates/cm.yaml",
        b"kind: ConfigMap\n".to_vec(),
    )]);
    let c = load_archive(&data, "web-0.1.0.tgz").expect("loads");
    assert_eq!(c.metadata.name, "web");
}

#[test]
fn links_are_refused_naming_the_entry() {
    for entry in [
        Entry::Symlink("web/templates/passwd.yaml", "/etc/passwd"),
        Entry::Hardlink("web/values.yaml", "../../etc/shadow"),
    ] {
        let name = match &entry {
            Entry::Symlink(n, _) | Entry::Hardlink(n, _) | Entry::File(n, _) => n.to_string(),
        };
        let message = refused(&chart(vec![entry]));
        assert!(message.contains("web-0.1.0.tgz"), "{message}");
        assert!(message.contains(&name), "{message}");
        assert!(message.contains("link"), "{message}");
    }
}

#[test]
fn paths_out_of_the_chart_are_refused() {
    for (name, words) in [
        ("web/../../../etc/cron.d/x", "parent directory"),
        ("web//etc/passwd", "absolute"),
    ] {
        let message = refused(&chart(vec![Entry::File(name, b"x: 1\n".to_vec())]));
        assert!(message.contains(words), "{name}: {message}");
        assert!(message.contains("web-0.1.0.tgz"), "{message}");
    }
}

#[test]
fn a_file_past_the_size_limit_is_refused() {
    let limits = LoadLimits {
        max_file_bytes: 64 * 1024,
        ..LoadLimits::default()
    };
    let big = vec![b'a'; 64 * 1024 + 1];
    let data = chart(vec![Entry::File("web/files/big.txt", big)]);
    let message = refused_with(&data, &limits);
    assert!(message.contains("web/files/big.txt"), "{message}");
    assert!(message.contains("maximum file size"), "{message}");
}

#[test]
fn a_decompression_bomb_stops_at_the_limit() {
    // 40 files of 1 MiB of zeros: about 40 MiB unpacked from a few hundred
    // KiB, against an archive limit of 8 MiB.
    let limits = LoadLimits {
        max_archive_bytes: 8 << 20,
        max_file_bytes: 2 << 20,
        ..LoadLimits::default()
    };
    let names: Vec<String> = (0..40).map(|i| format!("web/files/z{i:02}.bin")).collect();
    let mut entries = vec![Entry::File("web/Chart.yaml", CHART_YAML.into())];
    for n in &names {
        entries.push(Entry::File(n, vec![0u8; 1 << 20]));
    }
    let data = tgz(&entries);
    assert!(data.len() < 1 << 20, "the bomb is small: {}", data.len());
    let message = refused_with(&data, &limits);
    assert!(message.contains("web-0.1.0.tgz"), "{message}");
    assert!(message.contains("larger than"), "{message}");
}

#[test]
fn nested_archives_share_one_budget() {
    // A subchart archive inside the chart, itself 3 MiB unpacked, with the
    // whole tree allowed 2 MiB.
    let sub = tgz(&[
        Entry::File(
            "sub/Chart.yaml",
            b"apiVersion: v2\nname: sub\nversion: 0.1.0\n".to_vec(),
        ),
        Entry::File("sub/files/a.bin", vec![0u8; 1 << 20]),
        Entry::File("sub/files/b.bin", vec![0u8; 1 << 20]),
        Entry::File("sub/files/c.bin", vec![0u8; 1 << 20]),
    ]);
    let data = chart(vec![Entry::File("web/charts/sub-0.1.0.tgz", sub)]);
    let limits = LoadLimits {
        max_total_bytes: 2 << 20,
        ..LoadLimits::default()
    };
    assert!(
        load_archive(&data, "web-0.1.0.tgz").is_ok(),
        "fits Helm's limits"
    );
    let message = refused_with(&data, &limits);
    assert!(message.contains("sub-0.1.0.tgz"), "{message}");
}

#[test]
fn garbage_is_not_a_chart() {
    let message = refused(b"\x1f\x8b\x08\x00not really gzip");
    assert!(message.contains("web-0.1.0.tgz"), "{message}");
}
