//! Sends an allowed request on to AWS (or `AWS_ENDPOINT_URL`), signed afresh with
//! awsgate's own credentials, streaming the body both ways.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::operation::Forward;
use crate::aws::{AwsFailure, RENEW_BEFORE_EXPIRY, Scope};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type SidecarBody = BoxBody<Bytes, BoxError>;

/// Where allowed requests go, and the credentials they are signed with.
pub struct Upstream {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, SidecarBody>,
    /// `AWS_ENDPOINT_URL` (a local emulator), else each service's AWS endpoint.
    endpoint: Option<String>,
    /// Replaced when a reload changes the role's session policy.
    credentials: std::sync::RwLock<SharedCredentialsProvider>,
    cached: Mutex<Option<Credentials>>,
    scope: Scope,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

/// The request body, as it goes on.
pub enum Payload {
    /// Buffered (JSON and query protocols): signed with its hash.
    Bytes(Bytes),
    /// Streamed (S3); `content_sha256` is what the agent signed.
    Stream { body: SidecarBody, content_sha256: Option<String> },
}

pub use crate::aws::https_connector;

impl Upstream {
    pub fn new(
        endpoint: Option<String>,
        credentials: SharedCredentialsProvider,
        scope: Scope,
    ) -> Result<Upstream, String> {
        let https = https_connector()?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build(https);
        Ok(Upstream {
            client,
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
            credentials: std::sync::RwLock::new(credentials),
            cached: Mutex::new(None),
            scope,
        })
    }

    /// Signs with `credentials` from now on (a reload changed the session policy).
    pub async fn set_credentials(&self, credentials: SharedCredentialsProvider) {
        let mut cached = self.cached.lock().await;
        *cached = None;
        match self.credentials.write() {
            Ok(mut current) => *current = credentials,
            Err(poisoned) => *poisoned.into_inner() = credentials,
        }
    }

    /// Credentials, renewed before they expire; one look-up at a time.
    async fn credentials(&self) -> Result<Credentials, AwsFailure> {
        let mut cached = self.cached.lock().await;
        let fresh = |c: &Credentials| c.expiry().is_none_or(|at| at > SystemTime::now() + RENEW_BEFORE_EXPIRY);
        if let Some(credentials) = cached.as_ref().filter(|c| fresh(c)) {
            return Ok(credentials.clone());
        }
        let provider = match self.credentials.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let credentials = provider.provide_credentials().await.map_err(|_| AwsFailure {
            code: "CredentialsUnavailable".into(),
            message: "awsgate has no usable AWS credentials for this call; the operator must fix its credential setup"
                .into(),
            request_id: None,
        })?;
        *cached = Some(credentials.clone());
        Ok(credentials)
    }

    /// The base URL of `signing_name`'s endpoint in `region`.
    fn base(&self, signing_name: &str, region: &str) -> String {
        if let Some(endpoint) = &self.endpoint {
            return endpoint.clone();
        }
        let domain = if self.scope.partition == "aws-cn" { "amazonaws.com.cn" } else { "amazonaws.com" };
        match signing_name {
            "iam" if self.scope.partition == "aws" => "https://iam.amazonaws.com".into(),
            name => format!("https://{name}.{region}.{domain}"),
        }
    }

    /// Signs and sends the request as it was read ([`Forward`]), in the region it was
    /// signed for; the answer streams back.
    pub async fn send(
        &self,
        forward: &Forward,
        signing_name: &str,
        region: &str,
        payload: Payload,
    ) -> Result<http::Response<hyper::body::Incoming>, AwsFailure> {
        let url = format!("{}{}", self.base(signing_name, region), forward.path_and_query());
        let uri: http::Uri = url.parse().map_err(|_| failure("RequestFailed", "the forwarded URL is not valid"))?;
        let s3 = signing_name == "s3";
        let mut settings = SigningSettings::default();
        if s3 {
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let (body, signable): (SidecarBody, SignableBody<'static>) = match payload {
            Payload::Bytes(bytes) => {
                let hash = hex(&Sha256::digest(&bytes));
                (full(bytes), SignableBody::Precomputed(hash))
            }
            Payload::Stream { body, content_sha256 } => {
                let signable = match content_sha256.as_deref() {
                    Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER") => SignableBody::StreamingUnsignedPayloadTrailer,
                    Some(hash) if hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()) => {
                        SignableBody::Precomputed(hash.to_ascii_lowercase())
                    }
                    _ => SignableBody::UnsignedPayload,
                };
                (body, signable)
            }
        };
        let credentials = self.credentials().await?;
        let identity: Identity = credentials.into();
        let region = if signing_name == "iam" && self.scope.partition == "aws" { "us-east-1" } else { region };
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(signing_name)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|_| failure("RequestFailed", "the forwarded request cannot be signed"))?
            .into();
        let header_strings: Vec<(String, String)> = forward
            .headers
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_string(), v.to_string())))
            .collect();
        let signable_request = SignableRequest::new(
            forward.method.as_str(),
            url.as_str(),
            header_strings.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            signable,
        )
        .map_err(|_| failure("RequestFailed", "the forwarded request cannot be signed"))?;
        let (instructions, _) = sign(signable_request, &params)
            .map_err(|_| failure("RequestFailed", "the forwarded request cannot be signed"))?
            .into_parts();
        let mut request = http::Request::builder().method(forward.method.clone()).uri(uri);
        for (name, value) in &forward.headers {
            request = request.header(name, value);
        }
        let mut request =
            request.body(body).map_err(|_| failure("RequestFailed", "the forwarded request is not valid"))?;
        instructions.apply_to_request_http1x(&mut request);
        self.client.request(request).await.map_err(|error| {
            if error.is_connect() {
                failure("NetworkError", "could not reach the AWS endpoint")
            } else {
                failure("NetworkError", "the connection to AWS failed")
            }
        })
    }
}

