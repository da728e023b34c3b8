//! The agent's address behind a load balancer (`serve --trusted-proxy CIDR`). A request
//! that arrives from a trusted proxy names its client in `X-Forwarded-For`, which the
//! proxy appends to; any earlier entries are what the client itself wrote. So the agent is
//! the right-most address that is not a trusted proxy: a client cannot pass itself off as
//! another by writing the header, and a request from anywhere else keeps its own address.

use std::net::IpAddr;
use std::sync::OnceLock;

use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` awsgate believes, set once at start.
static TRUSTED: OnceLock<Vec<IpNet>> = OnceLock::new();

/// Reads `--trusted-proxy` values: a CIDR (`10.0.0.0/24`) or one address each.
pub fn parse(values: &[String]) -> Result<Vec<IpNet>, String> {
    values
        .iter()
        .map(|value| {
            value
                .parse::<IpNet>()
                .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("`--trusted-proxy {value}` is not an address or a CIDR range like 10.0.0.0/24"))
        })
        .collect()
}

/// Sets the trusted proxies, once.
pub fn trust(proxies: Vec<IpNet>) {
    let _ = TRUSTED.set(proxies);
}

/// The address `aws:SourceIp` names for a request from `peer` with these headers. From a
/// trusted proxy: the right-most `X-Forwarded-For` entry that is not one (the proxy's own
/// address when it forwarded none: a request it made itself). `Err` says why a header
/// from a trusted proxy cannot be read: such a request is refused, never judged by a guess.
pub fn client_ip(peer: IpAddr, headers: &http::HeaderMap) -> Result<IpAddr, String> {
    client_ip_with(peer, headers, TRUSTED.get().map_or(&[], Vec::as_slice))
}

fn client_ip_with(peer: IpAddr, headers: &http::HeaderMap, trusted: &[IpNet]) -> Result<IpAddr, String> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&canonical(*ip)));
    if !is_trusted(&peer) {
        return Ok(peer);
    }
    let mut chain = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let text = value.to_str().map_err(|_| "`X-Forwarded-For` is not text".to_string())?;
        for entry in text.split(',') {
            let entry = entry.trim();
            let ip = entry.parse::<IpAddr>().map_err(|_| {
                let shown: String = entry.chars().filter(|c| !c.is_control()).take(64).collect();
                format!("`X-Forwarded-For` holds `{shown}`, which is not an address")
            })?;
            chain.push(canonical(ip));
        }
    }
    Ok(chain.iter().rev().find(|ip| !is_trusted(ip)).or(chain.first()).copied().unwrap_or(peer))
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:10.0.0.1`) as the IPv4 one.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", value.parse().unwrap());
        }
        map
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let trusted = parse(&["10.0.0.0/24".into(), "192.168.1.9".into()]).unwrap();
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        // From anywhere else, the header is the client's own words: ignored.
        assert_eq!(client_ip_with(ip("203.0.113.7"), &headers(&["10.9.9.9"]), &trusted), Ok(ip("203.0.113.7")));
        // Through the proxy: the right-most address that is not a proxy, whatever the
        // client wrote before it.
        let forged = headers(&["1.2.3.4, 198.51.100.2", "192.168.1.9"]);
        assert_eq!(client_ip_with(ip("10.0.0.5"), &forged, &trusted), Ok(ip("198.51.100.2")));
        // A request the proxy made itself (a health check) is the proxy's.
        assert_eq!(client_ip_with(ip("10.0.0.5"), &headers(&[]), &trusted), Ok(ip("10.0.0.5")));
        // Two readings are not guessed between: a header that is not addresses is refused.
        let refused = client_ip_with(ip("10.0.0.5"), &headers(&["unknown"]), &trusted).unwrap_err();
        assert!(refused.contains("`unknown`"), "{refused}");
        assert!(parse(&["10.0.0.0/33".into()]).unwrap_err().contains("--trusted-proxy 10.0.0.0/33"));
    }
}
