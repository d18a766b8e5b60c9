//! A small port of Go's `time` package: `time.Time` values, layout-based
//! formatting and parsing, and `time.Duration` parsing and printing.
//!
//! Zones: `UTC` and `Local` are both UTC (Flotilla renders on servers whose
//! local zone must not change output); other IANA names are read from the
//! system zoneinfo database (`/usr/share/zoneinfo`) as Go does, and fall back
//! to UTC when missing, as Sprig's `dateInZone` does.

use std::sync::Arc;

/// A Go `time.Time`: an instant plus the zone it is presented in.
#[derive(Clone, Debug, PartialEq)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub unix: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Offset east of UTC in seconds.
    pub offset: i32,
    /// Zone abbreviation (`UTC`, `CEST`, ...).
    pub zone: Arc<str>,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Days since 1970-01-01 of a civil date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Civil date of days since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    yday: u32,
    wday: u32,
}

impl GoTime {
    /// The zero `time.Time` (January 1, year 1, 00:00:00 UTC).
    pub fn zero() -> GoTime {
        GoTime {
            unix: days_from_civil(1, 1, 1) * 86400,
            nanos: 0,
            offset: 0,
            zone: Arc::from("UTC"),
        }
    }

    /// The current time, in UTC.
    pub fn now() -> GoTime {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        GoTime {
            unix: d.as_secs() as i64,
            nanos: d.subsec_nanos(),
            offset: 0,
            zone: Arc::from("UTC"),
        }
    }

    /// `time.Unix(sec, 0)` in UTC.
    pub fn from_unix(sec: i64) -> GoTime {
        GoTime {
            unix: sec,
            nanos: 0,
            offset: 0,
            zone: Arc::from("UTC"),
        }
    }

    /// This instant presented in `zone` (`t.In(loc)`).
    pub fn in_zone(&self, zone: &Zone) -> GoTime {
        let (offset, name) = zone.lookup(self.unix);
        GoTime {
            unix: self.unix,
            nanos: self.nanos,
            offset,
            zone: name,
        }
    }

