//! Strict readings of a request's parts, each refusing what could be read two ways: a
//! percent-encoding that is not two hex digits, bytes that are not UTF-8, a name given
//! twice, a `+` in a URL query (a space to some readers, a plus to others), a JSON object
//! that repeats a key. The same module writes the canonical encodings the forwarded request
//! is rebuilt with, so what is sent is exactly what was read.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// Everything but AWS's unreserved characters (`A-Z a-z 0-9 - _ . ~`) is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// As [`COMPONENT`], keeping `/` (an S3 key's path).
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

/// A query string or form body: its pairs, decoded, each name once, in the order sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs(Vec<(String, String)>);

/// How `+` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plus {
    /// A form body (`application/x-www-form-urlencoded`): `+` is a space.
    Space,
    /// A URL query: refused, since readers differ on it.
    Refused,
    /// A path: a plus.
    Literal,
}

impl Pairs {
    /// Reads `text` (`a=1&b=2`); `where_` names it in errors ("the query", "the form body").
    pub fn parse(text: &str, plus: Plus, where_: &str) -> Result<Pairs, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for piece in text.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            let name = decode(name, plus, where_)?;
            let value = decode(value, plus, where_)?;
            if name.is_empty() {
                return Err(format!("{where_} has a parameter with no name"));
            }
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(format!("{where_} names `{}` twice", printable(&name)));
            }
            pairs.push((name, value));
        }
        Ok(Pairs(pairs))
    }

    pub fn from_vec(pairs: Vec<(String, String)>) -> Pairs {
        Pairs(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The pairs without those `drop` names.
    pub fn without(&self, drop: impl Fn(&str) -> bool) -> Pairs {
        Pairs(self.0.iter().filter(|(n, _)| !drop(n)).cloned().collect())
    }

    /// The canonical encoding: names sorted, every reserved byte percent-encoded, `name=`
    /// for an empty value (S3 and the query protocols read `name` and `name=` alike).
    pub fn encode(&self) -> String {
        let mut sorted: Vec<&(String, String)> = self.0.iter().collect();
        sorted.sort();
        sorted.iter().map(|(n, v)| format!("{}={}", component(n), component(v))).collect::<Vec<_>>().join("&")
    }
}

/// Percent-decodes strictly: `%` must start two hex digits, and the result must be UTF-8.
pub fn decode(text: &str, plus: Plus, where_: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let value = hex
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(value) = value else {
                    return Err(format!("{where_} has a `%` that is not followed by two hex digits"));
                };
                out.push(value);
                i += 3;
            }
            b'+' if plus == Plus::Space => {
                out.push(b' ');
                i += 1;
            }
            b'+' if plus == Plus::Literal => {
                out.push(b'+');
                i += 1;
            }
            b'+' => {
                return Err(format!(
                    "{where_} has a `+`, which some read as a space and others as a plus: write `%20` or `%2B`"
                ));
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{where_} does not decode to UTF-8"))
}

/// One query name or value, canonically encoded.
pub fn component(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// A path, canonically encoded, its `/` kept.
pub fn path(text: &str) -> String {
    utf8_percent_encode(text, PATH).to_string()
}

/// Text for an error message: at most 200 characters, control characters escaped.
pub fn printable(text: &str) -> String {
    crate::catalog::args::printable(text)
}

/// A header's value, if it is visible ASCII (spaces and tabs inside allowed): what the gate
/// judges must read the same to every reader.
pub fn header_text<'a>(name: &str, value: &'a http::HeaderValue) -> Result<&'a str, String> {
    let text = value.to_str().map_err(|_| format!("the header `{name}` is not visible ASCII"))?;
    if text.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err(format!("the header `{name}` has a control character"));
    }
    Ok(text)
}

/// The request's one value of a header, refusing it given twice.
pub fn one_header<'a>(headers: &'a http::HeaderMap, name: &str) -> Result<Option<&'a str>, String> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(format!("the header `{name}` is sent twice"));
    }
    header_text(name, first).map(Some)
}

/// A JSON body whose objects name each key once.
pub fn strict_json(bytes: &[u8]) -> Result<Value, String> {
    crate::json::strict(bytes).map_err(|e| format!("the body is not valid JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_refuse_what_reads_two_ways() {
        let pairs = Pairs::parse("b=2&a=x%20y&flag", Plus::Refused, "the query").unwrap();
        assert_eq!(pairs.get("a"), Some("x y"));
        assert!(pairs.has("flag"));
        assert_eq!(pairs.encode(), "a=x%20y&b=2&flag=");
        assert!(Pairs::parse("a=1&a=2", Plus::Refused, "the query").unwrap_err().contains("`a` twice"));
        assert!(Pairs::parse("a=%2", Plus::Refused, "the query").unwrap_err().contains("two hex digits"));
        assert!(Pairs::parse("a=%zz", Plus::Refused, "the query").unwrap_err().contains("two hex digits"));
        assert!(Pairs::parse("a=%FF", Plus::Refused, "the query").unwrap_err().contains("UTF-8"));
        assert!(Pairs::parse("a=b+c", Plus::Refused, "the query").unwrap_err().contains("`+`"));
        assert_eq!(Pairs::parse("a=b+c", Plus::Space, "the form").unwrap().get("a"), Some("b c"));
        // Names that differ only once decoded are the same name.
        assert!(Pairs::parse("versionId=1&version%49d=2", Plus::Refused, "q").unwrap_err().contains("twice"));
    }

    #[test]
    fn json_objects_name_each_key_once() {
        assert_eq!(strict_json(br#"{"a":{"b":[1,{"c":null}]}}"#).unwrap()["a"]["b"][1]["c"], Value::Null);
        assert!(strict_json(br#"{"a":1,"a":2}"#).unwrap_err().contains("`a` appears twice"));
        assert!(strict_json(br#"{"x":[{"k":1,"k":1}]}"#).unwrap_err().contains("twice"));
        assert!(strict_json(br#"{"a":1} {"b":2}"#).is_err());
    }

    #[test]
    fn encodings_are_canonical() {
        assert_eq!(component("a/b c~*"), "a%2Fb%20c~%2A");
        assert_eq!(path("/reports/q 3#.csv"), "/reports/q%203%23.csv");
    }
}
