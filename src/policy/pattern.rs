//! The two wildcard languages of IAM, compiled once and matched without allocating.
//!
//! * Action patterns (`s3:Get*`, `sqs:?eceiveMessage`) are case-insensitive and `*` matches
//!   any run of characters.
//! * Resource patterns are ARNs, case-sensitive, matched segment by segment: `*` and `?`
//!   stay inside one colon-separated segment, except that a `*` which ends a segment may
//!   run past colons (`arn:aws:s3:::reports/*` covers the key `a:b`). `*` alone matches
//!   every resource. Characters of the request are always literal.
//! * AWS does not say whether a wildcard in the resource part (after the fifth colon) takes
//!   a `:` there: a `?`, or a `*` with more after it (`reports/*.pem` against
//!   `reports/a:b.pem`). `ArnPattern::matches` says no, `ArnPattern::matches_widely` yes:
//!   the gate uses the narrow reading where a match grants (an allow's `Resource`, a deny's
//!   `NotResource`) and the wide one where a match takes away, so an allow holds only
//!   under both readings and a deny applies under either.
//!
//! The ARN rule is written as a matcher over segments instead of a translation to one
//! glob, because the two kinds of `*` make the usual "back up to the last star" glob
//! algorithm wrong. `tests/arn_matcher_props.rs` checks it against a regex translation.

/// One token of a glob inside a segment (a segment never holds a `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(Box<str>),
    /// `*` that stays inside its segment.
    Star,
    /// `?`: exactly one character.
    One,
}

fn tokenize(glob: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut literal = String::new();
    for c in glob.chars() {
        match c {
            '*' | '?' => {
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal).into()));
                }
                // `**` is the same as `*`.
                if c == '?' {
                    tokens.push(Token::One);
                } else if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
            }
            _ => literal.push(c),
        }
    }
    if !literal.is_empty() {
        tokens.push(Token::Literal(literal.into()));
    }
    tokens
}

/// Matches `text` against `tokens`, the classic linear glob algorithm: on a mismatch,
/// back up to the most recent star and let it take one more character. Correct here
/// because every star in a segment glob is of the same kind. `?` takes one character,
/// not one byte, so non-ASCII keys match as users expect.
fn glob_match(tokens: &[Token], text: &str) -> bool {
    let mut t = 0; // next token
    let mut pos = 0; // next byte of text
    let mut backtrack: Option<(usize, usize)> = None; // (token after the star, text position)
    loop {
        let step = match tokens.get(t) {
            Some(Token::Literal(lit)) if text.get(pos..).is_some_and(|rest| rest.starts_with(&**lit)) => {
                Some((t + 1, pos + lit.len()))
            }
            Some(Token::One) => {
                text.get(pos..).and_then(|rest| rest.chars().next()).map(|c| (t + 1, pos + c.len_utf8()))
            }
            Some(Token::Star) => {
                backtrack = Some((t + 1, pos));
                Some((t + 1, pos))
            }
            None if pos == text.len() => return true,
            _ => None,
        };
        match step {
            Some((next_t, next_pos)) => {
                t = next_t;
                pos = next_pos;
            }
            None => {
                // Let the last star take one more character, if there is one to take.
                let Some((after_star, from)) = backtrack else {
                    return false;
                };
                let Some(c) = text.get(from..).and_then(|rest| rest.chars().next()) else {
                    return false;
                };
                let from = from + c.len_utf8();
                backtrack = Some((after_star, from));
                t = after_star;
                pos = from;
            }
        }
    }
}

/// A string pattern of IAM's `StringLike`: case-sensitive, `*` any run of characters
/// (colons included) and `?` one character, over the whole text.
#[derive(Debug, Clone)]
pub struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        Glob { tokens: tokenize(pattern) }
    }

    pub fn matches(&self, text: &str) -> bool {
        glob_match(&self.tokens, text)
    }
}

/// A compiled action pattern. Stored lowercased; IAM action names are ASCII.
#[derive(Debug, Clone)]
pub struct ActionPattern {
    tokens: Vec<Token>,
    literal: Option<Box<str>>,
}

impl ActionPattern {
    pub fn new(pattern: &str) -> ActionPattern {
        let lower = pattern.to_ascii_lowercase();
        let literal = (!lower.contains(['*', '?'])).then(|| lower.clone().into());
        ActionPattern { tokens: tokenize(&lower), literal }
    }

