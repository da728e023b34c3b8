//! The checks every HTTP route of awsgate makes before its handler, shared by `/mcp` and
//! the console: the `Host` and `Origin` a browser sends (a page must not reach a local
//! server through DNS rebinding or a cross-site request), and bearer tokens.

use axum::http::{HeaderMap, header};

/// Hosts a loopback-bound server answers to.
pub const LOOPBACK_HOSTS: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// The host of a `Host` header, lowercased, without port or IPv6 brackets: `example.com:8080`
/// -> `example.com`, `[::1]:80` -> `::1`. `None` for anything that is not exactly
/// `host[:port]` (user info like `127.0.0.1:80@evil.example`, junk after `]`, a path).
pub fn host_name(authority: &str) -> Option<String> {
    let authority = authority.trim();
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (host, after) = rest.split_once(']')?;
            let ipv6 = !host.is_empty() && host.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
            (ipv6.then_some(host)?, after)
        }
        None => {
            let end = authority.find(':').unwrap_or(authority.len());
            let host = authority.get(..end)?;
            let name = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
            (name.then_some(host)?, authority.get(end..)?)
        }
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| (1..=5).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit()));
    port_ok.then(|| host.to_ascii_lowercase())
}

/// `http://localhost:3000` -> `localhost`; `null`, other schemes and malformed origins ->
/// None.
pub fn origin_host(origin: &str) -> Option<String> {
    let origin = origin.trim();
    let rest = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"))?;
    host_name(rest.strip_suffix('/').unwrap_or(rest))
}

/// Compares the bearer token in constant time. The scheme is case-insensitive (RFC 9110).
/// The bearer token of `Authorization: Bearer ...`, when one was sent.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    // Two Authorization headers read two ways: neither is taken.
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (all.next(), all.next()) else { return None };
    let (scheme, given) = value.to_str().ok().and_then(|v| v.trim().split_once(' '))?;
    scheme.eq_ignore_ascii_case("bearer").then(|| given.trim()).filter(|t| !t.is_empty())
}

pub fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some((scheme, given)) =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().split_once(' '))
    else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_origin_parsing() {
        assert_eq!(host_name("127.0.0.1:8765").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_name("[::1]:8765").as_deref(), Some("::1"));
        assert_eq!(host_name("LocalHost").as_deref(), Some("localhost"));
        assert_eq!(host_name("127.0.0.1:8765@evil.example"), None);
        assert_eq!(host_name("[::1]evil.example"), None);
        assert_eq!(host_name("localhost:80/x"), None);
        assert_eq!(host_name(""), None);
        assert_eq!(origin_host("http://localhost:3000").as_deref(), Some("localhost"));
        assert_eq!(origin_host("https://evil.example").as_deref(), Some("evil.example"));
        assert_eq!(origin_host("http://localhost@evil.example"), None);
        assert_eq!(origin_host("http://[::1]evil.example"), None);
        assert_eq!(origin_host("null"), None);
        assert_eq!(origin_host("file://localhost"), None);
    }

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let mut headers = HeaderMap::new();
        assert!(!bearer_matches(&headers, "s3cret"));
        headers.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(bearer_matches(&headers, "s3cret"));
        assert!(!bearer_matches(&headers, "s3cre"));
        headers.insert(header::AUTHORIZATION, "bearer s3cret".parse().unwrap());
        assert!(bearer_matches(&headers, "s3cret"));
        headers.insert(header::AUTHORIZATION, "BEARER  s3cret".parse().unwrap());
        assert!(bearer_matches(&headers, "s3cret"));
        headers.insert(header::AUTHORIZATION, "Basic s3cret".parse().unwrap());
        assert!(!bearer_matches(&headers, "s3cret"));
    }
}
