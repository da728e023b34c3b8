//! The compiled policy and its decisions.
//!
//! Compilation does the work once: every action awsgate knows gets an [`ActionTable`]
//! listing the statements whose action clause matches it, with their resource patterns
//! indexed by literal prefix. A decision is then a hash lookup for the action and, per
//! resource, a binary search in that table plus a walk up a short chain of prefixes; its
//! cost does not grow with the number of statements that cannot match.

use std::collections::{HashMap, HashSet};

use super::Vocabulary;
use super::condition::{Condition, Context, Found, Truth, evaluate_all};
use super::document::{Approval, Effect, Mode, PolicyDocument, Statement};
use super::pattern::{ActionPattern, ArnPattern};

/// A request to the gate: one action on one or more resources. A resource is an ARN, or
/// `*` for actions that AWS does not scope to a resource (`s3:ListAllMyBuckets`).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resources: &'a [&'a str],
    /// The region and account the call goes to (empty when unknown). A `*` request is
    /// judged as the request on `arn:PARTITION:SERVICE:REGION:ACCOUNT:*`.
    pub region: &'a str,
    pub account: &'a str,
    /// The condition keys of the call ([`EMPTY_CONTEXT`](super::EMPTY_CONTEXT) for none).
    pub context: &'a Context,
}

impl Request<'_> {
    /// The ARN a resource is judged as: itself, or for `*` the service's whole scope in the
    /// call's region and account, as AWS matches requests on no resource. S3 and IAM ARNs
    /// carry neither a region nor an account.
    pub fn judged_arn<'r>(&self, resource: &'r str) -> std::borrow::Cow<'r, str> {
        if resource != "*" {
            return std::borrow::Cow::Borrowed(resource);
        }
        let service = self.action.split_once(':').map_or(self.action, |(s, _)| s).to_ascii_lowercase();
        let (region, account) = if unscoped_star_requests(&service) { ("", "") } else { (self.region, self.account) };
        std::borrow::Cow::Owned(format!("arn:{}:{service}:{region}:{account}:*", partition_of(self.region)))
    }
}

/// Whether a service's requests on no resource are judged without a region and an account
/// (`arn:aws:s3:::*`, `arn:aws:iam:::*`), as AWS documents for S3 and IAM. The one place that
/// says so, for the gate and for the catalog's resource templates.
pub fn unscoped_star_requests(service: &str) -> bool {
    matches!(service, "s3" | "iam")
}

/// The partition a region belongs to (`cn-north-1` is in `aws-cn`).
pub fn partition_of(region: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
        ("eusc-", "aws-eusc"),
    ];
    PREFIXES.iter().find(|(prefix, _)| region.starts_with(prefix)).map_or("aws", |(_, partition)| partition)
}

/// Why the gate decided as it did. Indices point into the request's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The action's service is not in the policy's `services`.
    ServiceNotEnabled,
    /// A deny statement matched this resource.
    ExplicitDeny { resource: usize },
    /// No allow statement matched this resource.
    ImplicitDeny { resource: usize },
    /// The request named no resource at all.
    NoResource,
    /// Every resource was allowed.
    Allowed,
}

/// The gate's answer. The same value feeds `simulate`, the tool error and the audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'p> {
    pub allowed: bool,
    /// False in audit mode: the call runs whatever the decision.
    pub enforced: bool,
    /// The deciding statement: the deny that matched, or the allow (the one that asks
    /// for approval, when one does). `None` for an implicit deny.
    pub statement: Option<&'p str>,
    /// A human must confirm the call before it runs.
    pub approval_required: bool,
    pub reason: Reason,
    /// The condition that decided, as written: the deciding statement's conditions, or for
    /// an implicit deny the condition that kept an allow statement from applying.
    pub condition: Option<&'p str>,
    /// The key of that condition, as written, when one condition decided.
    pub condition_key: Option<&'p str>,
    /// For an implicit deny: the allow statement that matched but whose condition did
    /// not hold (`statement` stays `None`).
    pub conditional_statement: Option<&'p str>,
    /// The condition could not be settled: `Truth::Unknown` (a value awsgate tried to
    /// learn is unknown) or `Truth::Unsettled` (AWS's documentation reads it two ways);
    /// `Truth::True` otherwise.
    pub condition_doubt: Truth,
}