    /// `action` must already be ASCII-lowercased.
    pub fn matches_lowercase(&self, action: &str) -> bool {
        match &self.literal {
            Some(literal) => **literal == *action,
            None => glob_match(&self.tokens, action),
        }
    }

    /// The exact action named, when the pattern has no wildcard.
    pub fn literal(&self) -> Option<&str> {
        self.literal.as_deref()
    }

    /// The service the pattern is limited to, when its service part has no wildcard
    /// (`s3` for `s3:Get*`; `None` for `*` or `s?s:*`).
    pub fn service(&self) -> Option<&str> {
        match self.tokens.first() {
            Some(Token::Literal(text)) => text.split_once(':').map(|(service, _)| service),
            _ => None,
        }
    }
}

/// One colon-separated segment of an ARN pattern.
#[derive(Debug, Clone)]
struct Segment {
    /// The segment's glob. A trailing star stays in it, matching the rest of its text
    /// segment; `open_end` then lets it go on over whole segments after that.
    tokens: Vec<Token>,
    /// The segment ends in `*`, which may run past colons.
    open_end: bool,
}

/// A compiled resource (ARN) pattern.
#[derive(Debug, Clone)]
pub struct ArnPattern {
    source: Box<str>,
    /// The length of the text before the first wildcard.
    prefix_len: usize,
    shape: Shape,
    /// For a pattern with a wildcard in its resource part: its first five segments, and
    /// the resource part as one glob whose `?` and `*` also take colons.
    wide: Option<Box<(Vec<Vec<Token>>, Glob)>>,
}

#[derive(Debug, Clone)]
enum Shape {
    /// `*`: every resource.
    Everything,
    /// No wildcard at all: equality.
    Exact,
    Segments {
        segments: Vec<Segment>,
        /// Some segment other than the last is open-ended, so matching may have to try
        /// several ways to split the text.
        needs_search: bool,
    },
}

impl ArnPattern {
    pub fn new(pattern: &str) -> ArnPattern {
        let shape = if pattern == "*" {
            Shape::Everything
        } else if !pattern.contains(['*', '?']) {
            Shape::Exact
        } else {
            let parts: Vec<&str> = pattern.split(':').collect();
            let segments: Vec<Segment> = parts
                .iter()
                .map(|part| {
                    let tokens = tokenize(part);
                    let open_end = tokens.last() == Some(&Token::Star);
                    Segment { tokens, open_end }
                })
                .collect();
            let needs_search = segments.iter().rev().skip(1).any(|segment| segment.open_end);
            Shape::Segments { segments, needs_search }
        };
        let prefix_len = pattern.find(['*', '?']).unwrap_or(pattern.len());
        let parts: Vec<&str> = pattern.splitn(6, ':').collect();
        let wide = match parts.split_last() {
            Some((resource, first)) if first.len() == 5 && resource.contains(['?', '*']) => {
                Some(Box::new((first.iter().map(|part| tokenize(part)).collect(), Glob::new(resource))))
            }
            _ => None,
        };
        ArnPattern { source: pattern.into(), prefix_len, shape, wide }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_everything(&self) -> bool {
        matches!(self.shape, Shape::Everything)
    }

    /// The text before the first wildcard: every ARN this pattern matches starts with it.
    pub fn literal_prefix(&self) -> &str {
        self.source.get(..self.prefix_len).unwrap_or("")
    }

    /// Could this pattern match some ARN of `template`'s shape? A template is an ARN in
    /// AWS's documentation style, whose `${Name}` holes stand for one or more characters
    /// (`${Key}` any, the others anything but `:` and `/`). Decided on the product of the
    /// two automata, so `arn:aws:s3:::reports` fits `arn:${Partition}:s3:::${Bucket}` and
    /// not `arn:${Partition}:s3:::${Bucket}/${Key}`.
    pub fn may_match_template(&self, template: &str) -> bool {
        if self.is_everything() {
            return true;
        }
        let pattern = glob_atoms(&self.source);
        let template = template_atoms(template);
        overlaps(&pattern, &template)
    }

    pub fn matches(&self, arn: &str) -> bool {
        match &self.shape {
            Shape::Everything => true,
            Shape::Exact => *self.source == *arn,
            Shape::Segments { segments, needs_search: false } => match_in_order(segments, arn),
            Shape::Segments { segments, needs_search: true } => match_searching(segments, arn),
        }
    }

    /// Matches under the wide reading too: a wildcard in the resource part may take a `:`.
    pub fn matches_widely(&self, arn: &str) -> bool {
        if self.matches(arn) {
            return true;
        }
        let Some(wide) = &self.wide else { return false };
        let (first, resource) = &**wide;
        let values: Vec<&str> = arn.splitn(6, ':').collect();
        let Some((arn_resource, arn_first)) = values.split_last() else { return false };
        arn_first.len() == first.len()
            && first.iter().zip(arn_first).all(|(tokens, value)| glob_match(tokens, value))
            && resource.matches(arn_resource)
    }
}

/// One step of a resource pattern, character by character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    Char(char),
    /// `?`: one character other than `:`.
    One,
    /// `*` inside a segment: a run without `:`.
    Star,
    /// `*` that ends a segment: any run.
    OpenStar,
}

