//! An in-app trace viewer for development: see the waterfall of a request
//! in the browser without running Jaeger.
//!
//! (Documentation in progress.)

mod access;
pub(crate) mod capture;
pub mod model;
mod routes;
pub mod store;

use std::sync::Arc;

use rocket::http::uri::Path;
use rocket::{Build, Rocket};

pub use model::{SpanRecord, TraceSummary};
pub use store::{StoreStats, TraceFilter, TraceStore};

/// Where the viewer is mounted unless `viewer_path` says otherwise.
pub const DEFAULT_VIEWER_PATH: &str = "/_traces";

/// The viewer's managed state.
#[derive(Debug)]
pub(crate) struct Viewer {
    /// The spans shown.
    pub(crate) store: Arc<TraceStore>,
    /// The mount point, without a trailing slash.
    pub(crate) base: String,
    /// Whether only loopback clients may use it.
    pub(crate) loopback_only: bool,
    /// Longest string value kept from a span reported into the viewer.
    pub(crate) max_str_len: usize,
    /// Most logs kept per span reported into the viewer.
    pub(crate) max_logs: usize,
}

/// Mounts the viewer's routes at `viewer.base` and manages its state.
pub(crate) fn mount(rocket: Rocket<Build>, viewer: Viewer) -> Rocket<Build> {
    let base = viewer.base.clone();
    rocket.manage(viewer).mount(base, routes::all())
}

/// The viewer's mount point, to tell its requests apart (they are not
/// traced) the way Rocket routes them: by decoded, non-empty segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountPath {
    segments: Vec<String>,
}

impl MountPath {
    /// The mount point `base` (a valid `viewer_path`).
    pub(crate) fn new(base: &str) -> Self {
        MountPath {
            segments: base
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    /// Whether `path` is the mount point or below it.
    pub(crate) fn contains(&self, path: Path<'_>) -> bool {
        let mut segments = path.segments();
        self.segments
            .iter()
            .all(|expected| segments.next() == Some(expected.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::http::uri::Origin;

    #[test]
    fn the_mount_path_matches_as_rocket_routes() {
        let mount = MountPath::new("/_traces");
        let contains = |uri: &str| mount.contains(Origin::parse(uri).unwrap().path());
        for inside in [
            "/_traces",
            "/_traces/",
            "/_traces/api/traces",
            "//_traces//trace/abc",
            "/%5Ftraces/api/traces",
            "/_traces?x=1",
        ] {
            assert!(contains(inside), "{inside}");
        }
        for outside in ["/", "/_tracesx", "/x/_traces", "/_trace", "/hello"] {
            assert!(!contains(outside), "{outside}");
        }
        let nested = MountPath::new("/dev/traces/");
        assert!(nested.contains(Origin::parse("/dev/traces/api").unwrap().path()));
        assert!(!nested.contains(Origin::parse("/dev").unwrap().path()));
    }
}
