//! Validation of a statement's condition block (`conditions:` natively, `Condition` in IAM
//! documents): operators, keys and values, each error at its place.

use std::collections::HashSet;

use super::super::condition::{
    Condition, ConditionKey, GLOBAL_KEYS, Operator, operator_names, type_fits, unknowable_global,
};
use super::super::pattern::ActionPattern;
use super::super::source::{Key, Node};
use super::super::suggest::did_you_mean;
use super::{Spanned, Validator};

/// The family of tag keys resources carry, supplied per service.
const RESOURCE_TAG: &str = "aws:resourcetag/";

impl Validator<'_> {
    /// Reads a condition block. `actions` are the statement's action patterns, to warn
    /// about keys AWS documents for none of them.
    pub(super) fn conditions(&mut self, node: &Node, actions: &[Spanned<String>], not_actions: bool) -> Vec<Condition> {
        let Some(operators) = self.mapping(node, "a condition block") else {
            return Vec::new();
        };
        if operators.is_empty() {
            self.error(node.at, "the condition block is empty: name an operator, or leave the block out");
        }
        // The tool actions this statement can cover, as (service, Action).
        let covered = if not_actions { None } else { Some(self.covered_actions(actions)) };
        let mut out = Vec::new();
        for (operator_key, keys_node) in operators {
            let operator = match Operator::parse(&operator_key.name) {
                Ok(operator) => operator,
                Err(message) => {
                    let base = operator_key.name.trim_start_matches("ForAllValues:").trim_start_matches("ForAnyValue:");
                    let base = base.strip_suffix("IfExists").unwrap_or(base);
                    let hint = if message.starts_with("unknown") {
                        did_you_mean(base, operator_names())
                    } else {
                        String::new()
                    };
                    self.error(operator_key.at, format!("{message}{hint}"));
                    continue;
                }
            };
            if operator_key.name.starts_with("ForAnyValue:") && operator_key.name.ends_with("IfExists") {
                self.warning(
                    operator_key.at,
                    format!(
                        "`{}` on a missing key is a case AWS's documentation leaves open (`ForAnyValue:` fails, `IfExists` holds): awsgate keeps an allow from applying and lets a deny apply",
                        operator_key.name
                    ),
                );
            }
            let what = format!("the operator `{}`", operator_key.name);
            let Some(keys) = self.mapping(keys_node, &what) else { continue };
            if keys.is_empty() {
                self.error(keys_node.at, format!("{what} names no condition key"));
            }
            let mut seen: HashSet<String> = HashSet::new();
            for (key, values_node) in keys {
                if !seen.insert(key.name.to_ascii_lowercase()) {
                    self.error(
                        key.at,
                        format!(
                            "condition key `{}` is given twice under `{}` (keys are case-insensitive)",
                            key.name, operator_key.name
                        ),
                    );
                    continue;
                }
                let values = self.strings(values_node, &format!("the values of `{}`", key.name));
                if values.is_empty() {
                    continue;
                }
                let known = self.condition_key(key, &operator_key.name, operator, covered.as_deref());
                for value in &values {
                    if value.value.contains("${") {
                        if self.literal_variables {
                            self.warning(
                                value.at,
                                format!(
                                    "`{}` is matched literally: a \"2008-10-17\" document has no policy variables",
                                    value.value
                                ),
                            );
                        } else {
                            self.error(value.at, format!("policy variables are not supported: `{}`", value.value));
                        }
                    }
                }
                let raw: Vec<String> = values.iter().map(|v| v.value.clone()).collect();
                match Condition::new(&operator_key.name, operator, &key.name, raw) {
                    Ok(condition) if known => out.push(condition),
                    Ok(_) => {}
                    Err((index, message)) => {
                        let at = values.get(index).map_or(values_node.at, |v| v.at);
                        self.error(at, format!("`{}` on `{}`: {message}", operator_key.name, key.name));
                    }
                }
            }
        }
        out
    }

    /// Checks a condition key; false when it cannot be evaluated (an error was reported).
    fn condition_key(
        &mut self,
        key: &Key,
        operator_name: &str,
        operator: Operator,
        covered: Option<&[(String, String)]>,
    ) -> bool {
        let name = key.name.as_str();
        let lower = name.to_ascii_lowercase();
        let Some((service, _)) = lower.split_once(':').filter(|(s, r)| !s.is_empty() && !r.is_empty()) else {
            self.error(
                key.at,
                format!("`{name}` is not a condition key: write `service:key`, like `aws:CurrentTime` or `s3:prefix`"),
            );
            return false;
        };
        let entry: Option<ConditionKey> = if service == "aws" && !lower.starts_with(RESOURCE_TAG) {
            if let Some(global) = GLOBAL_KEYS.iter().find(|k| k.names(&lower)) {
                Some(*global)
            } else if unknowable_global(&lower) {
                self.error(
                    key.at,
                    format!("awsgate cannot evaluate `{name}`: AWS supplies it from facts awsgate does not have when it decides, and treating it as missing would decide differently from AWS"),
                );
                return false;
            } else {
                let mut names: Vec<&str> = GLOBAL_KEYS.iter().map(|k| k.name).collect();
                names.push("aws:ResourceTag/${TagKey}");
                let hint = did_you_mean(name, names.iter().copied());
                self.error(key.at, format!("unknown global condition key `{name}`{hint}"));
                return false;
            }
        } else if lower.starts_with(RESOURCE_TAG) {
            // Each service says which of its actions' resources carry tags.
            let tagged =
                self.vocabulary.services().find_map(|s| s.condition_keys.iter().find(|k| k.names(&lower)).copied());
            if tagged.is_none() {
                self.error(key.at, format!("no service awsgate has tools for supplies `{name}`"));
                return false;
            }
            tagged
        } else {
            let Some(vocabulary) = self.vocabulary.service(service) else {
                if self.warned_services.insert(format!("condition:{service}")) {
                    self.warning(
                        key.at,
                        format!("awsgate has no tools for service `{service}`: condition key `{name}` is evaluated only when `simulate --context` supplies it"),
                    );
                }
                return true;
            };
            match vocabulary.condition_keys.iter().find(|k| k.names(&lower)) {
                Some(entry) => Some(*entry),
                None => {
                    let names: Vec<String> = vocabulary.condition_keys.iter().map(display_name).collect();
                    let hint = did_you_mean(name, names.iter().map(String::as_str));
                    let supplied = if names.is_empty() { "none".to_string() } else { names.join(", ") };
                    self.error(
                        key.at,
                        format!("awsgate cannot evaluate condition key `{name}`: it is not one awsgate supplies for its {service} tools (those are: {supplied}){hint}"),
                    );
                    return false;
                }
            }
        };
        let Some(entry) = entry else { return true };
        if let Some(kind) = operator.key_type()
            && !type_fits(kind, entry.kind)
        {
            self.warning(
                key.at,
                format!(
                    "`{operator_name}` compares {} values, but `{name}` is a {} key",
                    kind.as_str(),
                    entry.kind.as_str()
                ),
            );
        }
        if entry.multi && !operator.has_set_qualifier() && operator.key_type().is_some() {
            // AWS does not say how an operator without a set qualifier reads several
            // values (any of them, all of them, or none): refused rather than guessed.
            self.error(
                key.at,
                format!("`{name}` can have several values, and AWS does not say how `{operator_name}` reads several: write `ForAllValues:{operator_name}` (every value must match) or `ForAnyValue:{operator_name}` (one must)"),
            );
            return false;
        }
        if !entry.multi && operator.has_set_qualifier() && operator_name.starts_with("ForAllValues:") {
            self.warning(
                key.at,
                format!("`{name}` has one value: `ForAllValues:` holds when it is missing; use the operator without a set qualifier"),
            );
        }
        if let Some(covered) = covered
            && !covered.is_empty()
            && !entry.actions.is_empty()
        {
            let applies = covered.iter().any(|(service, action)| {
                if lower.starts_with(RESOURCE_TAG) {
                    self.vocabulary
                        .service(service)
                        .is_some_and(|s| s.condition_keys.iter().any(|k| k.names(&lower) && k.applies_to(action)))
                } else {
                    service_of(&lower) == service && entry.applies_to(action)
                }
            });
            if !applies {
                let documented = self.documented_for(&lower, &entry);
                self.warning(
                    key.at,
                    format!("AWS documents `{name}` for none of this statement's actions (only for {}): it is absent from their requests", documented.join(", ")),
                );
            }
        }
        true
    }

    /// The actions AWS documents a key for, as `service:Action`.
    fn documented_for(&self, lower: &str, entry: &ConditionKey) -> Vec<String> {
        if !lower.starts_with(RESOURCE_TAG) {
            return entry.actions.iter().map(|a| format!("{}:{a}", service_of(lower))).collect();
        }
        self.vocabulary
            .services()
            .flat_map(|s| {
                s.condition_keys
                    .iter()
                    .filter(|k| k.names(lower))
                    .flat_map(move |k| k.actions.iter().map(move |a| format!("{}:{a}", s.name)))
            })
            .collect()
    }

    /// The tool actions the statement's patterns cover.
    fn covered_actions(&self, actions: &[Spanned<String>]) -> Vec<(String, String)> {
        let patterns: Vec<ActionPattern> = actions.iter().map(|a| ActionPattern::new(&a.value)).collect();
        let mut out = Vec::new();
        for service in self.vocabulary.services() {
            for action in service.tool_actions {
                let lower = format!("{}:{}", service.name, action.to_ascii_lowercase());
                if patterns.iter().any(|p| p.matches_lowercase(&lower)) {
                    out.push((service.name.to_string(), (*action).to_string()));
                }
            }
        }
        out
    }
}

fn service_of(key: &str) -> &str {
    key.split_once(':').map_or(key, |(s, _)| s)
}

/// `aws:ResourceTag/${TagKey}` for a tag family, else the key's name.
fn display_name(key: &ConditionKey) -> String {
    match key.name {
        name if name.ends_with('/') => format!("{name}${{TagKey}}"),
        name if key.is_family() => format!("{name}${{Key}}"),
        name => name.to_string(),
    }
}
