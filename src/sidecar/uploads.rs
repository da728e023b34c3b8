//! Multipart uploads an operator approved. An approval of `CreateMultipartUpload` covers
//! that upload's parts, its completion and its abort (the same agent, bucket, key and
//! upload id, within `approvals.timeout_seconds`), and nothing else: a 1 GB upload is one
//! question to the operator, not a hundred. Bounded: at most [`MAX_UPLOADS`] at once, each
//! forgotten when its time is up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::forward::{SidecarBody, peek_body};
use super::operation::{Forward, Upload};

/// Most approved uploads remembered at once; past that, parts ask again (fail closed).
pub const MAX_UPLOADS: usize = 1024;

/// The largest `CreateMultipartUpload` answer read for its upload id.
const MAX_ANSWER: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct ApprovedUploads {
    uploads: Mutex<HashMap<(String, Upload), Instant>>,
}

impl ApprovedUploads {
    /// Whether `agent`'s `upload` was approved and its time is not up.
    pub fn covers(&self, agent: &str, upload: &Upload) -> bool {
        let Ok(mut uploads) = self.uploads.lock() else { return false };
        let now = Instant::now();
        uploads.retain(|_, until| *until > now);
        uploads.contains_key(&(agent.to_string(), upload.clone()))
    }

    fn insert(&self, agent: &str, upload: Upload, timeout: Duration) {
        let Ok(mut uploads) = self.uploads.lock() else { return };
        let now = Instant::now();
        uploads.retain(|_, until| *until > now);
        if uploads.len() < MAX_UPLOADS {
            uploads.insert((agent.to_string(), upload), now + timeout);
        }
    }

    /// Reads the upload id from AWS's answer to an approved `CreateMultipartUpload`,
    /// remembers the upload, and gives the answer back as it came.
    pub async fn remember(
        &self,
        agent: &str,
        target: (Option<String>, Option<String>),
        response: http::Response<SidecarBody>,
        timeout: Duration,
    ) -> http::Response<SidecarBody> {
        let (parts, body) = response.into_parts();
        let peeked = peek_body(body, MAX_ANSWER, std::time::Duration::from_secs(5)).await;
        let (bucket, key) = target;
        if parts.status.is_success()
            && let (Some(bucket), Some(key), Some(upload_id)) = (bucket, key, upload_id(&peeked.bytes))
        {
            self.insert(agent, Upload { bucket, key, upload_id }, timeout);
        }
        http::Response::from_parts(parts, peeked.body)
    }
}

/// The bucket and key a `CreateMultipartUpload` is sent for, from its forwarded path.
pub fn target(forward: &Forward) -> (Option<String>, Option<String>) {
    let path = forward.path.strip_prefix('/').unwrap_or_default();
    let Some((bucket, key)) = path.split_once('/') else { return (None, None) };
    let decode = |s: &str| super::wire::decode(s, super::wire::Plus::Literal, "the path").ok();
    (decode(bucket), decode(key))
}

/// `<UploadId>...</UploadId>` of S3's answer.
fn upload_id(answer: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(answer).ok()?;
    let start = text.find("<UploadId>")? + "<UploadId>".len();
    let end = start + text.get(start..)?.find("</UploadId>")?;
    let id = text.get(start..end)?;
    (!id.is_empty() && !id.contains(['<', '&'])).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approved_upload_covers_its_own_parts_only() {
        let uploads = ApprovedUploads::default();
        let upload = Upload { bucket: "b".into(), key: "k".into(), upload_id: "u1".into() };
        uploads.insert("agent", upload.clone(), Duration::from_secs(60));
        assert!(uploads.covers("agent", &upload));
        assert!(!uploads.covers("other-agent", &upload));
        assert!(!uploads.covers("agent", &Upload { upload_id: "u2".into(), ..upload.clone() }));
        uploads.insert("agent", Upload { upload_id: "short".into(), ..upload.clone() }, Duration::ZERO);
        assert!(!uploads.covers("agent", &Upload { upload_id: "short".into(), ..upload }));
        assert_eq!(
            upload_id(b"<InitiateMultipartUploadResult><UploadId>abc</UploadId></InitiateMultipartUploadResult>"),
            Some("abc".into())
        );
    }
}
