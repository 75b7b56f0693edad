//! The trace viewer in a real browser: Debian's `chromium`, headless, loads
//! the trace page of requests to the example server's routes, and a harness
//! page (same origin, not traced) reports what the browser laid out: one bar
//! per span, the nesting, the error span marked in red.
//!
//! `.ci/run` installs chromium and sets `ROCKET_OPENTRACING_REQUIRE_BROWSER=1`,
//! which makes a missing browser a failure; elsewhere, without chromium, the
//! test is reported as skipped in its summary line, in plain sight (this
//! test runs without libtest's harness, whose output capture would hide
//! the reason). With
//! `VIEWER_SCREENSHOT=path.png`, it also saves a screenshot of the `/work`
//! trace page there (the README's picture was taken so).
#![cfg(feature = "viewer")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::agent::Agent;
use common::server::Server;
use common::viewer::wait_for_trace;
use rocket::response::content::RawHtml;
use rocket::serde::json::{from_str, Value};
use rocket::{get, routes};
use rocket_opentracing::OpenTracingFairing;

/// The example server's own routes.
#[path = "../examples/server.rs"]
#[allow(dead_code)]
mod server;

/// Longest a browser run may take.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// A page that loads the trace page of `id` in a same-origin frame and,
/// once it has loaded, writes what the browser laid out into `#result`.
#[get("/harness/<id>")]
fn harness(id: &str) -> RawHtml<String> {
    RawHtml(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"></head><body>
<pre id="result">pending</pre>
<iframe id="page" src="/_traces/trace/{id}" style="width:1280px;height:900px;border:0"></iframe>
<script>
const frame = document.getElementById('page');
frame.addEventListener('load', () => {{
  const doc = frame.contentDocument;
  const rows = [...doc.querySelectorAll('#waterfall .span')].map(row => {{
    const bars = row.querySelectorAll('rect.bar');
    const bar = bars[0];
    const r = bar ? bar.getBoundingClientRect() : null;
    return {{
      span_id: row.dataset.spanId,
      parent_id: row.dataset.parentId || null,
      depth: Number(row.dataset.depth),
      operation: row.dataset.operation,
      service: row.dataset.service,
      error: row.classList.contains('error'),
      bars: bars.length,
      bar_error: bar ? bar.classList.contains('error') : null,
      fill: bar ? getComputedStyle(bar).fill : null,
      left: r ? r.left : null,
      width: r ? r.width : null,
      height: r ? r.height : null,
      text: row.textContent,
    }};
  }});
  document.getElementById('result').textContent = JSON.stringify(rows);
}});
</script></body></html>"#
    ))
}

