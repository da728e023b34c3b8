//! A located tree of the policy file's text.
//!
//! YAML 1.2 is a superset of JSON, so one parser reads both formats and every node keeps
//! the line and column where it starts. Validation walks this tree (rather than letting
//! serde stop at the first problem) so that `awsgate check` can report every error.

use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

mod json;

/// A position in the policy file: 1-based line and column, as editors show them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    fn of(span: &Span) -> Location {
        Location { line: span.start.line(), column: span.start.col() + 1 }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One node of the file, with where it starts.
#[derive(Debug, Clone)]
pub struct Node {
    pub at: Location,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub enum Value {
    /// A scalar as written. `plain` is false for quoted and block scalars, which are always
    /// strings; a plain `true`, `12` or `null` is read as that type where a type is expected.
    Scalar {
        text: String,
        plain: bool,
    },
    Sequence(Vec<Node>),
    /// Keys in file order; duplicates are reported while the tree is built.
    Mapping(Vec<(Key, Node)>),
}

#[derive(Debug, Clone)]
pub struct Key {
    pub at: Location,
    pub name: String,
}

impl Node {
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What kind of node this is, for "expected a list, found a mapping" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Scalar { .. } if self.is_null() => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Sequence(_) => "a list",
            Value::Mapping(_) => "a mapping",
        }
    }
}

/// A syntax error, or a construct the policy format does not allow (anchors, tags,
/// duplicate keys, non-scalar keys, several documents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub at: Location,
    pub message: String,
}

/// How many mappings and lists may nest in one another. Real policies use about six levels; the bound
/// keeps a hostile file from exhausting the stack of the recursive tree builders.
pub const MAX_DEPTH: usize = 64;

/// Parses `text` into a located tree. A text whose first character is `{` or `[` is read
/// as JSON (RFC 8259, `\uD83D\uDE00` surrogate pairs included); any other as YAML 1.2.
/// Returns the first syntax error, since a parser cannot go on after one; structural
/// problems found while building are all returned.
pub fn parse(text: &str) -> Result<Node, Vec<SyntaxError>> {
    // A UTF-8 byte-order mark (as some editors save JSON) is skipped, as AWS's console does.
    let body = text.trim_start_matches('\u{feff}');
    if body.trim_start().starts_with(['{', '[']) {
        return json::parse(body);
    }
    let mut builder = Builder { parser: Parser::new_from_str(text), errors: Vec::new() };
    let root = builder.document();
    match (root, builder.errors.is_empty()) {
        (Some(root), true) => Ok(root),
        (_, _) if !builder.errors.is_empty() => Err(builder.errors),
        _ => Err(vec![SyntaxError {
            at: Location { line: 1, column: 1 },
            message: "the file is empty: a policy needs `version` and `statements`".into(),
        }]),
    }
}

fn too_deep(at: Location) -> SyntaxError {
    SyntaxError { at, message: format!("lists and mappings nest deeper than {MAX_DEPTH} levels here") }
}

/// Keys seen in one mapping, to report duplicates in linear time.
#[derive(Default)]
struct KeySet {
    first: std::collections::HashMap<String, Location>,
}

impl KeySet {
    /// The error for a key seen before, or `None` (and remembers it) for a new one.
    fn duplicate(&mut self, name: &str, at: Location) -> Option<SyntaxError> {
        match self.first.get(name) {
            Some(first) => {
                Some(SyntaxError { at, message: format!("duplicate key `{name}` (first at line {})", first.line) })
            }
            None => {
                self.first.insert(name.to_string(), at);
                None
            }
        }
    }
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    errors: Vec<SyntaxError>,
}