/// How permissive a verdict is: a change to a higher rank widens.
pub fn verdict_rank(verdict: &str) -> u8 {
    match verdict {
        "deny" => 0,
        "approval" => 1,
        _ => 2,
    }
}

impl Decision<'_> {
    /// Whether the call goes ahead (before any approval): allowed, or audit mode.
    pub fn permits_call(&self) -> bool {
        self.allowed || !self.enforced
    }

    pub fn effect(&self) -> &'static str {
        if self.allowed { "allow" } else { "deny" }
    }

    /// What comes of the call: `deny` (it does not run), `approval` (it runs once a human
    /// says yes) or `allow` (it runs). A deny in audit mode runs: `allow`.
    pub fn verdict(&self) -> &'static str {
        match (self.permits_call(), self.approval_required) {
            (false, _) => "deny",
            (true, true) => "approval",
            (true, false) => "allow",
        }
    }

    /// The resource that decided a denial, if one did.
    pub fn denied_resource<'r>(&self, request: &Request<'r>) -> Option<&'r str> {
        match self.reason {
            Reason::ExplicitDeny { resource } | Reason::ImplicitDeny { resource } => {
                request.resources.get(resource).copied()
            }
            _ => None,
        }
    }

    /// One sentence for people: the action, the resource and the statement.
    pub fn explain(&self, request: &Request<'_>) -> String {
        let action = request.action;
        let resource = |index: usize| match request.resources.get(index).copied().unwrap_or("*") {
            "*" => format!("`*` (judged as `{}`)", request.judged_arn("*")),
            arn => format!("`{arn}`"),
        };
        let statement = self.statement.unwrap_or("?");
        match self.reason {
            Reason::ServiceNotEnabled => {
                let service = action.split_once(':').map_or(action, |(s, _)| s);
                format!("service `{service}` is not enabled by this policy's `services`, so `{action}` is denied")
            }
            Reason::ExplicitDeny { resource: r } => {
                let text = format!("statement `{statement}` explicitly denies `{action}` on {}", resource(r));
                match self.condition {
                    Some(condition) if self.condition_doubt.in_doubt() => format!(
                        "{text}: its conditions {condition} could not be checked ({}), and a deny applies when in doubt",
                        doubt_text(self.condition_doubt)
                    ),
                    Some(condition) => format!("{text}: its {}", hold(condition)),
                    None => text,
                }
            }
            Reason::ImplicitDeny { resource: r } => {
                let text = format!("no statement allows `{action}` on {} (implicit deny)", resource(r));
                let (Some(condition), Some(allow)) = (self.condition, self.conditional_statement) else {
                    return text;
                };
                if self.condition_doubt.in_doubt() {
                    return format!(
                        "{text}: statement `{allow}` would, but its condition {condition} could not be checked ({}), and an allow needs it to hold",
                        doubt_text(self.condition_doubt)
                    );
                }
                let value = self.condition_key.map(|key| match request.context.get(&key.to_ascii_lowercase(), r) {
                    Found::Values(values) => {
                        let shown: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
                        format!(" (the request's `{key}` is {})", shown.join(", "))
                    }
                    _ => format!(" (the request has no `{key}`)"),
                });
                format!(
                    "{text}: statement `{allow}` would, but its condition {condition} does not hold{}",
                    value.unwrap_or_default()
                )
            }
            Reason::NoResource => format!("the request for `{action}` names no resource"),
            Reason::Allowed => {
                let on = match request.resources {
                    [_] => resource(0),
                    many => format!("all {} resources", many.len()),
                };
                let when = self.condition.map(|c| format!(" (its {})", hold(c))).unwrap_or_default();
                if self.approval_required {
                    format!("statement `{statement}` allows `{action}` on {on}{when} with a human's approval")
                } else {
                    format!("statement `{statement}` allows `{action}` on {on}{when}")
                }
            }
        }
    }
}

