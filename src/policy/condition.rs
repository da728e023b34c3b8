//! IAM's `Condition` block: its operators, their values compiled once, the request
//! context they are checked against, and the keys awsgate can supply.
//!
//! Semantics, as AWS documents them:
//! * every operator of a block must hold, every key of an operator must hold, and a key
//!   holds when one of its values matches (a negated operator: when none does);
//! * a key missing from the request fails a positive operator and satisfies a negated
//!   one; `...IfExists` makes a missing key hold; `Null` tests for absence;
//! * `ForAnyValue:` holds when some value of a multi-valued key matches (false for an
//!   empty or missing set), `ForAllValues:` when every value does (true for an empty or
//!   missing set); with a negated operator "matches" means "matches none of the values".
//!
//! A value awsgate tried and failed to learn (a tag look-up) is *unknown*: an allow
//! statement whose condition depends on it does not apply, a deny statement does.

use std::net::IpAddr;

use ipnet::IpNet;

use super::pattern::Glob;

/// The type AWS documents for a condition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String,
    Numeric,
    Date,
    Bool,
    Ip,
    Arn,
    /// Seconds since the epoch, compared as a date or a number (`aws:EpochTime`).
    Epoch,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::String => "String",
            KeyType::Numeric => "Numeric",
            KeyType::Date => "Date",
            KeyType::Bool => "Bool",
            KeyType::Ip => "IPAddress",
            KeyType::Arn => "ARN",
            KeyType::Epoch => "Date or Numeric",
        }
    }
}

/// A condition key awsgate supplies for some of its tools' actions.
#[derive(Debug, Clone, Copy)]
pub struct ConditionKey {
    /// AWS's spelling. A name ending in `/` or in a second `:` is a family completed by a
    /// key (`aws:ResourceTag/` stands for `aws:ResourceTag/${TagKey}`,
    /// `kms:EncryptionContext:` for `kms:EncryptionContext:${EncryptionContextKey}`).
    pub name: &'static str,
    pub kind: KeyType,
    /// Several values per request (`dynamodb:LeadingKeys`): meant for `ForAllValues:` or
    /// `ForAnyValue:`.
    pub multi: bool,
    /// The IAM actions (without service prefix) AWS documents it for; empty for all.
    pub actions: &'static [&'static str],
}

impl ConditionKey {
    /// Does this entry name `key` (lowercase)?
    pub fn is_family(&self) -> bool {
        self.name.ends_with('/') || self.name.matches(':').count() > 1
    }

    pub fn names(&self, key: &str) -> bool {
        let name = self.name;
        if self.is_family() {
            key.len() > name.len() && key.get(..name.len()).is_some_and(|p| p.eq_ignore_ascii_case(name))
        } else {
            name.eq_ignore_ascii_case(key)
        }
    }

    pub fn applies_to(&self, action: &str) -> bool {
        self.actions.is_empty() || self.actions.iter().any(|a| a.eq_ignore_ascii_case(action))
    }
}

/// Global keys awsgate supplies for every call (`aws:ResourceTag/` comes with each
/// service's keys, since only some resources have tags).
pub const GLOBAL_KEYS: &[ConditionKey] = &[
    ConditionKey { name: "aws:CurrentTime", kind: KeyType::Date, multi: false, actions: &[] },
    ConditionKey { name: "aws:EpochTime", kind: KeyType::Epoch, multi: false, actions: &[] },
    ConditionKey { name: "aws:RequestedRegion", kind: KeyType::String, multi: false, actions: &[] },
    ConditionKey { name: "aws:SecureTransport", kind: KeyType::Bool, multi: false, actions: &[] },
    ConditionKey { name: "aws:SourceIp", kind: KeyType::Ip, multi: false, actions: &[] },
    ConditionKey { name: "aws:PrincipalArn", kind: KeyType::Arn, multi: false, actions: &[] },
    ConditionKey { name: "aws:PrincipalTag/", kind: KeyType::String, multi: false, actions: &[] },
];

