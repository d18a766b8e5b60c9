//! WAN latency for the lab: a loopback TCP proxy that delays what it
//! forwards, put in front of a region's API server so that every client of
//! the lab kubeconfig sees the region as if it were far away.
//!
//! The delay is a round-trip figure, as `ping` reports it: each direction is
//! delayed by half of it. A chunk read at time `t` on one side is written at
//! `t + delay/2` on the other; with jitter, each chunk's one-way delay is
//! drawn uniformly in `(delay - jitter)/2 ..= (delay + jitter)/2`, but a
//! chunk is never written before the one read ahead of it, so bytes keep
//! their order. Throughput is not limited: chunks are in flight side by
//! side (up to [`MAX_IN_FLIGHT`] bytes per direction and connection, more
//! than a TCP window, before reading pauses). The proxy works on TCP, so
//! TLS passes through untouched; connection setup itself is not delayed.
//!
//! ```no_run
//! # async fn f() -> Result<(), flotilla_lab::LabError> {
//! use std::time::Duration;
//! use flotilla_lab::latency::{Latency, LatencyProxy, ProxyOptions};
//! let latency = Latency::new(Duration::from_millis(80), Duration::from_millis(10))?;
//! let proxy = LatencyProxy::start(ProxyOptions {
//!     port: 0,
//!     upstream: "127.0.0.1:6443".parse().unwrap(),
//!     latency,
//! })
//! .await?;
//! println!("https://{}", proxy.addr());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::{io, LabError, Result};
use crate::lab::validate_region;

pub use crate::lab_latency::ProxyState;

/// Largest chunk read at once.
const CHUNK: usize = 64 * 1024;
/// Bytes in flight per direction and connection before reading pauses.
pub const MAX_IN_FLIGHT: usize = 32 * 1024 * 1024;
/// How long connecting to the upstream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A round-trip delay as `ping` reports it, and its jitter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    /// Round-trip delay: each direction is delayed by half of it.
    #[serde(with = "duration_text")]
    pub delay: Duration,
    /// Round-trip jitter: each chunk's one-way delay is drawn uniformly in
    /// `(delay - jitter)/2 ..= (delay + jitter)/2`. At most `delay`.
    #[serde(with = "duration_text")]
    pub jitter: Duration,
}

impl Latency {
    /// A delay and its jitter; the jitter may not exceed the delay (a
    /// one-way delay is never negative).
    pub fn new(delay: Duration, jitter: Duration) -> Result<Self> {
        let l = Self { delay, jitter };
        l.validate()?;
        Ok(l)
    }

    fn validate(&self) -> Result<()> {
        if self.jitter > self.delay {
            return Err(LabError::InvalidLatency {
                spec: self.to_string(),
                message: "the jitter may not exceed the latency".into(),
            });
        }
        Ok(())
    }

    /// No delay at all (no proxy is needed).
    pub fn is_zero(&self) -> bool {
        self.delay.is_zero() && self.jitter.is_zero()
    }

    /// The earliest one-way delay: `(delay - jitter)/2`.
    pub fn min_one_way(&self) -> Duration {
        self.delay.saturating_sub(self.jitter) / 2
    }

    /// The latest one-way delay: `(delay + jitter)/2`.
    pub fn max_one_way(&self) -> Duration {
        self.delay.saturating_add(self.jitter) / 2
    }

    /// One chunk's one-way delay.
    fn one_way(&self, rng: &mut fastrand::Rng) -> Duration {
        let base = self.min_one_way();
        if self.jitter.is_zero() {
            return base;
        }
        let span = u64::try_from(self.jitter.as_nanos()).unwrap_or(u64::MAX);
        base.saturating_add(Duration::from_nanos(rng.u64(0..=span)))
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.delay))?;
        if !self.jitter.is_zero() {
            write!(f, " ±{}", humantime::format_duration(self.jitter))?;
        }
        Ok(())
    }
}

/// Durations as `humantime` writes them (`80ms`), in the lab's files.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// A duration for every region and/or per region, as `--latency` and
/// `--jitter` take it: `80ms` (every region), `us-east-2=120ms,us-west-2=60ms`
/// (those regions), or both, `80ms,us-east-2=120ms` (every region, with
/// exceptions). Durations are written the `humantime` way (`80ms`, `1s`,
/// `0`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionDurations {
    /// For every region not named.
    pub default: Option<Duration>,
    /// By region name.
    pub regions: BTreeMap<String, Duration>,
}