/// A statement's condition text with its verb: "condition X holds", "conditions X and Y
/// hold". Each condition's text ends in `]}`.
/// Why a condition in doubt could not be settled.
fn doubt_text(truth: Truth) -> &'static str {
    match truth {
        Truth::Unsettled => "AWS's documentation reads it two ways here, and they differ",
        _ => "a value awsgate looks up in AWS is unavailable",
    }
}

fn hold(conditions: &str) -> String {
    if conditions.contains("]} and ") {
        format!("conditions {conditions} hold")
    } else {
        format!("condition {conditions} holds")
    }
}

/// What the policy says of one action across all resources, for listing tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalSummary {
    None,
    /// Every allow statement for this action asks for approval.
    Required,
    /// Some resources need approval, others not.
    Depends,
}

impl ApprovalSummary {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalSummary::None => "none",
            ApprovalSummary::Required => "required",
            ApprovalSummary::Depends => "some",
        }
    }
}

#[derive(Debug)]
struct CompiledStatement {
    label: String,
    effect: Effect,
    approval: Approval,
    actions: Vec<ActionPattern>,
    not_actions: bool,
    /// Ids into `Policy::patterns`.
    resources: Vec<u32>,
    not_resources: bool,
    /// All must hold for the statement to apply.
    conditions: Vec<Condition>,
    /// Each condition as written, for reasons.
    described: Vec<String>,
    /// All of them, joined, for reasons; empty without conditions.
    all_described: String,
}

impl CompiledStatement {
    fn matches_action(&self, lower: &str) -> bool {
        self.actions.iter().any(|p| p.matches_lowercase(lower)) != self.not_actions
    }
}

/// Statements whose action clause matches one action, ready for resource matching.
#[derive(Debug, Default)]
struct ActionTable {
    /// Statements with `resources`, indexed by the literal prefixes of their patterns.
    by_prefix: PrefixIndex,
    /// Statements with `not_resources`: checked one by one (they are rare).
    not_resource: Vec<u32>,
    /// Every matching statement, in order.
    all: Vec<u32>,
}

/// Resource patterns sorted by literal prefix. Every pattern that can match an ARN has a
/// prefix that is a prefix of the ARN, and all such prefixes are ancestors of the greatest
/// prefix not above the ARN; each node links to its longest proper prefix in the set.
#[derive(Debug, Default)]
struct PrefixIndex {
    nodes: Vec<PrefixNode>,
    /// (statement, pattern) pairs, grouped by node.
    members: Vec<(u32, u32)>,
}

#[derive(Debug)]
struct PrefixNode {
    /// A pattern whose literal prefix is this node's (all members share it).
    pattern: u32,
    members: std::ops::Range<usize>,
    parent: Option<usize>,
}

impl PrefixIndex {
    /// `rank` orders the policy's patterns by literal prefix, computed once for all tables.
    fn build(patterns: &[ArnPattern], rank: &[u32], mut entries: Vec<(u32, u32)>) -> PrefixIndex {
        let prefix_of = |pattern: u32| patterns.get(pattern as usize).map_or("", ArnPattern::literal_prefix);
        entries.sort_unstable_by_key(|&(statement, pattern)| (rank.get(pattern as usize).copied(), statement));
        let mut nodes: Vec<PrefixNode> = Vec::new();
        let mut ancestors: Vec<usize> = Vec::new();
        for (position, &(_, pattern)) in entries.iter().enumerate() {
            let prefix = prefix_of(pattern);
            if let Some(last) = nodes.last_mut()
                && prefix_of(last.pattern) == prefix
            {
                last.members.end = position + 1;
                continue;
            }
            // Sorted order puts every extension of a prefix right after it.
            while let Some(&top) = ancestors.last() {
                if nodes.get(top).is_some_and(|n| prefix.starts_with(prefix_of(n.pattern))) {
                    break;
                }
                ancestors.pop();
            }
            nodes.push(PrefixNode { pattern, members: position..position + 1, parent: ancestors.last().copied() });
            ancestors.push(nodes.len() - 1);
        }
        PrefixIndex { nodes, members: entries }
    }