    fn civil(&self) -> Civil {
        let local = self.unix.saturating_add(self.offset as i64);
        let days = local.div_euclid(86400);
        let secs = local.rem_euclid(86400) as u32;
        let (year, month, day) = civil_from_days(days);
        let yday = (days - days_from_civil(year, 1, 1)) as u32 + 1;
        let wday = (days + 4).rem_euclid(7) as u32;
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            min: (secs / 60) % 60,
            sec: secs % 60,
            yday,
            wday,
        }
    }

    /// `t.Add(d)` for a duration in nanoseconds.
    pub fn add_nanos(&self, d: i128) -> GoTime {
        let total = self.unix as i128 * 1_000_000_000 + self.nanos as i128 + d;
        let unix = total.div_euclid(1_000_000_000) as i64;
        let nanos = total.rem_euclid(1_000_000_000) as u32;
        GoTime {
            unix,
            nanos,
            offset: self.offset,
            zone: self.zone.clone(),
        }
    }

    /// Nanoseconds between `other` and `self` (`self.Sub(other)`).
    pub fn sub(&self, other: &GoTime) -> i128 {
        (self.unix as i128 - other.unix as i128) * 1_000_000_000 + self.nanos as i128
            - other.nanos as i128
    }

    /// RFC 3339 with nanoseconds, as `MarshalJSON` prints.
    pub fn rfc3339_nano(&self) -> String {
        self.format("2006-01-02T15:04:05.999999999Z07:00")
    }

    /// Formats with a Go layout.
    pub fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::new();
        let mut layout = layout;
        while !layout.is_empty() {
            let (prefix, std, suffix) = next_std_chunk(layout);
            out.push_str(prefix);
            let std = match std {
                Some(s) => s,
                None => break,
            };
            layout = suffix;
            match std {
                Std::Year => out.push_str(&format!("{:02}", c.year.rem_euclid(100))),
                Std::LongYear => {
                    if c.year < 0 {
                        out.push_str(&format!("-{:04}", -c.year));
                    } else {
                        out.push_str(&format!("{:04}", c.year));
                    }
                }
                Std::Month => out.push_str(&MONTHS[(c.month - 1) as usize][..3]),
                Std::LongMonth => out.push_str(MONTHS[(c.month - 1) as usize]),
                Std::NumMonth => out.push_str(&c.month.to_string()),
                Std::ZeroMonth => out.push_str(&format!("{:02}", c.month)),
                Std::WeekDay => out.push_str(&DAYS[c.wday as usize][..3]),
                Std::LongWeekDay => out.push_str(DAYS[c.wday as usize]),
                Std::Day => out.push_str(&c.day.to_string()),
                Std::UnderDay => {
                    if c.day < 10 {
                        out.push(' ');
                    }
                    out.push_str(&c.day.to_string());
                }
                Std::ZeroDay => out.push_str(&format!("{:02}", c.day)),
                Std::UnderYearDay => out.push_str(&format!("{:>3}", c.yday)),
                Std::ZeroYearDay => out.push_str(&format!("{:03}", c.yday)),
                Std::Hour => out.push_str(&format!("{:02}", c.hour)),
                Std::Hour12 => {
                    let h = c.hour % 12;
                    out.push_str(&(if h == 0 { 12 } else { h }).to_string());
                }
                Std::ZeroHour12 => {
                    let h = c.hour % 12;
                    out.push_str(&format!("{:02}", if h == 0 { 12 } else { h }));
                }
                Std::Minute => out.push_str(&c.min.to_string()),
                Std::ZeroMinute => out.push_str(&format!("{:02}", c.min)),
                Std::Second => out.push_str(&c.sec.to_string()),
                Std::ZeroSecond => out.push_str(&format!("{:02}", c.sec)),
                Std::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
                Std::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
                Std::Tz(kind) => {
                    let off = self.offset;
                    if kind.iso && off == 0 {
                        out.push('Z');
                        continue;
                    }
                    if kind.name {
                        if !self.zone.is_empty() {
                            out.push_str(&self.zone);
                            continue;
                        }
                        let z = off / 60;
                        out.push(if z < 0 { '-' } else { '+' });
                        let z = z.abs();
                        out.push_str(&format!("{:02}{:02}", z / 60, z % 60));
                        continue;
                    }
                    let z = off / 60;
                    let abs = off.abs();
                    out.push(if z < 0 || off < 0 { '-' } else { '+' });
                    let za = z.abs();
                    out.push_str(&format!("{:02}", za / 60));
                    if kind.minutes {
                        if kind.colon {
                            out.push(':');
                        }
                        out.push_str(&format!("{:02}", za % 60));
                    }
                    if kind.seconds {
                        if kind.colon {
                            out.push(':');
                        }
                        out.push_str(&format!("{:02}", abs % 60));
                    }
                }
                Std::Frac { digits, nines, sep } => {
                    let s = format!("{:09}", self.nanos);
                    let d = &s[..digits.min(9)];
                    if nines {
                        let t = d.trim_end_matches('0');
                        if !t.is_empty() {
                            out.push(sep);
                            out.push_str(t);
                        }
                    } else {
                        out.push(sep);
                        out.push_str(d);
                    }
                }
            }
        }
        out
    }

    /// `time.ParseInLocation(layout, value, loc)`.
    pub fn parse(layout: &str, value: &str, zone: &Zone) -> Result<GoTime, String> {
        parse(layout, value, zone)
    }

    /// Seconds since the epoch (`t.Unix()`).
    pub fn unix(&self) -> i64 {
        self.unix
    }
}

