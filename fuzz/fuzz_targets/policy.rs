//! The policy loader and the gate on arbitrary text: nothing panics, overflows the stack
//! or loops; a policy that loads decides every catalog action, on `*` and on ARNs taken
//! from its own text, the same way twice, and exports an IAM policy.
//!
//! `make fuzz` (nightly, or stable with RUSTC_BOOTSTRAP=1); the seed corpus in
//! `fuzz/seeds/policy` holds the 22 KB file that once overflowed the stack.

#![no_main]

use std::sync::OnceLock;

use awsgate::catalog;
use awsgate::policy::{self, Request, Vocabulary};
use libfuzzer_sys::fuzz_target;

fn vocabulary() -> &'static Vocabulary {
    static VOCABULARY: OnceLock<Vocabulary> = OnceLock::new();
    VOCABULARY.get_or_init(catalog::vocabulary)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(loaded) = policy::parse(text, "fuzz", vocabulary()) else { return };
    let policy = &loaded.policy;
    let mut resources: Vec<&str> = vec!["*"];
    for statement in &policy.document().statements {
        resources.extend(statement.resources.iter().map(|r| r.value.as_str()).take(4));
    }
    resources.truncate(16);
    for tool in catalog::tools() {
        let action = tool.iam_action();
        for resource in &resources {
            let one = [*resource];
            let request = Request {
                action: &action,
                resources: &one,
                region: "us-east-1",
                account: "123456789012",
                context: &awsgate::policy::EMPTY_CONTEXT,
            };
            let first = policy.decide(&request);
            assert_eq!(first, policy.decide(&request), "a decision is a function of the request");
            let _ = first.explain(&request);
        }
        let _ = policy.lists_tool(&action);
        let _ = catalog::describe(tool, policy);
    }
    let _ = policy::least_privilege(policy.document(), vocabulary());
});
