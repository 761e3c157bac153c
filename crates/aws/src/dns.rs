//! The DNS data plane: what name servers answer, as opposed to what Route 53's control plane holds
//! ([`crate::route53::failover_records`]).
//!
//! [`query_name_servers`] asks given name servers directly (a hosted zone's four Route 53 servers,
//! the `name_servers` output of `route53:HostedZone`), so that the answer is Route 53's own
//! failover decision and not a resolver's cached one; [`resolve`] asks the system resolver (to map
//! an answer back to which region's load balancer it is: Route 53 answers an alias A record with
//! the load balancer's addresses, so the caller compares them with each region's ALB addresses).
//!
//! Both are plain DNS over UDP (TCP when a UDP answer is truncated) on port 53 by default, with
//! hickory's resolver: no DNS over TLS or HTTPS. No AWS API is called and no region is involved:
//! Route 53's data plane is global. The local cloud (moto) has no DNS data plane at all: there the
//! records can only be read back through the Route 53 API (see `aws-failover-facts`), so a caller
//! says "not verifiable here" rather than asking.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, NameServerConfigGroup, ResolveHosts, ResolverConfig,
    ResolverOpts,
};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;

/// The standard DNS port, for a name server given without one.
pub const DNS_PORT: u16 = 53;

/// What one name server answered: see [`query_name_servers`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsAnswer {
    /// The A and AAAA addresses of the name (after the CNAME chain within the answer), in the
    /// server's order; empty when the server answered authoritatively that there are none
    /// (`NXDOMAIN`, or no record of those types).
    pub addresses: Vec<IpAddr>,
    /// The name server that answered, as it was given.
    pub server: String,
    /// The address that server was asked at.
    pub address: SocketAddr,
}

/// Why no answer could be had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("no name servers were given to ask for {name}")]
    NoNameServers { name: String },
    #[error("{name:?} is not a DNS name: {detail}")]
    InvalidName { name: String, detail: String },
    #[error("no name server answered for {name}: {}", failures.join("; "))]
    NoAnswer {
        name: String,
        /// One line per server (or address) asked: which, and why it gave no answer.
        failures: Vec<String>,
    },
    #[error("the system resolver could not resolve {name}: {detail}")]
    System { name: String, detail: String },
}

/// A name server as given: `host`, `host:port`, an IP address, `ip:port` or `[ipv6]:port`.
fn parse_server(spec: &str) -> (String, u16) {
    let spec = spec.trim();
    if let Ok(sa) = spec.parse::<SocketAddr>() {
        return (sa.ip().to_string(), sa.port());
    }
    if let Ok(ip) = spec.parse::<IpAddr>() {
        return (ip.to_string(), DNS_PORT);
    }
    if let Some((host, port)) = spec.rsplit_once(':') {
        if !host.contains(':') {
            if let Ok(port) = port.parse::<u16>() {
                return (host.trim_end_matches('.').to_string(), port);
            }
        }
    }
    (spec.trim_end_matches('.').to_string(), DNS_PORT)
}

/// The addresses of a name server: itself when it is an IP address, else the system resolver's
/// answer for its host name, IPv4 first (Route 53's name servers have both; IPv6 may not be routed
/// here).
async fn server_addresses(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found = tokio::time::timeout(timeout, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| {
            format!(
                "the system resolver did not resolve the name server within {} ms",
                timeout.as_millis()
            )
        })?
        .map_err(|e| format!("the system resolver could not resolve the name server: {e}"))?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for a in found {
        if !addrs.contains(&a) {
            addrs.push(a);
        }
    }
    addrs.sort_by_key(|a| a.is_ipv6());
    if addrs.is_empty() {
        return Err("the system resolver has no address for the name server".into());
    }
    Ok(addrs)
}

/// A resolver that asks `addr` only: no hosts file, no search list, no retry beyond one attempt,
/// UDP first and TCP for a truncated answer.
fn resolver_for(addr: SocketAddr, timeout: Duration) -> Resolver<TokioConnectionProvider> {
    let mut group = NameServerConfigGroup::new();
    for protocol in [Protocol::Udp, Protocol::Tcp] {
        group.push(NameServerConfig::new(addr, protocol));
    }
    let config = ResolverConfig::from_parts(None, Vec::new(), group);
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 0;
    opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    // What the server answers, not what this machine's hosts file says.
    opts.use_hosts_file = ResolveHosts::Never;
    opts.cache_size = 0;
    opts.ndots = 0;
    Resolver::builder_with_config(config, TokioConnectionProvider::default())
        .with_options(opts)
        .build()
}

/// `name` as an absolute name (a trailing dot), so that no search domain is ever appended.
fn absolute(name: &str) -> Result<String, DnsError> {
    let trimmed = name.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err(DnsError::InvalidName {
            name: name.to_string(),
            detail: "it is empty".into(),
        });
    }
    hickory_resolver::Name::from_ascii(format!("{trimmed}.")).map_err(|e| {
        DnsError::InvalidName {
            name: name.to_string(),
            detail: e.to_string(),
        }
    })?;
    Ok(format!("{trimmed}."))
}