    /// Calls `f(statement, pattern)` for each pattern whose literal prefix starts `arn`.
    fn candidates(&self, patterns: &[ArnPattern], arn: &str, mut f: impl FnMut(u32, u32)) {
        let prefix_of = |pattern: u32| patterns.get(pattern as usize).map_or("", ArnPattern::literal_prefix);
        let above = self.nodes.partition_point(|node| prefix_of(node.pattern) <= arn);
        let mut next = above.checked_sub(1);
        while let Some(index) = next {
            let Some(node) = self.nodes.get(index) else { break };
            if arn.starts_with(prefix_of(node.pattern)) {
                for &(statement, pattern) in self.members.get(node.members.clone()).unwrap_or(&[]) {
                    f(statement, pattern);
                }
            }
            next = node.parent;
        }
    }
}

/// The first deny, first allow and first approval-requiring allow seen for one resource,
/// and the first allow kept out by its conditions.
#[derive(Debug, Default, Clone, Copy)]
struct Verdict {
    deny: Option<u32>,
    /// How the deny's conditions came out: in doubt, it applies anyway.
    deny_truth: Truth,
    allow: Option<u32>,
    approval: Option<u32>,
    /// An allow statement that matched but whose condition did not hold.
    blocked: Option<Blocked>,
}

/// An allow statement kept out by a condition: (statement, condition, how it came out).
type Blocked = (u32, usize, Truth);

impl Verdict {
    /// Notes a statement whose action and resource match, once its conditions are checked.
    fn note(&mut self, index: u32, statement: &CompiledStatement, context: &Context, resource: usize) {
        let first = |slot: &mut Option<u32>| *slot = Some(slot.map_or(index, |seen| seen.min(index)));
        let (truth, failed) = if statement.conditions.is_empty() {
            (Truth::True, None)
        } else {
            evaluate_all(&statement.conditions, context, resource)
        };
        match (statement.effect, truth) {
            // A deny applies when its conditions hold, or cannot be checked.
            (Effect::Deny, Truth::False) => {}
            (Effect::Deny, _) => {
                if self.deny.is_none_or(|seen| index < seen) {
                    self.deny_truth = truth;
                }
                first(&mut self.deny);
            }
            (Effect::Allow, Truth::True) => {
                first(&mut self.allow);
                if statement.approval == Approval::Required {
                    first(&mut self.approval);
                }
            }
            (Effect::Allow, _) => {
                if self.blocked.is_none_or(|(seen, _, _)| index < seen) {
                    self.blocked = Some((index, failed.unwrap_or(0), truth));
                }
            }
        }
    }
}

/// A compiled, immutable policy.
#[derive(Debug)]
pub struct Policy {
    document: PolicyDocument,
    statements: Vec<CompiledStatement>,
    patterns: Vec<ArnPattern>,
    /// Each pattern's place in the order of literal prefixes.
    rank: Vec<u32>,
    /// Lowercased `service:action` of every known action, to its table.
    known: HashMap<Box<str>, usize>,
    tables: Vec<ActionTable>,
}