enum Step<'a> {
    Event(Event<'a>, Location),
    Failed,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Step<'a> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => Step::Event(event, Location::of(&span)),
            Some(Err(error)) => {
                let marker = error.marker();
                self.errors.push(SyntaxError {
                    at: Location { line: marker.line(), column: marker.col() + 1 },
                    message: format!("invalid YAML/JSON: {}", error.info()),
                });
                Step::Failed
            }
            None => Step::Failed,
        }
    }

    fn document(&mut self) -> Option<Node> {
        let mut root = None;
        loop {
            match self.next() {
                Step::Failed => return None,
                Step::Event(Event::StreamEnd, _) => return root,
                Step::Event(Event::StreamStart | Event::DocumentEnd, _) => {}
                Step::Event(Event::DocumentStart(_), at) => {
                    if root.is_some() {
                        self.error(at, "a policy file holds one document; found a second `---`");
                        return None;
                    }
                    let Step::Event(event, at) = self.next() else {
                        return None;
                    };
                    root = Some(self.node(event, at, 0)?);
                }
                Step::Event(event, at) => {
                    root = Some(self.node(event, at, 0)?);
                }
            }
        }
    }

    fn error(&mut self, at: Location, message: impl Into<String>) {
        self.errors.push(SyntaxError { at, message: message.into() });
    }

    fn node(&mut self, event: Event<'a>, at: Location, depth: usize) -> Option<Node> {
        let container = matches!(event, Event::SequenceStart(..) | Event::MappingStart(..));
        if container && depth >= MAX_DEPTH {
            self.errors.push(too_deep(at));
            return None;
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.no_anchor_or_tag(at, anchor, tag.is_some());
                Some(Node { at, value: Value::Scalar { text: text.into_owned(), plain: style == ScalarStyle::Plain } })
            }
            Event::SequenceStart(anchor, tag) => {
                self.no_anchor_or_tag(at, anchor, tag.is_some());
                let mut items = Vec::new();
                loop {
                    match self.next() {
                        Step::Failed => return None,
                        Step::Event(Event::SequenceEnd, _) => break,
                        Step::Event(event, at) => items.push(self.node(event, at, depth + 1)?),
                    }
                }
                Some(Node { at, value: Value::Sequence(items) })
            }
            Event::MappingStart(anchor, tag) => {
                self.no_anchor_or_tag(at, anchor, tag.is_some());
                let mut entries: Vec<(Key, Node)> = Vec::new();
                let mut seen = KeySet::default();
                loop {
                    let (key_event, key_at) = match self.next() {
                        Step::Failed => return None,
                        Step::Event(Event::MappingEnd, _) => break,
                        Step::Event(event, at) => (event, at),
                    };
                    let key = self.node(key_event, key_at, depth + 1)?;
                    let Step::Event(value_event, value_at) = self.next() else {
                        return None;
                    };
                    let value = self.node(value_event, value_at, depth + 1)?;
                    let Value::Scalar { text: name, .. } = key.value else {
                        self.error(key.at, "mapping keys must be plain names");
                        continue;
                    };
                    if let Some(error) = seen.duplicate(&name, key.at) {
                        self.errors.push(error);
                        continue;
                    }
                    entries.push((Key { at: key.at, name }, value));
                }
                Some(Node { at, value: Value::Mapping(entries) })
            }
            Event::Alias(_) => {
                self.error(at, "YAML aliases are not allowed in a policy: write the value out");
                None
            }
            other => {
                self.error(at, format!("unexpected YAML event {other:?}"));
                None
            }
        }
    }

    fn no_anchor_or_tag(&mut self, at: Location, anchor: usize, tagged: bool) {
        if anchor != 0 {
            self.error(at, "YAML anchors are not allowed in a policy: write the value out");
        }
        if tagged {
            self.error(at, "YAML tags are not allowed in a policy");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_policy_with_a_byte_order_mark_reads_as_json() {
        let text = "\u{feff}{\"Version\": \"2012-10-17\", \"Statement\": []}";
        assert!(parse(text).is_ok(), "{:?}", parse(text).err());
    }

    fn scalar(node: &Node) -> &str {
        match &node.value {
            Value::Scalar { text, .. } => text,
            _ => "<not a scalar>",
        }
    }

    #[test]
    fn yaml_nodes_carry_line_and_column() {
        let root = parse("version: 1\nstatements:\n  - sid: A\n    effect: allow\n").unwrap();
        let Value::Mapping(entries) = &root.value else { panic!("not a mapping") };
        assert_eq!(entries[0].0.name, "version");
        assert_eq!(entries[1].0.at, Location { line: 2, column: 1 });
        let Value::Sequence(items) = &entries[1].1.value else { panic!("not a list") };
        let Value::Mapping(statement) = &items[0].value else { panic!("not a mapping") };
        assert_eq!(statement[1].0.at, Location { line: 4, column: 5 });
        assert_eq!(scalar(&statement[1].1), "allow");
        assert_eq!(statement[1].1.at, Location { line: 4, column: 13 });
    }

    #[test]
    fn json_is_read_with_locations() {
        let root = parse("{\n  \"Version\": \"2012-10-17\",\n\t\"Statement\": []\n}").unwrap();
        let Value::Mapping(entries) = &root.value else { panic!("not a mapping") };
        assert_eq!(entries[1].0.name, "Statement");
        assert_eq!(entries[1].0.at.line, 3);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let errors = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(errors[0].at, Location { line: 3, column: 1 });
        assert!(errors[0].message.contains("duplicate key `a` (first at line 1)"));
    }

    #[test]
    fn syntax_errors_are_located() {
        let errors = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(errors[0].message.starts_with("invalid YAML/JSON"), "{errors:?}");
        assert!(errors[0].at.line >= 2);
    }

    #[test]
    fn empty_file_and_aliases_are_refused() {
        assert!(parse("").unwrap_err()[0].message.contains("empty"));
        let errors = parse("a: &x 1\nb: *x\n").unwrap_err();
        assert!(errors.iter().any(|e| e.message.contains("anchors")));
    }
}
