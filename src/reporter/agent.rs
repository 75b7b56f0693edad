//! Delivery to a Jaeger agent over UDP (`Agent.emitBatch`, compact Thrift,
//! port 6831).

use super::sender::{Accepted, SendError, Transport};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

/// How long a single UDP send may block.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// How often an agent given by host name is resolved again, so that spans
/// follow an agent that moved (e.g. a restarted container).
const RESOLVE_INTERVAL: Duration = Duration::from_secs(30);

/// How soon a failed resolution is tried again.
const RESOLVE_RETRY: Duration = Duration::from_secs(5);

/// Resolves `host:port`, preferring an IPv4 address.
pub(super) fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    addrs
        .iter()
        .find(|addr| addr.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("jaeger agent host {host:?} did not resolve to any address"),
            )
        })
}

/// A UDP socket bound to the wildcard address of the agent's family (so
/// that it reaches an agent on another host, unlike rustracing_jaeger's
/// `127.0.0.1:0`) and connected to the agent, so that ICMP refusals are
/// reported.
pub(super) fn connect(agent: SocketAddr) -> io::Result<UdpSocket> {
    let local: IpAddr = match agent {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind((local, 0))?;
    socket.connect(agent)?;
    socket.set_write_timeout(Some(SEND_TIMEOUT))?;
    Ok(socket)
}

/// The UDP transport: one connected socket, re-resolved periodically when
/// the agent is given by name, and re-created after a failed resolution.
#[derive(Debug)]
pub(super) struct UdpAgent {
    host: String,
    port: u16,
    /// Whether `host` is an IP address (never resolved again).
    literal: bool,
    socket: Option<(UdpSocket, SocketAddr)>,
    next_resolve: Instant,
    last_resolve_error: Option<String>,
}

impl UdpAgent {
    /// A transport to `host:port`, starting from the address resolved at
    /// spawn time, if any.
    pub(super) fn new(host: &str, port: u16, resolved: Option<SocketAddr>) -> Self {
        let mut agent = UdpAgent {
            host: host.to_owned(),
            port,
            literal: host.parse::<IpAddr>().is_ok(),
            socket: None,
            next_resolve: Instant::now(),
            last_resolve_error: None,
        };
        if let Some(addr) = resolved {
            agent.use_addr(addr);
        }
        agent
    }

    fn use_addr(&mut self, addr: SocketAddr) {
        if matches!(&self.socket, Some((_, current)) if *current == addr) {
            return;
        }
        match connect(addr) {
            Ok(socket) => {
                if self.socket.is_some() {
                    log::info!(
                        "rocket_opentracing reporter: agent {} now at {addr}",
                        self.host
                    );
                }
                self.socket = Some((socket, addr));
            }
            Err(e) => self.last_resolve_error = Some(format!("cannot connect to {addr}: {e}")),
        }
    }

    /// The socket to send with, resolving the agent first when due.
    fn socket(&mut self) -> Result<&UdpSocket, SendError> {
        let due = Instant::now() >= self.next_resolve;
        if due && !(self.literal && self.socket.is_some()) {
            match resolve(&self.host, self.port) {
                Ok(addr) => {
                    self.last_resolve_error = None;
                    self.use_addr(addr);
                    self.next_resolve = Instant::now() + RESOLVE_INTERVAL;
                }
                Err(e) => {
                    self.last_resolve_error = Some(e.to_string());
                    self.next_resolve = Instant::now() + RESOLVE_RETRY;
                }
            }
        }
        match &self.socket {
            Some((socket, _)) => Ok(socket),
            // The warnings name the agent: the error need not.
            None => Err(SendError::fatal(format!(
                "no address to send to: {}",
                self.last_resolve_error.as_deref().unwrap_or("not resolved")
            ))),
        }
    }
}

impl Transport for UdpAgent {
    /// Sends one datagram. UDP has no acknowledgement; a refusal (ICMP port
    /// unreachable) from the agent's host is reported on the socket, which
    /// is checked right after the send. On loopback the refusal is already
    /// there; from a remote host it may arrive later and then fails the next
    /// send (that datagram is not sent and is counted failed; the refused
    /// one stays counted as reported). Failures are not retried: the agent is
    /// best effort, and the next datagram follows soon.
    fn send(&mut self, payload: &[u8]) -> Result<Accepted, SendError> {
        let socket = self.socket()?;
        // A refusal of an earlier datagram that arrived after its check
        // makes this send fail (unsent), and this datagram is counted failed.
        let refused = match socket.send(payload) {
            Ok(_) => socket.take_error().ok().flatten(),
            Err(e) => Some(e),
        };
        match refused {
            None => Ok(Accepted::ALL),
            // The warnings name the agent: the error need not.
            Some(e) => Err(SendError::fatal(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_ipv4_and_ipv6_agents() {
        let v4 = resolve("127.0.0.1", 6831).unwrap();
        assert_eq!(v4, SocketAddr::from(([127, 0, 0, 1], 6831)));
        let v6 = resolve("::1", 6831).unwrap();
        assert_eq!(v6, SocketAddr::from((Ipv6Addr::LOCALHOST, 6831)));
        assert!(resolve("localhost", 6831).unwrap().is_ipv4());
    }

    #[test]
    fn binds_the_wildcard_address_of_the_agent_family() {
        let agent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = connect(agent.local_addr().unwrap()).unwrap();
        assert!(socket.local_addr().unwrap().is_ipv4());
    }

    #[test]
    fn sends_and_reports_refusals() {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = receiver.local_addr().unwrap();
        let mut agent = UdpAgent::new("127.0.0.1", addr.port(), None);
        agent.send(b"one").expect("delivered");
        let mut buf = [0u8; 16];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"one");

        drop(receiver);
        let err = agent.send(b"two").expect_err("the closed port refuses");
        assert!(!err.retryable);
        assert!(err.message.contains("refused"), "{}", err.message);
    }
}
