//! Credentials and SDK clients, nothing else: the shared AWS config is loaded once from
//! the standard chain (or the policy's `credentials`), and each service's client is
//! derived from it. The agent never chooses a profile, role, region or endpoint.

mod failure;
mod role;

use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sts::config::{IdentityCache, SharedIdentityCache};

use crate::policy::PolicyDocument;
pub use failure::{AwsFailure, describe_sdk_error};
pub use role::{AssumeRoleError, Mfa, RoleProvider};

/// Renew role credentials at least this long before they expire.
pub const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(120);

/// The clients every tool runs with.
#[derive(Debug, Clone)]
pub struct Aws {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sts: aws_sdk_sts::Client,
    pub sns: aws_sdk_sns::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    pub kms: aws_sdk_kms::Client,
    pub iam: aws_sdk_iam::Client,
    pub rds: aws_sdk_rds::Client,
    pub ec2: aws_sdk_ec2::Client,
    /// Set when the role needs an MFA code from a human.
    pub mfa: Option<Arc<Mfa>>,
}

/// Where calls go, for building ARNs: fixed at start, never from the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub partition: String,
    pub region: String,
    pub account: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("no AWS region: set `region` in the policy, or AWS_REGION / a profile's region")]
    NoRegion,
    #[error(
        "cannot learn the AWS account for ARNs (sts:GetCallerIdentity failed: {0}); set `account` in the policy or check the credentials"
    )]
    Account(String),
}

/// HTTPS (rustls with aws-lc-rs, the system's roots) or plain HTTP for a local endpoint,
/// over HTTP/1.1: what awsgate's own outbound requests use (the sidecar's upstream, the
/// webhook, the OIDC issuer's keys).
pub fn https_connector()
-> Result<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>, String> {
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build())
}

/// With a role and `session_policy: derived` (the default), the AssumeRole request carries
/// the policy's own least-privilege IAM policy, so AWS enforces the same boundary. `Err`:
/// its length, over what AWS allows.
pub fn derived_session_policy(
    document: &PolicyDocument,
    shadow: Option<&PolicyDocument>,
) -> Result<Option<String>, usize> {
    match &document.credentials {
        Some(c) if c.role_arn.is_some() && c.session_policy == crate::policy::SessionPolicy::Derived => {
            crate::policy::session_policy(document, &crate::catalog::vocabulary(), shadow).map(Some)
        }
        _ => Ok(None),
    }
}

/// The agent a role session is for (with `--agents`): its name and tags.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub tags: Vec<(String, String)>,
}

/// `<session name>-<agent>` when that fits the 64 characters AWS allows, else the agent's
/// name alone (at most 64, and unique): never two agents in one session name.
fn session_name_for(base: &str, agent: &str) -> String {
    let name = format!("{base}-{agent}");
    if name.len() <= 64 { name } else { agent.to_string() }
}