/// Global keys AWS supplies that awsgate cannot know when it decides. Treating them as
/// missing would decide differently from AWS, so a policy that uses them is refused.
pub const UNKNOWABLE_GLOBAL_KEYS: &[&str] = &[
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:Ec2InstanceSourceVpc",
    "aws:FederatedProvider",
    "aws:IsMcpServiceAction",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:PrincipalAccount",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList",
    "aws:PrincipalType",
    "aws:Referer",
    "aws:RequestTag/",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ResourceOrgPaths",
    "aws:RoleSessionName",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceIdentity",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceVpc",
    "aws:SourceVpcArn",
    "aws:SourceVpce",
    "aws:TagKeys",
    "aws:TokenIssueTime",
    "aws:UserAgent",
    "aws:userid",
    "aws:username",
    "aws:ViaAWSService",
    "aws:VpcSourceIp",
    "aws:VpceAccount",
    "aws:VpceOrgID",
    "aws:VpceOrgPaths",
];

/// Is `key` one of the global keys awsgate cannot know?
pub fn unknowable_global(key: &str) -> bool {
    UNKNOWABLE_GLOBAL_KEYS.iter().any(|name| {
        if name.ends_with('/') {
            key.len() >= name.len() && key.get(..name.len()).is_some_and(|p| p.eq_ignore_ascii_case(name))
        } else {
            name.eq_ignore_ascii_case(key)
        }
    })
}

/// What an operator tests, before negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Order),
    Date(Order),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Order {
    fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Order::Equal => ordering == Equal,
            Order::Less => ordering == Less,
            Order::LessOrEqual => ordering != Greater,
            Order::Greater => ordering == Greater,
            Order::GreaterOrEqual => ordering != Less,
        }
    }
}

/// IAM's operators: name, test, negated.
const OPERATORS: &[(&str, Test, bool)] = &[
    ("StringEquals", Test::StringEquals, false),
    ("StringNotEquals", Test::StringEquals, true),
    ("StringEqualsIgnoreCase", Test::StringEqualsIgnoreCase, false),
    ("StringNotEqualsIgnoreCase", Test::StringEqualsIgnoreCase, true),
    ("StringLike", Test::StringLike, false),
    ("StringNotLike", Test::StringLike, true),
    ("NumericEquals", Test::Numeric(Order::Equal), false),
    ("NumericNotEquals", Test::Numeric(Order::Equal), true),
    ("NumericLessThan", Test::Numeric(Order::Less), false),
    ("NumericLessThanEquals", Test::Numeric(Order::LessOrEqual), false),
    ("NumericGreaterThan", Test::Numeric(Order::Greater), false),
    ("NumericGreaterThanEquals", Test::Numeric(Order::GreaterOrEqual), false),
    ("DateEquals", Test::Date(Order::Equal), false),
    ("DateNotEquals", Test::Date(Order::Equal), true),
    ("DateLessThan", Test::Date(Order::Less), false),
    ("DateLessThanEquals", Test::Date(Order::LessOrEqual), false),
    ("DateGreaterThan", Test::Date(Order::Greater), false),
    ("DateGreaterThanEquals", Test::Date(Order::GreaterOrEqual), false),
    ("Bool", Test::Bool, false),
    ("BinaryEquals", Test::Binary, false),
    ("IpAddress", Test::Ip, false),
    ("NotIpAddress", Test::Ip, true),
    ("ArnEquals", Test::Arn, false),
    ("ArnLike", Test::Arn, false),
    ("ArnNotEquals", Test::Arn, true),
    ("ArnNotLike", Test::Arn, true),
    ("Null", Test::Null, false),
];

/// The operator names, for "did you mean" suggestions.
pub fn operator_names() -> impl Iterator<Item = &'static str> {
    OPERATORS.iter().map(|(name, _, _)| *name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    None,
    ForAllValues,
    ForAnyValue,
}

/// A parsed operator such as `ForAllValues:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    test: Test,
    negated: bool,
    if_exists: bool,
    qualifier: SetQualifier,
}