impl std::fmt::Display for GoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.format("2006-01-02 15:04:05.999999999 -0700 MST"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct TzKind {
    iso: bool,
    name: bool,
    colon: bool,
    minutes: bool,
    seconds: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Std {
    Month,
    LongMonth,
    NumMonth,
    ZeroMonth,
    WeekDay,
    LongWeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz(TzKind),
    Frac {
        digits: usize,
        nines: bool,
        sep: char,
    },
}

fn starts_with_lower(s: &str) -> bool {
    s.as_bytes().first().is_some_and(|c| c.is_ascii_lowercase())
}

fn tz(iso: bool, colon: bool, minutes: bool, seconds: bool) -> Std {
    Std::Tz(TzKind {
        iso,
        name: false,
        colon,
        minutes,
        seconds,
    })
}

fn next_std_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let n = b.len();
    let has = |i: usize, s: &str| layout.get(i..i + s.len()) == Some(s);
    let mut i = 0;
    while i < n {
        match b[i] {
            b'J' if has(i, "Jan") => {
                if has(i, "January") {
                    return (&layout[..i], Some(Std::LongMonth), &layout[i + 7..]);
                }
                if !starts_with_lower(&layout[i + 3..]) {
                    return (&layout[..i], Some(Std::Month), &layout[i + 3..]);
                }
            }
            b'M' => {
                if has(i, "Mon") {
                    if has(i, "Monday") {
                        return (&layout[..i], Some(Std::LongWeekDay), &layout[i + 6..]);
                    }
                    if !starts_with_lower(&layout[i + 3..]) {
                        return (&layout[..i], Some(Std::WeekDay), &layout[i + 3..]);
                    }
                }
                if has(i, "MST") {
                    return (
                        &layout[..i],
                        Some(Std::Tz(TzKind {
                            iso: false,
                            name: true,
                            colon: false,
                            minutes: true,
                            seconds: false,
                        })),
                        &layout[i + 3..],
                    );
                }
            }
            b'0' => {
                if i + 1 < n && (b'1'..=b'6').contains(&b[i + 1]) {
                    let s = match b[i + 1] {
                        b'1' => Std::ZeroMonth,
                        b'2' => Std::ZeroDay,
                        b'3' => Std::ZeroHour12,
                        b'4' => Std::ZeroMinute,
                        b'5' => Std::ZeroSecond,
                        _ => Std::Year,
                    };
                    return (&layout[..i], Some(s), &layout[i + 2..]);
                }
                if i + 2 < n && b[i + 1] == b'0' && b[i + 2] == b'2' {
                    return (&layout[..i], Some(Std::ZeroYearDay), &layout[i + 3..]);
                }
            }
            b'1' => {
                if i + 1 < n && b[i + 1] == b'5' {
                    return (&layout[..i], Some(Std::Hour), &layout[i + 2..]);
                }
                return (&layout[..i], Some(Std::NumMonth), &layout[i + 1..]);
            }
            b'2' => {
                if has(i, "2006") {
                    return (&layout[..i], Some(Std::LongYear), &layout[i + 4..]);
                }
                return (&layout[..i], Some(Std::Day), &layout[i + 1..]);
            }
            b'_' => {
                if i + 1 < n && b[i + 1] == b'2' {
                    if has(i + 1, "2006") {
                        return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
                    }
                    return (&layout[..i], Some(Std::UnderDay), &layout[i + 2..]);
                }
                if i + 2 < n && b[i + 1] == b'_' && b[i + 2] == b'2' {
                    return (&layout[..i], Some(Std::UnderYearDay), &layout[i + 3..]);
                }
            }
            b'3' => return (&layout[..i], Some(Std::Hour12), &layout[i + 1..]),
            b'4' => return (&layout[..i], Some(Std::Minute), &layout[i + 1..]),
            b'5' => return (&layout[..i], Some(Std::Second), &layout[i + 1..]),
            b'P' if i + 1 < n && b[i + 1] == b'M' => {
                return (&layout[..i], Some(Std::PM), &layout[i + 2..]);
            }
            b'p' if i + 1 < n && b[i + 1] == b'm' => {
                return (&layout[..i], Some(Std::Pm), &layout[i + 2..]);
            }
            b'-' => {
                if has(i, "-070000") {
                    return (
                        &layout[..i],
                        Some(tz(false, false, true, true)),
                        &layout[i + 7..],
                    );
                }
                if has(i, "-07:00:00") {
                    return (
                        &layout[..i],
                        Some(tz(false, true, true, true)),
                        &layout[i + 9..],
                    );
                }
                if has(i, "-0700") {
                    return (
                        &layout[..i],
                        Some(tz(false, false, true, false)),
                        &layout[i + 5..],
                    );
                }
                if has(i, "-07:00") {
                    return (
                        &layout[..i],
                        Some(tz(false, true, true, false)),
                        &layout[i + 6..],
                    );
                }
                if has(i, "-07") {
                    return (
                        &layout[..i],
                        Some(tz(false, false, false, false)),
                        &layout[i + 3..],
                    );
                }
            }
            b'Z' => {
                if has(i, "Z070000") {
                    return (
                        &layout[..i],
                        Some(tz(true, false, true, true)),
                        &layout[i + 7..],
                    );
                }
                if has(i, "Z07:00:00") {
                    return (
                        &layout[..i],
                        Some(tz(true, true, true, true)),
                        &layout[i + 9..],
                    );
                }
                if has(i, "Z0700") {
                    return (
                        &layout[..i],
                        Some(tz(true, false, true, false)),
                        &layout[i + 5..],
                    );
                }
                if has(i, "Z07:00") {
                    return (
                        &layout[..i],
                        Some(tz(true, true, true, false)),
                        &layout[i + 6..],
                    );
                }
                if has(i, "Z07") {
                    return (
                        &layout[..i],
                        Some(tz(true, false, false, false)),
                        &layout[i + 3..],
                    );
                }
            }
            b'.' | b',' if i + 1 < n && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < n && b[j] == ch {
                    j += 1;
                }
                if !(j < n && b[j].is_ascii_digit()) {
                    return (
                        &layout[..i],
                        Some(Std::Frac {
                            digits: j - (i + 1),
                            nines: ch == b'9',
                            sep: b[i] as char,
                        }),
                        &layout[j..],
                    );
                }
            }
            _ => {}
        }
        i += 1;
    }
    (layout, None, "")
}