impl Aws {
    /// Loads the shared config and derives the clients. With `AWS_ENDPOINT_URL` set (a
    /// local emulator), S3 uses path-style addressing.
    /// With `credentials.role_arn`, every client runs on the assumed role's credentials,
    /// obtained from the source identity and carrying `session_policy` when given.
    pub async fn connect(
        document: &PolicyDocument,
        session_policy: Option<String>,
        principal: Option<Principal>,
    ) -> Result<(Aws, SdkConfig), SetupError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &document.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = document.credentials.as_ref().and_then(|c| c.profile.as_ref()) {
            loader = loader.profile_name(profile);
        }
        let base = loader.load().await;
        if base.region().is_none() {
            return Err(SetupError::NoRegion);
        }
        let role = document.credentials.as_ref().and_then(|c| c.role_arn.clone().map(|arn| (c, arn)));
        let mut mfa = None;
        let config = match role {
            None => base,
            Some((credentials, role_arn)) => {
                mfa = credentials.mfa_serial.clone().map(|serial| Arc::new(Mfa::new(serial)));
                // One role session per agent and role, named after the agent.
                let session_name = match &principal {
                    Some(principal) => session_name_for(&credentials.session_name, &principal.name),
                    None => credentials.session_name.clone(),
                };
                let provider = RoleProvider {
                    sts: aws_sdk_sts::Client::new(&base),
                    role_arn,
                    session_name,
                    external_id: credentials.external_id.clone(),
                    duration: Duration::from_secs(u64::from(credentials.duration_seconds)),
                    policy: session_policy,
                    web_identity_token_file: credentials.web_identity_token_file.clone(),
                    mfa: mfa.clone(),
                    principal,
                };
                let cache = role_identity_cache();
                base.to_builder()
                    .credentials_provider(SharedCredentialsProvider::new(provider))
                    .identity_cache(cache)
                    .build()
            }
        };
        let mut aws = Aws::from_config(&config);
        aws.mfa = mfa;
        Ok((aws, config))
    }

    pub fn from_config(config: &SdkConfig) -> Aws {
        let s3_config =
            aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build();
        Aws {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            secretsmanager: aws_sdk_secretsmanager::Client::new(config),
            kms: aws_sdk_kms::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            rds: aws_sdk_rds::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            mfa: None,
        }
    }

    /// The same clients with the SDK's automatic retries turned off, for calls that change
    /// AWS. A write whose connection dropped after AWS received it would otherwise be sent
    /// again (one `SendMessage`, two messages); without retries its outcome is reported
    /// as unknown instead.
    pub fn without_retries(&self) -> Aws {
        let no_retries = aws_config::retry::RetryConfig::disabled();
        Aws {
            s3: aws_sdk_s3::Client::from_conf(self.s3.config().to_builder().retry_config(no_retries.clone()).build()),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                self.dynamodb.config().to_builder().retry_config(no_retries.clone()).build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                self.sqs.config().to_builder().retry_config(no_retries.clone()).build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                self.sts.config().to_builder().retry_config(no_retries.clone()).build(),
            ),
            sns: aws_sdk_sns::Client::from_conf(
                self.sns.config().to_builder().retry_config(no_retries.clone()).build(),
            ),
            lambda: aws_sdk_lambda::Client::from_conf(
                self.lambda.config().to_builder().retry_config(no_retries.clone()).build(),
            ),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                self.logs.config().to_builder().retry_config(no_retries.clone()).build(),
            ),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                self.cloudwatch.config().to_builder().retry_config(no_retries.clone()).build(),
            ),
            ssm: aws_sdk_ssm::Client::from_conf(
                self.ssm.config().to_builder().retry_config(no_retries.clone()).build(),
            ),
            secretsmanager: aws_sdk_secretsmanager::Client::from_conf(
                self.secretsmanager.config().to_builder().retry_config(no_retries.clone()).build(),
            ),
            kms: aws_sdk_kms::Client::from_conf(
                self.kms.config().to_builder().retry_config(no_retries.clone()).build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                self.iam.config().to_builder().retry_config(no_retries.clone()).build(),
            ),
            rds: aws_sdk_rds::Client::from_conf(
                self.rds.config().to_builder().retry_config(no_retries.clone()).build(),
            ),
            ec2: aws_sdk_ec2::Client::from_conf(self.ec2.config().to_builder().retry_config(no_retries).build()),
            mfa: self.mfa.clone(),
        }
    }

    /// The scope for ARNs: the config's region, and the policy's account or the caller's.
    pub async fn scope(&self, config: &SdkConfig, document: &PolicyDocument) -> Result<Scope, SetupError> {
        let region = config.region().map(|r| r.to_string()).ok_or(SetupError::NoRegion)?;
        let role_account = document
            .credentials
            .as_ref()
            .and_then(|c| c.role_arn.as_deref())
            .and_then(|arn| arn.split(':').nth(4))
            .map(str::to_string);
        // S3 ARNs carry no account: a policy for S3 alone starts without asking STS.
        let needs_account = document.services.as_ref().is_none_or(|enabled| enabled.iter().any(|s| s != "s3"));
        let account = match document.account.clone().or(role_account) {
            Some(account) => account,
            None if !needs_account => String::new(),
            None => {
                let identity = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| SetupError::Account(describe_sdk_error(&e).message))?;
                identity
                    .account()
                    .map(str::to_string)
                    .ok_or_else(|| SetupError::Account("no account in the answer".into()))?
            }
        };
        Ok(Scope { partition: crate::policy::partition_of(&region).to_string(), region, account })
    }
}

/// The cache in front of role credentials. It renews them between 0.5 and 1 times
/// `RENEW_BEFORE_EXPIRY` before they expire (it adds up to half the buffer of random jitter
/// to the expiry); `Mfa::needs_code` asks for a code before that window opens. It reads the
/// time from the client config's time source.
pub fn role_identity_cache() -> SharedIdentityCache {
    IdentityCache::lazy().buffer_time(RENEW_BEFORE_EXPIRY).build()
}
