//! The ARN matcher against an obviously-correct reference: the spec's rule written as a
//! regex. `*` becomes `.*` when it ends a colon-separated segment (it may run past
//! colons) and `[^:]*` otherwise; `?` becomes `[^:]`; everything else is literal.

mod common;

use awsgate::policy::{ActionPattern, ArnPattern};
use common::arn_matches as reference;
use proptest::prelude::*;
use regex::Regex;

/// Few distinct characters, so that patterns and ARNs collide often; the request side
/// includes `*` and `?`, which must be matched literally.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!['a', 'b', ':', '/', '*', '?', 'é']), 0..max)
        .prop_map(|chars| chars.into_iter().collect())
}

/// A pattern made from an ARN by turning some of its characters into wildcards, so that
/// a good share of the generated pairs match.
fn pattern_from(arn: String) -> impl Strategy<Value = (String, String)> {
    let len = arn.chars().count();
    prop::collection::vec(prop::sample::select(vec![0u8, 0, 0, 1, 2, 3]), len..=len).prop_map(move |edits| {
        let pattern: String = arn
            .chars()
            .zip(edits)
            .filter_map(|(c, edit)| match edit {
                1 => Some('*'),
                2 if c != ':' => Some('?'),
                3 => None,
                _ => Some(c),
            })
            .collect();
        (pattern, arn.clone())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn arn_matcher_agrees_with_reference_on_random_pairs(pattern in text(10), arn in text(14)) {
        prop_assert_eq!(ArnPattern::new(&pattern).matches(&arn), reference(&pattern, &arn), "pattern {:?} arn {:?}", pattern, arn);
    }

    #[test]
    fn arn_matcher_agrees_with_reference_on_derived_pairs((pattern, arn) in text(16).prop_flat_map(pattern_from)) {
        prop_assert_eq!(ArnPattern::new(&pattern).matches(&arn), reference(&pattern, &arn), "pattern {:?} arn {:?}", pattern, arn);
    }

    #[test]
    fn arn_matcher_agrees_on_realistic_arns(
        bucket in "[a-z]{1,3}",
        key in "[a-z/:.*?]{0,8}",
        pattern_key in "[a-z/:*?]{0,6}",
    ) {
        let arn = format!("arn:aws:s3:::{bucket}/{key}");
        let pattern = format!("arn:aws:s3:::{bucket}/{pattern_key}");
        prop_assert_eq!(ArnPattern::new(&pattern).matches(&arn), reference(&pattern, &arn));
    }

    #[test]
    fn action_patterns_ignore_case_and_match_like_a_glob(action in "[a-zA-Z]{1,6}", edits in prop::collection::vec(0u8..4, 6)) {
        let pattern: String = action.chars().zip(edits.iter().chain(std::iter::repeat(&0))).map(|(c, e)| match e {
            1 => '*', 2 => '?', 3 => c.to_ascii_uppercase(), _ => c,
        }).collect();
        let full = format!("s3:{pattern}");
        let re = format!("(?i)^s3:{}$", regex::escape(&pattern).replace("\\*", ".*").replace("\\?", "."));
        let expected = Regex::new(&re).expect("regex").is_match(&format!("s3:{action}"));
        prop_assert_eq!(ActionPattern::new(&full).matches_lowercase(&format!("s3:{}", action.to_ascii_lowercase())), expected);
    }
}