// ---------------------------------------------------------------------------
// Zones

/// A time zone (Go's `*time.Location`).
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    /// Transitions (unix time, offset, abbreviation), sorted.
    transitions: Vec<(i64, i32, Arc<str>)>,
    /// Zone used before the first transition / when none.
    default: (i32, Arc<str>),
}

impl Zone {
    /// UTC.
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            transitions: Vec::new(),
            default: (0, Arc::from("UTC")),
        }
    }

    /// `time.LoadLocation(name)`: `""` and `UTC` are UTC, `Local` is UTC
    /// (see the module docs); other names are read from the zoneinfo
    /// database.
    pub fn load(name: &str) -> Result<Zone, String> {
        if name.is_empty() || name == "UTC" || name == "Local" {
            return Ok(Zone::utc());
        }
        if name.contains("..") || name.starts_with('/') || name.contains('\\') {
            return Err(format!("time: invalid location name {:?}", name));
        }
        let dirs = [
            "/usr/share/zoneinfo/",
            "/usr/share/lib/zoneinfo/",
            "/usr/lib/locale/TZ/",
        ];
        for d in dirs {
            if let Ok(data) = std::fs::read(format!("{}{}", d, name)) {
                if let Some(z) = parse_tzif(name, &data) {
                    return Ok(z);
                }
            }
        }
        Err(format!("unknown time zone {}", name))
    }

    /// The zone's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn lookup(&self, unix: i64) -> (i32, Arc<str>) {
        if self.transitions.is_empty() || unix < self.transitions[0].0 {
            return self.default.clone();
        }
        let idx = match self.transitions.binary_search_by(|t| t.0.cmp(&unix)) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let t = &self.transitions[idx];
        (t.1, t.2.clone())
    }
}

fn be_u32(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be_i64(b: &[u8], i: usize) -> Option<i64> {
    b.get(i..i + 8)
        .map(|s| i64::from_be_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]))
}

