//! JSON policies, read as RFC 8259 JSON into the same located tree as YAML.
//!
//! YAML 1.2 is nearly a superset of JSON, but not in its escapes: a character outside the
//! Basic Multilingual Plane written as a surrogate pair (`"\ud83d\ude00"`, what Python's
//! `json.dumps` writes by default) is valid JSON that a YAML parser refuses. So JSON text
//! goes to a JSON parser (dprint's `jsonc-parser`, with every extension turned off) and
//! its byte ranges become lines and columns.

use jsonc_parser::ast;
use jsonc_parser::{CollectOptions, ParseOptions};

use super::{Key, KeySet, Location, MAX_DEPTH, Node, SyntaxError, Value, too_deep};

/// Strict RFC 8259: no comments, trailing commas, single quotes, hex or bare numbers.
fn strict() -> ParseOptions {
    ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    }
}

pub fn parse(text: &str) -> Result<Node, Vec<SyntaxError>> {
    let lines = Lines::new(text);
    // The parser recurses once per level: bound the nesting before it sees the text.
    if let Some(offset) = too_deep_at(text) {
        return Err(vec![too_deep(lines.locate(offset))]);
    }
    let parsed = jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &strict()).map_err(|error| {
        vec![SyntaxError { at: lines.locate(error.range().start), message: format!("invalid JSON: {}", error.kind()) }]
    })?;
    let Some(root) = parsed.value else {
        return Err(vec![SyntaxError {
            at: Location { line: 1, column: 1 },
            message: "the file is empty: a policy needs `version` and `statements`".into(),
        }]);
    };
    let mut errors = Vec::new();
    let node = build(root, &lines, &mut errors);
    if errors.is_empty() { Ok(node) } else { Err(errors) }
}

fn build(value: ast::Value<'_>, lines: &Lines, errors: &mut Vec<SyntaxError>) -> Node {
    let scalar = |start: usize, text: String, plain: bool| Node {
        at: lines.locate(start),
        value: Value::Scalar { text, plain },
    };
    match value {
        ast::Value::StringLit(s) => scalar(s.range.start, s.value.into_owned(), false),
        ast::Value::NumberLit(n) => scalar(n.range.start, n.value.to_string(), true),
        ast::Value::BooleanLit(b) => scalar(b.range.start, b.value.to_string(), true),
        ast::Value::NullKeyword(n) => scalar(n.range.start, "null".into(), true),
        ast::Value::Array(array) => Node {
            at: lines.locate(array.range.start),
            value: Value::Sequence(array.elements.into_iter().map(|e| build(e, lines, errors)).collect()),
        },
        ast::Value::Object(object) => {
            let mut seen = KeySet::default();
            let mut entries = Vec::with_capacity(object.properties.len());
            for property in object.properties {
                let key_start = match &property.name {
                    ast::ObjectPropName::String(s) => s.range.start,
                    ast::ObjectPropName::Word(w) => w.range.start,
                };
                let at = lines.locate(key_start);
                let name = property.name.into_string();
                if let Some(error) = seen.duplicate(&name, at) {
                    errors.push(error);
                    continue;
                }
                entries.push((Key { at, name }, build(property.value, lines, errors)));
            }
            Node { at: lines.locate(object.range.start), value: Value::Mapping(entries) }
        }
    }
}

/// The byte offset of the first `{` or `[` that opens a level deeper than [`MAX_DEPTH`].
fn too_deep_at(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, byte) in text.bytes().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(offset);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Byte offsets to 1-based lines and columns (columns count characters, as editors do).
struct Lines<'t> {
    text: &'t str,
    /// The byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Lines<'t> {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Lines { text, starts }
    }

    fn locate(&self, offset: usize) -> Location {
        let line = self.starts.partition_point(|&start| start <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let column = self.text.get(start..offset).map_or(1, |before| before.chars().count() + 1);
        Location { line, column }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrogate_pairs_are_one_character() {
        let root = parse("{\"a\": \"b/\\ud83d\\ude00*\"}").unwrap();
        let Value::Mapping(entries) = root.value else { panic!("not a mapping") };
        let Value::Scalar { text, plain } = &entries[0].1.value else { panic!("not a scalar") };
        assert_eq!(text, "b/\u{1F600}*");
        assert!(!plain);
    }

    #[test]
    fn extensions_are_refused_with_a_location() {
        for text in ["{\"a\": 1,}", "{\"a\": 'x'}", "{// c\n\"a\": 1}", "{\"a\": 0x10}", "{\"a\": \"\\ud83d\"}"] {
            let errors = parse(text).unwrap_err();
            assert!(errors[0].message.starts_with("invalid JSON"), "{text}: {errors:?}");
        }
        let errors = parse("{\n  \"a\": [1,\n  2,,]\n}").unwrap_err();
        assert_eq!(errors[0].at.line, 3, "{errors:?}");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let errors = parse(&deep).unwrap_err();
        assert!(errors[0].message.contains("nest deeper"), "{errors:?}");
        assert_eq!(errors[0].at, Location { line: 1, column: MAX_DEPTH + 1 });
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
        // Brackets inside strings do not count.
        assert!(parse(&format!("[\"{}\"]", "[".repeat(1000))).is_ok());
    }

    #[test]
    fn columns_count_characters() {
        let lines = Lines::new("ab\n\u{e9}\u{e9}x");
        assert_eq!(lines.locate(0), Location { line: 1, column: 1 });
        assert_eq!(lines.locate(7), Location { line: 2, column: 3 });
    }
}
