//! Methods of the Go types that Sprig functions return, callable from a
//! template as fields: `(semver "1.2.3").Major`, `now.Unix`,
//! `(toDate "2006-01-02" "2024-05-01").Format "Jan 2"`.

use std::sync::Arc;

use crate::funcs::{Function, Param};
use crate::value::Value;

fn getter(v: Value) -> Function {
    Function::new(&[], move |_, _| Ok(v.clone()))
}

/// The method `name` of `recv`, if the Go type has it.
pub(crate) fn method(recv: &Value, name: &str) -> Option<Function> {
    match recv {
        Value::Version(v) => version_method(v, name),
        Value::Time(t) => time_method(t, name),
        Value::Map(m) => m.methods().and_then(|x| x.method(recv, name)),
        Value::List(l) => l.methods.as_ref().and_then(|x| x.method(recv, name)),
        _ => None,
    }
}

fn version_method(v: &Arc<crate::semver::Version>, name: &str) -> Option<Function> {
    let inc = |f: &dyn Fn(&mut crate::semver::Version)| {
        let mut n = (**v).clone();
        f(&mut n);
        let prefix = if v.original.starts_with('v') { "v" } else { "" };
        n.original = format!("{}{}", prefix, n);
        Value::Version(Arc::new(n))
    };
    Some(match name {
        "Major" => getter(Value::Uint64(v.major)),
        "Minor" => getter(Value::Uint64(v.minor)),
        "Patch" => getter(Value::Uint64(v.patch)),
        "Prerelease" => getter(Value::str(v.pre.as_str())),
        "Metadata" => getter(Value::str(v.metadata.as_str())),
        "Original" => getter(Value::str(v.original.as_str())),
        "String" => getter(Value::str(v.to_string())),
        "IncMajor" => getter(inc(&|n| {
            n.major += 1;
            n.minor = 0;
            n.patch = 0;
            n.pre.clear();
            n.metadata.clear();
        })),
        "IncMinor" => getter(inc(&|n| {
            n.minor += 1;
            n.patch = 0;
            n.pre.clear();
            n.metadata.clear();
        })),
        "IncPatch" => getter(inc(&|n| {
            if n.pre.is_empty() {
                n.patch += 1;
            }
            n.pre.clear();
            n.metadata.clear();
        })),
        _ => return None,
    })
}

fn time_method(t: &crate::gotime::GoTime, name: &str) -> Option<Function> {
    let t2 = t.clone();
    let num = |layout: &str| -> i64 { t.format(layout).trim().parse().unwrap_or(0) };
    Some(match name {
        "Year" => getter(Value::Int(num("2006"))),
        "Day" => getter(Value::Int(num("2"))),
        "Hour" => getter(Value::Int(num("15"))),
        "Minute" => getter(Value::Int(num("4"))),
        "Second" => getter(Value::Int(num("5"))),
        "YearDay" => getter(Value::Int(num("__2"))),
        "Nanosecond" => getter(Value::Int(t.nanos as i64)),
        "Unix" => getter(Value::Int64(t.unix)),
        "UnixMilli" => getter(Value::Int64(t.unix * 1000 + (t.nanos / 1_000_000) as i64)),
        "UnixNano" => getter(Value::Int64(
            t.unix.wrapping_mul(1_000_000_000) + t.nanos as i64,
        )),
        "IsZero" => getter(Value::Bool(*t == crate::gotime::GoTime::zero())),
        "UTC" => getter(Value::Time(t.in_zone(&crate::gotime::Zone::utc()))),
        "String" => getter(Value::str(t.to_string())),
        "Format" => Function::new(&[Param::String], move |_, a| {
            Ok(Value::str(t2.format(a[0].as_str().unwrap_or(""))))
        }),
        _ => return None,
    })
}
