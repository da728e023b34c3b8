//! OAuth 2.1 access tokens (JWT) as the MCP authorization spec has a resource server check
//! them: the issuer's keys found through its OpenID configuration (`jwks_uri`), cached, and
//! fetched again on an unknown `kid` at most every [`REFETCH_EVERY`]; each fetch bounded in
//! size and time. Signatures, `exp`/`nbf` (with [`LEEWAY`]), `iss` and `aud` are checked by
//! `jsonwebtoken` with an allow-list of asymmetric algorithms: never `none`, never HS*.
//! A token whose key cannot be had is refused, never accepted.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::agents::Oidc;

/// Clock skew allowed on `exp` and `nbf`, in seconds.
pub const LEEWAY: u64 = 60;
/// An unknown `kid` fetches the keys again at most this often.
pub const REFETCH_EVERY: Duration = Duration::from_secs(30);
/// Largest OpenID configuration or key set read.
const MAX_DOCUMENT: usize = 1024 * 1024;
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a bearer token was not accepted (what the 401's log line says; the client is told
/// only `invalid_token`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a JWT: {0}")]
    Malformed(String),
    #[error("algorithm `{0}` is not accepted")]
    Algorithm(String),
    #[error("the token names no key (`kid`)")]
    NoKeyId,
    #[error("no key `{0}` in the issuer's key set")]
    UnknownKey(String),
    #[error("the token does not verify: {0}")]
    Invalid(String),
    #[error("the token has no `{0}` claim naming the agent")]
    NoAgentClaim(String),
}

/// Verifies one issuer's access tokens.
pub struct Verifier {
    settings: Oidc,
    algorithms: Vec<Algorithm>,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    keys: Mutex<Keys>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("issuer", &self.settings.issuer).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Keys {
    set: Option<JwkSet>,
    /// When the keys were last asked for (successfully or not).
    fetched: Option<Instant>,
}

impl Verifier {
    pub fn new(settings: Oidc) -> Result<Verifier, String> {
        let algorithms = settings
            .algorithms
            .iter()
            .map(|name| name.parse::<Algorithm>().map_err(|_| format!("unknown algorithm `{name}`")))
            .collect::<Result<Vec<_>, _>>()?;
        let https = crate::aws::https_connector()?;
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Verifier { settings, algorithms, client, keys: Mutex::default() })
    }

    pub fn settings(&self) -> &Oidc {
        &self.settings
    }

    /// Fetches the issuer's keys now, or says why it cannot.
    pub async fn fetch_keys(&self) -> Result<(), String> {
        self.refresh(true).await
    }

    /// Fetches the issuer's keys now; awsgate starts even if it cannot (tokens are then
    /// refused until it can).
    pub async fn prefetch(&self) {
        if let Err(why) = self.refresh(true).await {
            tracing::error!(issuer = %self.settings.issuer, "cannot fetch the issuer's keys yet: {why}; tokens are refused until they can be had");
        }
    }

    /// The value of the agent claim of a token that verifies.
    pub async fn verify(&self, token: &str) -> Result<String, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        if !self.algorithms.contains(&header.alg) {
            return Err(TokenError::Algorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.ok_or(TokenError::NoKeyId)?;
        let key = match self.key(&kid) {
            Some(key) => key,
            None => {
                // A key the issuer added since: fetch again, at most every REFETCH_EVERY.
                let _ = self.refresh(false).await;
                self.key(&kid).ok_or_else(|| TokenError::UnknownKey(kid.clone()))?
            }
        };
        let (decoding, key_alg) = key;
        if key_alg.is_some_and(|alg| alg != header.alg) {
            return Err(TokenError::Invalid(format!("key `{kid}` is for another algorithm than {:?}", header.alg)));
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = LEEWAY;
        validation.validate_nbf = true;
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.set_audience(&[self.settings.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claim = &self.settings.agent_claim;
        data.claims
            .get(claim)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| TokenError::NoAgentClaim(claim.clone()))
    }

    /// The cached key `kid`, with the algorithm the key set names for it.
    fn key(&self, kid: &str) -> Option<(DecodingKey, Option<Algorithm>)> {
        let keys = self.keys.lock().ok()?;
        let jwk = keys.set.as_ref()?.find(kid)?;
        let alg = jwk.common.key_algorithm.and_then(|a| a.to_string().parse::<Algorithm>().ok());
        // A symmetric key in the set is never used: anyone with the set could sign.
        if matches!(jwk.algorithm, jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)) {
            return None;
        }
        DecodingKey::from_jwk(jwk).ok().map(|key| (key, alg))
    }

    /// Fetches the key set again, unless it was asked for within [`REFETCH_EVERY`] (or
    /// `force`). On failure the keys cached before stay.
    async fn refresh(&self, force: bool) -> Result<(), String> {
        {
            let Ok(mut keys) = self.keys.lock() else { return Err("the key cache is unavailable".into()) };
            if !force && keys.fetched.is_some_and(|at| at.elapsed() < REFETCH_EVERY) {
                return Ok(());
            }
            keys.fetched = Some(Instant::now());
        }
        let configuration = self.fetch(&configuration_url(&self.settings.issuer)).await?;
        let issuer = configuration.get("issuer").and_then(Value::as_str).unwrap_or_default();
        if issuer != self.settings.issuer {
            return Err(format!("the OpenID configuration names issuer `{issuer}`, not `{}`", self.settings.issuer));
        }
        let jwks_uri = configuration.get("jwks_uri").and_then(Value::as_str).ok_or("no `jwks_uri`")?.to_string();
        if !allowed_url(&jwks_uri) {
            return Err(format!("`jwks_uri` {jwks_uri} is not https (nor loopback http)"));
        }
        let set: JwkSet = serde_json::from_value(self.fetch(&jwks_uri).await?)
            .map_err(|e| format!("the key set at {jwks_uri} is not a JWKS: {e}"))?;
        if let Ok(mut keys) = self.keys.lock() {
            keys.set = Some(set);
        }
        Ok(())
    }

    async fn fetch(&self, url: &str) -> Result<Value, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let request = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(FETCH_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("{url} did not answer within {} s", FETCH_TIMEOUT.as_secs()))?
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered HTTP {}", response.status()));
        }
        let body = tokio::time::timeout(FETCH_TIMEOUT, Limited::new(response.into_body(), MAX_DOCUMENT).collect())
            .await
            .map_err(|_| format!("{url} did not send its body within {} s", FETCH_TIMEOUT.as_secs()))?
            .map_err(|e| format!("{url}: {e} (at most {MAX_DOCUMENT} bytes are read)"))?
            .to_bytes();
        serde_json::from_slice(&body).map_err(|e| format!("{url} did not answer JSON: {e}"))
    }
}

/// `<issuer>/.well-known/openid-configuration`.
fn configuration_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// HTTPS, or plain HTTP on a loopback host.
pub fn allowed_url(url: &str) -> bool {
    url.starts_with("https://")
        || ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|prefix| url.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/'])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_only_from_https_or_loopback() {
        assert!(allowed_url("https://login.example.com/jwks"));
        assert!(allowed_url("http://127.0.0.1:8080/jwks"));
        assert!(!allowed_url("http://127.0.0.1.example.com/jwks"));
        assert!(!allowed_url("http://login.example.com/jwks"));
        assert_eq!(
            configuration_url("https://login.example.com/"),
            "https://login.example.com/.well-known/openid-configuration"
        );
    }
}