fn parse_tzif(name: &str, data: &[u8]) -> Option<Zone> {
    if data.get(0..4)? != b"TZif" {
        return None;
    }
    let version = *data.get(4)?;
    let header = |d: &[u8], base: usize| -> Option<[usize; 6]> {
        let mut h = [0usize; 6];
        for (k, item) in h.iter_mut().enumerate() {
            *item = be_u32(d, base + 20 + 4 * k)? as usize;
        }
        Some(h)
    };
    let h1 = header(data, 0)?;
    // [isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt]
    let v1_len = h1[3] * 5 + h1[4] * 6 + h1[5] + h1[2] * 8 + h1[1] + h1[0];
    let (base, h, tsize) = if version >= b'2' {
        let b2 = 44 + v1_len;
        (b2, header(data, b2)?, 8usize)
    } else {
        (0, h1, 4usize)
    };
    let mut p = base + 44;
    let timecnt = h[3];
    let typecnt = h[4];
    let charcnt = h[5];
    let mut times = Vec::with_capacity(timecnt);
    for k in 0..timecnt {
        let t = if tsize == 8 {
            be_i64(data, p + 8 * k)?
        } else {
            be_u32(data, p + 4 * k)? as i32 as i64
        };
        times.push(t);
    }
    p += timecnt * tsize;
    let idxs = data.get(p..p + timecnt)?.to_vec();
    p += timecnt;
    let mut types = Vec::with_capacity(typecnt);
    for k in 0..typecnt {
        let off = be_u32(data, p + 6 * k)? as i32;
        let isdst = *data.get(p + 6 * k + 4)?;
        let abbr = *data.get(p + 6 * k + 5)? as usize;
        types.push((off, isdst, abbr));
    }
    p += typecnt * 6;
    let chars = data.get(p..p + charcnt)?;
    let abbr_at = |i: usize| -> Arc<str> {
        let s = chars.get(i..).unwrap_or(&[]);
        let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
        Arc::from(String::from_utf8_lossy(&s[..end]).as_ref())
    };
    if types.is_empty() {
        return None;
    }
    // Go: the zone used before the first transition is the first non-DST type.
    let first = types.iter().find(|t| t.1 == 0).unwrap_or(&types[0]);
    let default = (first.0, abbr_at(first.2));
    let mut transitions = Vec::with_capacity(timecnt);
    for (k, t) in times.iter().enumerate() {
        let ty = types.get(idxs[k] as usize)?;
        transitions.push((*t, ty.0, abbr_at(ty.2)));
    }
    Some(Zone {
        name: name.to_string(),
        transitions,
        default: if timecnt == 0 {
            (types[0].0, abbr_at(types[0].2))
        } else {
            default
        },
    })
}

// ---------------------------------------------------------------------------
// Parsing

fn parse_err(layout: &str, value: &str, elem: &str, valueelem: &str, msg: &str) -> String {
    let q = crate::gofmt::quote;
    if msg.is_empty() {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            q(value),
            q(layout),
            q(valueelem),
            q(elem)
        )
    } else {
        format!("parsing time {}{}", q(value), msg)
    }
}

fn getnum(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() {
        return None;
    }
    if b.len() < 2 || !b[1].is_ascii_digit() {
        if fixed {
            return None;
        }
        return Some(((b[0] - b'0') as i64, &s[1..]));
    }
    Some((((b[0] - b'0') * 10 + (b[1] - b'0')) as i64, &s[2..]))
}

fn getnum3(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    let mut n = 0i64;
    let mut i = 0;
    while i < 3 && i < b.len() && b[i].is_ascii_digit() {
        n = n * 10 + (b[i] - b'0') as i64;
        i += 1;
    }
    if i == 0 || (fixed && i != 3) {
        return None;
    }
    Some((n, &s[i..]))
}

fn lookup_name<'a>(tab: &[&str], val: &'a str, short: bool) -> Option<(usize, &'a str)> {
    for (i, name) in tab.iter().enumerate() {
        let name = if short { &name[..3] } else { name };
        if val.len() >= name.len() && val[..name.len()].eq_ignore_ascii_case(name) {
            return Some((i, &val[name.len()..]));
        }
    }
    None
}

