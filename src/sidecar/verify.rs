//! Checks an agent's SigV4 signature (header or presigned query) with the `aws-sigv4`
//! crate: the canonical request is rebuilt from what the agent says it signed, signed
//! with the agent's secret, and the two signatures compared in constant time.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::request::Parts;

use super::keys::{AgentKey, AgentKeys};

/// How far a request's time may be from awsgate's clock, as AWS allows.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The longest a presigned URL may be valid, as AWS allows (seven days).
const MAX_EXPIRES: u64 = 7 * 24 * 3600;

/// Why a request's signature was not accepted, with AWS's error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    MissingAuthenticationToken,
    InvalidAccessKeyId,
    SignatureDoesNotMatch,
    RequestTimeTooSkewed,
    /// A presigned URL past its expiry.
    Expired,
    /// The signature's parts cannot be read.
    Malformed(String),
}

impl AuthError {
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingAuthenticationToken => "MissingAuthenticationToken",
            AuthError::InvalidAccessKeyId => "InvalidAccessKeyId",
            AuthError::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            AuthError::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            AuthError::Expired => "AccessDenied",
            AuthError::Malformed(_) => "IncompleteSignature",
        }
    }

    pub fn message(&self) -> String {
        match self {
            AuthError::MissingAuthenticationToken => {
                "the request is not signed: awsgate's sidecar takes requests signed (SigV4) with an agent key from `awsgate agent-key new`".into()
            }
            AuthError::InvalidAccessKeyId => "the access key id is not one of awsgate's agent keys".into(),
            AuthError::SignatureDoesNotMatch => {
                "the signature does not match: check the agent key's secret and that nothing rewrote the request".into()
            }
            AuthError::RequestTimeTooSkewed => {
                format!("the request's time is more than {} minutes from awsgate's clock", MAX_SKEW.as_secs() / 60)
            }
            AuthError::Expired => "the presigned request has expired".into(),
            AuthError::Malformed(why) => format!("the signature cannot be read: {why}"),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AuthError::Malformed(_) => 400,
            _ => 403,
        }
    }
}

/// What the signature says, once checked.
#[derive(Debug, Clone)]
pub struct Signed<'k> {
    pub key: &'k AgentKey,
    /// The signing name (`s3`, `dynamodb`, `monitoring`...), from the credential scope.
    pub service: String,
    /// What the signature says of the body: a SHA-256, `UNSIGNED-PAYLOAD` or a streaming
    /// form. `None` for the JSON and query protocols, whose bodies were hashed whole.
    pub content_sha256: Option<String>,
}

/// The SHA-256 of an empty body.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The signature's parts, from the `Authorization` header or the presigned query.
struct Claimed<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<String>,
    signature: &'a str,
    time: &'a str,
    /// `X-Amz-Expires` of a presigned request.
    expires: Option<u64>,
}

/// The query parameters a presigned request's signature travels in.
pub const PRESIGN_PARAMS: &[&str] =
    &["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"];

