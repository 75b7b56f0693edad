//! Who may use the viewer: with `viewer_loopback_only` (the default), only
//! clients connected over the loopback interface whose request carries no
//! proxy header. Anyone else gets a plain `404`, as if there were no viewer.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};
use rocket::Request;

use super::Viewer;

/// Headers a reverse proxy adds: a request carrying one was relayed, so its
/// loopback peer says nothing about the real client.
const PROXY_HEADERS: [&str; 4] = [
    "Forwarded",
    "X-Forwarded-For",
    "X-Real-IP",
    "X-Forwarded-Host",
];

/// A request guard admitting the clients allowed to use the viewer.
pub(crate) struct ViewerAccess;

/// Logged once: the first refusal.
static REFUSAL_LOGGED: AtomicBool = AtomicBool::new(false);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ViewerAccess {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(viewer) = req.rocket().state::<Viewer>() else {
            return Outcome::Forward(Status::NotFound);
        };
        if !viewer.loopback_only || is_local_client(req) {
            return Outcome::Success(ViewerAccess);
        }
        if !REFUSAL_LOGGED.swap(true, Ordering::Relaxed) {
            log::warn!(
                "rocket_opentracing: the trace viewer refused a request from {} (it answers \
                 loopback clients only: `opentracing.viewer_loopback_only`); further refusals \
                 are not logged",
                req.remote()
                    .map_or_else(|| "an unknown address".to_owned(), |a| a.ip().to_string()),
            );
        }
        Outcome::Error((Status::NotFound, ()))
    }
}

/// Whether `req` comes straight from this machine: a loopback peer address
/// and no proxy header (Rocket's configured `ip_header` included).
pub(crate) fn is_local_client(req: &Request<'_>) -> bool {
    let loopback = req.remote().is_some_and(|addr| is_loopback(addr.ip()));
    let headers = req.headers();
    let ip_header = req.rocket().config().ip_header.as_deref();
    loopback
        && PROXY_HEADERS.iter().all(|name| !headers.contains(*name))
        && ip_header.is_none_or(|name| !headers.contains(name))
}

/// Loopback, IPv4-mapped IPv6 loopback (`::ffff:127.0.0.1`) included.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses_in_both_families() {
        for local in ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(local.parse().unwrap()), "{local}");
        }
        for remote in [
            "10.0.0.1",
            "0.0.0.0",
            "::",
            "::ffff:10.0.0.1",
            "192.168.1.2",
            "fe80::1",
        ] {
            assert!(!is_loopback(remote.parse().unwrap()), "{remote}");
        }
    }
}