fn parse(layout: &str, value: &str, zone: &Zone) -> Result<GoTime, String> {
    let alayout = layout;
    let avalue = value;
    let mut layout = layout;
    let mut value = value;
    let mut year: i64 = 1;
    let mut month: i64 = -1;
    let mut day: i64 = -1;
    let mut yday: i64 = -1;
    let mut hour: i64 = 0;
    let mut min: i64 = 0;
    let mut sec: i64 = 0;
    let mut nsec: i64 = 0;
    let mut pm_set = false;
    let mut am_set = false;
    let mut z_offset: Option<i64> = None;
    let mut z_name: Option<String> = None;
    loop {
        let (prefix, std, suffix) = next_std_chunk(layout);
        let std_str = &layout[prefix.len()..layout.len() - suffix.len()];
        // skip prefix
        let p = prefix;
        let pv = skip_prefix(p, value).ok_or_else(|| parse_err(alayout, avalue, p, value, ""))?;
        value = pv;
        let std = match std {
            Some(s) => s,
            None => {
                if !value.is_empty() {
                    return Err(format!(
                        "parsing time {}: extra text: {}",
                        crate::gofmt::quote(avalue),
                        crate::gofmt::quote(value)
                    ));
                }
                break;
            }
        };
        layout = suffix;
        let hold = value;
        let bad = |v: &str| parse_err(alayout, avalue, std_str, v, "");
        let range_err = |what: &str| {
            format!(
                "parsing time {}: {} out of range",
                crate::gofmt::quote(avalue),
                what
            )
        };
        match std {
            Std::Year => {
                if value.len() < 2 {
                    return Err(bad(hold));
                }
                let (n, rest) = getnum(value, true).ok_or_else(|| bad(hold))?;
                year = if n >= 69 { n + 1900 } else { n + 2000 };
                value = rest;
            }
            Std::LongYear => {
                if value.len() < 4 || !value.as_bytes()[..4].iter().all(|c| c.is_ascii_digit()) {
                    return Err(bad(hold));
                }
                year = value[..4].parse().map_err(|_| bad(hold))?;
                value = &value[4..];
            }
            Std::Month | Std::LongMonth => {
                let (i, rest) =
                    lookup_name(&MONTHS, value, std == Std::Month).ok_or_else(|| bad(hold))?;
                month = i as i64 + 1;
                value = rest;
            }
            Std::NumMonth | Std::ZeroMonth => {
                let (n, rest) = getnum(value, std == Std::ZeroMonth).ok_or_else(|| bad(hold))?;
                if !(1..=12).contains(&n) {
                    return Err(range_err("month"));
                }
                month = n;
                value = rest;
            }
            Std::WeekDay | Std::LongWeekDay => {
                let (_, rest) =
                    lookup_name(&DAYS, value, std == Std::WeekDay).ok_or_else(|| bad(hold))?;
                value = rest;
            }
            Std::Day | Std::UnderDay | Std::ZeroDay => {
                if std == Std::UnderDay && value.starts_with(' ') {
                    value = &value[1..];
                }
                let (n, rest) = getnum(value, std == Std::ZeroDay).ok_or_else(|| bad(hold))?;
                day = n;
                value = rest;
            }
            Std::UnderYearDay | Std::ZeroYearDay => {
                let mut v = value;
                if std == Std::UnderYearDay {
                    for _ in 0..2 {
                        if v.starts_with(' ') {
                            v = &v[1..];
                        }
                    }
                }
                let (n, rest) = getnum3(v, std == Std::ZeroYearDay).ok_or_else(|| bad(hold))?;
                yday = n;
                value = rest;
            }
            Std::Hour => {
                let (n, rest) = getnum(value, false).ok_or_else(|| bad(hold))?;
                if !(0..24).contains(&n) {
                    return Err(range_err("hour"));
                }
                hour = n;
                value = rest;
            }
            Std::Hour12 | Std::ZeroHour12 => {
                let (n, rest) = getnum(value, std == Std::ZeroHour12).ok_or_else(|| bad(hold))?;
                if !(0..=12).contains(&n) {
                    return Err(range_err("hour"));
                }
                hour = n;
                value = rest;
            }
            Std::Minute | Std::ZeroMinute => {
                let (n, rest) = getnum(value, std == Std::ZeroMinute).ok_or_else(|| bad(hold))?;
                if !(0..60).contains(&n) {
                    return Err(range_err("minute"));
                }
                min = n;
                value = rest;
            }
            Std::Second | Std::ZeroSecond => {
                let (n, rest) = getnum(value, std == Std::ZeroSecond).ok_or_else(|| bad(hold))?;
                if !(0..60).contains(&n) {
                    return Err(range_err("second"));
                }
                sec = n;
                value = rest;
                // Fractional seconds following even if not in layout.
                let b = value.as_bytes();
                if b.len() >= 2 && (b[0] == b'.' || b[0] == b',') && b[1].is_ascii_digit() {
                    let (_, next_std, _) = next_std_chunk(layout);
                    if !matches!(next_std, Some(Std::Frac { .. })) {
                        let mut n = 1;
                        while n < b.len() && b[n].is_ascii_digit() {
                            n += 1;
                        }
                        nsec = parse_nanos(&value[1..n]);
                        value = &value[n..];
                    }
                }
            }
            Std::PM | Std::Pm => {
                if value.len() < 2 {
                    return Err(bad(hold));
                }
                let p = &value[..2];
                match p {
                    "PM" | "pm" if (std == Std::PM) == (p == "PM") => pm_set = true,
                    "AM" | "am" if (std == Std::PM) == (p == "AM") => am_set = true,
                    _ => return Err(bad(hold)),
                }
                value = &value[2..];
            }
            Std::Tz(k) => {
                if k.iso && value.starts_with('Z') {
                    value = &value[1..];
                    z_offset = Some(0);
                    z_name = Some("UTC".into());
                    continue;
                }
                if k.name {
                    // Zone abbreviation: letters (3-5) or "UTC"/"GMT".
                    let n = value.bytes().take_while(|c| c.is_ascii_uppercase()).count();
                    if n < 3 {
                        return Err(bad(hold));
                    }
                    z_name = Some(value[..n].to_string());
                    value = &value[n..];
                    continue;
                }
                let b = value.as_bytes();
                if b.is_empty() || (b[0] != b'+' && b[0] != b'-') {
                    return Err(bad(hold));
                }
                let sign = if b[0] == b'-' { -1 } else { 1 };
                let mut v = &value[1..];
                let hh = getnum(v, true).ok_or_else(|| bad(hold))?;
                v = hh.1;
                let mut mm = 0;
                let mut ss = 0;
                if k.minutes {
                    if k.colon {
                        v = v.strip_prefix(':').ok_or_else(|| bad(hold))?;
                    }
                    let m = getnum(v, true).ok_or_else(|| bad(hold))?;
                    mm = m.0;
                    v = m.1;
                }
                if k.seconds {
                    if k.colon {
                        v = v.strip_prefix(':').ok_or_else(|| bad(hold))?;
                    }
                    let s = getnum(v, true).ok_or_else(|| bad(hold))?;
                    ss = s.0;
                    v = s.1;
                }
                z_offset = Some(sign * (hh.0 * 3600 + mm * 60 + ss));
                value = v;
            }
            Std::Frac { digits, nines, .. } => {
                let b = value.as_bytes();
                if nines {
                    if b.len() < 2 || !(b[0] == b'.' || b[0] == b',') || !b[1].is_ascii_digit() {
                        continue;
                    }
                    let mut n = 1;
                    while n < 10 && n < b.len() && b[n].is_ascii_digit() {
                        n += 1;
                    }
                    nsec = parse_nanos(&value[1..n]);
                    value = &value[n..];
                } else {
                    let ndigit = 1 + digits;
                    if b.len() < ndigit || !b[1..ndigit].iter().all(|c| c.is_ascii_digit()) {
                        return Err(bad(hold));
                    }
                    nsec = parse_nanos(&value[1..ndigit]);
                    value = &value[ndigit..];
                }
            }
        }
    }
    if pm_set && hour < 12 {
        hour += 12;
    } else if am_set && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        let (m, d) = yday_to_md(year, yday).ok_or_else(|| {
            format!(
                "parsing time {}: day-of-year out of range",
                crate::gofmt::quote(avalue)
            )
        })?;
        if month >= 0 && month != m as i64 || day >= 0 && day != d as i64 {
            return Err(format!(
                "parsing time {}: day-of-year does not match month",
                crate::gofmt::quote(avalue)
            ));
        }
        month = m as i64;
        day = d as i64;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    let dim = days_in_month(year, month as u32);
    if day < 1 || day > dim as i64 {
        return Err(format!(
            "parsing time {}: day out of range",
            crate::gofmt::quote(avalue)
        ));
    }
    let local =
        days_from_civil(year, month as u32, day as u32) * 86400 + hour * 3600 + min * 60 + sec;
    if let Some(off) = z_offset {
        let t = GoTime {
            unix: local - off,
            nanos: nsec as u32,
            offset: off as i32,
            zone: Arc::from(z_name.as_deref().unwrap_or("")),
        };
        // If the offset matches the location's, use its name.
        let (loff, lname) = zone.lookup(t.unix);
        if loff as i64 == off && z_name.as_deref() != Some("UTC") {
            return Ok(GoTime { zone: lname, ..t });
        }
        if off == 0 && z_name.as_deref() == Some("UTC") {
            return Ok(GoTime {
                zone: Arc::from("UTC"),
                ..t
            });
        }
        return Ok(t);
    }
    if let Some(name) = z_name {
        let (off, lname) = zone.lookup(local);
        if *lname == *name || name == "UTC" || name == "GMT" {
            let o = if name == "UTC" || name == "GMT" {
                0
            } else {
                off
            };
            return Ok(GoTime {
                unix: local - o as i64,
                nanos: nsec as u32,
                offset: o,
                zone: Arc::from(name.as_str()),
            });
        }
        return Ok(GoTime {
            unix: local,
            nanos: nsec as u32,
            offset: 0,
            zone: Arc::from(name.as_str()),
        });
    }
    // In location.
    let (off, _) = zone.lookup(local);
    let unix = local - off as i64;
    let (off2, name2) = zone.lookup(unix);
    Ok(GoTime {
        unix: local - off2 as i64,
        nanos: nsec as u32,
        offset: off2,
        zone: name2,
    })
}

