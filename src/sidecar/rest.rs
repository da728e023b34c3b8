//! Which operation of a REST service (S3, Lambda) a request is, by the service model's
//! HTTP bindings: the method, the path against each operation's URI template, the
//! sub-resources that select it, and the members it takes. A request that no operation
//! takes whole, or that two could be, is refused with the reason.

use super::model::{Location, OperationModel, ServiceModel};
use super::wire::{self, Pairs, Plus};

/// A request matched to one operation, with the values of its path labels.
#[derive(Debug)]
pub struct Matched {
    pub name: &'static str,
    pub model: &'static OperationModel,
    /// `(member name, decoded value)` of each path label (`Bucket`, `Key`, `FunctionName`).
    pub labels: Vec<(String, String)>,
}

impl Matched {
    pub fn label(&self, member: &str) -> Option<&str> {
        self.labels.iter().find(|(n, _)| n == member).map(|(_, v)| v.as_str())
    }
}

/// What a request offers to be matched.
pub struct Offer<'a> {
    pub method: &'a str,
    /// The path, still percent-encoded (`/reports/q3%20final.csv`).
    pub path: &'a str,
    /// The query, its signature parameters left out.
    pub query: &'a Pairs,
    /// The `x-amz-*` headers, lower case, that must be members of the operation.
    pub amz_headers: &'a [&'a str],
    /// Other headers present, lower case (a required `Content-MD5`, say).
    pub headers: &'a http::HeaderMap,
}

/// Operations that AWS serves when two operations share a binding (a deprecated twin, an
/// operation of another endpoint).
const PREFERRED: &[&str] = &["ListBuckets"];

/// Finds the one operation of `model` that takes the request whole.
pub fn select(model: &'static ServiceModel, offer: &Offer<'_>) -> Result<Matched, String> {
    let selector_names: Vec<&str> =
        model.operations.values().flat_map(|op| op.selectors().into_iter().map(|(name, _)| name)).collect();
    let mut viable: Vec<Matched> = Vec::new();
    let mut nearest: Option<(usize, String)> = None;
    for (name, op) in &model.operations {
        if !op.method.eq_ignore_ascii_case(offer.method) {
            continue;
        }
        let Some(labels) = match_path(op.path_template(), offer.path)? else { continue };
        let selectors = op.selectors();
        // Every sub-resource that selects this operation is there, and no other.
        let selected =
            selectors.iter().all(|(s, value)| offer.query.get(s).is_some_and(|v| value.is_none_or(|want| want == v)));
        if !selected {
            continue;
        }
        match takes_whole(name, op, &selectors, &selector_names, offer) {
            Ok(()) => viable.push(Matched { name: name.as_str(), model: op, labels }),
            Err(why) => {
                // The closest miss (most selectors matched) explains the refusal best.
                if nearest.as_ref().is_none_or(|(n, _)| selectors.len() > *n) {
                    nearest = Some((selectors.len(), why));
                }
            }
        }
    }
    if viable.len() > 1 {
        viable.retain(|m| !m.model.deprecated);
    }
    if viable.len() > 1
        && let Some(preferred) = viable.iter().position(|m| PREFERRED.contains(&m.name))
    {
        let chosen = viable.swap_remove(preferred);
        viable = vec![chosen];
    }
    match viable.len() {
        1 => Ok(viable.remove(0)),
        0 => Err(nearest.map_or_else(
            || {
                format!(
                    "no {} operation is `{} {}` with these sub-resources",
                    service_name(model),
                    offer.method,
                    offer.path_shape()
                )
            },
            |(_, why)| why,
        )),
        _ => {
            let names: Vec<&str> = viable.iter().map(|m| m.name).collect();
            Err(format!("the request could be any of {}: it is refused rather than guessed", names.join(", ")))
        }
    }
}

impl Offer<'_> {
    fn path_shape(&self) -> String {
        let names: Vec<&str> = self.query.iter().map(|(n, _)| n).collect();
        if names.is_empty() { "PATH".into() } else { format!("PATH?{}", names.join("&")) }
    }
}

fn service_name(model: &ServiceModel) -> &str {
    &model.service
}

/// Whether `op` takes every query parameter and `x-amz-*` header of the request, and has
/// its required ones.
fn takes_whole(
    name: &str,
    op: &OperationModel,
    selectors: &[(&str, Option<&str>)],
    selector_names: &[&str],
    offer: &Offer<'_>,
) -> Result<(), String> {
    for (param, value) in offer.query.iter() {
        if param == "x-id" {
            if value != name {
                return Err(format!(
                    "`x-id={}` names another operation than the request's `{name}`",
                    wire::printable(value)
                ));
            }
            continue;
        }
        if selectors.iter().any(|(s, _)| *s == param) || op.member(Location::Querystring, param).is_some() {
            continue;
        }
        return Err(if selector_names.contains(&param) {
            format!(
                "the sub-resource `{}` does not go with `{name}`: two sub-resources select two operations",
                wire::printable(param)
            )
        } else {
            format!("`{name}` takes no query parameter `{}`", wire::printable(param))
        });
    }
    for header in offer.amz_headers {
        if !op.takes_header(header) {
            return Err(format!("`{name}` takes no header `{header}`"));
        }
    }
    for member in op.members.iter().filter(|m| m.required) {
        let present = match member.location {
            Location::Querystring => offer.query.has(&member.wire),
            Location::Header => offer.headers.contains_key(member.wire.to_ascii_lowercase().as_str()),
            _ => true,
        };
        if !present {
            return Err(format!("`{name}` needs `{}`, which the request does not have", member.wire));
        }
    }
    Ok(())
}