/// Checks `parts`' signature. `body` is the whole body when the agent did not send
/// `x-amz-content-sha256` (the JSON and query protocols), so its hash can be computed.
pub fn verify<'k>(
    parts: &Parts,
    body: Option<&[u8]>,
    keys: &'k AgentKeys,
    now: SystemTime,
) -> Result<Signed<'k>, AuthError> {
    let authorization = parts.headers.get(http::header::AUTHORIZATION).map(|v| v.to_str().unwrap_or_default());
    let query = parts.uri.query().unwrap_or_default();
    let params: Vec<(Cow<'_, str>, Cow<'_, str>)> = form_urlencoded_pairs(query);
    let presigned = params.iter().any(|(k, _)| k == "X-Amz-Signature");
    let sigv2 = authorization.is_some_and(|h| h.starts_with("AWS "))
        || (params.iter().any(|(k, _)| k == "AWSAccessKeyId") && params.iter().any(|(k, _)| k == "Signature"));
    if sigv2 {
        return Err(AuthError::Malformed(
            "this is a SigV2 signature; awsgate takes SigV4 only (for boto3's presigned S3 URLs: Config(signature_version=\"s3v4\"))".into(),
        ));
    }
    let claimed = match (authorization, presigned) {
        (Some(header), _) => from_header(header, parts)?,
        (None, true) => from_query(&params)?,
        (None, false) => return Err(AuthError::MissingAuthenticationToken),
    };
    let key = keys.get(claimed.access_key_id).ok_or(AuthError::InvalidAccessKeyId)?;
    // SigV4 always signs the host; without it the canonical request cannot be rebuilt.
    if !claimed.signed_headers.iter().any(|h| h == "host") {
        return Err(AuthError::SignatureDoesNotMatch);
    }
    let time = parse_time(claimed.time)?;
    if !claimed.time.starts_with(claimed.date) {
        return Err(AuthError::SignatureDoesNotMatch);
    }
    match claimed.expires {
        None => {
            let skew = now.duration_since(time).or_else(|e| Ok::<_, ()>(e.duration())).unwrap_or_default();
            if skew > MAX_SKEW {
                return Err(AuthError::RequestTimeTooSkewed);
            }
        }
        Some(expires) => {
            if time.duration_since(now).is_ok_and(|ahead| ahead > MAX_SKEW) {
                return Err(AuthError::RequestTimeTooSkewed);
            }
            if now > time + Duration::from_secs(expires) {
                return Err(AuthError::Expired);
            }
        }
    }
    let s3 = claimed.service == "s3";
    let mut settings = SigningSettings::default();
    settings.excluded_headers = None;
    if s3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let content_sha256 = parts.headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()).map(str::to_string);
    let uri = match claimed.expires {
        Some(expires) => {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(expires));
            let kept: Vec<&str> = query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .filter(|pair| !PRESIGN_PARAMS.contains(&pair.split('=').next().unwrap_or_default()))
                .collect();
            let path = parts.uri.path();
            if kept.is_empty() { path.to_string() } else { format!("{path}?{}", kept.join("&")) }
        }
        None => parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
    };
    let signable_body = match (&content_sha256, claimed.expires, body) {
        (_, Some(_), _) => SignableBody::UnsignedPayload,
        (Some(hash), None, _) => SignableBody::Precomputed(hash.clone()),
        (None, None, Some(body)) => SignableBody::Bytes(body),
        (None, None, None) => SignableBody::Bytes(&[]),
    };
    let mut headers = Vec::with_capacity(claimed.signed_headers.len());
    for name in &claimed.signed_headers {
        let values = parts.headers.get_all(name.as_str());
        let mut any = false;
        for value in values {
            any = true;
            headers.push((name.as_str(), value.to_str().map_err(|_| AuthError::SignatureDoesNotMatch)?));
        }
        if !any && name != "host" {
            return Err(AuthError::SignatureDoesNotMatch);
        }
    }
    let request = SignableRequest::new(parts.method.as_str(), uri, headers.into_iter(), signable_body)
        .map_err(|_| AuthError::SignatureDoesNotMatch)?;
    let identity: Identity =
        aws_credential_types::Credentials::new(&key.access_key_id, key.secret(), None, None, "agent-key").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(claimed.region)
        .name(claimed.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|_| AuthError::SignatureDoesNotMatch)?
        .into();
    let output = sign(request, &params).map_err(|_| AuthError::SignatureDoesNotMatch)?;
    if !same(output.signature().as_bytes(), claimed.signature.as_bytes()) {
        return Err(AuthError::SignatureDoesNotMatch);
    }
    // A header-signed S3 request without `x-amz-content-sha256` signed an empty body (the
    // canonical request above used one): whatever body comes is checked against that.
    let content_sha256 = match (content_sha256, claimed.expires) {
        (None, None) if s3 => Some(EMPTY_SHA256.to_string()),
        (None, Some(_)) if s3 => Some("UNSIGNED-PAYLOAD".to_string()),
        (other, _) => other,
    };
    Ok(Signed { key, service: claimed.service.to_string(), content_sha256 })
}

