//! Role credentials are cached and renewed before they expire: awsgate's `RoleProvider`
//! and identity cache against a real moto server (from the test venv that `make test`
//! creates), with the config's clock replaced by a manual one.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_async::test_util::ManualTimeSource;
use aws_smithy_async::time::SharedTimeSource;
use awsgate::aws::{RENEW_BEFORE_EXPIRY, RoleProvider, role_identity_cache};

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto() -> (Moto, String) {
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    assert!(binary.exists(), "{} is missing: scripts/python-env.sh creates it (make test runs it)", binary.display());
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let child = Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto");
    let moto = Moto(child);
    for _ in 0..400 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (moto, format!("http://127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("moto did not start");
}

/// Counts how often the cache asks the provider, that is, how often the role is assumed.
#[derive(Debug)]
struct Counting {
    inner: RoleProvider,
    calls: Arc<AtomicUsize>,
}

impl ProvideCredentials for Counting {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.provide_credentials()
    }
}

#[tokio::test]
async fn role_credentials_are_cached_and_renewed_before_they_expire() {
    let (_moto, endpoint) = start_moto();
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(Credentials::new("base", "base", None, None, "test"))
        .load()
        .await;
    let clock = ManualTimeSource::new(SystemTime::now());
    let calls = Arc::new(AtomicUsize::new(0));
    let provider = Counting {
        inner: RoleProvider {
            sts: aws_sdk_sts::Client::new(&base),
            role_arn: "arn:aws:iam::123456789012:role/renewal".into(),
            session_name: "renewal-test".into(),
            external_id: None,
            duration: Duration::from_secs(900),
            policy: None,
            web_identity_token_file: None,
            mfa: None,
            principal: None,
        },
        calls: calls.clone(),
    };
    let config = base
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .identity_cache(role_identity_cache())
        // The cache reads the time from the config's time source.
        .time_source(SharedTimeSource::new(clock.clone()))
        .build();
    let sts = aws_sdk_sts::Client::new(&config);
    let whoami = || async {
        sts.get_caller_identity().send().await.expect("GetCallerIdentity").arn().unwrap_or_default().to_string()
    };

    for _ in 0..3 {
        assert!(whoami().await.contains("assumed-role/renewal/renewal-test"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "three calls, one AssumeRole: the credentials are cached");

    // 900 s sessions: with 2.5 times the renewal buffer left, nothing is renewed...
    clock.advance(Duration::from_secs(900) - RENEW_BEFORE_EXPIRY * 5 / 2);
    whoami().await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "renewed too early");

    // ...and with a quarter of the buffer left, the next call renews them before they
    // expire. The cache renews somewhere between the whole buffer and half of it before
    // expiry (random jitter), and moto stamps the expiry from its own clock, so the test
    // stays well clear of that window's edges.
    clock.advance(RENEW_BEFORE_EXPIRY * 9 / 4);
    whoami().await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "not renewed before expiry");
}