impl RegionDurations {
    /// The same duration for every region.
    pub fn every(d: Duration) -> Self {
        Self {
            default: Some(d),
            regions: BTreeMap::new(),
        }
    }

    /// The duration for `region`: its own, else the default.
    pub fn get(&self, region: &str) -> Option<Duration> {
        self.regions.get(region).copied().or(self.default)
    }
}

impl FromStr for RegionDurations {
    type Err = LabError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |message: String| LabError::InvalidLatency {
            spec: s.to_string(),
            message,
        };
        let parse = |d: &str| {
            humantime::parse_duration(d.trim())
                .map_err(|e| bad(format!("`{}` is not a duration like 80ms: {e}", d.trim())))
        };
        let mut out = Self::default();
        for item in s.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(bad(
                    "expected DELAY, REGION=DELAY or a comma list of them".into()
                ));
            }
            match item.split_once('=') {
                Some((region, d)) => {
                    let region = region.trim();
                    validate_region(region)?;
                    if out.regions.insert(region.to_string(), parse(d)?).is_some() {
                        return Err(bad(format!("region {region} is given twice")));
                    }
                }
                None => {
                    if out.default.replace(parse(item)?).is_some() {
                        return Err(bad("more than one duration for every region".into()));
                    }
                }
            }
        }
        Ok(out)
    }
}

impl fmt::Display for RegionDurations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        if let Some(d) = self.default {
            items.push(humantime::format_duration(d).to_string());
        }
        for (r, d) in &self.regions {
            items.push(format!("{r}={}", humantime::format_duration(*d)));
        }
        f.write_str(&items.join(","))
    }
}

/// The latency of each region of a lab.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencyPlan {
    /// Round-trip delays.
    pub latency: RegionDurations,
    /// Round-trip jitters.
    pub jitter: RegionDurations,
}

impl LatencyPlan {
    /// Latency and jitter by region.
    pub fn new(latency: RegionDurations, jitter: RegionDurations) -> Self {
        Self { latency, jitter }
    }

    /// The same latency for every region.
    pub fn every(delay: Duration, jitter: Duration) -> Self {
        Self::new(
            RegionDurations::every(delay),
            RegionDurations::every(jitter),
        )
    }

    /// The latency of `region`; `None` when it has none (no proxy).
    pub fn for_region(&self, region: &str) -> Option<Latency> {
        let l = Latency {
            delay: self.latency.get(region).unwrap_or_default(),
            jitter: self.jitter.get(region).unwrap_or_default(),
        };
        (!l.is_zero()).then_some(l)
    }

    /// Checks the plan against the lab's regions: every region it names is
    /// one of them, and no jitter exceeds its latency.
    pub fn validate(&self, regions: &[String]) -> Result<()> {
        for (what, given) in [("--latency", &self.latency), ("--jitter", &self.jitter)] {
            for r in given.regions.keys() {
                if !regions.contains(r) {
                    return Err(LabError::InvalidLatency {
                        spec: given.to_string(),
                        message: format!(
                            "{what} names region {r}, which is not one of the lab's regions ({})",
                            regions.join(", ")
                        ),
                    });
                }
            }
        }
        for r in regions {
            let l = Latency {
                delay: self.latency.get(r).unwrap_or_default(),
                jitter: self.jitter.get(r).unwrap_or_default(),
            };
            l.validate().map_err(|_| LabError::InvalidLatency {
                spec: l.to_string(),
                message: format!("region {r}: the jitter may not exceed the latency"),
            })?;
        }
        Ok(())
    }
}

/// How a [`LatencyProxy`] runs; what `flotilla lab proxy` reads from the
/// configuration file the lab writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Where connections are forwarded (the API server).
    pub upstream: SocketAddr,
    /// The delay.
    pub latency: Latency,
}

/// A running latency proxy; it stops (listener and connections) when
/// dropped.
pub struct LatencyProxy {
    addr: SocketAddr,
    options: ProxyOptions,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl fmt::Debug for LatencyProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.options.upstream)
            .field("latency", &self.options.latency)
            .finish()
    }
}

