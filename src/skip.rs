//! Paths that are never traced (health checks, metrics): exact paths, or
//! prefixes written with a trailing `*` (`/internal/*`). A skipped request
//! gets no span and costs only this check.

use std::fmt;

use rocket::http::uri::Path;

/// The set of paths excluded from tracing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipPaths {
    /// The entries as configured.
    entries: Vec<String>,
    exact: Vec<String>,
    prefixes: Vec<String>,
}

/// A `skip_paths` entry that is not a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSkipPath(pub String);

impl fmt::Display for InvalidSkipPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid skip path {:?} (expected a path starting with '/', \
             optionally ending in '*' to match a prefix)",
            self.0
        )
    }
}

impl SkipPaths {
    /// Parses the configured entries.
    pub fn parse(entries: &[String]) -> Result<Self, InvalidSkipPath> {
        let mut paths = SkipPaths::default();
        for entry in entries {
            let invalid = || InvalidSkipPath(entry.clone());
            let (path, prefix) = match entry.strip_suffix('*') {
                Some(prefix) => (prefix, true),
                None => (entry.as_str(), false),
            };
            if !path.starts_with('/') || path.contains('*') || path.contains(char::is_whitespace) {
                return Err(invalid());
            }
            match prefix {
                true => paths.prefixes.push(path.to_owned()),
                false => paths.exact.push(path.to_owned()),
            }
            paths.entries.push(entry.clone());
        }
        Ok(paths)
    }

    /// The entries as configured (`/health`, `/internal/*`).
    pub fn entries(&self) -> &[String] {
        &self.entries
    }

    /// Whether no path is skipped.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefixes.is_empty()
    }

    /// Whether `path` (without query) is excluded from tracing.
    pub fn matches(&self, path: &str) -> bool {
        self.exact.iter().any(|p| p == path)
            || self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
    }
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

    fn paths(entries: &[&str]) -> SkipPaths {
        SkipPaths::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn exact_and_prefix_matches() {
        let skip = paths(&["/health", "/internal/*"]);
        assert!(skip.matches("/health"));
        assert!(!skip.matches("/health/deep"));
        assert!(!skip.matches("/healthz"));
        assert!(skip.matches("/internal/"));
        assert!(skip.matches("/internal/metrics"));
        assert!(!skip.matches("/internal"));
        assert!(!skip.matches("/hello"));
        assert!(paths(&[]).is_empty());
    }

    #[test]
    fn refuses_non_paths() {
        for bad in ["health", "/a*b", "*", "/a b", ""] {
            assert!(SkipPaths::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }

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
