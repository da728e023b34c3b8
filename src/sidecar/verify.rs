//! Checks an agent's SigV4 signature (header or presigned query) with the `aws-sigv4`
//! crate: the canonical request is rebuilt from what the agent says it signed, signed
//! with the agent's secret, and the two signatures compared in constant time.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::request::Parts;

use sha2::{Digest, Sha256};

use super::keys::{AgentKey, AgentKeys};
use super::wire::{self, Pairs};

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
    /// The signature's parts could be read more than one way (a field given twice, an
    /// unknown field): refused before anything else is read.
    Unreadable(String),
    /// `x-amz-*` headers the signature does not cover, as AWS refuses them.
    UnsignedHeaders(String),
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
            AuthError::Unreadable(_) => "InvalidRequest",
            AuthError::UnsignedHeaders(_) => "AccessDenied",
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
            AuthError::Unreadable(why) => format!("the signature cannot be read one way only: {why}"),
            AuthError::UnsignedHeaders(names) => {
                format!("there were headers present in the request which were not signed: {names}")
            }
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AuthError::Malformed(_) | AuthError::Unreadable(_) => 400,
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
    /// The region the request was signed for: it is judged in and sent to that region.
    pub region: String,
    /// What the signature says of the body: a SHA-256, `UNSIGNED-PAYLOAD` or a streaming
    /// form. For a buffered body, the SHA-256 of the body received.
    pub content_sha256: Option<String>,
    /// The headers the signature covers, lower case.
    pub signed_headers: Vec<String>,
}

/// The SHA-256 of an empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The signature's parts, from the `Authorization` header or the presigned query, read
/// once: the service they name decides how the body is read, and the same parts are
/// verified.
#[derive(Debug, Clone)]
pub struct Claimed<'a> {
    access_key_id: &'a str,
    date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    signed_headers: Vec<String>,
    signature: &'a str,
    time: &'a str,
    /// `X-Amz-Expires` of a presigned request.
    expires: Option<u64>,
}

impl Claimed<'_> {
    pub fn presigned(&self) -> bool {
        self.expires.is_some()
    }
}

/// The query parameters a presigned request's signature travels in.
pub const PRESIGN_PARAMS: &[&str] =
    &["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"];

/// Reads the signature's parts, exactly: one `Credential`, one `SignedHeaders`, one
/// `Signature`, nothing else. `query` is the request's query, read strictly.
pub fn claim<'a>(parts: &'a Parts, query: &'a Pairs) -> Result<Claimed<'a>, AuthError> {
    let authorization = match wire::one_header(&parts.headers, "authorization") {
        Ok(header) => header,
        Err(why) => return Err(AuthError::Unreadable(why)),
    };
    let presigned = query.has("X-Amz-Signature");
    let sigv2 =
        authorization.is_some_and(|h| h.starts_with("AWS ")) || (query.has("AWSAccessKeyId") && query.has("Signature"));
    if sigv2 {
        return Err(AuthError::Malformed(
            "this is a SigV2 signature; awsgate takes SigV4 only (for boto3's presigned S3 URLs: Config(signature_version=\"s3v4\"))".into(),
        ));
    }
    match (authorization, presigned) {
        (Some(_), true) => {
            Err(AuthError::Unreadable("the request is signed both in its Authorization header and in its query".into()))
        }
        (Some(header), false) => from_header(header, parts),
        (None, true) => from_query(query),
        (None, false) => Err(AuthError::MissingAuthenticationToken),
    }
}