fn failure(code: &str, message: &str) -> AwsFailure {
    AwsFailure { code: code.into(), message: message.into(), request_id: None }
}

/// The start of a body, read to look at it, and the body to pass on, whole.
pub struct Peeked {
    /// What was read: the whole body when `whole`, else its first bytes.
    pub bytes: Bytes,
    pub whole: bool,
    /// The body as it came: what was read, then the rest.
    pub body: SidecarBody,
}

/// Reads up to `limit` bytes of `body` within `wait`, to look at them; what is not read
/// then still goes on, after what was: nothing of the answer is lost.
pub async fn peek_body(mut body: SidecarBody, limit: usize, wait: std::time::Duration) -> Peeked {
    let deadline = tokio::time::Instant::now() + wait;
    let mut read = bytes::BytesMut::new();
    loop {
        if read.len() >= limit {
            break;
        }
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => return Peeked { bytes: read.clone().freeze(), whole: true, body: full(read.freeze()) },
            // A failed body or a slow one: the rest (and its error) goes on as it comes.
            Ok(Some(Err(error))) => {
                let failed =
                    http_body_util::StreamBody::new(futures_util::stream::iter([Err::<Frame<Bytes>, _>(error)]));
                let bytes = read.freeze();
                return Peeked {
                    bytes: bytes.clone(),
                    whole: false,
                    body: Prefixed::boxed_after(bytes, failed.boxed()),
                };
            }
            Err(_) => break,
        };
        match frame.into_data() {
            Ok(data) => read.extend_from_slice(&data),
            // Trailers end the data: keep them for the rest.
            Err(trailers) => {
                let rest = http_body_util::StreamBody::new(futures_util::stream::iter([Ok::<_, BoxError>(trailers)]));
                let bytes = read.freeze();
                return Peeked { bytes: bytes.clone(), whole: false, body: Prefixed::boxed_after(bytes, rest.boxed()) };
            }
        }
    }
    let bytes = read.freeze();
    Peeked { bytes: bytes.clone(), whole: false, body: Prefixed::boxed_after(bytes, body) }
}

/// A body whose first bytes were already read: they come first, then the rest.
struct Prefixed {
    prefix: Option<Bytes>,
    rest: SidecarBody,
}

impl Prefixed {
    fn boxed_after(prefix: Bytes, rest: SidecarBody) -> SidecarBody {
        Prefixed { prefix: (!prefix.is_empty()).then_some(prefix), rest }.boxed()
    }
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }
}

pub fn full(bytes: Bytes) -> SidecarBody {
    http_body_util::Full::new(bytes).map_err(|never| match never {}).boxed()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A streamed body whose SHA-256 must be `expected`: the last piece is held back until
/// the hash is checked, so a body that does not match never completes upstream.
pub struct Checked<B> {
    inner: B,
    hasher: Sha256,
    expected: String,
    held: Option<Bytes>,
    done: bool,
}

impl<B> Checked<B> {
    pub fn new(inner: B, expected: String) -> Checked<B> {
        Checked { inner, hasher: Sha256::new(), expected: expected.to_ascii_lowercase(), held: None, done: false }
    }
}

impl<B> Body for Checked<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(this.held.take().map(|b| Ok(Frame::data(b))));
        }
        loop {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error.into()))),
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else { continue };
                    this.hasher.update(&data);
                    if let Some(previous) = this.held.replace(data) {
                        return Poll::Ready(Some(Ok(Frame::data(previous))));
                    }
                }
                Poll::Ready(None) => {
                    this.done = true;
                    let actual = hex(&std::mem::take(&mut this.hasher).finalize());
                    if actual != this.expected {
                        this.held = None;
                        return Poll::Ready(Some(
                            Err("the body does not match its signed x-amz-content-sha256".into()),
                        ));
                    }
                    return Poll::Ready(this.held.take().map(|b| Ok(Frame::data(b))));
                }
            }
        }
    }
}

#[cfg(test)]
mod peek_tests {
    use super::*;

    #[tokio::test]
    async fn a_peeked_body_goes_on_whole() {
        let wait = std::time::Duration::from_secs(1);
        let small = peek_body(full(Bytes::from_static(b"<Code>NoSuchKey</Code>")), 64, wait).await;
        assert!(small.whole);
        assert_eq!(small.body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"<Code>NoSuchKey</Code>"));
        // Larger than what is read: the first bytes are looked at, and all of it goes on.
        let large = vec![b'x'; 100_000];
        let peeked = peek_body(full(Bytes::from(large.clone())), 1024, wait).await;
        assert!(!peeked.whole && peeked.bytes.len() >= 1024);
        assert_eq!(peeked.body.collect().await.unwrap().to_bytes(), Bytes::from(large));
    }
}