fn glob_atoms(pattern: &str) -> Vec<Atom> {
    let chars: Vec<char> = pattern.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| match c {
            '?' => Atom::One,
            '*' if chars.get(i + 1).is_none_or(|&next| next == ':') => Atom::OpenStar,
            '*' => Atom::Star,
            c => Atom::Char(c),
        })
        .collect()
}

/// One step of a resource template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Char(char),
    /// A `${Name}` hole: one or more characters, none of them in `excluded`.
    Hole {
        excluded: &'static str,
    },
}

fn template_atoms(template: &str) -> Vec<Slot> {
    let mut slots = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("${")
            && let Some(end) = after.find('}')
        {
            let name = after.get(..end).unwrap_or_default();
            slots.push(Slot::Hole { excluded: if name == "Key" { "" } else { ":/" } });
            rest = after.get(end + 1..).unwrap_or_default();
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            slots.push(Slot::Char(c));
        }
        rest = chars.as_str();
    }
    slots
}

/// Whether some text is matched by both `pattern` and `template`: a search over the pairs
/// of positions (and whether the current hole has taken a character yet).
fn overlaps(pattern: &[Atom], template: &[Slot]) -> bool {
    let width = template.len() + 1;
    let mut seen = vec![false; (pattern.len() + 1) * width * 2];
    let mut stack = vec![(0usize, 0usize, false)];
    while let Some((p, t, in_hole)) = stack.pop() {
        let index = (p * width + t) * 2 + usize::from(in_hole);
        match seen.get_mut(index) {
            Some(visited) if !*visited => *visited = true,
            _ => continue,
        }
        if p == pattern.len() && t == template.len() && !in_hole {
            return true;
        }
        let atom = pattern.get(p).copied();
        let slot = template.get(t).copied();
        // A star may take nothing; a hole that has taken a character may end.
        if matches!(atom, Some(Atom::Star | Atom::OpenStar)) {
            stack.push((p + 1, t, in_hole));
        }
        if in_hole {
            stack.push((p, t + 1, false));
        }
        // Both take one character, if some character suits both.
        let (Some(atom), Some(slot)) = (atom, slot) else { continue };
        let fits = match (atom, slot) {
            (Atom::Char(a), Slot::Char(b)) => a == b,
            (Atom::Char(a), Slot::Hole { excluded }) => !excluded.contains(a),
            (Atom::One | Atom::Star, Slot::Char(b)) => b != ':',
            (Atom::OpenStar, _) | (Atom::One | Atom::Star, Slot::Hole { .. }) => true,
        };
        if !fits {
            continue;
        }
        let next_p = if matches!(atom, Atom::Star | Atom::OpenStar) { p } else { p + 1 };
        match slot {
            Slot::Char(_) => stack.push((next_p, t + 1, false)),
            Slot::Hole { .. } => stack.push((next_p, t, true)),
        }
    }
    false
}

/// The end of the text segment that starts at `from`: the next `:` or the end.
fn segment_end(text: &str, from: usize) -> usize {
    text.get(from..).and_then(|rest| rest.find(':')).map_or(text.len(), |offset| from + offset)
}

/// The common case: only the last segment may be open-ended, so segments pair up one to
/// one until the last, which takes whatever remains.
fn match_in_order(segments: &[Segment], arn: &str) -> bool {
    let mut from = 0;
    let last = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        let end = segment_end(arn, from);
        let here = arn.get(from..end).unwrap_or("");
        if !glob_match(&segment.tokens, here) {
            return false;
        }
        if index == last {
            // An open end takes the rest of the ARN, colons and all.
            return segment.open_end || end == arn.len();
        }
        if end == arn.len() {
            return false;
        }
        from = end + 1;
    }
    false
}

