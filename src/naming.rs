//! Operation names: low-cardinality, never empty, computed once per route.
//!
//! The default names a span `"{METHOD} {route template}"`, e.g.
//! `GET /hello/<name>`; the raw path (`/hello/alice`) is the `http.url` tag,
//! never the name. A request that matched no route is named
//! `"{METHOD} <unmatched>"`. The alternative, Flask-OpenTracing's choice, is
//! the handler's function name.
//!
//! Names are built at liftoff for every mounted route and leaked once
//! (interned, so many Rocket instances in one process share them): naming a
//! request costs a table lookup, not an allocation.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::OnceLock;

use parking_lot::Mutex;
use rocket::http::Method;
use rocket::serde::{Deserialize, Serialize};
use rocket::Route;

/// How a request span is named.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(crate = "rocket::serde", rename_all = "snake_case")]
pub enum OperationName {
    /// `"{METHOD} {route template}"`, e.g. `GET /hello/<name>` (the default).
    #[default]
    Route,
    /// The handler's function name, e.g. `hello` (Flask-OpenTracing's
    /// choice); routes without a name fall back to [`OperationName::Route`].
    Handler,
}

/// The name of a span whose request matched no route.
pub fn unmatched_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET <unmatched>",
        Method::Put => "PUT <unmatched>",
        Method::Post => "POST <unmatched>",
        Method::Delete => "DELETE <unmatched>",
        Method::Options => "OPTIONS <unmatched>",
        Method::Head => "HEAD <unmatched>",
        Method::Trace => "TRACE <unmatched>",
        Method::Connect => "CONNECT <unmatched>",
        Method::Patch => "PATCH <unmatched>",
    }
}

/// The name `strategy` gives `route`, as a fresh string.
pub fn route_name(strategy: OperationName, route: &Route) -> String {
    match (strategy, &route.name) {
        (OperationName::Handler, Some(name)) => name.to_string(),
        _ => format!("{} {}", route.method, route.uri.as_str()),
    }
}

/// Span names of the mounted routes, keyed by the route's address (stable for
/// the life of a launched Rocket).
#[derive(Debug, Default)]
pub(crate) struct RouteNames {
    strategy: OperationName,
    /// Sorted by key: a binary search costs a few pointer comparisons,
    /// less than hashing the key.
    names: Vec<(usize, &'static str)>,
}

impl RouteNames {
    pub(crate) fn new<'a>(
        strategy: OperationName,
        routes: impl Iterator<Item = &'a Route>,
    ) -> Self {
        let mut names: Vec<_> = routes
            .map(|route| (key(route), intern(route_name(strategy, route))))
            .collect();
        names.sort_unstable_by_key(|&(key, _)| key);
        RouteNames { strategy, names }
    }

    /// The operation name for a request routed to `route` (or to none).
    pub(crate) fn name(&self, method: Method, route: Option<&Route>) -> Cow<'static, str> {
        match route {
            None => Cow::Borrowed(unmatched_name(method)),
            Some(route) => match self
                .names
                .binary_search_by_key(&key(route), |&(key, _)| key)
            {
                Ok(i) => Cow::Borrowed(self.names[i].1),
                Err(_) => Cow::Owned(route_name(self.strategy, route)),
            },
        }
    }
}

/// A route's identity while the app runs: its address (Rocket's routes live
/// as long as the launched app).
pub(crate) fn key(route: &Route) -> usize {
    route as *const Route as usize
}

/// Leaks `name` once per distinct value: the set of names is bounded by the
/// routes the program defines.
pub(crate) fn intern(name: String) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock();
    if let Some(existing) = names.get(name.as_str()) {
        return existing;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    names.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::route::dummy_handler;

    #[test]
    fn names_by_template_or_handler() {
        let mut route = Route::new(Method::Get, "/hello/<name>", dummy_handler);
        route.name = Some("hello".into());
        assert_eq!(
            route_name(OperationName::Route, &route),
            "GET /hello/<name>"
        );
        assert_eq!(route_name(OperationName::Handler, &route), "hello");
        route.name = None;
        assert_eq!(
            route_name(OperationName::Handler, &route),
            "GET /hello/<name>"
        );
    }

    #[test]
    fn table_lookup_and_unmatched() {
        let routes = [Route::new(Method::Post, "/a/<b>", dummy_handler)];
        let names = RouteNames::new(OperationName::Route, routes.iter());
        assert_eq!(names.name(Method::Post, Some(&routes[0])), "POST /a/<b>");
        assert_eq!(names.name(Method::Patch, None), "PATCH <unmatched>");
        // A route the table does not know is still named, just not interned.
        let other = Route::new(Method::Get, "/x", dummy_handler);
        assert_eq!(names.name(Method::Get, Some(&other)), "GET /x");
    }

    #[test]
    fn interning_reuses_names() {
        let a = intern("GET /same".to_owned());
        let b = intern("GET /same".to_owned());
        assert!(std::ptr::eq(a, b));
    }
}
