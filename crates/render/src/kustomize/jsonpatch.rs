//! RFC 6902 JSON patches, with the behaviour of the library kustomize uses
//! (evanphx/json-patch v4: negative array indices count from the end,
//! `replace` and `remove` need an existing target).

use serde_json::{Map, Value};

/// One operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    op: String,
    path: String,
    from: String,
    value: Value,
}

/// Decodes a patch document (a JSON list of operations).
pub fn decode(doc: &Value) -> Result<Vec<Op>, String> {
    let Value::Array(items) = doc else {
        return Err("a JSON patch must be a list of operations".into());
    };
    let mut ops = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(m) = item else {
            return Err(format!("operation {i} is not a mapping"));
        };
        let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let op = s("op");
        if !matches!(
            op.as_str(),
            "add" | "remove" | "replace" | "move" | "copy" | "test"
        ) {
            return Err(format!("operation {i}: unexpected op {op:?}"));
        }
        if !m.contains_key("path") {
            return Err(format!("operation {i} ({op}): missing path"));
        }
        ops.push(Op {
            op,
            path: s("path"),
            from: s("from"),
            value: m.get("value").cloned().unwrap_or(Value::Null),
        });
    }
    Ok(ops)
}

fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("invalid JSON pointer {pointer:?}"));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index(tok: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    let i: i64 = tok
        .parse()
        .map_err(|_| format!("invalid array index {tok:?}"))?;
    let len_i = len as i64;
    let i = if i < 0 { len_i + i } else { i };
    let max = if allow_end { len_i } else { len_i - 1 };
    if i < 0 || i > max {
        return Err(format!("array index {tok} out of bounds"));
    }
    Ok(i as usize)
}

fn parent<'a>(doc: &'a mut Value, toks: &[String], path: &str) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m
                .get_mut(t)
                .ok_or_else(|| format!("path {path:?}: missing key {t:?}"))?,
            Value::Array(a) => {
                let len = a.len();
                let i = index(t, len, false).map_err(|e| format!("path {path:?}: {e}"))?;
                &mut a[i]
            }
            _ => {
                return Err(format!(
                    "path {path:?}: {t:?} is not inside a mapping or list"
                ))
            }
        };
    }
    Ok(cur)
}

fn get(doc: &Value, path: &str) -> Result<Value, String> {
    let mut cur = doc;
    for t in tokens(path)? {
        cur = match cur {
            Value::Object(m) => m
                .get(&t)
                .ok_or_else(|| format!("path {path:?} does not exist"))?,
            Value::Array(a) => {
                &a[index(&t, a.len(), false).map_err(|e| format!("path {path:?}: {e}"))?]
            }
            _ => return Err(format!("path {path:?} does not exist")),
        };
    }
    Ok(cur.clone())
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let toks = tokens(path)?;
    let Some((last, init)) = toks.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent(doc, init, path)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i = index(last, a.len(), true).map_err(|e| format!("add {path:?}: {e}"))?;
                a.insert(i, value);
            }
            Ok(())
        }
        _ => Err(format!("add {path:?}: the parent is not a mapping or list")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let toks = tokens(path)?;
    let Some((last, init)) = toks.split_last() else {
        return Err("cannot remove the whole document".into());
    };
    match parent(doc, init, path)? {
        Value::Object(m) => m
            .shift_remove(last)
            .ok_or_else(|| format!("remove {path:?}: the path does not exist")),
        Value::Array(a) => {
            let i = index(last, a.len(), false).map_err(|e| format!("remove {path:?}: {e}"))?;
            Ok(a.remove(i))
        }
        _ => Err(format!(
            "remove {path:?}: the parent is not a mapping or list"
        )),
    }
}

fn replace(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let toks = tokens(path)?;
    let Some((last, init)) = toks.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent(doc, init, path)? {
        Value::Object(m) => match m.get_mut(last) {
            Some(slot) => {
                *slot = value;
                Ok(())
            }
            None => Err(format!(
                "replace operation does not apply: doc is missing key {path:?}"
            )),
        },
        Value::Array(a) => {
            let i = index(last, a.len(), false).map_err(|e| format!("replace {path:?}: {e}"))?;
            a[i] = value;
            Ok(())
        }
        _ => Err(format!(
            "replace {path:?}: the parent is not a mapping or list"
        )),
    }
}

/// Applies the operations to an object.
pub fn apply(obj: &mut Map<String, Value>, ops: &[Op]) -> Result<(), String> {
    let mut doc = Value::Object(std::mem::take(obj));
    let result = (|| {
        for o in ops {
            match o.op.as_str() {
                "add" => add(&mut doc, &o.path, o.value.clone())?,
                "remove" => {
                    remove(&mut doc, &o.path)?;
                }
                "replace" => replace(&mut doc, &o.path, o.value.clone())?,
                "move" => {
                    let v = remove(&mut doc, &o.from)?;
                    add(&mut doc, &o.path, v)?;
                }
                "copy" => {
                    let v = get(&doc, &o.from)?;
                    add(&mut doc, &o.path, v)?;
                }
                "test" => {
                    let v = get(&doc, &o.path)?;
                    if v != o.value {
                        return Err(format!("testing value {:?} failed", o.path));
                    }
                }
                _ => unreachable!("validated"),
            }
        }
        Ok(())
    })();
    if result.is_ok() {
        as_float64(&mut doc);
    }
    match doc {
        Value::Object(m) => *obj = m,
        _ => {
            return Err(
                "a JSON patch replaced the object with something that is not a mapping".into(),
            )
        }
    }
    result
}

/// kustomize reads the patched JSON back with Go's `json.Unmarshal` into
/// `interface{}`: every number becomes a float64. Integers beyond 2^53
/// lose precision there (and print as the float's digits); smaller ones
/// are unchanged.
fn as_float64(v: &mut Value) {
    const EXACT: u64 = 1 << 53;
    match v {
        Value::Number(n) => {
            let big = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => i.unsigned_abs() > EXACT,
                (None, Some(u)) => u > EXACT,
                _ => false,
            };
            if big {
                if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                    *n = f;
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(as_float64),
        Value::Object(m) => m.values_mut().for_each(as_float64),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ops() {
        let mut o = json!({"a": [1, 2], "b": {"c": 1}})
            .as_object()
            .unwrap()
            .clone();
        let ops = decode(&json!([
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "add", "path": "/a/0", "value": 0},
            {"op": "replace", "path": "/b/c", "value": 2},
            {"op": "copy", "from": "/b", "path": "/d"},
            {"op": "remove", "path": "/a/-1"},
            {"op": "move", "from": "/d", "path": "/e"},
            {"op": "test", "path": "/e/c", "value": 2}
        ]))
        .unwrap();
        apply(&mut o, &ops).unwrap();
        assert_eq!(
            Value::Object(o),
            json!({"a": [0, 1, 2], "b": {"c": 2}, "e": {"c": 2}})
        );
        let mut o = json!({"a": 1}).as_object().unwrap().clone();
        assert!(apply(
            &mut o,
            &decode(&json!([{"op": "replace", "path": "/x", "value": 1}])).unwrap()
        )
        .is_err());
    }
}