/// The chromium binary, if installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs headless chromium on `url` with `args`; returns its stdout.
fn run_chromium(browser: &Path, args: &[String], url: &str) -> String {
    let profile = std::env::temp_dir().join(format!(
        "rocket-opentracing-chromium-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium failed: {:?}",
        output.status
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

/// What the harness page reported, from chromium's dump of its DOM.
fn laid_out(browser: &Path, port: u16, trace_id: &str) -> Vec<Value> {
    let url = format!("http://127.0.0.1:{port}/harness/{trace_id}");
    let args = [
        "--dump-dom".to_owned(),
        "--virtual-time-budget=10000".to_owned(),
    ];
    let dom = run_chromium(browser, &args, &url);
    let start = dom.find("<pre id=\"result\">").expect("the harness page") + 17;
    let end = start + dom[start..].find("</pre>").unwrap();
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let rows: Value = from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    rows.as_array().unwrap().clone()
}

/// Whether a computed `rgb(r, g, b)` colour is a saturated red: a hue
/// within 15° of red.
fn is_red(fill: &Value) -> bool {
    let fill = fill.as_str().unwrap();
    let c: Vec<f64> = fill
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    let (r, g, b) = (c[0], c[1], c[2]);
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    if max - min < 60.0 || max != r {
        return false; // grey-ish, or not red-dominant
    }
    let hue = 60.0 * (g - b) / (max - min); // -60..60 around red
    hue.abs() < 15.0
}

/// Requests `path`; returns the `X-Trace-Id` it got.
async fn traced_request(port: u16, path: &str) -> String {
    let response = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .unwrap();
    response.headers()["x-trace-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The one test of this file.
const TEST: &str = "the_waterfall_shows_one_bar_per_span_nested_with_the_error_marked";

/// Runs the test unless a name filter given to `cargo test` excludes it,
/// and reports it the way libtest does, skipped included.
fn main() {
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    if filter.is_some_and(|filter| !TEST.contains(&filter)) {
        println!("\nrunning 0 tests\n\ntest result: ok. 0 passed; 0 failed; 1 filtered out\n");
        return;
    }
    println!("\nrunning 1 test");
    let Some(browser) = chromium() else {
        if std::env::var_os("ROCKET_OPENTRACING_REQUIRE_BROWSER").is_some() {
            println!("test {TEST} ... FAILED\n");
            eprintln!("chromium is required (apt-get install chromium) but was not found on PATH");
            std::process::exit(1);
        }
        println!(
            "test {TEST} ... skipped: chromium is not installed (apt-get install chromium)\n\n\
             test result: ok. 0 passed; 0 failed; 1 skipped (nothing checked)\n"
        );
        return;
    };
    // A failure panics: the process exits non-zero and cargo reports it.
    rocket::execute(the_waterfall_shows_one_bar_per_span_nested_with_the_error_marked(browser));
    println!("test {TEST} ... ok\n\ntest result: ok. 1 passed; 0 failed\n");
}

async fn the_waterfall_shows_one_bar_per_span_nested_with_the_error_marked(browser: PathBuf) {
    let agent = Agent::bind();
    let figment = common::server::figment()
        .merge(("opentracing.viewer", true))
        .merge(("opentracing.service_name", "server"))
        .merge(("opentracing.agent_port", agent.port()))
        .merge(("opentracing.flush_interval_ms", 20))
        .merge(("opentracing.skip_paths", ["/harness/*"]));
    let rocket = rocket::custom(figment)
        .attach(OpenTracingFairing::from_config())
        .mount("/", server::routes())
        .mount("/", routes![harness]);
    let running = Server::launch(rocket).await;
    let port = running.port;

    traced_request(port, "/hello/alice").await;
    let error = traced_request(port, "/error").await;
    let work = traced_request(port, "/work").await;
    let viewer = format!("http://127.0.0.1:{port}/_traces");
    let spans = wait_for_trace(&viewer, &work, 4).await;
    wait_for_trace(&viewer, &error, 1).await;

    let browser_for_work = browser.clone();
    let work_id = work.clone();
    let rows =
        rocket::tokio::task::spawn_blocking(move || laid_out(&browser_for_work, port, &work_id))
            .await
            .unwrap();

    // One row, with one visible bar, per span of the trace.
    assert_eq!(rows.len(), spans.len(), "{rows:#?}");
    for row in &rows {
        assert_eq!(row["bars"], 1, "{row}");
        assert!(row["width"].as_f64().unwrap() > 0.0, "{row}");
        assert!(row["height"].as_f64().unwrap() > 0.0, "{row}");
        assert_eq!(row["service"], "server");
    }
    // Depth-first, nested by parent: GET /work > load > db.query, then
    // GET /work > cache.refresh.
    let operations: Vec<&str> = rows
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        operations,
        ["GET /work", "load", "db.query", "cache.refresh"]
    );
    let depths: Vec<u64> = rows.iter().map(|r| r["depth"].as_u64().unwrap()).collect();
    assert_eq!(depths, [0, 1, 2, 1]);
    for row in &rows {
        let span = spans
            .iter()
            .find(|s| s["span_id"] == row["span_id"])
            .unwrap_or_else(|| panic!("row of an unknown span: {row}"));
        assert_eq!(row["parent_id"], span["parent_span_id"], "{row}");
        // Each row is labelled with its operation and a duration.
        let text = row["text"].as_str().unwrap();
        assert!(text.contains(row["operation"].as_str().unwrap()), "{text}");
        assert!(text.contains("ms") || text.contains("µs"), "{text}");
    }
    // A child's bar starts no earlier than its parent's on the shared axis.
    let left = |i: usize| rows[i]["left"].as_f64().unwrap();
    assert!(left(1) >= left(0) - 0.5 && left(2) >= left(1) - 0.5 && left(3) >= left(0) - 0.5);
    assert!(
        left(3) > left(2),
        "cache.refresh starts after db.query ends"
    );

    // The error span, and only it, is marked; its bar is drawn in red.
    let errors: Vec<bool> = rows.iter().map(|r| r["error"].as_bool().unwrap()).collect();
    assert_eq!(errors, [false, false, false, true]);
    assert_eq!(rows[3]["bar_error"], true);
    assert!(
        is_red(&rows[3]["fill"]),
        "the error bar is red: {}",
        rows[3]["fill"]
    );
    for row in &rows[..3] {
        assert!(!is_red(&row["fill"]), "not red: {row}");
    }

    // The failing request's single span.
    let browser_for_error = browser.clone();
    let rows =
        rocket::tokio::task::spawn_blocking(move || laid_out(&browser_for_error, port, &error))
            .await
            .unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["operation"], "GET /error");
    assert_eq!(rows[0]["error"], true);

    if let Some(path) = std::env::var_os("VIEWER_SCREENSHOT") {
        let url = format!("http://127.0.0.1:{port}/_traces/trace/{work}");
        let args = [
            format!("--screenshot={}", Path::new(&path).display()),
            "--window-size=1200,470".to_owned(),
            "--virtual-time-budget=5000".to_owned(),
        ];
        rocket::tokio::task::spawn_blocking(move || run_chromium(&browser, &args, &url))
            .await
            .unwrap();
    }
    running.stop().await;
}
