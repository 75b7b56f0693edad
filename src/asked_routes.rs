//! The routes whose requests asked for their span (took `ActiveSpan`, or
//! looked it up), learned as they do: `on_response` looks a span up, and in
//! opt-in mode `on_request` notes a request's arrival, only when the
//! request's path could be routed to one of them. Every other request costs the
//! fairing next to nothing.
//!
//! The path test is a superset of Rocket's routing: it compares methods
//! (`HEAD` also against `GET` routes) and path segments (static ones
//! exactly, or any segment holding a `%` escape; `<param>` any segment or
//! none; `<param..>` the rest), ignoring empty segments, queries, formats
//! and ranks. A request it lets through needlessly costs one arrival stamp; it
//! never turns one away that Rocket would route to a marked route.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;
use rocket::http::Method;
use rocket::{Request, Route};

use crate::naming;

/// A segment of a route's path template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Static(String),
    /// `<param>`
    Dynamic,
    /// `<param..>`: this and every following segment.
    Rest,
}

/// A route that asked, by address ([`naming::key`]) and by what it
/// matches.
#[derive(Debug)]
struct Marked {
    address: usize,
    method: Method,
    segments: Vec<Segment>,
}

impl Marked {
    fn new(route: &Route) -> Self {
        Marked {
            address: naming::key(route),
            method: route.method,
            segments: route
                .uri
                .path()
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| match s.strip_prefix('<') {
                    Some(param) if param.ends_with("..>") => Segment::Rest,
                    Some(_) => Segment::Dynamic,
                    None => Segment::Static(s.to_owned()),
                })
                .collect(),
        }
    }

    /// Whether Rocket could route a `method` request to `path` here.
    fn may_match(&self, method: Method, path: &str) -> bool {
        let method_matches =
            self.method == method || (method == Method::Head && self.method == Method::Get);
        if !method_matches {
            return false;
        }
        let mut parts = path.split('/').filter(|s| !s.is_empty());
        for segment in &self.segments {
            match segment {
                Segment::Rest => return true,
                // Empty too (Rocket may give a parameter an empty segment).
                Segment::Dynamic => {
                    parts.next();
                }
                Segment::Static(expected) => match parts.next() {
                    Some(part) if part == expected || part.contains('%') => {}
                    _ => return false,
                },
            }
        }
        parts.next().is_none()
    }
}

/// The routes that asked, and whether a span was asked for before routing
/// (by another fairing's `on_request`): then every request may ask.
#[derive(Debug, Default)]
pub(crate) struct AskedRoutes {
    routes: RwLock<Vec<Marked>>,
    unrouted: AtomicBool,
}

impl AskedRoutes {
    /// Notes that a request to `route` (`None`: not routed yet) asked for
    /// its span.
    pub(crate) fn mark(&self, route: Option<&Route>) {
        let Some(route) = route else {
            self.unrouted.store(true, Ordering::Relaxed);
            return;
        };
        let address = naming::key(route);
        if self.routes.read().iter().any(|m| m.address == address) {
            return;
        }
        let mut routes = self.routes.write();
        if !routes.iter().any(|m| m.address == address) {
            routes.push(Marked::new(route));
        }
    }

    /// Whether `req` could be routed to a route that asked (whatever route
    /// it ends on: a guard may forward it).
    pub(crate) fn may_ask(&self, req: &Request<'_>) -> bool {
        if self.unrouted.load(Ordering::Relaxed) {
            return true;
        }
        let routes = self.routes.read();
        if routes.is_empty() {
            return false;
        }
        let path = req.uri().path();
        routes
            .iter()
            .any(|m| m.may_match(req.method(), path.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::route::dummy_handler;

    fn marked(method: Method, uri: &str) -> Marked {
        Marked::new(&Route::new(method, uri, dummy_handler))
    }

    #[test]
    fn paths_that_could_route_to_a_template_match() {
        let hello = marked(Method::Get, "/hello/<name>?<q>");
        assert!(hello.may_match(Method::Get, "/hello/world"));
        assert!(hello.may_match(Method::Head, "/hello/world"));
        assert!(hello.may_match(Method::Get, "/hello/world/"));
        assert!(hello.may_match(Method::Get, "/hello/w%20x"));
        assert!(
            hello.may_match(Method::Get, "/h%65llo/world"),
            "escapes let through"
        );
        assert!(!hello.may_match(Method::Post, "/hello/world"));
        assert!(hello.may_match(Method::Get, "/hello"), "an empty parameter");
        assert!(!hello.may_match(Method::Get, "/hello/a/b"));
        assert!(!hello.may_match(Method::Get, "/traced/world"));

        let files = marked(Method::Get, "/static/<path..>");
        assert!(files.may_match(Method::Get, "/static"));
        assert!(files.may_match(Method::Get, "/static/a/b/c.css"));
        assert!(!files.may_match(Method::Get, "/other/a"));

        let root = marked(Method::Get, "/");
        assert!(root.may_match(Method::Get, "/"));
        assert!(!root.may_match(Method::Get, "/x"));
    }
}