impl Policy {
    pub fn compile(document: PolicyDocument, vocabulary: &Vocabulary) -> Policy {
        let mut patterns: Vec<ArnPattern> = Vec::new();
        let mut pattern_ids: HashMap<String, u32> = HashMap::new();
        let statements: Vec<CompiledStatement> = document
            .statements
            .iter()
            .map(|statement| compile_statement(statement, &mut patterns, &mut pattern_ids))
            .collect();

        let mut order: Vec<u32> = (0..u32::try_from(patterns.len()).unwrap_or(u32::MAX)).collect();
        order.sort_by(|&a, &b| {
            let prefix = |id: u32| patterns.get(id as usize).map_or("", ArnPattern::literal_prefix);
            prefix(a).cmp(prefix(b))
        });
        let mut rank = vec![0u32; patterns.len()];
        for (place, &id) in (0u32..).zip(&order) {
            if let Some(slot) = rank.get_mut(id as usize) {
                *slot = place;
            }
        }

        let mut known = HashMap::new();
        let mut names: Vec<String> = Vec::new();
        let mut by_service: HashMap<&str, std::ops::Range<usize>> = HashMap::new();
        for service in vocabulary.services() {
            let start = names.len();
            for action in service.actions {
                let lower = format!("{}:{}", service.name, action.to_ascii_lowercase());
                known.insert(lower.clone().into_boxed_str(), names.len());
                names.push(lower);
            }
            by_service.insert(service.name, start..names.len());
        }
        // Which statements match which known action: literal patterns by lookup, patterns
        // with a literal service by trying that service's actions, the rest (and
        // `not_actions`) by trying every action. Linear in the statements.
        let mut matching: Vec<Vec<u32>> = vec![Vec::new(); names.len()];
        let mut add = |id: usize, index: u32| {
            if let Some(list) = matching.get_mut(id)
                && list.last() != Some(&index)
            {
                list.push(index);
            }
        };
        for (index, statement) in statements.iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            if statement.not_actions {
                for (id, name) in names.iter().enumerate() {
                    if statement.matches_action(name) {
                        add(id, index);
                    }
                }
                continue;
            }
            for pattern in &statement.actions {
                if let Some(literal) = pattern.literal() {
                    if let Some(&id) = known.get(literal) {
                        add(id, index);
                    }
                    continue;
                }
                let range = pattern.service().and_then(|s| by_service.get(s)).cloned().unwrap_or(0..names.len());
                for id in range {
                    if names.get(id).is_some_and(|name| pattern.matches_lowercase(name)) {
                        add(id, index);
                    }
                }
            }
        }
        let tables = matching.into_iter().map(|all| build_table(all, &statements, &patterns, &rank)).collect();
        Policy { document, statements, patterns, rank, known, tables }
    }

    pub fn document(&self) -> &PolicyDocument {
        &self.document
    }

    pub fn name(&self) -> &str {
        &self.document.name
    }

    pub fn mode(&self) -> Mode {
        self.document.mode
    }

    /// Is the action's service enabled by `services` (all are when it is absent)?
    pub fn service_enabled(&self, action: &str) -> bool {
        let service = action.split_once(':').map_or(action, |(s, _)| s);
        self.document.services.as_ref().is_none_or(|enabled| enabled.iter().any(|s| s.eq_ignore_ascii_case(service)))
    }

    /// Runs `f` with the action's table: the precompiled one for a known action, or one
    /// built now for an action awsgate has no tool for (only `simulate` asks for those).
    fn with_table<R>(&self, action: &str, f: impl FnOnce(&ActionTable) -> R) -> R {
        let mut buffer = [0u8; 128];
        let lower = ascii_lowercase(action, &mut buffer);
        if let Some(table) = lower.and_then(|l| self.known.get(l)).and_then(|&id| self.tables.get(id)) {
            return f(table);
        }
        let lower = action.to_ascii_lowercase();
        let all = (0u32..).zip(&self.statements).filter(|(_, s)| s.matches_action(&lower)).map(|(i, _)| i).collect();
        f(&build_table(all, &self.statements, &self.patterns, &self.rank))
    }

    /// Decides a request by IAM's rules: a service outside `services` is denied; an
    /// explicit deny wins; else an allow allows; else the call is denied. Several
    /// resources are allowed only if each one is.
    pub fn decide(&self, request: &Request<'_>) -> Decision<'_> {
        let enforced = self.document.mode == Mode::Enforce;
        let deny = |reason, statement: Option<u32>| Decision {
            allowed: false,
            enforced,
            statement: statement.and_then(|i| self.label(i)),
            approval_required: false,
            reason,
            condition: None,
            condition_key: None,
            conditional_statement: None,
            condition_doubt: Truth::True,
        };
        if !self.service_enabled(request.action) {
            return deny(Reason::ServiceNotEnabled, None);
        }
        if request.resources.is_empty() {
            return deny(Reason::NoResource, None);
        }
        self.with_table(request.action, |table| {
            let mut first_implicit: Option<(usize, Option<Blocked>)> = None;
            let mut allow: Option<u32> = None;
            let mut approval: Option<u32> = None;
            for (position, resource) in request.resources.iter().enumerate() {
                let verdict = self.verdict(table, &request.judged_arn(resource), request.context, position);
                if let Some(statement) = verdict.deny {
                    let mut decision = deny(Reason::ExplicitDeny { resource: position }, Some(statement));
                    decision.condition = self.conditions_text(statement);
                    decision.condition_doubt = verdict.deny_truth;
                    return decision;
                }
                match verdict.allow {
                    None => {
                        first_implicit.get_or_insert((position, verdict.blocked));
                    }
                    Some(statement) => {
                        allow.get_or_insert(statement);
                        if approval.is_none() {
                            approval = verdict.approval;
                        }
                    }
                }
            }
            if let Some((resource, blocked)) = first_implicit {
                let mut decision = deny(Reason::ImplicitDeny { resource }, None);
                if let Some((index, failed, truth)) = blocked
                    && let Some(statement) = self.statement(index)
                {
                    // The allow that would have applied, and the condition that kept it out.
                    decision.conditional_statement = Some(statement.label.as_str());
                    decision.condition = statement.described.get(failed).map(String::as_str);
                    decision.condition_key = statement.conditions.get(failed).map(|c| c.key_name.as_str());
                    decision.condition_doubt = truth;
                }
                return decision;
            }
            let decider = approval.or(allow);
            Decision {
                allowed: true,
                enforced,
                statement: decider.and_then(|i| self.label(i)),
                approval_required: approval.is_some(),
                reason: Reason::Allowed,
                condition: decider.and_then(|i| self.conditions_text(i)),
                condition_key: None,
                conditional_statement: None,
                condition_doubt: Truth::True,
            }
        })
    }

    /// A statement's conditions as written, when it has any.
    fn conditions_text(&self, index: u32) -> Option<&str> {
        self.statement(index).map(|s| s.all_described.as_str()).filter(|text| !text.is_empty())
    }

    fn label(&self, index: u32) -> Option<&str> {
        self.statements.get(index as usize).map(|s| s.label.as_str())
    }

    fn statement(&self, index: u32) -> Option<&CompiledStatement> {
        self.statements.get(index as usize)
    }

    fn pattern(&self, id: u32) -> Option<&ArnPattern> {
        self.patterns.get(id as usize)
    }

    fn verdict(&self, table: &ActionTable, resource: &str, context: &Context, position: usize) -> Verdict {
        let mut verdict = Verdict::default();
        self.matching(table, resource, |index, statement| verdict.note(index, statement, context, position));
        verdict
    }

    /// Calls `f` for each statement whose action and resource clauses match (conditions
    /// aside), in no particular order.
    fn matching(&self, table: &ActionTable, resource: &str, mut f: impl FnMut(u32, &CompiledStatement)) {
        // Where AWS's wildcard rule has two readings (`ArnPattern::matches_widely`), a
        // match that grants takes the narrow one and a match that takes away the wide one.
        let covers = |statement: &CompiledStatement, pattern: &ArnPattern| {
            let wide = (statement.effect == Effect::Deny) != statement.not_resources;
            if wide { pattern.matches_widely(resource) } else { pattern.matches(resource) }
        };
        table.by_prefix.candidates(&self.patterns, resource, |index, pattern| {
            if let Some(statement) = self.statement(index)
                && self.pattern(pattern).is_some_and(|p| covers(statement, p))
            {
                f(index, statement);
            }
        });
        for &index in &table.not_resource {
            if let Some(statement) = self.statement(index) {
                let excluded =
                    statement.resources.iter().any(|&id| self.pattern(id).is_some_and(|p| covers(statement, p)));
                if !excluded {
                    f(index, statement);
                }
            }
        }
    }

    /// The condition keys (lowercase) that statements which could decide this request
    /// test, per resource: the keys worth looking up in AWS before deciding.
    pub fn tested_keys(&self, request: &Request<'_>) -> Vec<(usize, String)> {
        if !self.service_enabled(request.action) {
            return Vec::new();
        }
        self.with_table(request.action, |table| {
            let mut keys: Vec<(usize, String)> = Vec::new();
            for (position, resource) in request.resources.iter().enumerate() {
                self.matching(table, &request.judged_arn(resource), |_, statement| {
                    for condition in &statement.conditions {
                        let entry = (position, condition.key.clone());
                        if !keys.contains(&entry) {
                            keys.push(entry);
                        }
                    }
                });
            }
            keys
        })
    }

    /// Should a tool for `action` be listed? In enforce mode: some allow statement can
    /// allow it and no deny statement denies it on every resource. In audit mode: its
    /// service is enabled.
    /// For `sidecar.unknown_operations: allow_if_allowed_everywhere`: an unconditional
    /// allow statement covers `action` on every resource (`*`), and no deny statement
    /// names the action, whatever its resources and conditions. Audit mode allows all.
    pub fn allows_everywhere(&self, action: &str) -> bool {
        if !self.service_enabled(action) {
            return false;
        }
        let lower = action.to_ascii_lowercase();
        let covers = |statement: &crate::policy::Statement| {
            let named = statement.actions.iter().any(|a| ActionPattern::new(&a.value).matches_lowercase(&lower));
            named != statement.not_actions
        };
        let statements = &self.document.statements;
        if statements.iter().any(|s| s.effect == Effect::Deny && covers(s)) {
            return false;
        }
        self.document.mode == Mode::Audit
            || statements.iter().any(|s| {
                s.effect == Effect::Allow
                    && covers(s)
                    && s.conditions.is_empty()
                    && !s.not_resources
                    && s.resources.iter().any(|r| r.value == "*")
            })
    }

    pub fn lists_tool(&self, action: &str) -> bool {
        if !self.service_enabled(action) {
            return false;
        }
        if self.document.mode == Mode::Audit {
            return true;
        }
        self.with_table(action, |table| {
            let service = action.split_once(':').map_or(action, |(s, _)| s);
            let mut allowed = false;
            for statement in table.all.iter().filter_map(|&i| self.statement(i)) {
                match statement.effect {
                    Effect::Allow => allowed = true,
                    // A conditional deny may not apply: the tool stays listed.
                    Effect::Deny if !statement.not_resources && statement.conditions.is_empty() => {
                        // A pattern that covers `*` requests covers every resource of the
                        // service in the region and account awsgate calls.
                        let everywhere = statement
                            .resources
                            .iter()
                            .filter_map(|&id| self.pattern(id))
                            .any(|p| covers_any_request(p, service));
                        if everywhere {
                            return false;
                        }
                    }
                    Effect::Deny => {}
                }
            }
            allowed
        })
    }

    /// What the allow statements let `action` touch, for tool descriptions: resource
    /// patterns, or `everything except ...` for `not_resources`.
    pub fn allowed_resources(&self, action: &str) -> Vec<String> {
        self.with_table(action, |table| {
            let mut out: Vec<String> = Vec::new();
            let mut seen: HashSet<String> = HashSet::new();
            for statement in table.all.iter().filter_map(|&i| self.statement(i)).filter(|s| s.effect == Effect::Allow) {
                let patterns: Vec<&str> =
                    statement.resources.iter().filter_map(|&id| self.pattern(id)).map(ArnPattern::as_str).collect();
                let text = if statement.not_resources {
                    vec![format!("everything except {}", patterns.join(", "))]
                } else {
                    patterns.into_iter().map(str::to_string).collect()
                };
                for item in text {
                    if seen.insert(item.clone()) {
                        out.push(item);
                    }
                }
            }
            out
        })
    }

    /// Resource patterns that a deny statement keeps `action` away from, for descriptions.
    pub fn denied_resources(&self, action: &str) -> Vec<String> {
        self.with_table(action, |table| {
            let mut out: Vec<String> = Vec::new();
            let mut seen: HashSet<String> = HashSet::new();
            for statement in table.all.iter().filter_map(|&i| self.statement(i)).filter(|s| s.effect == Effect::Deny) {
                for pattern in statement.resources.iter().filter_map(|&id| self.pattern(id)) {
                    let item = if statement.not_resources {
                        format!("everything except {}", pattern.as_str())
                    } else {
                        pattern.as_str().to_string()
                    };
                    if seen.insert(item.clone()) {
                        out.push(item);
                    }
                }
            }
            out
        })
    }

    /// The conditions the allow statements for `action` set, as written (one entry per
    /// statement with conditions), for descriptions.
    pub fn allow_conditions(&self, action: &str) -> Vec<String> {
        self.with_table(action, |table| {
            let mut out: Vec<String> = Vec::new();
            for statement in table.all.iter().filter_map(|&i| self.statement(i)) {
                if statement.effect == Effect::Allow
                    && !statement.all_described.is_empty()
                    && !out.contains(&statement.all_described)
                {
                    out.push(statement.all_described.clone());
                }
            }
            out
        })
    }

    /// Whether calls of `action` need a human's approval.
    pub fn approval_summary(&self, action: &str) -> ApprovalSummary {
        self.with_table(action, |table| {
            let allows: Vec<&CompiledStatement> =
                table.all.iter().filter_map(|&i| self.statement(i)).filter(|s| s.effect == Effect::Allow).collect();
            let required = allows.iter().filter(|s| s.approval == Approval::Required).count();
            match required {
                0 => ApprovalSummary::None,
                n if n == allows.len() => ApprovalSummary::Required,
                _ => ApprovalSummary::Depends,
            }
        })
    }
}

