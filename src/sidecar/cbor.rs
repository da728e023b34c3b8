//! Smithy RPC v2 CBOR bodies (CloudWatch's first protocol in botocore), read with the
//! `ciborium` crate into the same JSON values the JSON protocols give, so the catalog's
//! tools judge them alike. A map that repeats a key, or has a key that is not text, is
//! refused: readers differ on them.

use base64::Engine;
use ciborium::Value as Cbor;
use serde_json::{Map, Value};

/// How deep a body may nest (AWS's own inputs are a few levels deep).
const MAX_DEPTH: usize = 32;

/// The body's top-level map.
pub fn read_map(body: &[u8]) -> Result<Map<String, Value>, String> {
    let value: Cbor = ciborium::from_reader(body).map_err(|e| format!("the body is not valid CBOR: {e}"))?;
    match to_json(value, 0)? {
        Value::Object(map) => Ok(map),
        _ => Err("the CBOR body is not a map".into()),
    }
}

fn to_json(value: Cbor, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("the CBOR body nests deeper than {MAX_DEPTH} levels"));
    }
    Ok(match value {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Integer(n) => {
            let n = i128::from(n);
            i64::try_from(n)
                .map(Value::from)
                .or_else(|_| u64::try_from(n).map(Value::from))
                .map_err(|_| "a CBOR integer is too large".to_string())?
        }
        Cbor::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Cbor::Text(text) => Value::String(text),
        Cbor::Bytes(bytes) => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
        // Tag 1 is a timestamp (epoch seconds).
        Cbor::Tag(1, inner) => to_json(*inner, depth + 1)?,
        Cbor::Tag(tag, _) => return Err(format!("the CBOR body has a tag {tag}, which Smithy RPC v2 does not use")),
        Cbor::Array(items) => Value::Array(items.into_iter().map(|v| to_json(v, depth + 1)).collect::<Result<_, _>>()?),
        Cbor::Map(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let Cbor::Text(key) = key else { return Err("a CBOR map has a key that is not text".into()) };
                if map.contains_key(&key) {
                    return Err(format!(
                        "the key `{}` appears twice in one CBOR map",
                        crate::catalog::args::printable(&key)
                    ));
                }
                let value = to_json(value, depth + 1)?;
                map.insert(key, value);
            }
            Value::Object(map)
        }
        _ => return Err("the CBOR body has a value Smithy RPC v2 does not use".into()),
    })
}

/// An error body: `{"__type": code, "message": message}` in CBOR.
pub fn error_body(code: &str, message: &str) -> Vec<u8> {
    let map = Cbor::Map(vec![
        (Cbor::Text("__type".into()), Cbor::Text(code.into())),
        (Cbor::Text("message".into()), Cbor::Text(message.into())),
    ]);
    let mut out = Vec::new();
    // Writing to a Vec does not fail.
    let _ = ciborium::into_writer(&map, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: &Cbor) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    }

    #[test]
    fn maps_become_json_and_repeated_keys_are_refused() {
        let body = encode(&Cbor::Map(vec![
            (Cbor::Text("Namespace".into()), Cbor::Text("App".into())),
            (Cbor::Text("Value".into()), Cbor::Float(1.5)),
            (Cbor::Text("Blob".into()), Cbor::Bytes(vec![1, 2])),
            (Cbor::Text("At".into()), Cbor::Tag(1, Box::new(Cbor::Integer(10.into())))),
        ]));
        let map = read_map(&body).unwrap();
        assert_eq!(map["Namespace"], "App");
        assert_eq!(map["Value"], 1.5);
        assert_eq!(map["Blob"], "AQI=");
        assert_eq!(map["At"], 10);
        let twice = encode(&Cbor::Map(vec![
            (Cbor::Text("a".into()), Cbor::Integer(1.into())),
            (Cbor::Text("a".into()), Cbor::Integer(2.into())),
        ]));
        assert!(read_map(&twice).unwrap_err().contains("twice"));
        let back: Cbor = ciborium::from_reader(&error_body("AccessDenied", "no")[..]).unwrap();
        assert!(matches!(back, Cbor::Map(_)));
    }
}