impl LatencyProxy {
    /// Binds 127.0.0.1:`options.port` and forwards in a background task of
    /// the current runtime.
    pub async fn start(options: ProxyOptions) -> Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], options.port)))
            .await
            .map_err(LabError::Port)?;
        let addr = listener.local_addr().map_err(LabError::Port)?;
        let upstream = options.upstream;
        let latency = options.latency;
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let (client, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a connection");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                connections.spawn(async move {
                    if let Err(e) = forward(client, upstream, latency).await {
                        tracing::warn!(%peer, %upstream, error = %e, "forwarding a connection");
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            addr,
            options,
            task: Some(task),
        })
    }

    /// The listening address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it was started with.
    pub fn options(&self) -> &ProxyOptions {
        &self.options
    }

    /// Forwards until the task ends (never, unless aborted): for a lab
    /// process.
    pub async fn run(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// One client connection: opens its own connection to `upstream` and pipes
/// both directions, each delayed by half the round trip.
async fn forward(client: TcpStream, upstream: SocketAddr, latency: Latency) -> std::io::Result<()> {
    let server = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connecting upstream"))??;
    // Small writes (TLS records, HTTP/2 frames) must not wait for Nagle.
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pipe(client_read, server_write, latency, fastrand::Rng::new()),
        pipe(server_read, client_write, latency, fastrand::Rng::new()),
    );
    Ok(())
}

/// A chunk on its way, with the room it takes in the in-flight budget.
struct InFlight {
    at: Instant,
    bytes: Option<Vec<u8>>,
    _room: Option<OwnedSemaphorePermit>,
}

/// Copies `from` to `to`, writing each chunk read at `t` at `t` plus its
/// one-way delay, in order; end of input (or a read error) shuts `to` down
/// at the time the last chunk was due plus nothing more, so the peer sees the
/// close after the data, as it would over a wire. Ends when `from` ends or
/// `to` fails.
pub(crate) async fn pipe<R, W>(mut from: R, mut to: W, latency: Latency, mut rng: fastrand::Rng)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<InFlight>();
    let budget = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let read = async move {
        let mut buf = vec![0u8; CHUNK];
        let mut last = Instant::now();
        loop {
            let got = tokio::select! {
                r = from.read(&mut buf) => r,
                () = tx.closed() => return,
            };
            let now = Instant::now();
            let bytes = match got {
                Ok(0) | Err(_) => None,
                Ok(n) => Some(buf.get(..n).unwrap_or_default().to_vec()),
            };
            let room = match &bytes {
                Some(b) => {
                    let n = u32::try_from(b.len()).unwrap_or(u32::MAX);
                    tokio::select! {
                        p = budget.clone().acquire_many_owned(n) => p.ok(),
                        () = tx.closed() => return,
                    }
                }
                None => None,
            };
            // Never before the chunk read ahead of it: no reordering.
            let at = (now + latency.one_way(&mut rng)).max(last);
            last = at;
            let end = bytes.is_none();
            if tx
                .send(InFlight {
                    at,
                    bytes,
                    _room: room,
                })
                .is_err()
                || end
            {
                return;
            }
        }
    };
    let write = async move {
        while let Some(chunk) = rx.recv().await {
            tokio::time::sleep_until(chunk.at).await;
            match &chunk.bytes {
                Some(b) => {
                    if to.write_all(b).await.is_err() {
                        break;
                    }
                }
                None => {
                    let _ = to.shutdown().await;
                    break;
                }
            }
        }
        // Dropping the receiver tells the reader to stop.
    };
    tokio::join!(read, write);
}

