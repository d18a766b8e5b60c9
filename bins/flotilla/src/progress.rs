//! Showing asset builds: a spinner with the elapsed time on a terminal,
//! plain lines otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use flotilla_lab::assets::{BuildEvent, Progress};
use indicatif::{ProgressBar, ProgressStyle};

/// Prints build events to stderr.
pub struct BuildProgress {
    bar: Mutex<Option<ProgressBar>>,
    last_line: Mutex<Instant>,
    tty: bool,
}

impl BuildProgress {
    pub fn new() -> Self {
        Self {
            bar: Mutex::new(None),
            last_line: Mutex::new(Instant::now()),
            tty: std::io::stderr().is_terminal(),
        }
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

impl Progress for BuildProgress {
    fn event(&self, event: BuildEvent) {
        match event {
            BuildEvent::Cached { .. } => {}
            BuildEvent::Prebuilt { component, dir } => {
                eprintln!("using prebuilt {component} from {}", dir.display());
            }
            BuildEvent::Started { component, version } => {
                if self.tty {
                    let bar = ProgressBar::new_spinner();
                    bar.set_style(
                        ProgressStyle::with_template("{spinner} building {msg} [{elapsed}]")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    bar.set_message(format!("{component} {version}"));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    if let Ok(mut b) = self.bar.lock() {
                        *b = Some(bar);
                    }
                } else {
                    eprintln!("building {component} {version} (this happens once; it is cached)");
                }
                if let Ok(mut l) = self.last_line.lock() {
                    *l = Instant::now();
                }
            }
            BuildEvent::Progress {
                component,
                elapsed,
                packages,
            } => {
                if self.tty {
                    if let Ok(b) = self.bar.lock() {
                        if let Some(bar) = b.as_ref() {
                            bar.set_message(format!("{component}: {packages} packages compiled"));
                        }
                    }
                } else if let Ok(mut l) = self.last_line.lock() {
                    if l.elapsed() >= Duration::from_secs(30) {
                        eprintln!(
                            "  still building {component}: {} so far, {packages} packages compiled",
                            secs(elapsed)
                        );
                        *l = Instant::now();
                    }
                }
            }
            BuildEvent::Finished { component, elapsed } => {
                if let Ok(mut b) = self.bar.lock() {
                    if let Some(bar) = b.take() {
                        bar.finish_and_clear();
                    }
                }
                eprintln!("built {component} in {}", secs(elapsed));
            }
        }
    }
}