/// `AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=HEX`
fn from_header<'a>(header: &'a str, parts: &'a Parts) -> Result<Claimed<'a>, AuthError> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256").ok_or_else(|| {
        AuthError::Malformed(
            "awsgate takes AWS4-HMAC-SHA256 signatures (SigV4); SigV2 and SigV4a are not accepted".into(),
        )
    })?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for field in rest.split(',') {
        match field.trim().split_once('=') {
            Some(("Credential", value)) => credential = Some(value),
            Some(("SignedHeaders", value)) => signed_headers = Some(value),
            Some(("Signature", value)) => signature = Some(value),
            _ => {}
        }
    }
    let missing = |what: &str| AuthError::Malformed(format!("the Authorization header has no {what}"));
    let (access_key_id, date, region, service) = scope(credential.ok_or_else(|| missing("Credential"))?)?;
    let time = parts
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AuthError::Malformed("the request has no X-Amz-Date header".into()))?;
    Ok(Claimed {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed_headers
            .ok_or_else(|| missing("SignedHeaders"))?
            .split(';')
            .map(str::to_string)
            .collect(),
        signature: signature.ok_or_else(|| missing("Signature"))?,
        time,
        expires: None,
    })
}

fn from_query<'a>(params: &'a [(Cow<'a, str>, Cow<'a, str>)]) -> Result<Claimed<'a>, AuthError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
            .ok_or_else(|| AuthError::Malformed(format!("the presigned request has no {name}")))
    };
    if get("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
        return Err(AuthError::Malformed("awsgate takes AWS4-HMAC-SHA256 presigned requests".into()));
    }
    let (access_key_id, date, region, service) = scope(get("X-Amz-Credential")?)?;
    let expires: u64 = get("X-Amz-Expires")?.parse().ok().filter(|e| *e <= MAX_EXPIRES).ok_or_else(|| {
        AuthError::Malformed(format!("X-Amz-Expires must be a number of seconds up to {MAX_EXPIRES}"))
    })?;
    Ok(Claimed {
        access_key_id,
        date,
        region,
        service,
        signed_headers: get("X-Amz-SignedHeaders")?.split(';').map(str::to_string).collect(),
        signature: get("X-Amz-Signature")?,
        time: get("X-Amz-Date")?,
        expires: Some(expires),
    })
}

/// `ID/DATE/REGION/SERVICE/aws4_request`
fn scope(credential: &str) -> Result<(&str, &str, &str, &str), AuthError> {
    match credential.split('/').collect::<Vec<_>>().as_slice() {
        [id, date, region, service, "aws4_request"] => Ok((id, date, region, service)),
        _ => Err(AuthError::Malformed("the Credential is not ID/DATE/REGION/SERVICE/aws4_request".into())),
    }
}

/// `20260101T120000Z`
fn parse_time(text: &str) -> Result<SystemTime, AuthError> {
    let bad = || {
        AuthError::Malformed(format!("`{}` is not a time like 20260101T120000Z", crate::catalog::args::printable(text)))
    };
    let format = time::format_description::parse_borrowed::<2>("[year][month][day]T[hour][minute][second]Z")
        .map_err(|_| bad())?;
    let parsed = time::PrimitiveDateTime::parse(text, &format).map_err(|_| bad())?;
    Ok(SystemTime::from(parsed.assume_utc()))
}

/// Compares in time that does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The query's pairs, percent-decoded (`+` is a space, as in forms).
pub fn form_urlencoded_pairs(query: &str) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> Cow<'_, str> {
    if !text.contains(['%', '+']) {
        return Cow::Borrowed(text);
    }
    let spaced = text.replace('+', " ");
    Cow::Owned(percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
}