/// Asks the name servers `name_servers` directly (not the system resolver) for the A and AAAA
/// addresses of `name`, and returns the first answer.
///
/// Each server is a host name (`ns-1.awsdns-01.org`, resolved with the system resolver: only the
/// name servers' own addresses come from it) or an IP address, optionally with `:port` (53 by
/// default; `[v6]:port` for IPv6). Servers are asked in order, each address of a server in turn
/// (IPv4 first), each within `timeout`, until one answers; an authoritative "no such name" or
/// "no such record" is an answer (with no addresses), while a timeout, a refusal or a server
/// failure (`SERVFAIL`, `REFUSED`) moves on to the next. A CNAME chain within the answer is
/// followed. No AWS API is called.
///
/// Route 53 answers an alias A record with the target's addresses (a load balancer's), which is
/// its failover decision at that moment: compare them with each region's load balancer addresses
/// ([`resolve`]). The local cloud (moto) has no DNS data plane: there is nothing to ask there.
///
/// # Errors
/// [`DnsError::NoNameServers`] when the list is empty, [`DnsError::InvalidName`] for a name that is
/// not a DNS name, and [`DnsError::NoAnswer`] naming every server asked and why it did not answer.
pub async fn query_name_servers(
    name_servers: &[String],
    name: &str,
    timeout: Duration,
) -> Result<DnsAnswer, DnsError> {
    if name_servers.is_empty() {
        return Err(DnsError::NoNameServers {
            name: name.to_string(),
        });
    }
    let query = absolute(name)?;
    let mut failures = Vec::new();
    for server in name_servers {
        let (host, port) = parse_server(server);
        let addrs = match server_addresses(&host, port, timeout).await {
            Ok(a) => a,
            Err(why) => {
                failures.push(format!("{server}: {why}"));
                continue;
            }
        };
        for addr in addrs {
            let resolver = resolver_for(addr, timeout);
            // The resolver's own timeout is per request; this bounds the whole lookup (A and
            // AAAA, and a truncated answer's retry over TCP).
            let lookup = tokio::time::timeout(
                timeout.saturating_mul(2),
                resolver.lookup_ip(query.as_str()),
            )
            .await;
            match lookup {
                Ok(Ok(found)) => {
                    let mut addresses = Vec::new();
                    for ip in found.iter() {
                        if !addresses.contains(&ip) {
                            addresses.push(ip);
                        }
                    }
                    return Ok(DnsAnswer {
                        addresses,
                        server: server.clone(),
                        address: addr,
                    });
                }
                Ok(Err(e)) if e.is_no_records_found() => {
                    return Ok(DnsAnswer {
                        addresses: Vec::new(),
                        server: server.clone(),
                        address: addr,
                    });
                }
                Ok(Err(e)) => failures.push(format!("{server} ({addr}): {e}")),
                Err(_) => failures.push(format!(
                    "{server} ({addr}): no answer within {} ms",
                    timeout.saturating_mul(2).as_millis()
                )),
            }
        }
    }
    Err(DnsError::NoAnswer {
        name: name.to_string(),
        failures,
    })
}

/// The addresses of `name` as the system resolver gives them (`getaddrinfo`: the hosts file, then
/// the configured resolvers), without duplicates, within `timeout`. Used to map an answer of
/// [`query_name_servers`] back to a region (a load balancer's DNS name to its addresses). No AWS
/// API is called.
///
/// # Errors
/// [`DnsError::System`] when the system resolver fails or does not answer within `timeout`.
pub async fn resolve(name: &str, timeout: Duration) -> Result<Vec<IpAddr>, DnsError> {
    let host = name.trim().trim_end_matches('.');
    let system = |detail: String| DnsError::System {
        name: name.to_string(),
        detail,
    };
    let found = tokio::time::timeout(timeout, tokio::net::lookup_host((host, 0)))
        .await
        .map_err(|_| system(format!("no answer within {} ms", timeout.as_millis())))?
        .map_err(|e| system(e.to_string()))?;
    let mut out = Vec::new();
    for a in found {
        if !out.contains(&a.ip()) {
            out.push(a.ip());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_servers_are_parsed_with_or_without_a_port() {
        let p = |s| parse_server(s);
        assert_eq!(p("ns-1.awsdns-01.org"), ("ns-1.awsdns-01.org".into(), 53));
        assert_eq!(p("ns-1.awsdns-01.org."), ("ns-1.awsdns-01.org".into(), 53));
        assert_eq!(p("localhost:5353"), ("localhost".into(), 5353));
        assert_eq!(p("205.251.192.1"), ("205.251.192.1".into(), 53));
        assert_eq!(p("127.0.0.1:5353"), ("127.0.0.1".into(), 5353));
        assert_eq!(p("2600:9000:5300::1"), ("2600:9000:5300::1".into(), 53));
        assert_eq!(p("[::1]:5353"), ("::1".into(), 5353));
    }

    #[test]
    fn names_are_made_absolute_and_checked() {
        assert_eq!(absolute("app.example.com").unwrap(), "app.example.com.");
        assert_eq!(absolute("app.example.com.").unwrap(), "app.example.com.");
        assert!(matches!(absolute(""), Err(DnsError::InvalidName { .. })));
        assert!(matches!(
            absolute(&"a".repeat(300)),
            Err(DnsError::InvalidName { .. })
        ));
    }
}