fn parse_nanos(digits: &str) -> i64 {
    let mut s: String = digits.chars().take(9).collect();
    while s.len() < 9 {
        s.push('0');
    }
    s.parse().unwrap_or(0)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

fn yday_to_md(y: i64, yday: i64) -> Option<(u32, u32)> {
    let total = if is_leap(y) { 366 } else { 365 };
    if yday < 1 || yday > total {
        return None;
    }
    let mut d = yday as u32;
    for m in 1..=12 {
        let n = days_in_month(y, m);
        if d <= n {
            return Some((m, d));
        }
        d -= n;
    }
    None
}

fn skip_prefix<'a>(prefix: &str, value: &'a str) -> Option<&'a str> {
    let mut p = prefix;
    let mut v = value;
    while !p.is_empty() {
        if p.starts_with(' ') {
            if !v.is_empty() && !v.starts_with(' ') {
                return None;
            }
            p = p.trim_start_matches(' ');
            v = v.trim_start_matches(' ');
            continue;
        }
        if v.is_empty() || v.as_bytes()[0] != p.as_bytes()[0] {
            return None;
        }
        p = &p[1..];
        v = &v[1..];
    }
    Some(v)
}

// ---------------------------------------------------------------------------
// Durations

/// `time.Duration.String()` for nanoseconds.
pub fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Sub-second: ns, µs, ms
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        out.push_str(&frac_str(u, prec));
        out.push_str(unit);
    } else {
        let secs_total = u / 1_000_000_000;
        let frac = u % 1_000_000_000;
        let h = secs_total / 3600;
        let m = (secs_total / 60) % 60;
        let s = secs_total % 60;
        if h > 0 {
            out.push_str(&format!("{}h", h));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{}m", m));
        }
        out.push_str(&frac_str(s * 1_000_000_000 + frac, 9));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

fn frac_str(v: u64, prec: u32) -> String {
    let p = 10u64.pow(prec);
    let ip = v / p;
    let fp = v % p;
    if fp == 0 {
        return ip.to_string();
    }
    let f = format!("{:0width$}", fp, width = prec as usize);
    format!("{}.{}", ip, f.trim_end_matches('0'))
}

/// `time.ParseDuration`, in nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let orig = s;
    let err = || format!("time: invalid duration {}", crate::gofmt::quote(orig));
    let mut s = s;
    let mut neg = false;
    if let Some(r) = s.strip_prefix('-') {
        neg = true;
        s = r;
    } else if let Some(r) = s.strip_prefix('+') {
        s = r;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    let mut total_i: i128 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(err());
        }
        let n = s
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        let num = &s[..n];
        if num == "." || num.matches('.').count() > 1 {
            return Err(err());
        }
        s = &s[n..];
        let u = s
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        let unit = &s[..u];
        s = &s[u..];
        let mult: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => {
                return Err(format!(
                    "time: missing unit in duration {}",
                    crate::gofmt::quote(orig)
                ))
            }
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    crate::gofmt::quote(unit),
                    crate::gofmt::quote(orig)
                ))
            }
        };
        let (ip, fp) = match num.find('.') {
            Some(i) => (&num[..i], &num[i + 1..]),
            None => (num, ""),
        };
        let ipv: i128 = if ip.is_empty() {
            0
        } else {
            ip.parse().map_err(|_| err())?
        };
        total_i += ipv * mult;
        if !fp.is_empty() {
            let fv: f64 = format!("0.{}", fp).parse().map_err(|_| err())?;
            total += fv * mult as f64;
        }
        if total_i > i64::MAX as i128 {
            return Err(err());
        }
    }
    let v = total_i + total as i128;
    if v > i64::MAX as i128 {
        return Err(err());
    }
    Ok(if neg { -(v as i64) } else { v as i64 })
}
