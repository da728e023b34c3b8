//! The AWS service models of the 14 services, as the sidecar reads requests by them:
//! each operation with its HTTP binding and the top-level members it takes from the path,
//! the query, the headers and the body. The tables under `models/` are generated from
//! botocore's `service-2.json` files by `tools/gen_sidecar_models.py` and checked in; they
//! are parsed once, on first use.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

/// One service's model.
#[derive(Debug, Deserialize)]
pub struct ServiceModel {
    /// The IAM prefix (`cloudwatch`).
    pub service: String,
    /// The SigV4 signing name (`monitoring`).
    pub signing_name: String,
    /// The wire protocols, preferred first.
    pub protocols: Vec<String>,
    /// `X-Amz-Target`'s prefix for the JSON protocols (`DynamoDB_20120810`).
    pub target_prefix: Option<String>,
    pub json_version: Option<String>,
    pub api_version: String,
    pub operations: BTreeMap<String, OperationModel>,
}

/// One operation: its HTTP binding and input members.
#[derive(Debug, Deserialize)]
pub struct OperationModel {
    pub method: String,
    /// The request URI template, `/{Bucket}/{Key+}?uploads`.
    pub uri: String,
    pub members: Vec<Member>,
    #[serde(default)]
    pub deprecated: bool,
}

/// Where a member travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Location {
    Uri,
    Querystring,
    Header,
    /// A header prefix (`x-amz-meta-`): a map.
    Headers,
    Payload,
    Body,
    StatusCode,
}

#[derive(Debug, Deserialize)]
pub struct Member {
    pub name: String,
    pub location: Location,
    /// Its name on the wire: the query parameter, header, path label or body key.
    pub wire: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
}

impl OperationModel {
    /// The member sent in `location` under `wire` (headers compared without case).
    pub fn member(&self, location: Location, wire: &str) -> Option<&Member> {
        self.members.iter().find(|m| {
            m.location == location
                && match location {
                    Location::Header => m.wire.eq_ignore_ascii_case(wire),
                    Location::Headers => wire.to_ascii_lowercase().starts_with(&m.wire.to_ascii_lowercase()),
                    _ => m.wire == wire,
                }
        })
    }

    /// Whether a header, by its lower-case name, is one of this operation's members.
    pub fn takes_header(&self, name: &str) -> bool {
        self.member(Location::Header, name).is_some() || self.member(Location::Headers, name).is_some()
    }

    /// The URI's path, without its fixed query part.
    pub fn path_template(&self) -> &str {
        self.uri.split_once('?').map_or(self.uri.as_str(), |(path, _)| path)
    }

    /// The URI's fixed query part (`?uploads`, `?list-type=2`), the routing hint `x-id`
    /// left out: the sub-resources that select this operation.
    pub fn selectors(&self) -> Vec<(&str, Option<&str>)> {
        let Some((_, query)) = self.uri.split_once('?') else { return Vec::new() };
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (p, None),
            })
            .filter(|(name, _)| *name != "x-id")
            .collect()
    }
}

macro_rules! models {
    ($($prefix:literal),* $(,)?) => {
        static MODELS: LazyLock<Vec<ServiceModel>> = LazyLock::new(|| {
            vec![$(
                serde_json::from_str(include_str!(concat!("models/", $prefix, ".json")))
                    .unwrap_or_else(|e| panic!("the checked-in model {} does not parse: {e}", $prefix)),
            )*]
        });
    };
}

models!(
    "s3",
    "dynamodb",
    "sqs",
    "sns",
    "lambda",
    "secretsmanager",
    "kms",
    "logs",
    "cloudwatch",
    "ssm",
    "ec2",
    "iam",
    "rds",
    "sts",
);

/// The model of the service whose SigV4 signing name is `signing_name`.
pub fn by_signing_name(signing_name: &str) -> Option<&'static ServiceModel> {
    MODELS.iter().find(|m| m.signing_name == signing_name)
}

/// The model of the service whose IAM prefix is `service`.
pub fn by_service(service: &str) -> Option<&'static ServiceModel> {
    MODELS.iter().find(|m| m.service == service)
}

/// Every model, for the conformance tests.
pub fn all() -> &'static [ServiceModel] {
    &MODELS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fourteen_models_load() {
        assert_eq!(all().len(), 14);
        assert_eq!(by_signing_name("monitoring").map(|m| m.service.as_str()), Some("cloudwatch"));
        let s3 = by_service("s3").unwrap();
        let get = &s3.operations["GetObject"];
        assert_eq!(get.member(Location::Querystring, "versionId").map(|m| m.name.as_str()), Some("VersionId"));
        assert!(get.takes_header("range"));
        let put = &s3.operations["PutObject"];
        assert!(put.takes_header("x-amz-meta-owner"));
        assert!(put.takes_header("x-amz-acl"));
        assert_eq!(s3.operations["CreateMultipartUpload"].selectors(), vec![("uploads", None)]);
        assert_eq!(s3.operations["ListObjectsV2"].selectors(), vec![("list-type", Some("2"))]);
    }
}
