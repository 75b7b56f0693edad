//! The Jaeger process description sent with every batch: the service name
//! and the tags `jaeger.version`, `hostname` and `ip`, then the configured
//! ones (`JAEGER_TAGS`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

/// The client name and version, as the `jaeger.version` process tag.
pub(super) const CLIENT_VERSION: &str = concat!("rocket_opentracing-", env!("CARGO_PKG_VERSION"));

/// An address in TEST-NET-1 (RFC 5737), used only to ask the kernel which
/// local address its default route would use: connecting a UDP socket sends
/// nothing.
const ROUTE_PROBE: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 9);

/// The process tags: `jaeger.version`, `hostname` (when known) and `ip`,
/// followed by `extra`.
///
/// `ip` is the local address used to reach `destination` (the agent or
/// collector) unless that is a loopback address; then the address of the
/// default route; then the loopback address.
pub(super) fn process_tags(
    destination: Option<SocketAddr>,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let mut tags = vec![("jaeger.version".to_owned(), CLIENT_VERSION.to_owned())];
    if let Some(hostname) = hostname() {
        tags.push(("hostname".to_owned(), hostname));
    }
    tags.push(("ip".to_owned(), host_ip(destination).to_string()));
    tags.extend(extra.iter().cloned());
    tags
}

/// The host name, from `/proc/sys/kernel/hostname` or `$HOSTNAME`.
fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

/// See [`process_tags`].
fn host_ip(destination: Option<SocketAddr>) -> IpAddr {
    destination
        .filter(|addr| !addr.ip().is_loopback())
        .and_then(source_ip)
        .or_else(|| source_ip(ROUTE_PROBE))
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The local address the kernel picks to reach `target` (no packet is sent).
fn source_ip(target: SocketAddr) -> Option<IpAddr> {
    let local: IpAddr = if target.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    let socket = UdpSocket::bind((local, 0)).ok()?;
    socket.connect(target).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_the_client_host_and_ip_then_the_extra_ones() {
        let extra = vec![("env".to_owned(), "test".to_owned())];
        let tags = process_tags(Some(SocketAddr::from(([127, 0, 0, 1], 6831))), &extra);
        assert_eq!(
            tags[0],
            ("jaeger.version".to_owned(), CLIENT_VERSION.to_owned())
        );
        let ip = tags.iter().find(|(k, _)| k == "ip").expect("an ip tag");
        assert!(ip.1.parse::<IpAddr>().is_ok(), "{ip:?}");
        if let Some(expected) = hostname() {
            assert!(tags.contains(&("hostname".to_owned(), expected)));
        }
        assert_eq!(tags.last(), Some(&("env".to_owned(), "test".to_owned())));
        assert_eq!(
            CLIENT_VERSION,
            format!("rocket_opentracing-{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