/// Checks the claimed signature. `body` is the whole body when it was buffered (all but
/// S3's streamed bodies): its hash is computed, and an `x-amz-content-sha256` header that
/// disagrees is `SignatureDoesNotMatch`.
pub fn verify<'k>(
    claimed: &Claimed<'_>,
    parts: &Parts,
    body: Option<&[u8]>,
    keys: &'k AgentKeys,
    now: SystemTime,
) -> Result<Signed<'k>, AuthError> {
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
    // Every `x-amz-*` header must be signed, as AWS requires: none rides along unseen.
    let mut unsigned: Vec<&str> = parts
        .headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|name| name.starts_with("x-amz-") && !claimed.signed_headers.iter().any(|h| h == name))
        .collect();
    if !unsigned.is_empty() {
        unsigned.sort_unstable();
        unsigned.dedup();
        return Err(AuthError::UnsignedHeaders(unsigned.join(", ")));
    }
    let s3 = claimed.service == "s3";
    let mut settings = SigningSettings::default();
    settings.excluded_headers = None;
    if s3 {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let content_sha256 =
        wire::one_header(&parts.headers, "x-amz-content-sha256").map_err(AuthError::Unreadable)?.map(str::to_string);
    let uri = match claimed.expires {
        Some(expires) => {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(expires));
            let query = parts.uri.query().unwrap_or_default();
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
    // A buffered body is bound by its own hash: the header, when sent, must agree.
    let body_sha256 = body.map(|b| crate::sidecar::forward::hex(&Sha256::digest(b)));
    if let (Some(actual), Some(claimed_hash)) = (&body_sha256, &content_sha256)
        && claimed.expires.is_none()
        && !claimed_hash.eq_ignore_ascii_case(actual)
    {
        return Err(AuthError::SignatureDoesNotMatch);
    }
    let signable_body = match (&content_sha256, claimed.expires, &body_sha256) {
        (_, Some(_), _) => SignableBody::UnsignedPayload,
        (Some(hash), None, _) => SignableBody::Precomputed(hash.clone()),
        (None, None, Some(actual)) => SignableBody::Precomputed(actual.clone()),
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
    let content_sha256 = match (body_sha256, content_sha256, claimed.expires) {
        (Some(actual), _, _) => Some(actual),
        (None, None, None) if s3 => Some(EMPTY_SHA256.to_string()),
        (None, None, Some(_)) if s3 => Some("UNSIGNED-PAYLOAD".to_string()),
        (None, other, _) => other,
    };
    Ok(Signed {
        key,
        service: claimed.service.to_string(),
        region: claimed.region.to_string(),
        content_sha256,
        signed_headers: claimed.signed_headers.clone(),
    })
}

/// `AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=HEX`
fn from_header<'a>(header: &'a str, parts: &'a Parts) -> Result<Claimed<'a>, AuthError> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        AuthError::Malformed(
            "awsgate takes AWS4-HMAC-SHA256 signatures (SigV4); SigV2 and SigV4a are not accepted".into(),
        )
    })?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for field in rest.split(',') {
        let field = field.trim_start_matches(' ');
        let Some((name, value)) = field.split_once('=') else {
            return Err(AuthError::Unreadable(format!(
                "the Authorization header has a field `{}` that is not NAME=VALUE",
                wire::printable(field)
            )));
        };
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            other => {
                return Err(AuthError::Unreadable(format!(
                    "the Authorization header has a field `{}`; it takes Credential, SignedHeaders and Signature only",
                    wire::printable(other)
                )));
            }
        };
        if value.contains([' ', '=']) || slot.replace(value).is_some() {
            return Err(AuthError::Unreadable(format!("the Authorization header gives `{name}` more than once")));
        }
    }
    let missing = |what: &str| AuthError::Malformed(format!("the Authorization header has no {what}"));
    let (access_key_id, date, region, service) = scope(credential.ok_or_else(|| missing("Credential"))?)?;
    let time = wire::one_header(&parts.headers, "x-amz-date")
        .map_err(AuthError::Unreadable)?
        .ok_or_else(|| AuthError::Malformed("the request has no X-Amz-Date header".into()))?;
    Ok(Claimed {
        access_key_id,
        date,
        region,
        service,
        signed_headers: signed_header_list(signed_headers.ok_or_else(|| missing("SignedHeaders"))?)?,
        signature: hex_signature(signature.ok_or_else(|| missing("Signature"))?)?,
        time,
        expires: None,
    })
}

fn from_query(params: &Pairs) -> Result<Claimed<'_>, AuthError> {
    let get = |name: &str| {
        params.get(name).ok_or_else(|| AuthError::Malformed(format!("the presigned request has no {name}")))
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
        signed_headers: signed_header_list(get("X-Amz-SignedHeaders")?)?,
        signature: hex_signature(get("X-Amz-Signature")?)?,
        time: get("X-Amz-Date")?,
        expires: Some(expires),
    })
}

/// `host;x-amz-date`: lower case, sorted, each once.
fn signed_header_list(text: &str) -> Result<Vec<String>, AuthError> {
    let names: Vec<String> = text.split(';').map(str::to_string).collect();
    let well_formed = names.iter().all(|n| {
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    });
    if !well_formed || names.windows(2).any(|w| w[0] >= w[1]) {
        return Err(AuthError::Unreadable(
            "SignedHeaders must be lower-case header names, sorted, each once, separated by `;`".into(),
        ));
    }
    Ok(names)
}

/// 64 lower-case hex digits.
fn hex_signature(text: &str) -> Result<&str, AuthError> {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(text)
    } else {
        Err(AuthError::Malformed("the Signature is not 64 lower-case hex digits".into()))
    }
}

/// `ID/DATE/REGION/SERVICE/aws4_request`
fn scope(credential: &str) -> Result<(&str, &str, &str, &str), AuthError> {
    match credential.split('/').collect::<Vec<_>>().as_slice() {
        [id, date, region, service, "aws4_request"]
            if [id, date, region, service].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_graphic())) =>
        {
            Ok((id, date, region, service))
        }
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
