//! The crate's module structure, read from its sources: dependencies run
//! one way. The request side (config → fairing → span lifecycle → guard,
//! client) and the reporting side (finished span → encoder → transport)
//! meet only where the fairing starts the reporter and the reporter's
//! consumers plug in; the reporting side names nothing of the request side
//! nor of the trace viewer; no two modules import each other, directly or
//! through others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Modules both sides may use: limits, id formats, URL redaction, and the
/// finished-span record, where the two sides meet.
const SHARED: &[&str] = &["limits", "ids", "redact", "record"];

/// Each top-level module of `src/` and the top-level modules its code
/// (comments left out) names through `crate::`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = vec![src.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let relative = path.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" {
            continue;
        }
        let code = std::fs::read_to_string(&path).unwrap();
        let deps = graph.entry(top.clone()).or_default();
        for line in code.lines().map(|l| l.split("//").next().unwrap_or("")) {
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

#[test]
fn no_module_imports_another_that_imports_it_back() {
    let graph = graph();
    assert!(graph.len() > 10, "the sources were read: {graph:?}");
    // Depth-first search for a path from each dependency back to the module.
    for (module, deps) in &graph {
        let mut stack: Vec<&String> = deps.iter().collect();
        let mut seen = BTreeSet::new();
        while let Some(next) = stack.pop() {
            assert_ne!(next, module, "{module} is in a cycle: {graph:#?}");
            if seen.insert(next) {
                stack.extend(graph.get(next).into_iter().flatten());
            }
        }
    }
}

#[test]
fn the_reporting_side_names_only_shared_modules() {
    let graph = graph();
    let reporter = &graph["reporter"];
    for dep in reporter {
        assert!(
            SHARED.contains(&dep.as_str()),
            "reporter/ uses crate::{dep}: {reporter:?}"
        );
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/reporter");
    let mut files = vec![src];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let text = std::fs::read_to_string(&path).unwrap().to_lowercase();
            assert!(
                !text.contains("viewer"),
                "{} names the viewer",
                path.display()
            );
        }
    }
}

#[test]
fn the_request_side_reaches_the_viewer_only_through_the_fairing() {
    let graph = graph();
    for module in ["config", "lifecycle", "guard", "client", "request_state"] {
        let deps = graph.get(module).cloned().unwrap_or_default();
        assert!(
            !deps.contains("viewer"),
            "{module} uses the viewer: {deps:?}"
        );
    }
    for module in ["lifecycle", "guard", "client", "request_state"] {
        let deps = graph.get(module).cloned().unwrap_or_default();
        assert!(
            !deps.contains("reporter"),
            "{module} uses the reporter: {deps:?}"
        );
    }
}