fn compile_statement(
    statement: &Statement,
    patterns: &mut Vec<ArnPattern>,
    ids: &mut HashMap<String, u32>,
) -> CompiledStatement {
    let resources = statement
        .resources
        .iter()
        .map(|resource| {
            *ids.entry(resource.value.clone()).or_insert_with(|| {
                patterns.push(ArnPattern::new(&resource.value));
                u32::try_from(patterns.len() - 1).unwrap_or(u32::MAX)
            })
        })
        .collect();
    CompiledStatement {
        label: statement.label.clone(),
        effect: statement.effect,
        approval: statement.approval,
        actions: statement.actions.iter().map(|a| ActionPattern::new(&a.value)).collect(),
        not_actions: statement.not_actions,
        resources,
        not_resources: statement.not_resources,
        described: statement.conditions.iter().map(Condition::describe).collect(),
        all_described: statement.conditions.iter().map(Condition::describe).collect::<Vec<_>>().join(" and "),
        conditions: statement.conditions.clone(),
    }
}

fn build_table(all: Vec<u32>, statements: &[CompiledStatement], patterns: &[ArnPattern], rank: &[u32]) -> ActionTable {
    let mut entries = Vec::new();
    let mut table = ActionTable::default();
    for &index in &all {
        let Some(statement) = statements.get(index as usize) else { continue };
        if statement.not_resources {
            table.not_resource.push(index);
        } else {
            entries.extend(statement.resources.iter().map(|&pattern| (index, pattern)));
        }
    }
    table.by_prefix = PrefixIndex::build(patterns, rank, entries);
    table.all = all;
    table
}

/// Does this pattern cover a request on `*` (an action AWS does not scope to a resource)?
/// Yes for `*`, and for an ARN of the action's service whose resource part is `*`, like
/// `arn:aws:s3:::*` or `arn:aws:sqs:us-east-1:123456789012:*`.
fn covers_any_request(pattern: &ArnPattern, service: &str) -> bool {
    if pattern.is_everything() {
        return true;
    }
    let parts: Vec<&str> = pattern.as_str().splitn(6, ':').collect();
    match parts.as_slice() {
        [_, _, pattern_service, _, _, "*"] => ActionPattern::new(pattern_service).matches_lowercase(service),
        _ => false,
    }
}

/// Lowercases ASCII `text` into `buffer` without allocating; `None` if it does not fit.
fn ascii_lowercase<'b>(text: &str, buffer: &'b mut [u8; 128]) -> Option<&'b str> {
    let target = buffer.get_mut(..text.len())?;
    target.copy_from_slice(text.as_bytes());
    target.make_ascii_lowercase();
    std::str::from_utf8(target).ok()
}