impl Operator {
    /// Parses an operator as IAM spells it (case-sensitive).
    pub fn parse(text: &str) -> Result<Operator, String> {
        let (qualifier, rest) = if let Some(rest) = text.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, rest)
        } else if let Some(rest) = text.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, rest)
        } else {
            (SetQualifier::None, text)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let Some(&(_, test, negated)) = OPERATORS.iter().find(|(name, _, _)| *name == base) else {
            return Err(format!("unknown condition operator `{text}`"));
        };
        if test == Test::Null && if_exists {
            return Err("`NullIfExists` is not an operator: `Null` already tests whether the key exists".into());
        }
        if test == Test::Null && qualifier != SetQualifier::None {
            return Err(format!("`{text}`: `Null` takes no set qualifier; it tests whether the key exists"));
        }
        Ok(Operator { test, negated, if_exists, qualifier })
    }

    /// The key type whose values this operator compares, for mismatch warnings.
    pub fn key_type(&self) -> Option<KeyType> {
        match self.test {
            Test::StringEquals | Test::StringEqualsIgnoreCase | Test::StringLike => Some(KeyType::String),
            Test::Numeric(_) => Some(KeyType::Numeric),
            Test::Date(_) => Some(KeyType::Date),
            Test::Bool => Some(KeyType::Bool),
            Test::Ip => Some(KeyType::Ip),
            Test::Arn => Some(KeyType::Arn),
            Test::Binary | Test::Null => None,
        }
    }

    pub fn has_set_qualifier(&self) -> bool {
        self.qualifier != SetQualifier::None
    }
}

/// Whether an operator of `operator`'s type fits a key of type `key`. AWS allows string
/// operators on ARN keys, and the Numeric and Date operators on `aws:EpochTime`.
pub fn type_fits(operator: KeyType, key: KeyType) -> bool {
    operator == key
        || (operator == KeyType::String && key == KeyType::Arn)
        || (key == KeyType::Epoch && matches!(operator, KeyType::Numeric | KeyType::Date))
}

/// The values of one key under one operator, compiled for the operator's test.
#[derive(Debug, Clone)]
enum Values {
    Text(Vec<Box<str>>),
    Lowercase(Vec<String>),
    Globs(Vec<Glob>),
    Numbers(Vec<f64>),
    /// Nanoseconds since the epoch.
    Dates(Vec<i128>),
    Bools(Vec<bool>),
    Networks(Vec<IpNet>),
    Arns(Vec<ArnGlob>),
}

/// A pattern of the Arn operators: the six colon-separated parts of an ARN are matched
/// separately (the last one keeps its colons), each with `*` and `?`.
#[derive(Debug, Clone)]
struct ArnGlob {
    parts: Vec<Glob>,
}

impl ArnGlob {
    fn new(pattern: &str) -> ArnGlob {
        ArnGlob { parts: pattern.splitn(6, ':').map(Glob::new).collect() }
    }

    fn matches(&self, arn: &str) -> bool {
        let parts = &self.parts;
        let values: Vec<&str> = arn.splitn(6, ':').collect();
        values.len() == parts.len() && parts.iter().zip(&values).all(|(glob, value)| glob.matches(value))
    }
}

/// One key under one operator: `"StringLike": {"s3:prefix": ["home/alice/*"]}`.
#[derive(Debug, Clone)]
pub struct Condition {
    /// The operator as written.
    pub operator_name: String,
    /// The key as written.
    pub key_name: String,
    /// The key, lowercased: keys are case-insensitive.
    pub key: String,
    /// The values as written, for the IAM export and for messages.
    pub raw_values: Vec<String>,
    operator: Operator,
    values: Values,
}

/// Parses a date as IAM's Date operators accept it: ISO 8601 (`2026-01-01`,
/// `2026-01-01T09:00:00Z`, with an offset or fraction) or seconds since the epoch.
/// Returns nanoseconds since the epoch.
pub fn parse_date(text: &str) -> Option<i128> {
    use time::format_description::well_known::Rfc3339;
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(i128::from(seconds) * 1_000_000_000);
    }
    // W3C's date-time may leave out the seconds (`2026-03-01T12:01Z`): they are zero.
    let bytes = text.as_bytes();
    let without_seconds = bytes.len() >= 16
        && bytes.get(10) == Some(&b'T')
        && bytes.get(13) == Some(&b':')
        && bytes.get(16).is_none_or(|b| matches!(b, b'Z' | b'z' | b'+' | b'-'));
    let text = match (without_seconds, text.get(..16), text.get(16..)) {
        (true, Some(minutes), Some(zone)) => format!("{minutes}:00{zone}"),
        _ => text.to_string(),
    };
    let text = text.as_str();
    if let Ok(moment) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Some(moment.unix_timestamp_nanos());
    }
    // A date alone, or a date and time without an offset, are read as UTC.
    let with_zone = if text.len() == 10 { format!("{text}T00:00:00Z") } else { format!("{text}Z") };
    time::OffsetDateTime::parse(&with_zone, &Rfc3339).ok().map(|m| m.unix_timestamp_nanos())
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>().ok().or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