/// The labels of `template` (`/{Bucket}/{Key+}`) in `path`, or `None` when it does not
/// match. Each label's value is percent-decoded strictly; a greedy label takes the rest
/// of the path, its `/` included.
fn match_path(template: &str, path: &str) -> Result<Option<Vec<(String, String)>>, String> {
    let template: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let mut segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    // `/bucket/` is the bucket, as S3 reads it.
    if segments.len() == template.len() + 1
        && segments.last() == Some(&"")
        && !template.iter().any(|t| t.ends_with("+}"))
    {
        segments.pop();
    }
    let mut labels = Vec::new();
    for (i, part) in template.iter().enumerate() {
        if let Some(label) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if let Some(greedy) = label.strip_suffix('+') {
                let rest = segments.get(i..).map(|s| s.join("/")).unwrap_or_default();
                if rest.is_empty() {
                    return Ok(None);
                }
                labels.push((greedy.to_string(), wire::decode(&rest, Plus::Literal, "the path")?));
                return Ok(Some(labels));
            }
            match segments.get(i) {
                Some(segment) if !segment.is_empty() => {
                    labels.push((label.to_string(), wire::decode(segment, Plus::Literal, "the path")?));
                }
                _ => return Ok(None),
            }
        } else if segments.get(i).map(|s| wire::decode(s, Plus::Literal, "the path")).transpose()?.as_deref()
            != Some(*part)
        {
            return Ok(None);
        }
    }
    Ok((segments.len() == template.len()).then_some(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(
        method: &str,
        path: &str,
        query: &str,
        amz: &[&str],
        headers: &[(&str, &str)],
    ) -> Result<&'static str, String> {
        let model = super::super::model::by_service("s3").unwrap();
        let query = Pairs::parse(query, Plus::Refused, "the query").unwrap();
        let mut map = http::HeaderMap::new();
        for (n, v) in headers {
            map.insert(http::HeaderName::from_bytes(n.as_bytes()).unwrap(), v.parse().unwrap());
        }
        let offer = Offer { method, path, query: &query, amz_headers: amz, headers: &map };
        select(model, &offer).map(|m| m.name)
    }

    #[test]
    fn s3_requests_are_one_operation_or_refused() {
        assert_eq!(pick("GET", "/", "", &[], &[]), Ok("ListBuckets"));
        assert_eq!(pick("GET", "/b", "list-type=2&prefix=a", &[], &[]), Ok("ListObjectsV2"));
        assert_eq!(pick("GET", "/b/", "", &[], &[]), Ok("ListObjects"));
        assert_eq!(pick("GET", "/b/k", "", &[], &[]), Ok("GetObject"));
        assert_eq!(pick("GET", "/b/k", "versionId=1", &[], &[]), Ok("GetObject"));
        assert_eq!(pick("GET", "/b/k", "uploadId=u", &[], &[]), Ok("ListParts"));
        assert_eq!(pick("PUT", "/b/k", "x-id=PutObject", &[], &[]), Ok("PutObject"));
        assert!(pick("PUT", "/b/k", "x-id=DeleteObject", &[], &[]).unwrap_err().contains("x-id"));
        let copy = [("x-amz-copy-source", "src/k")];
        assert_eq!(pick("PUT", "/b/k", "", &["x-amz-copy-source"], &copy), Ok("CopyObject"));
        assert_eq!(pick("PUT", "/b/k", "partNumber=1&uploadId=u", &["x-amz-copy-source"], &copy), Ok("UploadPartCopy"));
        assert_eq!(pick("PUT", "/b/k", "partNumber=1&uploadId=u", &[], &[]), Ok("UploadPart"));
        assert_eq!(pick("POST", "/b/k", "uploads", &[], &[]), Ok("CreateMultipartUpload"));
        assert!(pick("POST", "/b/k", "uploads&select", &[], &[]).unwrap_err().contains("two sub-resources"));
        assert!(pick("PUT", "/b/k", "acl&tagging", &["x-amz-acl"], &[]).is_err());
        assert!(pick("GET", "/b/k", "torrent&acl", &[], &[]).is_err());
        assert!(pick("PUT", "/b/k", "", &["x-amz-bogus"], &[]).unwrap_err().contains("x-amz-bogus"));
        assert_eq!(pick("POST", "/b", "delete", &[], &[("content-md5", "x")]), Ok("DeleteObjects"));
        assert_eq!(pick("GET", "/b", "location", &[], &[]), Ok("GetBucketLocation"));
        assert_eq!(pick("DELETE", "/b/k", "uploadId=u", &[], &[]), Ok("AbortMultipartUpload"));
        assert_eq!(pick("DELETE", "/b/k", "versionId=v", &[], &[]), Ok("DeleteObject"));
        assert_eq!(pick("GET", "/b", "analytics&id=x", &[], &[]), Ok("GetBucketAnalyticsConfiguration"));
        assert_eq!(pick("GET", "/b", "analytics", &[], &[]), Ok("ListBucketAnalyticsConfigurations"));
        assert_eq!(pick("GET", "/b", "lifecycle", &[], &[]), Ok("GetBucketLifecycleConfiguration"));
        assert!(pick("GET", "/b/k%zz", "", &[], &[]).unwrap_err().contains("hex"));
    }
}
