//! Credentials of an assumed role: STS AssumeRole from the source identity, or
//! AssumeRoleWithWebIdentity with a token file (OIDC federation). The SDK's identity
//! cache in front of this provider caches the credentials and renews them before they
//! expire; only the call that finds them stale waits for STS.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError};

use super::failure::describe_sdk_error;

/// A failed assumption: the role and STS's error code and message, never a credential.
/// The tool error finds it in the SDK error's chain and passes it on.
#[derive(Debug)]
pub struct AssumeRoleError {
    pub role_arn: String,
    pub detail: String,
}

impl std::fmt::Display for AssumeRoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "awsgate could not assume role `{}`: {}", self.role_arn, self.detail)
    }
}

impl std::error::Error for AssumeRoleError {}

/// MFA for the role: the device, the code a human gave for the next AssumeRole, and when
/// the current role session ends. The code is used once and never logged.
#[derive(Debug)]
pub struct Mfa {
    pub serial: String,
    code: Mutex<Option<String>>,
    session_ends: Mutex<Option<SystemTime>>,
}

impl Mfa {
    pub fn new(serial: String) -> Mfa {
        Mfa { serial, code: Mutex::new(None), session_ends: Mutex::new(None) }
    }

    /// True when the next call will need a new role session, so a human must give a code
    /// first: before the first session, and when the current one is about to be renewed.
    pub fn needs_code(&self) -> bool {
        if self.code.lock().map(|slot| slot.is_some()).unwrap_or(false) {
            return false;
        }
        let ends = self.session_ends.lock().ok().and_then(|e| *e);
        // The identity cache renews at most its buffer before expiry; ask well before that.
        let margin = super::RENEW_BEFORE_EXPIRY * 2;
        ends.is_none_or(|ends| ends.duration_since(SystemTime::now()).unwrap_or_default() < margin)
    }

    /// The code for the next AssumeRole.
    pub fn provide(&self, code: String) {
        if let Ok(mut slot) = self.code.lock() {
            *slot = Some(code);
        }
    }

    fn take(&self) -> Option<String> {
        self.code.lock().ok().and_then(|mut slot| slot.take())
    }

    fn started(&self, ends: Option<SystemTime>) {
        if let Ok(mut slot) = self.session_ends.lock() {
            *slot = ends;
        }
    }
}

#[derive(Debug, Clone)]
pub struct RoleProvider {
    pub sts: aws_sdk_sts::Client,
    pub role_arn: String,
    pub session_name: String,
    pub external_id: Option<String>,
    pub duration: Duration,
    /// The inline session policy (the derived least-privilege policy), if any.
    pub policy: Option<String>,
    pub web_identity_token_file: Option<PathBuf>,
    pub mfa: Option<Arc<Mfa>>,
    /// With `--agents`: the agent, as `SourceIdentity` (so CloudTrail names it), and its
    /// tags, as session tags.
    pub principal: Option<super::Principal>,
}

impl RoleProvider {
    async fn assume(&self) -> provider::Result {
        let seconds = i32::try_from(self.duration.as_secs()).unwrap_or(900);
        let failed = |detail: String| {
            CredentialsError::provider_error(AssumeRoleError { role_arn: self.role_arn.clone(), detail })
        };
        let credentials = match &self.web_identity_token_file {
            Some(path) => {
                let token = tokio::fs::read_to_string(path).await.map_err(|e| {
                    failed(format!("cannot read the web identity token file `{}`: {e}", path.display()))
                })?;
                let out = self
                    .sts
                    .assume_role_with_web_identity()
                    .role_arn(&self.role_arn)
                    .role_session_name(&self.session_name)
                    .web_identity_token(token.trim())
                    .duration_seconds(seconds)
                    .set_policy(self.policy.clone())
                    .send()
                    .await
                    .map_err(|e| failed(describe(&describe_sdk_error(&e))))?;
                out.credentials
            }
            None => {
                let (serial, code) = match &self.mfa {
                    Some(mfa) => {
                        let code = mfa.take().ok_or_else(|| {
                            failed(format!("it needs a code from the MFA device `{}`, and none was given", mfa.serial))
                        })?;
                        (Some(mfa.serial.clone()), Some(code))
                    }
                    None => (None, None),
                };
                let out = self
                    .sts
                    .assume_role()
                    .role_arn(&self.role_arn)
                    .role_session_name(&self.session_name)
                    .set_external_id(self.external_id.clone())
                    .set_serial_number(serial)
                    .set_token_code(code)
                    .set_source_identity(self.principal.as_ref().map(|p| p.name.clone()))
                    .set_tags(self.principal.as_ref().filter(|p| !p.tags.is_empty()).map(|p| {
                        p.tags
                            .iter()
                            .filter_map(|(key, value)| {
                                aws_sdk_sts::types::Tag::builder().key(key).value(value).build().ok()
                            })
                            .collect()
                    }))
                    .duration_seconds(seconds)
                    .set_policy(self.policy.clone())
                    .send()
                    .await
                    .map_err(|e| failed(describe(&describe_sdk_error(&e))))?;
                out.credentials
            }
        };
        let credentials = credentials.ok_or_else(|| failed("STS returned no credentials".into()))?;
        let expires = SystemTime::try_from(*credentials.expiration()).ok();
        if let Some(mfa) = &self.mfa {
            mfa.started(expires);
        }
        Ok(Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_string()),
            expires,
            "awsgate-assume-role",
        ))
    }
}

fn describe(failure: &super::AwsFailure) -> String {
    format!("{}: {}", failure.code, failure.message)
}

impl ProvideCredentials for RoleProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.assume())
    }
}