fn is_base64(text: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).is_ok()
}

impl Condition {
    /// Compiles a key's values for an operator; `Err` gives the place and the reason of
    /// the first value that does not fit the operator.
    pub fn new(
        operator_name: &str,
        operator: Operator,
        key_name: &str,
        raw: Vec<String>,
    ) -> Result<Condition, (usize, String)> {
        fn all<T>(raw: &[String], what: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, (usize, String)> {
            raw.iter().enumerate().map(|(i, v)| parse(v).ok_or_else(|| (i, format!("`{v}` is not {what}")))).collect()
        }
        let values = match operator.test {
            Test::StringEquals => Values::Text(raw.iter().map(|v| v.as_str().into()).collect()),
            Test::StringEqualsIgnoreCase => Values::Lowercase(raw.iter().map(|v| v.to_lowercase()).collect()),
            Test::StringLike => Values::Globs(raw.iter().map(|v| Glob::new(v)).collect()),
            Test::Numeric(_) => {
                Values::Numbers(all(&raw, "a number", |v| v.trim().parse::<f64>().ok().filter(|n| n.is_finite()))?)
            }
            Test::Date(_) => Values::Dates(all(&raw, "a date (ISO 8601 or seconds since the epoch)", parse_date)?),
            Test::Bool | Test::Null => Values::Bools(all(&raw, "`true` or `false`", parse_bool)?),
            Test::Binary => {
                all(&raw, "base64", |v| is_base64(v).then_some(()))?;
                Values::Text(raw.iter().map(|v| v.as_str().into()).collect())
            }
            Test::Ip => Values::Networks(all(&raw, "an IP address or CIDR range", parse_network)?),
            Test::Arn => {
                if let Some(index) = raw.iter().position(|v| v == "*") {
                    return Err((
                        index,
                        "`*` alone is not an ARN pattern, and AWS does not say whether it matches every ARN or none: write `arn:*:*:*:*:*` for every ARN, or test that the key exists with `Null`".into(),
                    ));
                }
                all(&raw, "an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, wildcards allowed)", |v| {
                    (v.starts_with("arn:") && v.split(':').count() >= 6).then_some(())
                })?;
                Values::Arns(raw.iter().map(|v| ArnGlob::new(v)).collect())
            }
        };
        Ok(Condition {
            operator_name: operator_name.to_string(),
            key_name: key_name.to_string(),
            key: key_name.to_ascii_lowercase(),
            raw_values: raw,
            operator,
            values,
        })
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// `StringLike` on `s3:prefix` with `["home/alice/*"]`, for messages.
    pub fn describe(&self) -> String {
        let values: Vec<String> = self.raw_values.iter().map(|v| format!("\"{v}\"")).collect();
        format!("{} {{\"{}\": [{}]}}", self.operator_name, self.key_name, values.join(", "))
    }

    /// Does one value of the request match one of the policy's values (before negation)?
    fn matches(&self, value: &str) -> bool {
        match (&self.values, self.operator.test) {
            (Values::Text(list), _) => list.iter().any(|v| **v == *value),
            (Values::Lowercase(list), _) => {
                let lower = value.to_lowercase();
                list.contains(&lower)
            }
            (Values::Globs(list), _) => list.iter().any(|g| g.matches(value)),
            (Values::Numbers(list), Test::Numeric(order)) => value
                .trim()
                .parse::<f64>()
                .ok()
                .is_some_and(|n| list.iter().any(|v| n.partial_cmp(v).is_some_and(|o| order.holds(o)))),
            (Values::Dates(list), Test::Date(order)) => {
                parse_date(value).is_some_and(|d| list.iter().any(|v| order.holds(d.cmp(v))))
            }
            (Values::Bools(list), _) => parse_bool(value).is_some_and(|b| list.contains(&b)),
            (Values::Networks(list), _) => {
                value.trim().parse::<IpAddr>().is_ok_and(|ip| list.iter().any(|net| net.contains(&ip)))
            }
            (Values::Arns(list), _) => list.iter().any(|p| p.matches(value)),
            _ => false,
        }
    }

    /// Evaluates the condition on the request's value(s) of its key.
    pub fn evaluate(&self, found: Found<'_>) -> Truth {
        let values = match found {
            Found::Unknown => return Truth::Unknown,
            Found::Values(values) if !values.is_empty() => Some(values),
            _ => None,
        };
        let op = self.operator;
        if op.test == Test::Null {
            // `true`: holds when the key is absent; `false`: when it is present.
            let absent = values.is_none();
            return Truth::from(matches!(&self.values, Values::Bools(list) if list.contains(&absent)));
        }
        let Some(values) = values else {
            return match op.qualifier {
                SetQualifier::ForAllValues => Truth::True,
                // `ForAnyValue:` fails on a missing key and `IfExists` holds on one; AWS
                // does not say which wins.
                SetQualifier::ForAnyValue if op.if_exists => Truth::Unsettled,
                SetQualifier::ForAnyValue => Truth::False,
                SetQualifier::None => Truth::from(op.if_exists || op.negated),
            };
        };
        // A value "matches" when it matches one of the policy's values, or for a negated
        // operator, none of them.
        let fits = |value: &String| self.matches(value) != op.negated;
        Truth::from(match op.qualifier {
            SetQualifier::ForAllValues => values.iter().all(fits),
            SetQualifier::ForAnyValue => values.iter().any(fits),
            SetQualifier::None if op.negated => values.iter().all(fits),
            SetQualifier::None => values.iter().any(fits),
        })
    }
}

/// A condition's result. The two kinds of doubt decide alike: an allow statement whose
/// condition is in doubt does not apply, a deny statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Truth {
    #[default]
    True,
    False,
    /// On a value awsgate tried and failed to learn (a tag look-up).
    Unknown,
    /// Where AWS's documentation admits two readings and they differ.
    Unsettled,
}

impl Truth {
    pub fn in_doubt(self) -> bool {
        matches!(self, Truth::Unknown | Truth::Unsettled)
    }
}

impl From<bool> for Truth {
    fn from(value: bool) -> Truth {
        if value { Truth::True } else { Truth::False }
    }
}

/// What the request context holds for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found<'a> {
    Missing,
    Values(&'a [String]),
    /// awsgate tried to learn the value and could not (a failed tag look-up).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Known {
    Values(Vec<String>),
    Unknown,
    /// Known to the gate but left out of the record (no statement tested it, and it came
    /// from the call's arguments or a look-up): judged as unknown, and `audit replay` says a
    /// candidate that tests it cannot be judged exactly.
    Unrecorded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// Lowercase key, or a lowercase key prefix when `prefix`.
    key: String,
    prefix: bool,
    /// The request's resource (index) the entry belongs to; `None` for all of them.
    resource: Option<usize>,
    value: Known,
}

/// The request context: the condition keys of one call and their values. Keys are
/// case-insensitive. Some entries belong to one resource of the call (its tags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    entries: Vec<Entry>,
}