/// The general case: an open-ended segment before the last may swallow any number of
/// text segments. Walks forward with the set of positions where the next segment may
/// start, so the work grows with segments times colons even for hostile keys.
fn match_searching(segments: &[Segment], arn: &str) -> bool {
    let mut starts = vec![0usize];
    let last = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        let mut next = Vec::new();
        // Every colon at or after this position may end an open segment.
        let mut open_until: Option<usize> = None;
        for &from in &starts {
            let end = segment_end(arn, from);
            if !glob_match(&segment.tokens, arn.get(from..end).unwrap_or("")) {
                continue;
            }
            if index == last {
                if segment.open_end || end == arn.len() {
                    return true;
                }
            } else if end < arn.len() {
                if segment.open_end {
                    open_until = Some(open_until.map_or(end, |seen| seen.min(end)));
                } else {
                    next.push(end + 1);
                }
            }
        }
        if let Some(mut colon) = open_until {
            while colon < arn.len() {
                next.push(colon + 1);
                colon = segment_end(arn, colon + 1);
            }
        }
        next.sort_unstable();
        next.dedup();
        if next.is_empty() {
            return false;
        }
        starts = next;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! arn {
        ($pattern:expr, $arn:expr, $expected:expr) => {
            assert_eq!(ArnPattern::new($pattern).matches($arn), $expected, "pattern {:?} against {:?}", $pattern, $arn);
        };
    }

    #[test]
    fn patterns_fit_resource_templates() {
        let fits = |pattern: &str, template: &str| ArnPattern::new(pattern).may_match_template(template);
        let bucket = "arn:${Partition}:s3:::${Bucket}";
        let object = "arn:${Partition}:s3:::${Bucket}/${Key}";
        let no_resource = "arn:${Partition}:s3:::*";
        assert!(fits("arn:aws:s3:::reports", bucket));
        assert!(!fits("arn:aws:s3:::reports", object));
        assert!(!fits("arn:aws:s3:::reports", no_resource));
        assert!(fits("arn:aws:s3:::reports/*", object));
        assert!(!fits("arn:aws:s3:::reports/*", bucket));
        assert!(fits("arn:aws:s3:::reports*", bucket) && fits("arn:aws:s3:::reports*", object));
        assert!(fits("arn:aws:s3:::*", no_resource) && fits("arn:aws:s3:::*", bucket));
        assert!(fits("arn:aws:s3:::?", no_resource));
        assert!(fits("*", object));
        assert!(!fits("arn:aws:sqs:*:*:*", bucket));
        let queue = "arn:${Partition}:sqs:${Region}:${Account}:${QueueName}";
        assert!(fits("arn:aws:sqs:*:*:jobs", queue));
        assert!(fits("arn:aws:sqs:us-east-1:123456789012:*", queue));
        assert!(!fits("arn:aws:sqs:us-east-1::jobs", queue));
        assert!(fits("arn:aws:s3:::a/b:c", object));
        assert!(!fits("arn:aws:s3:::a:b/c", object));
    }

    #[test]
    fn arn_wildcards_follow_the_segment_rule() {
        arn!("*", "arn:aws:s3:::anything/at:all", true);
        arn!("arn:aws:s3:::reports", "arn:aws:s3:::reports", true);
        arn!("arn:aws:s3:::reports", "arn:aws:s3:::Reports", false);
        arn!("arn:aws:s3:::reports/*", "arn:aws:s3:::reports/a/b/c", true);
        arn!("arn:aws:s3:::reports/*", "arn:aws:s3:::reports/a:b:c", true);
        arn!("arn:aws:s3:::reports/*", "arn:aws:s3:::reports", false);
        arn!("arn:aws:s3:::re?orts", "arn:aws:s3:::reports", true);
        arn!("arn:aws:s3:::re?orts", "arn:aws:s3:::re:orts", false);
        arn!("arn:aws:s3:::a*b", "arn:aws:s3:::a:b", false);
        arn!("arn:aws:s3:::a*b", "arn:aws:s3:::axxb", true);
        arn!("arn:aws:s3:::*/x", "arn:aws:s3:::b/x", true);
        arn!("arn:aws:sqs:*:123456789012:jobs", "arn:aws:sqs:us-east-1:123456789012:jobs", true);
        arn!("arn:aws:sqs:*:123456789012:jobs", "arn:aws:sqs:us-east-1:999999999999:jobs", false);
        arn!("arn:aws:sqs:us-?-1:*:jobs", "arn:aws:sqs:us-x-1:1:jobs", true);
        arn!("arn:aws:s3:::r/?", "arn:aws:s3:::r/é", true);
        arn!("arn:aws:s3:::r/??", "arn:aws:s3:::r/é", false);
    }

    #[test]
    fn open_segment_in_the_middle_may_span_colons() {
        // The region `*` ends its segment, so it may run past colons.
        arn!("arn:aws:sqs:*:123:q", "arn:aws:sqs:a:b:123:q", true);
        arn!("arn:*:s3:::b/*", "arn:aws:s3:::b/k", true);
        arn!("arn:a*:x:y", "arn:ab:c:x:y", true);
        arn!("arn:a*:x:y", "arn:ab:c:x:z", false);
    }

    #[test]
    fn request_characters_are_literal() {
        arn!("arn:aws:s3:::b/a*", "arn:aws:s3:::b/a*", true);
        arn!("arn:aws:s3:::b/a[x]", "arn:aws:s3:::b/a[x]", true);
        arn!("arn:aws:s3:::b/a[x]", "arn:aws:s3:::b/ax", false);
        arn!("arn:aws:s3:::b/a.c", "arn:aws:s3:::b/abc", false);
        arn!("arn:aws:s3:::b/public/*", "arn:aws:s3:::b/public/../private/x", true);
    }

    #[test]
    fn hostile_colon_runs_stay_fast() {
        let arn = format!("arn:aws:s3:::b/{}", ":".repeat(5000));
        let pattern = ArnPattern::new("arn:*:*:*:*:*:*:*:*:*x");
        assert!(!pattern.matches(&arn));
    }

    #[test]
    fn a_question_mark_takes_a_resource_colon_only_widely() {
        let pattern = ArnPattern::new("arn:aws:lambda:us-east-1:1:function?prod");
        assert!(!pattern.matches("arn:aws:lambda:us-east-1:1:function:prod"));
        assert!(pattern.matches_widely("arn:aws:lambda:us-east-1:1:function:prod"));
        assert!(pattern.matches_widely("arn:aws:lambda:us-east-1:1:functionXprod"));
        // Never in the first five segments.
        let early = ArnPattern::new("arn:aws:lambda:us-east-?:1:function:prod");
        assert!(!early.matches_widely("arn:aws:lambda:us-east-:1:function:prod"));
        assert!(!ArnPattern::new("arn:aws:s3:::b/?").matches_widely("arn:aws:s3:::b/ab"));
        // A `*` with more after it, likewise.
        let pem = ArnPattern::new("arn:aws:s3:::reports/*.pem");
        assert!(!pem.matches("arn:aws:s3:::reports/a:server.pem"));
        assert!(pem.matches_widely("arn:aws:s3:::reports/a:server.pem"));
        assert!(pem.matches_widely("arn:aws:s3:::reports/x:y/server.pem"));
        assert!(!pem.matches_widely("arn:aws:s3:::reports/server.txt"));
    }

    #[test]
    fn action_patterns_ignore_case() {
        let pattern = ActionPattern::new("S3:Get*");
        assert!(pattern.matches_lowercase("s3:getobject"));
        assert!(!pattern.matches_lowercase("s3:putobject"));
        assert!(ActionPattern::new("sqs:?eceiveMessage").matches_lowercase("sqs:receivemessage"));
        assert!(ActionPattern::new("*").matches_lowercase("dynamodb:query"));
        assert_eq!(ActionPattern::new("S3:GetObject").literal(), Some("s3:getobject"));
    }

    #[test]
    fn literal_prefix_stops_at_the_first_wildcard() {
        assert_eq!(ArnPattern::new("arn:aws:s3:::r?p/*").literal_prefix(), "arn:aws:s3:::r");
        assert_eq!(ArnPattern::new("arn:aws:s3:::r").literal_prefix(), "arn:aws:s3:::r");
        assert_eq!(ArnPattern::new("*").literal_prefix(), "");
    }
}