/// Runs a latency proxy from a configuration file written by the lab
/// (`<lab>/regions/<region>/latency-proxy.json`) until the process is
/// stopped: what `flotilla lab proxy` runs.
pub async fn serve_config(config: &Path) -> Result<()> {
    let text = std::fs::read_to_string(config).map_err(io("reading", config))?;
    let options: ProxyOptions = serde_json::from_str(&text).map_err(|e| LabError::State {
        path: config.to_path_buf(),
        message: e.to_string(),
    })?;
    let proxy = LatencyProxy::start(options).await?;
    tracing::info!(
        addr = %proxy.addr(),
        upstream = %proxy.options().upstream,
        latency = %proxy.options().latency,
        "forwarding with latency"
    );
    proxy.run().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_for_every_region_per_region_or_both() {
        let d: RegionDurations = "80ms".parse().unwrap();
        assert_eq!(d, RegionDurations::every(ms(80)));
        assert_eq!(d.get("anything"), Some(ms(80)));

        let d: RegionDurations = "us-east-2=120ms, us-west-2=60ms".parse().unwrap();
        assert_eq!(d.default, None);
        assert_eq!(d.get("us-east-2"), Some(ms(120)));
        assert_eq!(d.get("us-west-2"), Some(ms(60)));
        assert_eq!(d.get("eu-west-1"), None);
        assert_eq!(d.to_string(), "us-east-2=120ms,us-west-2=60ms");

        let d: RegionDurations = "1s,a=0".parse().unwrap();
        assert_eq!(d.get("a"), Some(Duration::ZERO));
        assert_eq!(d.get("b"), Some(ms(1000)));

        for bad in [
            "",
            "fast",
            "80ms,90ms",
            "a=1ms,a=2ms",
            "A=1ms",
            "a=",
            "80ms,,a=1ms",
        ] {
            let err = bad.parse::<RegionDurations>().unwrap_err();
            assert!(
                matches!(
                    err,
                    LabError::InvalidLatency { .. } | LabError::InvalidRegion(_)
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_plan_gives_each_region_its_latency_and_is_checked() {
        let regions = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let plan = LatencyPlan::new("80ms,b=120ms,c=0".parse().unwrap(), "10ms".parse().unwrap());
        plan.validate(&regions).unwrap_err(); // c: jitter 10ms > latency 0
        let plan = LatencyPlan::new(
            "80ms,b=120ms,c=0".parse().unwrap(),
            "a=10ms".parse().unwrap(),
        );
        plan.validate(&regions).unwrap();
        assert_eq!(
            plan.for_region("a"),
            Some(Latency::new(ms(80), ms(10)).unwrap())
        );
        assert_eq!(
            plan.for_region("b"),
            Some(Latency::new(ms(120), Duration::ZERO).unwrap())
        );
        assert_eq!(plan.for_region("c"), None, "no latency, no proxy");

        let typo = LatencyPlan::new(
            "us-esat-2=80ms".parse().unwrap(),
            RegionDurations::default(),
        );
        let err = typo.validate(&regions).unwrap_err().to_string();
        assert!(err.contains("us-esat-2"), "{err}");

        assert!(Latency::new(ms(10), ms(20)).is_err());
        let l = Latency::new(ms(80), ms(10)).unwrap();
        assert_eq!(l.to_string(), "80ms ±10ms");
        assert_eq!((l.min_one_way(), l.max_one_way()), (ms(35), ms(45)));
        let json = serde_json::to_value(l).unwrap();
        assert_eq!(json, serde_json::json!({"delay": "80ms", "jitter": "10ms"}));
        assert_eq!(serde_json::from_value::<Latency>(json).unwrap(), l);
    }

    /// Writes `chunks` into a pipe with `latency`, each after its pause,
    /// and returns what came out: (virtual arrival time, bytes), plus the
    /// virtual time each byte was sent.
    async fn through_pipe(
        latency: Latency,
        chunks: &[(Duration, &[u8])],
        seed: u64,
    ) -> (Vec<(Instant, Vec<u8>)>, Vec<Instant>) {
        let (mut client, proxy_in) = tokio::io::duplex(1 << 20);
        let (proxy_out, mut server) = tokio::io::duplex(1 << 20);
        let piping = tokio::spawn(pipe(
            proxy_in,
            proxy_out,
            latency,
            fastrand::Rng::with_seed(seed),
        ));
        let receiving = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 4096];
            loop {
                let n = server.read(&mut buf).await.unwrap();
                if n == 0 {
                    return got;
                }
                got.push((Instant::now(), buf[..n].to_vec()));
            }
        });
        let mut sent_at = Vec::new();
        for (pause, bytes) in chunks {
            tokio::time::sleep(*pause).await;
            client.write_all(bytes).await.unwrap();
            sent_at.extend(std::iter::repeat_n(Instant::now(), bytes.len()));
        }
        drop(client);
        let got = receiving.await.unwrap();
        piping.await.unwrap();
        (got, sent_at)
    }

    /// Every byte arrives in order, no earlier than `min` after it was sent
    /// and no later than `max` after the latest byte sent up to it.
    fn check_schedule(
        chunks: &[(Duration, &[u8])],
        got: &[(Instant, Vec<u8>)],
        sent_at: &[Instant],
        min: Duration,
        max: Duration,
    ) {
        let sent: Vec<u8> = chunks.iter().flat_map(|(_, b)| b.to_vec()).collect();
        let received: Vec<u8> = got.iter().flat_map(|(_, b)| b.clone()).collect();
        assert_eq!(received, sent, "bytes arrive complete and in order");
        let mut offset = 0;
        for (arrived, bytes) in got {
            for k in offset..offset + bytes.len() {
                let earliest = sent_at[k] + min;
                assert!(
                    *arrived >= earliest,
                    "byte {k} arrived {:?} before its delay",
                    earliest - *arrived
                );
                let latest = sent_at[..=k].iter().max().copied().unwrap() + max;
                assert!(*arrived <= latest, "byte {k} arrived too late");
            }
            offset += bytes.len();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_direction_is_delayed_by_half_the_round_trip_in_order() {
        let latency = Latency::new(ms(200), Duration::ZERO).unwrap();
        let chunks: Vec<(Duration, &[u8])> = vec![
            (ms(0), b"GET / HTTP/1.1\r\n"),
            (ms(0), b"Host: x\r\n"),
            (ms(30), b"\r\n"),
            (ms(150), b"second request"),
            (ms(1), b"!"),
        ];
        let (got, sent_at) = through_pipe(latency, &chunks, 1).await;
        check_schedule(&chunks, &got, &sent_at, ms(100), ms(100));
        // Throughput is not limited to one chunk per delay: the chunk sent
        // 1ms after another arrives 1ms after it, not 100ms.
        let last_two: Vec<Instant> = got.iter().rev().take(2).map(|(t, _)| *t).collect();
        assert!(last_two[0] - last_two[1] <= ms(1), "{got:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_varies_the_delay_but_never_reorders() {
        let latency = Latency::new(ms(100), ms(80)).unwrap();
        let payload: Vec<Vec<u8>> = (0..200u32)
            .map(|i| format!("chunk {i};").into_bytes())
            .collect();
        // Chunks closer together than the jitter (they would overtake one
        // another if drawn independently), then farther apart than the
        // longest delay (each draw shows as it is).
        for spacing in [ms(1), ms(100)] {
            let chunks: Vec<(Duration, &[u8])> =
                payload.iter().map(|p| (spacing, p.as_slice())).collect();
            let (got, sent_at) = through_pipe(latency, &chunks, 7).await;
            check_schedule(&chunks, &got, &sent_at, ms(10), ms(90));
            // The delays did vary.
            let delays: std::collections::BTreeSet<Duration> = got
                .iter()
                .scan(0usize, |off, (t, b)| {
                    let d = *t - sent_at[*off];
                    *off += b.len();
                    Some(d)
                })
                .collect();
            assert!(delays.len() > 10, "{delays:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_close_follows_the_data() {
        let latency = Latency::new(ms(50), Duration::ZERO).unwrap();
        let (mut client, proxy_in) = tokio::io::duplex(1024);
        let (proxy_out, mut server) = tokio::io::duplex(1024);
        tokio::spawn(pipe(proxy_in, proxy_out, latency, fastrand::Rng::new()));
        let start = Instant::now();
        client.write_all(b"bye").await.unwrap();
        drop(client);
        let mut all = Vec::new();
        server.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"bye");
        assert!(Instant::now() - start >= ms(25));
    }

    /// A real TCP round trip through the proxy to an echo server: every byte
    /// of a large payload comes back, in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forwards_tcp_both_ways() {
        let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = echo.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.into_split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                    let _ = w.shutdown().await;
                });
            }
        });
        let proxy = LatencyProxy::start(ProxyOptions {
            port: 0,
            upstream,
            latency: Latency::new(ms(10), ms(4)).unwrap(),
        })
        .await
        .unwrap();
        let payload: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let conn = TcpStream::connect(proxy.addr()).await.unwrap();
        let (mut r, mut w) = conn.into_split();
        let sent = payload.clone();
        let writer = tokio::spawn(async move {
            w.write_all(&sent).await.unwrap();
            w.shutdown().await.unwrap();
        });
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.unwrap();
        writer.await.unwrap();
        assert!(back == payload, "echoed bytes differ");

        // Stopped with the proxy: the port no longer accepts connections.
        let addr = proxy.addr();
        drop(proxy);
        tokio::task::yield_now().await;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(addr).await.is_ok() {
            assert!(std::time::Instant::now() < deadline, "{addr} still accepts");
            tokio::time::sleep(ms(20)).await;
        }
    }
}