/// An empty context, for requests with no keys.
pub static EMPTY_CONTEXT: Context = Context { entries: Vec::new() };

impl Context {
    pub fn new() -> Context {
        Context::default()
    }

    /// Sets a key for every resource of the call; a later value replaces an earlier one.
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        self.put(Entry { key: key.to_ascii_lowercase(), prefix: false, resource: None, value: Known::Values(values) });
    }

    /// Adds one more value to a key (multi-valued keys, `simulate --context` repeated).
    pub fn add(&mut self, key: &str, value: String) {
        let key = key.to_ascii_lowercase();
        if let Some(Entry { value: Known::Values(values), .. }) =
            self.entries.iter_mut().find(|e| e.key == key && !e.prefix && e.resource.is_none())
        {
            values.push(value);
        } else {
            self.set(&key, vec![value]);
        }
    }

    /// Sets a key for one resource of the call (its tags).
    pub fn set_for(&mut self, resource: usize, key: &str, values: Vec<String>) {
        self.put(Entry {
            key: key.to_ascii_lowercase(),
            prefix: false,
            resource: Some(resource),
            value: Known::Values(values),
        });
    }

    /// Marks every key starting with `prefix` as unknown, for one resource or (`None`) all
    /// of them: awsgate tried to learn them and could not, or cannot read them from the call.
    pub fn set_unknown(&mut self, resource: Option<usize>, prefix: &str) {
        self.put(Entry { key: prefix.to_ascii_lowercase(), prefix: true, resource, value: Known::Unknown });
    }

    fn put(&mut self, entry: Entry) {
        self.entries.retain(|e| !(e.key == entry.key && e.prefix == entry.prefix && e.resource == entry.resource));
        self.entries.push(entry);
    }

    /// The value(s) of `key` (lowercase) for the request's resource `resource`.
    pub fn get(&self, key: &str, resource: usize) -> Found<'_> {
        match self.known(key, resource) {
            Some(Known::Values(values)) => Found::Values(values),
            Some(Known::Unknown | Known::Unrecorded) => Found::Unknown,
            None => Found::Missing,
        }
    }

    /// What the context holds for `key` (lowercase) of resource `resource`: the entry of
    /// that resource if there is one, else the last entry for every resource.
    fn known(&self, key: &str, resource: usize) -> Option<&Known> {
        let mut general = None;
        for entry in &self.entries {
            let named = if entry.prefix { key.starts_with(&entry.key) } else { entry.key == key };
            if !named {
                continue;
            }
            match entry.resource {
                Some(r) if r == resource => return Some(&entry.value),
                Some(_) => {}
                None => general = Some(&entry.value),
            }
        }
        general
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Marks every key starting with `prefix` as left out of the record.
    pub fn set_unrecorded(&mut self, resource: Option<usize>, prefix: &str) {
        self.put(Entry { key: prefix.to_ascii_lowercase(), prefix: true, resource, value: Known::Unrecorded });
    }

    /// Was `key` (lowercase) of resource `resource` left out of the record?
    pub fn is_unrecorded(&self, key: &str, resource: usize) -> bool {
        self.known(key, resource) == Some(&Known::Unrecorded)
    }

    /// Does the context leave anything out?
    pub fn leaves_out(&self) -> bool {
        self.entries.iter().any(|e| e.value == Known::Unrecorded)
    }

    /// The context as the decision record keeps it: the values of the keys `kept` says yes
    /// to; every other key with values is kept by name only, as unrecorded.
    pub fn recorded(&self, kept: impl Fn(&str) -> bool) -> Context {
        let entries = self
            .entries
            .iter()
            .map(|entry| match &entry.value {
                Known::Values(_) if !kept(&entry.key) => Entry { value: Known::Unrecorded, ..entry.clone() },
                _ => entry.clone(),
            })
            .collect();
        Context { entries }
    }

    /// The keys and values that hold for every resource.
    pub fn values(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().filter_map(|e| match (&e.value, e.prefix) {
            (Known::Values(values), false) => Some((e.key.as_str(), values.as_slice())),
            _ => None,
        })
    }
}

