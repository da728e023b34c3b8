//! The condition operators against a small, obviously correct reference: IAM's documented
//! rules written out plainly (a regex for `Like`, `f64` for numbers), over random operators,
//! qualifiers, policy values and request values, through the public gate.

use awsgate::catalog;
use awsgate::policy::{self, Context, Request};
use proptest::prelude::*;
use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    Equals,
    EqualsIgnoreCase,
    Like,
    Numeric(&'static str),
    Bool,
    Null,
}

/// (operator name, family, negated)
const OPERATORS: &[(&str, Family, bool)] = &[
    ("StringEquals", Family::Equals, false),
    ("StringNotEquals", Family::Equals, true),
    ("StringEqualsIgnoreCase", Family::EqualsIgnoreCase, false),
    ("StringNotEqualsIgnoreCase", Family::EqualsIgnoreCase, true),
    ("StringLike", Family::Like, false),
    ("StringNotLike", Family::Like, true),
    ("NumericEquals", Family::Numeric("=="), false),
    ("NumericNotEquals", Family::Numeric("=="), true),
    ("NumericLessThan", Family::Numeric("<"), false),
    ("NumericLessThanEquals", Family::Numeric("<="), false),
    ("NumericGreaterThan", Family::Numeric(">"), false),
    ("NumericGreaterThanEquals", Family::Numeric(">="), false),
    ("Bool", Family::Bool, false),
    ("Null", Family::Null, false),
];

fn like(pattern: &str, value: &str) -> bool {
    let mut regex = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => regex.push_str(".*"),
            '?' => regex.push('.'),
            c => regex.push_str(&regex::escape(&c.to_string())),
        }
    }
    regex.push('$');
    Regex::new(&regex).unwrap().is_match(value)
}

fn base(family: Family, policy_value: &str, value: &str) -> bool {
    match family {
        Family::Equals => policy_value == value,
        Family::EqualsIgnoreCase => policy_value.to_lowercase() == value.to_lowercase(),
        Family::Like => like(policy_value, value),
        Family::Numeric(op) => match (policy_value.parse::<f64>(), value.parse::<f64>()) {
            (Ok(p), Ok(v)) => match op {
                "==" => v == p,
                "<" => v < p,
                "<=" => v <= p,
                ">" => v > p,
                _ => v >= p,
            },
            _ => false,
        },
        Family::Bool => value.eq_ignore_ascii_case(policy_value),
        Family::Null => unreachable!(),
    }
}

/// IAM's documented rules, case by case.
fn reference(
    family: Family,
    negated: bool,
    qualifier: &str,
    if_exists: bool,
    policy_values: &[String],
    request: Option<&[String]>,
) -> bool {
    let present = request.filter(|values| !values.is_empty());
    if family == Family::Null {
        let absent = present.is_none();
        return policy_values.iter().any(|p| p.eq_ignore_ascii_case("true") == absent);
    }
    let matches = |value: &String| policy_values.iter().any(|p| base(family, p, value));
    match present {
        None => match qualifier {
            "ForAllValues:" => true,
            // AWS leaves `ForAnyValue:...IfExists` on a missing key open; an allow holds
            // only under both readings.
            "ForAnyValue:" => false,
            _ => if_exists || negated,
        },
        Some(values) => match qualifier {
            "ForAllValues:" => values.iter().all(|v| matches(v) != negated),
            "ForAnyValue:" => values.iter().any(|v| matches(v) != negated),
            _ if negated => !values.iter().any(matches),
            _ => values.iter().any(matches),
        },
    }
}

fn values_for(family: Family) -> BoxedStrategy<String> {
    match family {
        Family::Numeric(_) => {
            prop::sample::select(vec!["0", "1", "1.0", "2", "-1", "10", "x"]).prop_map(String::from).boxed()
        }
        Family::Bool | Family::Null => {
            prop::sample::select(vec!["true", "false", "TRUE", "False"]).prop_map(String::from).boxed()
        }
        _ => prop::collection::vec(prop::sample::select(vec!['a', 'A', 'b', '/', ':', '*', '?']), 0..4)
            .prop_map(|chars| chars.into_iter().collect())
            .boxed(),
    }
}

/// A policy value that the operator accepts (numbers and booleans are checked).
fn policy_value_ok(family: Family, value: &str) -> bool {
    match family {
        Family::Numeric(_) => value.parse::<f64>().is_ok(),
        Family::Bool | Family::Null => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
        _ => true,
    }
}

fn case() -> impl Strategy<Value = (usize, String, bool, Vec<String>, Option<Vec<String>>)> {
    (0..OPERATORS.len(), prop::sample::select(vec!["", "ForAllValues:", "ForAnyValue:"]), any::<bool>()).prop_flat_map(
        |(index, qualifier, if_exists)| {
            let family = OPERATORS[index].1;
            (
                Just(index),
                Just(qualifier.to_string()),
                Just(if_exists),
                prop::collection::vec(values_for(family), 1..3),
                prop::option::of(prop::collection::vec(values_for(family), 0..3)),
            )
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn operators_agree_with_the_reference((index, qualifier, if_exists, policy_values, request) in case()) {
        let (name, family, negated) = OPERATORS[index];
        let null = family == Family::Null;
        prop_assume!(policy_values.iter().all(|v| policy_value_ok(family, v)));
        // `Null` takes neither a qualifier nor `IfExists` (both are refused by `check`).
        let (qualifier, if_exists) = if null { (String::new(), false) } else { (qualifier, if_exists) };
        let operator = format!("{qualifier}{name}{}", if if_exists { "IfExists" } else { "" });
        let policy_text = serde_json::json!({
            "version": 1,
            "statements": [{
                "sid": "Conditional",
                "effect": "allow",
                "actions": ["s3:ListBucket"],
                "resources": ["arn:aws:s3:::b"],
                "conditions": { operator.clone(): { "s3:prefix": policy_values } }
            }]
        })
        .to_string();
        let loaded = policy::parse(&policy_text, "p", &catalog::vocabulary());
        let loaded = match loaded {
            Ok(loaded) => loaded,
            Err(diagnostics) => panic!("{operator} with {policy_values:?} does not load: {diagnostics:?}"),
        };
        let mut context = Context::new();
        if let Some(values) = &request {
            context.set("s3:prefix", values.clone());
        }
        let request_resources = ["arn:aws:s3:::b"];
        let decision = loaded.policy.decide(&Request {
            action: "s3:ListBucket",
            resources: &request_resources,
            region: "us-east-1",
            account: "123456789012",
            context: &context,
        });
        let expected = reference(family, negated, &qualifier, if_exists, &policy_values, request.as_deref());
        prop_assert_eq!(decision.allowed, expected, "{} {:?} on {:?}", operator, policy_values, request);
    }
}