/// Does a decision record keep this key's values even when no statement tests it? The
/// global keys about the request and its principal (`aws:SourceIp`, `aws:CurrentTime`,
/// `aws:PrincipalArn`, ...) yes; tags (`aws:ResourceTag/...`, `aws:RequestTag/...`,
/// `aws:PrincipalTag/...`), the request's tag keys and every service key come from the
/// resources and arguments, and their values can be secrets: only a tested one is kept.
pub fn recorded_untested(key: &str) -> bool {
    key.starts_with("aws:") && !key.contains('/') && key != "aws:tagkeys"
}

/// One entry of a context as a decision record carries it: a key (or a key prefix) with
/// its values, or without values when awsgate could not learn them; for one resource of the
/// call (by its index in `resources`) or for all.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Recorded {
    key: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    prefix: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<usize>,
    /// Absent: unknown (or not recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    values: Option<Vec<String>>,
    /// `false`: the gate knew it but the record leaves it out.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    recorded: bool,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// The context as the decision record writes it, so that `audit replay` judges the very
/// keys and values the gate saw.
impl serde::Serialize for Context {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.entries.len()))?;
        for entry in &self.entries {
            seq.serialize_element(&Recorded {
                key: entry.key.clone(),
                prefix: entry.prefix,
                resource: entry.resource,
                values: match &entry.value {
                    Known::Values(values) => Some(values.clone()),
                    Known::Unknown | Known::Unrecorded => None,
                },
                recorded: entry.value != Known::Unrecorded,
            })?;
        }
        seq.end()
    }
}

impl<'de> serde::Deserialize<'de> for Context {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Context, D::Error> {
        let recorded = Vec::<Recorded>::deserialize(deserializer)?;
        let mut context = Context::new();
        for entry in recorded {
            context.put(Entry {
                key: entry.key.to_ascii_lowercase(),
                prefix: entry.prefix,
                resource: entry.resource,
                value: match (entry.values, entry.recorded) {
                    (Some(values), _) => Known::Values(values),
                    (None, true) => Known::Unknown,
                    (None, false) => Known::Unrecorded,
                },
            });
        }
        Ok(context)
    }
}

/// Evaluates a statement's conditions: `True` when all hold, else the first that does
/// not (`False` before `Unknown`), as its index.
pub fn evaluate_all(conditions: &[Condition], context: &Context, resource: usize) -> (Truth, Option<usize>) {
    let mut doubt = None;
    for (index, condition) in conditions.iter().enumerate() {
        match condition.evaluate(context.get(&condition.key, resource)) {
            Truth::True => {}
            Truth::False => return (Truth::False, Some(index)),
            truth => {
                doubt.get_or_insert((truth, index));
            }
        }
    }
    match doubt {
        Some((truth, index)) => (truth, Some(index)),
        None => (Truth::True, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w3c_dates_may_leave_out_the_seconds() {
        assert_eq!(parse_date("2026-03-01T12:01Z"), parse_date("2026-03-01T12:01:00Z"));
        assert_eq!(parse_date("2026-03-01T12:01+02:00"), parse_date("2026-03-01T10:01:00Z"));
        assert!(parse_date("2026-03-01T12:01:00Z").is_some());
        assert_eq!(parse_date("2026-03-01T12Z"), None);
    }

    fn condition(operator: &str, key: &str, values: &[&str]) -> Condition {
        let op = Operator::parse(operator).unwrap();
        Condition::new(operator, op, key, values.iter().map(|v| v.to_string()).collect()).unwrap()
    }

    fn on(c: &Condition, values: &[&str]) -> Truth {
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        c.evaluate(Found::Values(&values))
    }

    #[test]
    fn missing_keys_follow_iam() {
        use Truth::{False, True, Unsettled};
        assert_eq!(condition("StringEquals", "k", &["a"]).evaluate(Found::Missing), False);
        assert_eq!(condition("StringNotEquals", "k", &["a"]).evaluate(Found::Missing), True);
        assert_eq!(condition("StringEqualsIfExists", "k", &["a"]).evaluate(Found::Missing), True);
        assert_eq!(condition("ForAllValues:StringEquals", "k", &["a"]).evaluate(Found::Missing), True);
        assert_eq!(condition("ForAnyValue:StringEquals", "k", &["a"]).evaluate(Found::Missing), False);
        assert_eq!(condition("ForAnyValue:StringEqualsIfExists", "k", &["a"]).evaluate(Found::Missing), Unsettled);
        assert_eq!(condition("Null", "k", &["true"]).evaluate(Found::Missing), True);
        assert_eq!(condition("Null", "k", &["false"]).evaluate(Found::Missing), False);
        assert_eq!(condition("Null", "k", &["false"]).evaluate(Found::Values(&["x".into()])), True);
        assert_eq!(condition("StringEquals", "k", &["a"]).evaluate(Found::Unknown), Truth::Unknown);
    }

    #[test]
    fn operators_of_each_family() {
        use Truth::{False, True};
        assert_eq!(on(&condition("StringLike", "k", &["home/*/x?"]), &["home/a:b/xy"]), True);
        assert_eq!(on(&condition("StringEqualsIgnoreCase", "k", &["ABC"]), &["abc"]), True);
        assert_eq!(on(&condition("StringNotEquals", "k", &["a", "b"]), &["b"]), False);
        assert_eq!(on(&condition("NumericLessThanEquals", "k", &["10"]), &["10"]), True);
        assert_eq!(on(&condition("NumericGreaterThan", "k", &["10"]), &["abc"]), False);
        assert_eq!(on(&condition("DateLessThan", "k", &["2026-01-01T00:00:00Z"]), &["1767225599"]), True);
        assert_eq!(on(&condition("DateGreaterThanEquals", "k", &["2026-01-01"]), &["2026-01-01T00:00:00Z"]), True);
        assert_eq!(on(&condition("Bool", "k", &["true"]), &["TRUE"]), True);
        assert_eq!(on(&condition("IpAddress", "k", &["10.0.0.0/8"]), &["10.1.2.3"]), True);
        assert_eq!(on(&condition("IpAddress", "k", &["2001:db8::/32"]), &["2001:db8::1"]), True);
        assert_eq!(on(&condition("NotIpAddress", "k", &["10.0.0.0/8"]), &["192.168.0.1"]), True);
        assert_eq!(on(&condition("ArnLike", "k", &["arn:aws:iam::*:role/a*"]), &["arn:aws:iam::1:role/ab"]), True);
        assert_eq!(on(&condition("ForAllValues:StringEquals", "k", &["a", "b"]), &["a", "c"]), False);
        assert_eq!(on(&condition("ForAnyValue:StringEquals", "k", &["a", "b"]), &["c", "a"]), True);
        assert_eq!(on(&condition("ForAllValues:StringNotEquals", "k", &["a"]), &["b", "c"]), True);
    }

    #[test]
    fn a_context_reads_back_as_it_was_recorded() {
        let mut context = Context::new();
        context.set("aws:RequestedRegion", vec!["us-east-1".into()]);
        context.set("dynamodb:LeadingKeys", vec!["bob@example.com".into()]);
        context.set_for(1, "s3:ExistingObjectTag/class", vec!["secret".into()]);
        context.set_unknown(None, "aws:principalarn");
        context.set_unrecorded(Some(0), "aws:resourcetag/");
        let text = serde_json::to_string(&context).unwrap();
        let back: Context = serde_json::from_str(&text).unwrap();
        assert_eq!(back, context);
        // What the record keeps: the kept keys' values; the others by name only.
        context.set_for(0, "aws:ResourceTag/apikey", vec!["TAGSECRET".into()]);
        let kept = context.recorded(recorded_untested);
        let text = serde_json::to_string(&kept).unwrap();
        assert!(!text.contains("bob@example.com") && !text.contains("TAGSECRET"), "{text}");
        assert!(kept.is_unrecorded("aws:resourcetag/apikey", 0));
        assert!(kept.is_unrecorded("dynamodb:leadingkeys", 0) && kept.leaves_out());
        assert_eq!(kept.get("dynamodb:leadingkeys", 0), Found::Unknown);
        assert_eq!(kept.get("aws:requestedregion", 0), Found::Values(&["us-east-1".to_string()]));
        assert!(kept.is_unrecorded("aws:resourcetag/team", 0) && !kept.is_unrecorded("aws:resourcetag/team", 1));
        assert!(!kept.is_unrecorded("aws:principalarn", 0));
    }

    #[test]
    fn operator_errors_are_clear() {
        assert!(Operator::parse("StringEqual").unwrap_err().contains("unknown condition operator"));
        assert!(Operator::parse("NullIfExists").unwrap_err().contains("Null"));
        let bad = Condition::new("Bool", Operator::parse("Bool").unwrap(), "k", vec!["yes".into()]);
        assert!(bad.unwrap_err().1.contains("`yes` is not `true` or `false`"));
    }
}
