//! The viewer's HTML pages: the trace list, a trace's waterfall, and the
//! page of a trace that is not stored. Server-rendered HTML5 with inline
//! CSS and inline SVG: no script, no external asset, so the pages work
//! offline and with JavaScript off. A `Content-Security-Policy` meta tag
//! forbids scripts and every fetch, as a second line behind escaping.
//!
//! Every value from span data or from the request (operation and service
//! names, tags, logs, baggage, form values, the base path) is escaped with
//! [`html`], or [`query`] in a link's query string; ids in links are
//! formatted from numbers.
//!
//! # The waterfall's DOM (a contract with the end-to-end browser test)
//!
//! - The waterfall is `<div id="waterfall">`, holding one row per span, in
//!   depth-first order (children after their parent, sorted by start).
//! - A row is `<details class="span">`; its class list also has `error`
//!   when the span has an error, `orphan` when its parent is not in the
//!   trace (shown as a root), `cycle` when it is shown as a root to break a
//!   cycle of parent links, `duplicate` when an earlier row has its span id.
//!   No other element's class attribute starts with `span`.
//! - Its attributes:
//!   - `data-span-id`: the span id, 16 lower-case hex digits;
//!   - `data-parent-id`: the span id of the row it is nested under (an
//!     earlier row with `data-depth` one less); empty for a row at depth 0;
//!   - `data-reported-parent-id`: the parent span id the span reported
//!     (empty when none), which differs from `data-parent-id` for orphans
//!     and cycles only;
//!   - `data-depth`: the nesting depth, `0` for roots;
//!   - `data-service`, `data-operation`: the span's service and operation
//!     (HTML-escaped in the source, so the DOM has the original text but for
//!     control characters, which become U+FFFD);
//!   - `id="span-<span id>"` on the first row of a span id, for `#` links.
//! - Inside the row's `<summary>`, the bar is one SVG `<rect class="bar">`
//!   (`class="bar error"` for an error span), with `x` and `width` in
//!   percent of the time axis. An error row also shows the text "error" in
//!   a `<b class="badge error">` in its label.
//! - The span's details (tags, logs, baggage, references) are in the
//!   `<div class="detail">` of the row, visible when the row is open.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Display, Write};
use std::sync::Arc;

use super::escape::{html, query};
use super::model::{
    format_span_id, format_trace_id, parse_trace_id, ReferenceKind, SpanRecord, Tag, TraceId,
    TraceSummary,
};
use super::store::{StoreStats, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};

/// The list page's filter values as the request gave them, echoed back
/// into the forms (each may be empty, or not even valid: it is only shown).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ListForm {
    /// Text the operation of one of the trace's spans contains.
    pub(crate) operation: String,
    /// `""` (any), `"true"` (errors only) or `"false"` (without errors).
    pub(crate) error: String,
    /// Minimum trace duration, in milliseconds.
    pub(crate) min_duration_ms: String,
    /// The trace id typed into the lookup form; shown with a hint when it
    /// is not a valid id (a valid one is redirected to its trace page).
    pub(crate) id: String,
    /// The `limit` parameter, kept in a hidden field so that filtering
    /// again keeps it.
    pub(crate) limit: String,
}

impl ListForm {
    /// Whether a filter is set (the empty state then says so).
    fn is_filtered(&self) -> bool {
        !self.operation.trim().is_empty()
            || !self.error.trim().is_empty()
            || !self.min_duration_ms.trim().is_empty()
    }
}

/// The trace list: store counters, the filter and lookup forms, and one
/// table row per trace of `traces`, in the order given (the store's:
/// newest first). `operations` fill the operation field's suggestions.
pub(crate) fn list_page(
    base: &str,
    traces: &[TraceSummary],
    form: &ListForm,
    operations: &[String],
    stats: &StoreStats,
) -> String {
    render(|out| {
        page_start(out, base, &"Traces")?;
        write_list(out, base, traces, form, operations, stats)?;
        page_end(out)
    })
}

/// The page of trace `trace_id`: a summary, then the waterfall of `spans`
/// (in any order) on one time axis, each span's details one click away.
pub(crate) fn trace_page(base: &str, trace_id: TraceId, spans: &[Arc<SpanRecord>]) -> String {
    let rows = waterfall_rows(spans);
    let title = match rows.first() {
        Some(row) => format!(
            "{} · trace {}",
            spans[row.index].operation,
            format_trace_id(trace_id)
        ),
        None => format!("Trace {}", format_trace_id(trace_id)),
    };
    render(|out| {
        page_start(out, base, &html(&title))?;
        write_trace(out, base, trace_id, spans, &rows)?;
        page_end(out)
    })
}

/// The page for trace id `id` (as requested, possibly not even an id) when
/// the store has none of its spans.
pub(crate) fn not_found_page(base: &str, id: &str) -> String {
    let b = html(base);
    render(|out| {
        page_start(out, base, &"Trace not found")?;
        write!(
            out,
            "<h1>Trace not found</h1>\n\
             <div class=\"notice\"><p>No span of trace <code>{id}</code> is stored: it \
             is not, or no longer, in the viewer. The viewer keeps the most recent \
             spans only, up to a bound in spans and in memory, and evicts the oldest \
             beyond it; spans of other processes appear only once they report them \
             here.</p>\n<p>The id to look up is the value of the <code>X-Trace-Id</code> \
             response header: 16 or 32 hex digits.</p></div>\n\
             <p><a href=\"{b}/\">← Back to the trace list</a></p>\n",
            id = html(id),
        )?;
        lookup_form(out, base, id)?;
        page_end(out)
    })
}

/// Runs `body` on a new `String`.
fn render(body: impl FnOnce(&mut String) -> fmt::Result) -> String {
    let mut out = String::with_capacity(16 * 1024);
    body(&mut out).expect("writing to a String does not fail");
    out
}

const CSS: &str = r#"
:root{color-scheme:light;--fg:#1f2937;--muted:#5b6472;--line:#e5e7eb;--zebra:#f8fafc;--head:#f1f5f9;--accent:#1d4ed8;--err:#b91c1c;--err-bg:#fee2e2;--label-w:26rem}
@media (max-width:800px){:root{--label-w:45%}.ticks span.odd{display:none}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:#fff}
a{color:var(--accent)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.92em}
header.top{display:flex;flex-wrap:wrap;gap:.4rem 1.5rem;align-items:baseline;padding:.55rem 1.25rem;border-bottom:1px solid var(--line);background:var(--head)}
header.top .brand{font-weight:650;color:var(--fg);text-decoration:none}
header.top nav a{margin-right:1rem}
header.top .note{margin-left:auto;color:var(--muted);font-size:.85em}
main{padding:.75rem 1.25rem 3rem}
h1{font-size:1.35rem;margin:.3rem 0 .35rem;overflow-wrap:anywhere}
h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
h3{font-size:.9rem;margin:.8rem 0 .3rem}
.muted{color:var(--muted)}
.counters{margin:0 0 .8rem;color:var(--muted)}
.counters b{color:var(--fg);font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;background:var(--head);white-space:nowrap}
tbody tr:nth-child(even){background:var(--zebra)}
tbody tr:hover{background:#eef2ff}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.nowrap{white-space:nowrap}
td.op{overflow-wrap:anywhere}
.badge{display:inline-block;padding:0 .45em;border-radius:999px;font-size:.78em;font-weight:650;line-height:1.55;white-space:nowrap;vertical-align:baseline}
.badge.error{background:var(--err-bg);color:var(--err);border:1px solid #fca5a5}
.badge.warn{background:#fef3c7;color:#7c2d12;border:1px solid #fcd34d}
.status-err{color:var(--err);font-weight:600}
.swatch{display:inline-block;width:.75em;height:.75em;border-radius:2px;margin-right:.35em;vertical-align:-.05em}
.forms{display:flex;flex-wrap:wrap;align-items:flex-start;gap:1rem;margin:.5rem 0 1rem}
fieldset{border:1px solid var(--line);border-radius:6px;padding:.45rem .9rem .7rem;margin:0}
legend{font-weight:600;font-size:.9em;padding:0 .3em}
form{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;margin:0}
label{display:flex;flex-direction:column;gap:.15rem;font-size:.85em;color:var(--muted)}
input,select,button{font:inherit;font-size:.95rem;padding:.3rem .45rem;border:1px solid #94a3b8;border-radius:4px;color:var(--fg);background:#fff}
input.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;width:20rem;max-width:100%}
button{background:var(--accent);border-color:var(--accent);color:#fff;cursor:pointer}
.reset{align-self:end;padding-bottom:.4rem;font-size:.9em}
.notice{padding:.6rem .9rem;border:1px solid var(--line);border-radius:6px;background:var(--zebra);margin:.6rem 0}
.notice.error{border-color:#fca5a5;background:#fef2f2}
.notice p{margin:.2rem 0}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1.2rem;margin:.5rem 0}
.facts dt{color:var(--muted)}
.facts dd{margin:0}
.chip{display:inline-block;margin-right:.9rem;white-space:nowrap}
#waterfall{border:1px solid var(--line);border-radius:6px;margin-top:.8rem}
#waterfall .axis,#waterfall summary{display:grid;grid-template-columns:var(--label-w) minmax(0,1fr);align-items:center}
#waterfall .axis{position:sticky;top:0;z-index:1;background:var(--head);border-bottom:1px solid var(--line);font-size:.8em;color:var(--muted);border-radius:6px 6px 0 0}
.axis .axis-label{padding:.3rem .6rem}
.ticks{position:relative;height:1.7rem;margin-right:1rem}
.ticks span{position:absolute;top:.35rem;transform:translateX(-50%);white-space:nowrap;font-variant-numeric:tabular-nums}
.ticks span.first{transform:none}
.ticks span.last{transform:translateX(-100%)}
details.span>summary{list-style:none;cursor:pointer;min-height:24px;border-bottom:1px solid #f1f5f9}
details.span>summary::-webkit-details-marker{display:none}
details.span:nth-of-type(even)>summary{background:var(--zebra)}
details.span>summary:hover{background:#eef2ff}
details.span[open]>summary{background:#e0e7ff}
details.span>summary:focus-visible{outline:2px solid var(--accent);outline-offset:-2px}
.label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;padding:.15rem .5rem .15rem calc(.4rem + var(--d,0) * .9rem)}
.label::before{content:"▸";display:inline-block;width:1em;color:var(--muted)}
details[open]>summary .label::before{content:"▾"}
.label .svc{color:var(--muted)}
.track{display:block;width:calc(100% - 1rem);height:22px;overflow:visible;background-image:linear-gradient(to right,#e2e8f0 1px,transparent 1px);background-size:25% 100%;border-right:1px solid #e2e8f0}
.track text{font-size:11px;fill:#1f2937;font-variant-numeric:tabular-nums}
.track text.inside{fill:#fff}
.detail{padding:.5rem 1rem .9rem 1.6rem;border-bottom:1px solid var(--line);background:#fcfcfd}
.detail table{width:auto;min-width:min(40rem,100%);font-size:.92em}
.detail td.key{white-space:nowrap;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em}
.detail td.val{white-space:pre-wrap;overflow-wrap:anywhere}
.fields{display:grid;grid-template-columns:max-content 1fr;gap:0 .8rem;margin:0}
.fields dt{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em;color:var(--muted)}
.fields dd{margin:0;white-space:pre-wrap;overflow-wrap:anywhere}
"#;

/// Everything up to and including `<main>`.
fn page_start(out: &mut String, base: &str, title: &dyn Display) -> fmt::Result {
    let b = html(base);
    write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'\">\n\
         <meta name=\"robots\" content=\"noindex\">\n\
         <title>{title} · Trace viewer</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <header class=\"top\"><a class=\"brand\" href=\"{b}/\">Trace viewer</a>\
         <nav><a href=\"{b}/\">Traces</a><a href=\"{b}/api/traces\">JSON API</a></nav>\
         <span class=\"note\">Development viewer: the most recent spans, kept in memory</span>\
         </header>\n<main>\n"
    )
}

fn page_end(out: &mut String) -> fmt::Result {
    out.write_str("</main>\n</body>\n</html>\n")
}

fn write_list(
    out: &mut String,
    base: &str,
    traces: &[TraceSummary],
    form: &ListForm,
    operations: &[String],
    stats: &StoreStats,
) -> fmt::Result {
    let b = html(base);
    write!(
        out,
        "<h1>Traces</h1>\n<p class=\"counters\"><b>{}</b> span{} in <b>{}</b> trace{} stored \
         · keeps at most <b>{}</b> spans · <b>{}</b> evicted so far</p>\n",
        stats.spans,
        plural(stats.spans as u64),
        stats.traces,
        plural(stats.traces as u64),
        stats.max_spans,
        stats.evicted
    )?;

    // The filter form.
    let error = form.error.trim();
    let selected = |value: &str| if error == value { " selected" } else { "" };
    write!(
        out,
        "<div class=\"forms\">\n<fieldset><legend>Filter</legend>\n\
         <form method=\"get\" action=\"{b}/\">\n\
         <label><span>Operation contains</span><input type=\"text\" name=\"operation\" value=\"{op}\" \
         list=\"operations\" placeholder=\"e.g. GET /hello\" autocomplete=\"off\"></label>\n\
         <label><span>Errors</span><select name=\"error\">\
         <option value=\"\"{any}>any</option>\
         <option value=\"true\"{yes}>errors only</option>\
         <option value=\"false\"{no}>without errors</option></select></label>\n\
         <label><span>Minimum duration (ms)</span><input type=\"number\" name=\"min_duration_ms\" \
         value=\"{min}\" min=\"0\" step=\"any\" placeholder=\"0\"></label>\n",
        op = html(&form.operation),
        any = selected(""),
        yes = selected("true"),
        no = selected("false"),
        min = html(&form.min_duration_ms),
    )?;
    if !form.limit.trim().is_empty() {
        writeln!(
            out,
            "<input type=\"hidden\" name=\"limit\" value=\"{}\">",
            html(&form.limit)
        )?;
    }
    write!(
        out,
        "<button type=\"submit\">Filter</button>\n\
         <a class=\"reset\" href=\"{b}/\">Reset</a>\n</form>\n"
    )?;
    out.write_str("<datalist id=\"operations\">")?;
    for operation in operations {
        write!(out, "<option value=\"{}\">", html(operation))?;
    }
    out.write_str("</datalist>\n</fieldset>\n")?;
    write!(
        out,
        "<fieldset><legend>Find a trace</legend>\n{}</fieldset>\n</div>\n",
        LookupForm { base, id: &form.id }
    )?;

    let id = form.id.trim();
    if !id.is_empty() && parse_trace_id(id).is_none() {
        writeln!(
            out,
            "<div class=\"notice error\" role=\"alert\"><p><code>{}</code> is not a trace id: \
             a trace id is 1 to 32 hex digits, as in the <code>X-Trace-Id</code> response \
             header.</p></div>",
            html(id)
        )?;
    }

    if traces.is_empty() {
        if stats.traces == 0 {
            writeln!(
                out,
                "<div class=\"notice\"><p><b>No traces yet.</b> Make a request to the app \
                 (open one of its pages, or <code>curl</code> it): each request becomes a \
                 trace here as soon as its span finishes. Reload this page to see it.</p>\
                 <p class=\"muted\">Every response carries its trace id in the \
                 <code>X-Trace-Id</code> header; paste it above to open that trace.</p></div>"
            )?;
        } else {
            writeln!(
                out,
                "<div class=\"notice\"><p><b>No trace matches these filters</b> \
                 ({} stored). <a href=\"{b}/\">Show all traces</a>.</p></div>",
                stats.traces
            )?;
        }
        return Ok(());
    }

    let limit = form
        .limit
        .trim()
        .parse::<usize>()
        .unwrap_or(DEFAULT_LIST_LIMIT)
        .min(MAX_LIST_LIMIT);
    write!(
        out,
        "<p class=\"muted\">{} trace{} shown, newest first",
        traces.len(),
        plural(traces.len() as u64)
    )?;
    if form.is_filtered() {
        out.write_str(" (filtered)")?;
    }
    if traces.len() >= limit && limit < MAX_LIST_LIMIT {
        write!(
            out,
            " · more may match: <a href=\"{}\">show up to {MAX_LIST_LIMIT}</a>",
            ListLink {
                base,
                operation: &form.operation,
                error: &form.error,
                min_duration_ms: &form.min_duration_ms,
                limit: MAX_LIST_LIMIT,
            }
        )?;
    }
    out.write_str(".</p>\n")?;

    out.write_str(
        "<table class=\"traces\">\n<thead><tr><th>Start (UTC)</th><th>Service</th>\
         <th>Operation</th><th class=\"num\">Duration</th><th class=\"num\">Spans</th>\
         <th>Error</th><th class=\"num\">Status</th><th>Trace id</th></tr></thead>\n<tbody>\n",
    )?;
    for trace in traces {
        let id = format_trace_id(trace.trace_id);
        write!(
            out,
            "<tr><td class=\"nowrap\">{time}</td>\
             <td class=\"nowrap\">{service}</td>\
             <td class=\"op\"><a href=\"{b}/trace/{id}\">{operation}</a></td>\
             <td class=\"num\">{duration}</td><td class=\"num\">{spans}</td><td>",
            time = Time(trace.start_us),
            service = html(&trace.service),
            operation = html(&trace.operation),
            duration = format_duration(trace.duration_us),
            spans = trace.span_count,
        )?;
        if trace.error {
            out.write_str("<b class=\"badge error\">error</b>")?;
        }
        out.write_str("</td>")?;
        match trace.status_code {
            Some(code) if code >= 500 => write!(out, "<td class=\"num status-err\">{code}</td>")?,
            Some(code) => write!(out, "<td class=\"num\">{code}</td>")?,
            None => out.write_str("<td class=\"num muted\">–</td>")?,
        }
        writeln!(
            out,
            "<td><a class=\"mono\" href=\"{b}/trace/{id}\">{id}</a></td></tr>"
        )?;
    }
    out.write_str("</tbody>\n</table>\n")
}

/// `"s"` unless `n` is 1.
fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The lookup form: a trace id, sent as `{base}/?id=…`.
struct LookupForm<'a> {
    base: &'a str,
    id: &'a str,
}

impl Display for LookupForm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<form method=\"get\" action=\"{}/\">\n\
             <label><span>Trace id: the <code>X-Trace-Id</code> response header</span>\
             <input class=\"id\" type=\"text\" name=\"id\" value=\"{}\" \
             placeholder=\"e.g. 4bf92f3577b34da6\" maxlength=\"64\" spellcheck=\"false\" \
             autocomplete=\"off\"></label>\n\
             <button type=\"submit\">Open</button>\n</form>\n",
            html(self.base),
            html(self.id)
        )
    }
}

fn lookup_form(out: &mut String, base: &str, id: &str) -> fmt::Result {
    write!(out, "{}", LookupForm { base, id })
}

/// A link to the list page with filters: `{base}/?operation=…&…`, already
/// escaped for an attribute.
struct ListLink<'a> {
    base: &'a str,
    operation: &'a str,
    error: &'a str,
    min_duration_ms: &'a str,
    limit: usize,
}

impl Display for ListLink<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/?", html(self.base))?;
        let mut separator = "";
        for (name, value) in [
            ("operation", self.operation),
            ("error", self.error),
            ("min_duration_ms", self.min_duration_ms),
        ] {
            let value = value.trim();
            if !value.is_empty() {
                write!(f, "{separator}{name}={}", query(value))?;
                separator = "&amp;";
            }
        }
        if self.limit != DEFAULT_LIST_LIMIT {
            write!(f, "{separator}limit={}", self.limit)?;
        }
        Ok(())
    }
}

/// One row of the waterfall.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    /// The span's index in the page's `spans`.
    index: usize,
    /// Nesting depth, 0 for a root.
    depth: usize,
    /// Index of the row's parent span, `None` at depth 0.
    parent: Option<usize>,
    /// The span has a parent id, not in the trace.
    orphan: bool,
    /// The span has a parent in the trace, but it is shown as a root to
    /// break a cycle of parent links.
    cycle: bool,
    /// An earlier span (by start) has the same span id; children nest under
    /// that one.
    duplicate: bool,
}

/// The waterfall's rows: each span once, depth first from the roots
/// (earliest first), children sorted by start. A span whose parent is not
/// in `spans` is a root; so is one span of each cycle of parent links (the
/// earliest of the cycle), so hostile parent ids cannot loop or hide spans.
fn waterfall_rows(spans: &[Arc<SpanRecord>]) -> Vec<Row> {
    let n = spans.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (spans[i].start_us, spans[i].span_id, i));
    let mut first: HashMap<u64, usize> = HashMap::with_capacity(n);
    for &i in &order {
        first.entry(spans[i].span_id).or_insert(i);
    }
    let parent_of: Vec<Option<usize>> = (0..n)
        .map(|i| {
            let parent = first.get(&spans[i].parent_span_id?).copied()?;
            (parent != i).then_some(parent)
        })
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &i in &order {
        if let Some(parent) = parent_of[i] {
            children[parent].push(i);
        }
    }

    let mut rows = Vec::with_capacity(n);
    let mut listed = vec![false; n];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    // The roots first, then what is left: spans on (or under) a cycle.
    let roots = order.iter().copied().filter(|&i| parent_of[i].is_none());
    for start in roots.chain(order.iter().copied()) {
        if listed[start] {
            continue;
        }
        let root = match parent_of[start] {
            None => start,
            // Every span under a listed one is listed: `start`'s ancestors
            // are not, so following them leads into a cycle.
            Some(_) => cycle_root(start, &parent_of, spans),
        };
        stack.push((root, 0));
        while let Some((i, depth)) = stack.pop() {
            if std::mem::replace(&mut listed[i], true) {
                continue;
            }
            let span = &spans[i];
            let parent = if depth == 0 { None } else { parent_of[i] };
            rows.push(Row {
                index: i,
                depth,
                parent,
                orphan: span.parent_span_id.is_some_and(|p| !first.contains_key(&p)),
                cycle: depth == 0 && span.parent_span_id.is_some_and(|p| first.contains_key(&p)),
                duplicate: first[&span.span_id] != i,
            });
            for &child in children[i].iter().rev() {
                if !listed[child] {
                    stack.push((child, depth + 1));
                }
            }
        }
    }
    rows
}

/// The earliest span of the cycle that following parents from `start`
/// runs into.
fn cycle_root(start: usize, parent_of: &[Option<usize>], spans: &[Arc<SpanRecord>]) -> usize {
    let mut seen = HashSet::new();
    let mut at = start;
    while seen.insert(at) {
        match parent_of[at] {
            Some(parent) => at = parent,
            None => return at, // not a cycle after all (not reached)
        }
    }
    // `at` is on the cycle: walk it once, keeping the earliest span.
    let key = |i: usize| (spans[i].start_us, spans[i].span_id, i);
    let mut best = at;
    let mut i = parent_of[at].unwrap_or(at);
    while i != at {
        if key(i) < key(best) {
            best = i;
        }
        i = parent_of[i].unwrap_or(at);
    }
    best
}

/// The time axis of a trace: its earliest start and its length.
#[derive(Debug, Clone, Copy)]
struct Axis {
    start: i64,
    /// At least 1, so that positions are defined.
    length: i128,
}

impl Axis {
    fn of(spans: &[Arc<SpanRecord>]) -> Axis {
        let start = spans.iter().map(|s| s.start_us).min().unwrap_or(0);
        let end = spans.iter().map(|s| s.end_us()).max().unwrap_or(0);
        Axis {
            start,
            length: (i128::from(end) - i128::from(start)).max(1),
        }
    }

    /// Where `us` is, in percent of the axis, within 0 to 100.
    fn percent(&self, us: i128) -> f64 {
        (us as f64 * 100.0 / self.length as f64).clamp(0.0, 100.0)
    }

    /// Microseconds from the start of the axis to `us` (negative before).
    fn offset(&self, us: i64) -> i64 {
        clamp_i64(i128::from(us) - i128::from(self.start))
    }
}

fn clamp_i64(value: i128) -> i64 {
    value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Narrowest bar drawn, in percent of the axis, so that a span of no
/// duration stays visible.
const MIN_BAR_PERCENT: f64 = 0.25;

/// Deepest indentation drawn; deeper rows are indented as much (their
/// `data-depth` is exact).
const MAX_INDENT: usize = 20;

fn write_trace(
    out: &mut String,
    base: &str,
    trace_id: TraceId,
    spans: &[Arc<SpanRecord>],
    rows: &[Row],
) -> fmt::Result {
    let b = html(base);
    let id = format_trace_id(trace_id);
    let Some(first) = rows.first() else {
        return write!(
            out,
            "<h1>Trace <code>{id}</code></h1>\n<div class=\"notice\"><p>This trace has no \
             span stored. <a href=\"{b}/\">Back to the list</a>.</p></div>\n"
        );
    };
    let root = &spans[first.index];
    let axis = Axis::of(spans);
    let errors = spans.iter().filter(|s| s.error).count();
    let mut services: Vec<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    let colours = Colours::new(&services);

    write!(
        out,
        "<h1>{operation}</h1>\n<dl class=\"facts\">\n\
         <dt>Trace id</dt><dd><code>{id}</code> · <a href=\"{b}/api/traces/{id}\">JSON</a></dd>\n\
         <dt>Root service</dt><dd>{service}</dd>\n<dt>Services</dt><dd>",
        operation = html(&root.operation),
        service = html(&root.service),
    )?;
    for service in &services {
        write!(
            out,
            "<span class=\"chip\"><i class=\"swatch\" style=\"background:{}\"></i>{}</span>",
            colours.of(service),
            html(service)
        )?;
    }
    write!(
        out,
        "</dd>\n<dt>Start (UTC)</dt><dd>{start}</dd>\n<dt>Duration</dt><dd>{duration}</dd>\n\
         <dt>Spans</dt><dd>{count}</dd>\n<dt>Errors</dt><dd>",
        start = Time(axis.start),
        duration = format_duration(clamp_i64(axis.length)),
        count = spans.len(),
    )?;
    if errors > 0 {
        let s = plural(errors as u64);
        write!(out, "<b class=\"badge error\">{errors} error{s}</b>")?;
    } else {
        out.write_str("none")?;
    }
    out.write_str(
        "</dd>\n</dl>\n<p class=\"muted\">Click a span for its tags, logs, baggage and \
         references.</p>\n",
    )?;

    // The axis, then one row per span.
    out.write_str(
        "<div id=\"waterfall\">\n<div class=\"axis\"><div class=\"axis-label\">Service · \
         operation</div><div class=\"ticks\">",
    )?;
    for quarter in 0..=4 {
        let class = match quarter {
            0 => " class=\"first\"",
            4 => " class=\"last\"",
            _ if quarter % 2 == 1 => " class=\"odd\"",
            _ => "",
        };
        write!(
            out,
            "<span{class} style=\"left:{}%\">{}</span>",
            quarter * 25,
            format_duration(clamp_i64(axis.length * quarter / 4))
        )?;
    }
    out.write_str("</div></div>\n")?;
    let page = TracePage {
        base,
        trace_id,
        spans,
        axis,
        colours,
    };
    for row in rows {
        write_row(out, &page, row)?;
    }
    out.write_str("</div>\n")
}

/// What every row of a trace page needs.
struct TracePage<'a> {
    base: &'a str,
    trace_id: TraceId,
    spans: &'a [Arc<SpanRecord>],
    axis: Axis,
    colours: Colours<'a>,
}

fn write_row(out: &mut String, page: &TracePage<'_>, row: &Row) -> fmt::Result {
    let TracePage {
        spans,
        axis,
        colours,
        ..
    } = page;
    let span = &spans[row.index];
    let span_id = format_span_id(span.span_id);
    let parent_id = row
        .parent
        .map(|p| format_span_id(spans[p].span_id))
        .unwrap_or_default();
    let reported_parent = span.parent_span_id.map(format_span_id).unwrap_or_default();
    let service = html(&span.service);
    let operation = html(&span.operation);
    let colour = colours.of(&span.service);

    let mut class = String::from("span");
    for (flag, name) in [
        (span.error, " error"),
        (row.orphan, " orphan"),
        (row.cycle, " cycle"),
        (row.duplicate, " duplicate"),
    ] {
        if flag {
            class.push_str(name);
        }
    }
    write!(out, "<details class=\"{class}\"")?;
    if !row.duplicate {
        write!(out, " id=\"span-{span_id}\"")?;
    }
    write!(
        out,
        " data-span-id=\"{span_id}\" data-parent-id=\"{parent_id}\" \
         data-reported-parent-id=\"{reported_parent}\" data-depth=\"{depth}\" \
         data-service=\"{service}\" data-operation=\"{operation}\" style=\"--d:{indent}\">\n\
         <summary><span class=\"label\" title=\"{service}: {operation}\">\
         <i class=\"swatch\" style=\"background:{colour}\"></i>",
        depth = row.depth,
        indent = row.depth.min(MAX_INDENT),
    )?;
    if span.error {
        out.write_str("<b class=\"badge error\">error</b> ")?;
    }
    for (flag, text) in [
        (row.orphan, "parent not found"),
        (row.cycle, "parent cycle"),
        (row.duplicate, "duplicate id"),
    ] {
        if flag {
            write!(out, "<b class=\"badge warn\">{text}</b> ")?;
        }
    }
    write!(
        out,
        "<span class=\"svc\">{service}</span> <span class=\"op\">{operation}</span></span>"
    )?;

    // The bar, and its duration beside it (or inside it when it spans
    // almost the whole axis).
    let offset = axis.offset(span.start_us);
    let duration = span.duration_us.max(0);
    let x = axis.percent(i128::from(offset));
    let width = axis
        .percent(i128::from(duration))
        .max(MIN_BAR_PERCENT)
        .min(100.0 - x)
        .max(0.0);
    let end = x + width;
    let (text_x, dx, anchor, text_class) = if end <= 80.0 {
        (end, 4, "start", "dur")
    } else if x >= 20.0 {
        (x, -4, "end", "dur")
    } else {
        (x, 4, "start", "dur inside")
    };
    let fill = if span.error { ERROR_COLOUR } else { colour };
    let text_duration = format_duration(duration);
    writeln!(
        out,
        "<svg class=\"track\" height=\"22\" role=\"img\" aria-label=\"{operation}: \
         +{offset_text}, {text_duration}{error_text}\">\
         <rect class=\"bar{error_class}\" x=\"{x:.3}%\" y=\"4\" width=\"{width:.3}%\" \
         height=\"14\" rx=\"2\" fill=\"{fill}\" stroke=\"{fill}\"><title>{service}: \
         {operation} · {text_duration}{error_text}</title></rect>\
         <text class=\"{text_class}\" x=\"{text_x:.3}%\" dx=\"{dx}\" y=\"15\" \
         text-anchor=\"{anchor}\">{text_duration}{error_text}</text></svg></summary>",
        offset_text = format_duration(offset),
        error_text = if span.error { " · error" } else { "" },
        error_class = if span.error { " error" } else { "" },
    )?;

    write_detail(out, page, row)?;
    out.write_str("</details>\n")
}

fn write_detail(out: &mut String, page: &TracePage<'_>, row: &Row) -> fmt::Result {
    let TracePage {
        base,
        trace_id,
        spans,
        axis,
        colours,
    } = page;
    let b = html(base);
    let span = &spans[row.index];
    write!(
        out,
        "<div class=\"detail\">\n<dl class=\"facts\">\n<dt>Span id</dt><dd><code>{}</code>",
        format_span_id(span.span_id)
    )?;
    if row.duplicate {
        out.write_str(" <b class=\"badge warn\">duplicate id</b>")?;
    }
    out.write_str("</dd>\n<dt>Parent</dt><dd>")?;
    match span.parent_span_id {
        None => out.write_str("none: a root span")?,
        Some(parent) => {
            let parent = format_span_id(parent);
            if row.orphan {
                write!(
                    out,
                    "<code>{parent}</code> <b class=\"badge warn\">parent not found</b> \
                     <span class=\"muted\">not in this trace: evicted from the store, or a \
                     span of a caller that does not report here</span>"
                )?;
            } else {
                write!(out, "<a href=\"#span-{parent}\"><code>{parent}</code></a>")?;
                if row.cycle {
                    out.write_str(
                        " <b class=\"badge warn\">parent cycle</b> <span class=\"muted\">the \
                         parent links of this trace form a cycle; shown from this span</span>",
                    )?;
                }
            }
        }
    }
    write!(
        out,
        "</dd>\n<dt>Service</dt><dd><i class=\"swatch\" style=\"background:{colour}\"></i>\
         {service}</dd>\n<dt>Operation</dt><dd>{operation} · <a href=\"{link}\">traces with \
         this operation</a></dd>\n<dt>Start</dt><dd>+{offset} <span class=\"muted\">({time} \
         UTC)</span></dd>\n<dt>Duration</dt><dd>{duration}</dd>\n",
        colour = colours.of(&span.service),
        service = html(&span.service),
        operation = html(&span.operation),
        link = ListLink {
            base,
            operation: &span.operation,
            error: "",
            min_duration_ms: "",
            limit: DEFAULT_LIST_LIMIT,
        },
        offset = format_duration(axis.offset(span.start_us)),
        time = Time(span.start_us),
        duration = format_duration(span.duration_us),
    )?;
    if span.error {
        out.write_str("<dt>Status</dt><dd><b class=\"badge error\">error</b></dd>\n")?;
    }
    out.write_str("</dl>\n")?;

    if !span.references.is_empty() {
        out.write_str(
            "<h3>References</h3>\n<table><thead><tr><th>Type</th><th>Trace</th><th>Span</th>\
             </tr></thead><tbody>\n",
        )?;
        for reference in &span.references {
            let kind = match reference.kind {
                ReferenceKind::ChildOf => "child of",
                ReferenceKind::FollowsFrom => "follows from",
            };
            let other_trace = format_trace_id(reference.trace_id);
            let other_span = format_span_id(reference.span_id);
            if reference.trace_id == *trace_id {
                writeln!(
                    out,
                    "<tr><td>{kind}</td><td class=\"muted\">this trace</td>\
                     <td><a href=\"#span-{other_span}\"><code>{other_span}</code></a></td></tr>"
                )?;
            } else {
                writeln!(
                    out,
                    "<tr><td>{kind}</td><td><a href=\"{b}/trace/{other_trace}\">\
                     <code>{other_trace}</code></a></td><td><code>{other_span}</code></td></tr>"
                )?;
            }
        }
        out.write_str("</tbody></table>\n")?;
    }

    writeln!(out, "<h3>Tags ({})</h3>", span.tags.len())?;
    if span.tags.is_empty() {
        out.write_str("<p class=\"muted\">No tags.</p>\n")?;
    } else {
        out.write_str("<table><thead><tr><th>Key</th><th>Value</th></tr></thead><tbody>\n")?;
        for tag in &span.tags {
            writeln!(
                out,
                "<tr><td class=\"key\">{}</td><td class=\"val\">{}</td></tr>",
                html(&tag.key),
                html(&tag.value.to_text())
            )?;
        }
        out.write_str("</tbody></table>\n")?;
    }

    if !span.logs.is_empty() {
        write!(
            out,
            "<h3>Logs ({})</h3>\n<table><thead><tr><th>Time</th><th>Fields</th></tr></thead>\
             <tbody>\n",
            span.logs.len()
        )?;
        for log in &span.logs {
            write!(
                out,
                "<tr><td class=\"num\">+{}</td><td>",
                format_duration(axis.offset(log.timestamp_us))
            )?;
            write_fields(out, &log.fields)?;
            out.write_str("</td></tr>\n")?;
        }
        out.write_str("</tbody></table>\n")?;
    }

    if !span.baggage.is_empty() {
        write!(
            out,
            "<h3>Baggage ({})</h3>\n<table><thead><tr><th>Key</th><th>Value</th></tr></thead>\
             <tbody>\n",
            span.baggage.len()
        )?;
        for item in &span.baggage {
            writeln!(
                out,
                "<tr><td class=\"key\">{}</td><td class=\"val\">{}</td></tr>",
                html(&item.key),
                html(&item.value)
            )?;
        }
        out.write_str("</tbody></table>\n")?;
    }
    out.write_str("</div>\n")
}

fn write_fields(out: &mut String, fields: &[Tag]) -> fmt::Result {
    if fields.is_empty() {
        return out.write_str("<span class=\"muted\">no fields</span>");
    }
    out.write_str("<dl class=\"fields\">")?;
    for field in fields {
        write!(
            out,
            "<dt>{}</dt><dd>{}</dd>",
            html(&field.key),
            html(&field.value.to_text())
        )?;
    }
    out.write_str("</dl>")
}

/// Fill of an error span's bar: red, used by no service.
const ERROR_COLOUR: &str = "#dc2626";

/// Service colours: distinct hues, each with a contrast of at least 4.5:1
/// on white, none of them red (errors are).
const PALETTE: [&str; 9] = [
    "#1d4ed8", // blue
    "#0f766e", // teal
    "#7e22ce", // purple
    "#a16207", // ochre
    "#15803d", // green
    "#be185d", // magenta
    "#475569", // slate
    "#4d7c0f", // olive
    "#0369a1", // sky
];

/// The palette slot of `service`: the same for a name in every trace and
/// every run (FNV-1a of the name).
fn palette_slot(service: &str) -> usize {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in service.bytes() {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    hash as usize % PALETTE.len()
}

/// The colours of a trace's services: each service takes its
/// [`palette_slot`], or the next free one when another service of the trace
/// has it, so that up to `PALETTE.len()` services get distinct colours.
/// Depends only on the set of services.
struct Colours<'a>(HashMap<&'a str, &'static str>);

impl<'a> Colours<'a> {
    /// `services`: sorted, without duplicates.
    fn new(services: &[&'a str]) -> Self {
        let mut taken = [false; PALETTE.len()];
        let mut colours = HashMap::with_capacity(services.len());
        for (n, service) in services.iter().enumerate() {
            let mut slot = palette_slot(service);
            if n < PALETTE.len() {
                while taken[slot] {
                    slot = (slot + 1) % PALETTE.len();
                }
            }
            taken[slot] = true;
            colours.insert(*service, PALETTE[slot]);
        }
        Colours(colours)
    }

    fn of(&self, service: &str) -> &'static str {
        self.0
            .get(service)
            .copied()
            .unwrap_or_else(|| PALETTE[palette_slot(service)])
    }
}

/// Formats a duration in microseconds for people: `0 µs`, `999 µs`,
/// `1.5 ms`, `12.3 ms`, `2.25 s` (three significant digits at most, trailing
/// zeros dropped). Negative values (clock skew) keep their sign.
pub(crate) fn format_duration(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let abs = us.unsigned_abs();
    if abs < 1000 {
        return format!("{sign}{abs} µs");
    }
    // Seconds from 999.5 ms, which would round to 1000 ms.
    let (unit, name) = if abs < 999_500 {
        (1_000, "ms")
    } else {
        (1_000_000, "s")
    };
    let decimals = match abs / unit {
        0..=9 => 2,
        10..=99 => 1,
        _ => 0,
    };
    let step = unit / 10u64.pow(decimals);
    let rounded = abs / step + u64::from(abs % step >= step / 2);
    let scale = 10u64.pow(decimals);
    let mut text = format!("{sign}{}", rounded / scale);
    if decimals > 0 {
        let fraction = format!("{:0width$}", rounded % scale, width = decimals as usize);
        let fraction = fraction.trim_end_matches('0');
        if !fraction.is_empty() {
            text.push('.');
            text.push_str(fraction);
        }
    }
    text.push(' ');
    text.push_str(name);
    text
}

/// A date and time of the proleptic Gregorian calendar, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    millis: u32,
}

impl Civil {
    /// The UTC date and time `us` microseconds after the Unix epoch
    /// (before it when negative), truncated to the millisecond.
    fn from_unix_us(us: i64) -> Civil {
        const DAY_US: i64 = 86_400_000_000;
        let days = us.div_euclid(DAY_US);
        let in_day = us.rem_euclid(DAY_US) / 1000; // milliseconds
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (in_day / 3_600_000) as u32,
            minute: (in_day / 60_000 % 60) as u32,
            second: (in_day / 1000 % 60) as u32,
            millis: (in_day % 1000) as u32,
        }
    }
}

/// Year, month (1 to 12) and day (1 to 31) of the day `days` after
/// 1970-01-01: Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097); // 400-year eras
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats an instant (microseconds since the Unix epoch) in UTC to the
/// millisecond: `2026-11-21 17:05:42.123`.
pub(crate) fn format_timestamp(us: i64) -> String {
    let c = Civil::from_unix_us(us);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

/// An instant as a `<time>` element: the readable UTC time, with the
/// machine-readable one in `datetime` (for years 0 to 9999).
struct Time(i64);

impl Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = Civil::from_unix_us(self.0);
        let text = format_timestamp(self.0);
        if (0..=9999).contains(&c.year) {
            write!(
                f,
                "<time datetime=\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\">{text}</time>",
                c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
            )
        } else {
            f.write_str(&text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::escape::HOSTILE;
    use crate::viewer::model::{Baggage, Log, Reference, TagValue};

    const BASE: &str = "/_traces";

    /// A span of trace 1 named `op-{id}`, of service `svc`.
    fn span(id: u64, parent: Option<u64>, start_us: i64, duration_us: i64) -> SpanRecord {
        SpanRecord {
            trace_id: 1,
            span_id: id,
            parent_span_id: parent,
            references: Vec::new(),
            service: "svc".into(),
            operation: format!("op-{id}"),
            start_us,
            duration_us,
            error: false,
            tags: Vec::new(),
            logs: Vec::new(),
            baggage: Vec::new(),
        }
    }

    fn arcs(spans: Vec<SpanRecord>) -> Vec<Arc<SpanRecord>> {
        spans.into_iter().map(Arc::new).collect()
    }

    /// The opening tags of the waterfall's rows.
    fn row_tags(page: &str) -> Vec<&str> {
        page.match_indices("<details class=\"span")
            .map(|(at, _)| &page[at..at + page[at..].find('>').unwrap()])
            .collect()
    }

    /// The value of attribute `name` in `tag` (as written: escaped).
    fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
        let key = format!(" {name}=\"");
        let at = tag
            .find(&key)
            .unwrap_or_else(|| panic!("no {name} in {tag}"))
            + key.len();
        &tag[at..at + tag[at..].find('"').unwrap()]
    }

    /// `(span id, depth, parent id)` of each row, in page order.
    fn rows_of(page: &str) -> Vec<(String, usize, String)> {
        row_tags(page)
            .into_iter()
            .map(|tag| {
                (
                    attr(tag, "data-span-id").to_owned(),
                    attr(tag, "data-depth").parse().unwrap(),
                    attr(tag, "data-parent-id").to_owned(),
                )
            })
            .collect()
    }

    fn hex(id: u64) -> String {
        format_span_id(id)
    }

    /// A root (1) with two children (2, 3), a grandchild under 2 (4),
    /// and an orphan (9, whose parent 8 is not stored), in shuffled order.
    fn tree() -> Vec<Arc<SpanRecord>> {
        arcs(vec![
            span(4, Some(2), 30, 10),
            span(3, Some(1), 50, 20),
            span(9, Some(8), 5, 10),
            span(1, None, 0, 100),
            span(2, Some(1), 20, 40),
        ])
    }

    #[test]
    fn the_trace_page_has_one_row_per_span_depth_first_with_parents() {
        let page = trace_page(BASE, 1, &tree());
        assert_eq!(page.matches("class=\"span").count(), 5);
        assert_eq!(page.matches("<rect class=\"bar").count(), 5);
        assert_eq!(page.matches("id=\"waterfall\"").count(), 1);
        let expected = vec![
            (hex(1), 0, String::new()),
            (hex(2), 1, hex(1)),
            (hex(4), 2, hex(2)),
            (hex(3), 1, hex(1)),
            (hex(9), 0, String::new()),
        ];
        assert_eq!(rows_of(&page), expected);
        // The orphan is a root, flagged, and keeps its reported parent.
        let orphan = row_tags(&page)[4];
        assert!(
            orphan.starts_with("<details class=\"span orphan\""),
            "{orphan}"
        );
        assert_eq!(attr(orphan, "data-reported-parent-id"), hex(8));
        let orphan_row = &page[page.find(orphan).unwrap()..];
        let orphan_row = &orphan_row[..orphan_row.find("</summary>").unwrap()];
        assert!(orphan_row.contains("parent not found"));
        assert_eq!(attr(row_tags(&page)[2], "data-reported-parent-id"), hex(2));
        assert_eq!(attr(row_tags(&page)[0], "data-service"), "svc");
        assert_eq!(attr(row_tags(&page)[0], "data-operation"), "op-1");
    }

    #[test]
    fn children_are_ordered_by_start_whatever_the_input_order() {
        let spans = arcs(vec![
            span(1, None, 0, 100),
            span(5, Some(1), 40, 1),
            span(3, Some(1), 10, 1),
            span(4, Some(1), 30, 1),
            span(6, Some(3), 11, 1),
            span(7, None, 200, 1),
        ]);
        let ids: Vec<String> = rows_of(&trace_page(BASE, 1, &spans))
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(ids, [1, 3, 6, 4, 5, 7].map(hex));
    }

    #[test]
    fn the_error_span_has_the_error_class_the_red_bar_and_a_text_marker() {
        let mut spans = tree();
        let mut failing = (*spans[0]).clone(); // span 4
        failing.error = true;
        spans[0] = Arc::new(failing);
        let page = trace_page(BASE, 1, &spans);
        let tags = row_tags(&page);
        let errors: Vec<&&str> = tags.iter().filter(|t| t.contains(" error")).collect();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("<details class=\"span error\""));
        assert_eq!(attr(errors[0], "data-span-id"), hex(4));
        let row = &page[page.find(errors[0]).unwrap()..];
        let summary = &row[..row.find("</summary>").unwrap()];
        assert!(summary.contains("<b class=\"badge error\">error</b>"));
        assert!(summary.contains("<rect class=\"bar error\""));
        assert!(summary.contains(&format!("fill=\"{ERROR_COLOUR}\"")));
        assert_eq!(page.matches("<rect class=\"bar error\"").count(), 1);
        assert!(page.contains("<b class=\"badge error\">1 error</b>"));
    }

    #[test]
    fn parent_cycles_end_and_list_each_span_once() {
        // 2 -> 3 -> 4 -> 2 is a cycle, with 5 under 3; 6 is its own parent;
        // 1 is a proper root.
        let spans = arcs(vec![
            span(1, None, 0, 10),
            span(2, Some(4), 20, 10),
            span(3, Some(2), 10, 10),
            span(4, Some(3), 30, 10),
            span(5, Some(3), 5, 10),
            span(6, Some(6), 40, 10),
        ]);
        let page = trace_page(BASE, 1, &spans);
        let rows = rows_of(&page);
        let mut ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        // The roots (6 is one: its parent is itself), then the cycle, shown
        // from its earliest span, 3.
        assert_eq!(ids, [1, 6, 3, 5, 4, 2].map(hex));
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 6);
        assert_eq!(rows[1], (hex(6), 0, String::new()));
        assert_eq!(rows[2], (hex(3), 0, String::new()));
        assert_eq!(rows[3], (hex(5), 1, hex(3)));
        assert_eq!(rows[4], (hex(4), 1, hex(3)));
        assert_eq!(rows[5], (hex(2), 2, hex(4)));
        let tags = row_tags(&page);
        assert!(tags[1].starts_with("<details class=\"span cycle\""));
        assert!(tags[2].starts_with("<details class=\"span cycle\""));
        assert_eq!(page.matches("class=\"span cycle").count(), 2);
    }

    #[test]
    fn a_long_chain_nests_without_recursion() {
        let n = 5000u64;
        let spans = arcs(
            (1..=n)
                .map(|id| span(id, (id > 1).then(|| id - 1), id as i64, 1))
                .collect(),
        );
        let rows = waterfall_rows(&spans);
        assert_eq!(rows.len(), n as usize);
        assert_eq!(rows.last().unwrap().depth, n as usize - 1);
        let page = trace_page(BASE, 1, &spans);
        assert!(page.contains(&format!("style=\"--d:{MAX_INDENT}\"")));
        assert!(!page.contains(&format!("style=\"--d:{}\"", MAX_INDENT + 1)));
    }

    #[test]
    fn duplicate_span_ids_are_listed_and_flagged() {
        let spans = arcs(vec![
            span(1, None, 0, 10),
            span(1, None, 5, 10),
            span(2, Some(1), 6, 1),
        ]);
        let page = trace_page(BASE, 1, &spans);
        assert_eq!(
            rows_of(&page),
            vec![
                (hex(1), 0, String::new()),
                (hex(2), 1, hex(1)),
                (hex(1), 0, String::new()),
            ]
        );
        assert_eq!(page.matches("class=\"span duplicate\"").count(), 1);
        assert_eq!(page.matches(&format!("id=\"span-{}\"", hex(1))).count(), 1);
    }

    #[test]
    fn bars_are_placed_on_the_trace_axis() {
        // Axis 1000..1200: the child is at 50 %, 25 % wide; the zero-length
        // span still gets a visible bar.
        let spans = arcs(vec![
            span(1, None, 1000, 200),
            span(2, Some(1), 1100, 50),
            span(3, Some(1), 1200, 0),
        ]);
        let page = trace_page(BASE, 1, &spans);
        assert!(page.contains("<rect class=\"bar\" x=\"0.000%\" y=\"4\" width=\"100.000%\""));
        assert!(page.contains("<rect class=\"bar\" x=\"50.000%\" y=\"4\" width=\"25.000%\""));
        // At the very end, it is as wide as what is left: nothing. Still
        // drawn with its stroke.
        assert!(page.contains("x=\"100.000%\""));
        let spans = arcs(vec![span(1, None, 0, 1000), span(2, Some(1), 500, 0)]);
        let page = trace_page(BASE, 1, &spans);
        assert!(page.contains(&format!(
            "x=\"50.000%\" y=\"4\" width=\"{MIN_BAR_PERCENT:.3}%\""
        )));
        // The ticks: 0, ¼, ½, ¾ and the end of the axis.
        for tick in ["0 µs", "250 µs", "500 µs", "750 µs", "1 ms"] {
            assert!(page.contains(&format!("%\">{tick}</span>")), "{tick}");
        }
    }

    #[test]
    fn the_trace_page_shows_details_tags_logs_baggage_and_references() {
        let mut root = span(1, None, 1_000_000, 2_250_000);
        root.tags = vec![
            Tag {
                key: "http.status_code".into(),
                value: TagValue::Long(200),
            },
            Tag {
                key: "component".into(),
                value: TagValue::String("rocket".into()),
            },
        ];
        root.logs = vec![Log {
            timestamp_us: 1_001_500,
            fields: vec![Tag {
                key: "event".into(),
                value: TagValue::String("rendered".into()),
            }],
        }];
        root.baggage = vec![Baggage {
            key: "user".into(),
            value: "alice".into(),
        }];
        root.references = vec![Reference {
            kind: ReferenceKind::FollowsFrom,
            trace_id: 0xabc,
            span_id: 7,
        }];
        let mut other = span(2, Some(1), 1_000_000, 1);
        other.service = "db".into();
        let page = trace_page(BASE, 1, &arcs(vec![root, other]));
        for needle in [
            "<td class=\"key\">http.status_code</td><td class=\"val\">200</td>",
            "<td class=\"key\">component</td><td class=\"val\">rocket</td>",
            "<td class=\"num\">+1.5 ms</td><td><dl class=\"fields\"><dt>event</dt><dd>rendered</dd>",
            "<td class=\"key\">user</td><td class=\"val\">alice</td>",
            "follows from</td><td><a href=\"/_traces/trace/0000000000000abc\">",
            "<dt>Duration</dt><dd>2.25 s</dd>",
            "<dt>Spans</dt><dd>2</dd>",
            "<dt>Errors</dt><dd>none</dd>",
            "<a href=\"/_traces/api/traces/0000000000000001\">JSON</a>",
            "<a href=\"/_traces/?operation=op-1\">traces with this operation</a>",
            "<title>op-1 · trace 0000000000000001 · Trace viewer</title>",
            "1970-01-01 00:00:01.000",
        ] {
            assert!(page.contains(needle), "{needle}");
        }
        assert!(page.contains(&format!(
            "<i class=\"swatch\" style=\"background:{}\"></i>db",
            Colours::new(&["db", "svc"]).of("db")
        )));
    }

    #[test]
    fn an_empty_trace_renders() {
        let page = trace_page(BASE, 5, &[]);
        assert!(page.contains("no span stored"));
        assert!(!page.contains("class=\"span"));
    }

    #[test]
    fn service_colours_are_stable_distinct_in_a_trace_and_never_red() {
        let names = [
            "api",
            "auth",
            "cache",
            "db",
            "inventory",
            "queue",
            "search",
            "web",
            "worker",
        ];
        let colours = Colours::new(&names);
        let distinct: HashSet<&str> = names.iter().map(|n| colours.of(n)).collect();
        assert_eq!(distinct.len(), PALETTE.len());
        // A service keeps its slot when free, whatever the other services.
        let alone = Colours::new(&["db"]);
        assert_eq!(alone.of("db"), PALETTE[palette_slot("db")]);
        assert_eq!(Colours::new(&["db", "zzz"]).of("db"), alone.of("db"));
        // More services than colours: each still gets one.
        let many: Vec<String> = (0..30).map(|i| format!("s{i}")).collect();
        let mut many: Vec<&str> = many.iter().map(String::as_str).collect();
        many.sort_unstable();
        let colours = Colours::new(&many);
        assert!(many.iter().all(|n| PALETTE.contains(&colours.of(n))));
        assert!(!PALETTE.contains(&ERROR_COLOUR));
    }

    #[test]
    fn durations_are_formatted_for_people() {
        for (us, text) in [
            (0, "0 µs"),
            (1, "1 µs"),
            (999, "999 µs"),
            (1000, "1 ms"),
            (1500, "1.5 ms"),
            (1234, "1.23 ms"),
            (12_345, "12.3 ms"),
            (123_456, "123 ms"),
            (999_499, "999 ms"),
            (999_500, "1 s"),
            (2_250_000, "2.25 s"),
            (61_000_000, "61 s"),
            (3_600_000_000, "3600 s"),
            (-1500, "-1.5 ms"),
            (-5, "-5 µs"),
        ] {
            assert_eq!(format_duration(us), text, "{us}");
        }
        // No overflow at the ends.
        assert!(format_duration(i64::MAX).ends_with(" s"));
        assert!(format_duration(i64::MIN).starts_with('-'));
    }

    #[test]
    fn timestamps_are_formatted_in_utc() {
        for (us, text) in [
            (0, "1970-01-01 00:00:00.000"),
            (-1, "1969-12-31 23:59:59.999"),
            (1_709_210_096_789_000, "2024-02-29 12:34:56.789"),
            (951_782_400_000_000, "2000-02-29 00:00:00.000"),
            (1_795_280_742_123_456, "2026-11-21 17:05:42.123"),
            (4_107_542_400_000_000, "2100-03-01 00:00:00.000"),
        ] {
            assert_eq!(format_timestamp(us), text, "{us}");
        }
        // The whole range converts without panicking.
        format_timestamp(i64::MIN);
        format_timestamp(i64::MAX);
        assert_eq!(
            Time(0).to_string(),
            "<time datetime=\"1970-01-01T00:00:00.000Z\">1970-01-01 00:00:00.000</time>"
        );
        assert!(!Time(i64::MAX).to_string().contains("datetime"));
    }

    fn summary(trace_id: TraceId, operation: &str, error: bool) -> TraceSummary {
        TraceSummary {
            trace_id,
            service: "api".into(),
            operation: operation.into(),
            start_us: 1_795_280_742_123_000,
            duration_us: 1500,
            span_count: 3,
            error,
            status_code: Some(if error { 500 } else { 200 }),
            services: vec!["api".into()],
        }
    }

    fn stats(spans: usize, traces: usize) -> StoreStats {
        StoreStats {
            spans,
            traces,
            bytes: 0,
            max_spans: 10_000,
            evicted: 7,
        }
    }

    #[test]
    fn the_list_page_links_each_trace_and_shows_its_facts() {
        let traces = [
            summary(0xabc, "GET /a", false),
            summary(1 << 64 | 2, "GET /b", true),
        ];
        let page = list_page(
            BASE,
            &traces,
            &ListForm::default(),
            &["GET /a".into(), "GET /b".into()],
            &stats(6, 2),
        );
        for needle in [
            "<a href=\"/_traces/trace/0000000000000abc\">GET /a</a>",
            "<a class=\"mono\" href=\"/_traces/trace/0000000000000abc\">0000000000000abc</a>",
            "<a href=\"/_traces/trace/00000000000000010000000000000002\">GET /b</a>",
            "2026-11-21 17:05:42.123",
            "<td class=\"num\">1.5 ms</td><td class=\"num\">3</td><td></td>",
            "<td class=\"num\">3</td><td><b class=\"badge error\">error</b></td>\
             <td class=\"num status-err\">500</td>",
            "<td class=\"num\">200</td>",
            "<b>6</b> spans in <b>2</b> traces",
            "2 traces shown, newest first.",
            "<b>10000</b> spans · <b>7</b> evicted",
            "<option value=\"GET /a\"><option value=\"GET /b\">",
            "name=\"id\"",
            "X-Trace-Id",
            "<a href=\"/_traces/api/traces\">JSON API</a>",
        ] {
            assert!(page.contains(needle), "{needle}");
        }
        assert!(page.find("GET /a</a>").unwrap() < page.find("GET /b</a>").unwrap());
        assert!(!page.contains("No traces yet"));
    }

    #[test]
    fn the_list_page_echoes_the_filters() {
        let form = ListForm {
            operation: "GET /x".into(),
            error: "true".into(),
            min_duration_ms: "12.5".into(),
            id: String::new(),
            limit: "1".into(),
        };
        let page = list_page(
            BASE,
            &[summary(1, "GET /x", true)],
            &form,
            &[],
            &stats(1, 1),
        );
        assert!(page.contains("name=\"operation\" value=\"GET /x\""));
        assert!(page.contains("<option value=\"true\" selected>errors only</option>"));
        assert!(!page.contains("<option value=\"\" selected>"));
        assert!(page.contains("name=\"min_duration_ms\" value=\"12.5\""));
        assert!(page.contains("<input type=\"hidden\" name=\"limit\" value=\"1\">"));
        assert!(page.contains("<b>1</b> span in <b>1</b> trace stored"));
        assert!(page.contains("1 trace shown, newest first (filtered)"));
        // The limit is reached: a link shows more, with the same filters.
        assert!(page.contains(
            "href=\"/_traces/?operation=GET%20%2Fx&amp;error=true&amp;min_duration_ms=12.5\
             &amp;limit=1000\""
        ));
        let page = list_page(BASE, &[], &ListForm::default(), &[], &stats(0, 0));
        assert!(page.contains("<option value=\"\" selected>any</option>"));
        assert!(!page.contains("name=\"limit\""));
    }

    #[test]
    fn the_list_page_has_an_empty_state() {
        let page = list_page(BASE, &[], &ListForm::default(), &[], &stats(0, 0));
        assert!(page.contains("No traces yet"));
        assert!(page.contains("Make a request to the app"));
        assert!(!page.contains("<table"));
        let form = ListForm {
            error: "true".into(),
            ..ListForm::default()
        };
        let page = list_page(BASE, &[], &form, &[], &stats(3, 2));
        assert!(page.contains("No trace matches these filters"));
        assert!(!page.contains("No traces yet"));
    }

    #[test]
    fn the_list_page_says_when_the_id_is_not_an_id() {
        let form = ListForm {
            id: "xyz".into(),
            ..ListForm::default()
        };
        let page = list_page(BASE, &[], &form, &[], &stats(0, 0));
        assert!(page.contains("<code>xyz</code> is not a trace id"));
        assert!(page.contains("name=\"id\" value=\"xyz\""));
        let form = ListForm {
            id: "abc".into(),
            ..ListForm::default()
        };
        let page = list_page(BASE, &[], &form, &[], &stats(0, 0));
        assert!(!page.contains("is not a trace id"));
    }

    #[test]
    fn the_not_found_page_explains_and_links_back() {
        let page = not_found_page(BASE, "00000000000000ff");
        assert!(page.contains("<code>00000000000000ff</code>"));
        assert!(page.contains("no longer"));
        assert!(page.contains("evicts the oldest"));
        assert!(page.contains("<a href=\"/_traces/\">← Back to the trace list</a>"));
        assert!(page.starts_with("<!doctype html>"));
    }

    // --- Hostile data -----------------------------------------------------

    /// Elements the pages use; anything else came from data.
    const ELEMENTS: &[&str] = &[
        "!doctype", "html", "head", "meta", "title", "style", "body", "header", "nav", "a", "span",
        "main", "h1", "h3", "p", "b", "i", "code", "div", "fieldset", "legend", "form", "label",
        "input", "select", "option", "button", "datalist", "table", "thead", "tbody", "tr", "th",
        "td", "dl", "dt", "dd", "time", "details", "summary", "svg", "rect", "text",
    ];

    /// Attributes the pages use; anything else came from data.
    const ATTRIBUTES: &[&str] = &[
        "lang",
        "charset",
        "name",
        "content",
        "http-equiv",
        "class",
        "href",
        "id",
        "style",
        "title",
        "method",
        "action",
        "type",
        "value",
        "list",
        "placeholder",
        "autocomplete",
        "min",
        "step",
        "selected",
        "maxlength",
        "spellcheck",
        "role",
        "datetime",
        "height",
        "aria-label",
        "x",
        "y",
        "dx",
        "width",
        "rx",
        "fill",
        "stroke",
        "text-anchor",
        "data-span-id",
        "data-parent-id",
        "data-reported-parent-id",
        "data-depth",
        "data-service",
        "data-operation",
    ];

    /// Reads the tags of `page` as a browser would (outside `<style>`), and
    /// checks each against [`ELEMENTS`] and [`ATTRIBUTES`]; each link goes
    /// to `base` or a `#` anchor. Returns the text outside tags.
    fn check_markup(page: &str, base: &str) -> String {
        let mut text = String::new();
        let mut rest = page;
        while let Some(open) = rest.find('<') {
            text.push_str(&rest[..open]);
            rest = &rest[open + 1..];
            let closing = rest.starts_with('/');
            if closing {
                rest = &rest[1..];
            }
            let name_end = rest
                .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
                .expect("a tag ends");
            let name = rest[..name_end].to_ascii_lowercase();
            assert!(
                ELEMENTS.contains(&name.as_str()),
                "element <{name}> in {rest:.80}"
            );
            rest = &rest[name_end..];
            // Attributes.
            loop {
                rest = rest.trim_start();
                if let Some(after) = rest.strip_prefix('>') {
                    rest = after;
                    break;
                }
                let attr_end = rest
                    .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '>')
                    .expect("an attribute ends");
                let attr = rest[..attr_end].to_ascii_lowercase();
                assert!(!closing, "attribute in a closing tag");
                assert!(
                    ATTRIBUTES.contains(&attr.as_str()) || (name == "!doctype" && attr == "html"),
                    "attribute {attr:?} on <{name}>: {rest:.80}"
                );
                rest = &rest[attr_end..];
                if let Some(after) = rest.strip_prefix('=') {
                    let quote = after.chars().next().unwrap();
                    assert!(quote == '"', "unquoted value of {attr}: {after:.80}");
                    let end = after[1..].find('"').expect("a value ends") + 1;
                    let value = &after[1..end];
                    assert!(!value.contains('<'), "{value}");
                    if attr == "href" || attr == "action" {
                        assert!(
                            value.starts_with(&format!("{}/", html(base)))
                                || value.starts_with('#'),
                            "link {value}"
                        );
                    }
                    rest = &after[end + 1..];
                }
            }
            if name == "style" && !closing {
                let end = rest.find("</style>").expect("style ends");
                assert!(!rest[..end].contains('<'));
                rest = &rest[end..];
            }
        }
        text.push_str(rest);
        text
    }

    fn hostile_span(id: u64, parent: Option<u64>, value: &str) -> SpanRecord {
        let tag = |key: &str| Tag {
            key: key.into(),
            value: TagValue::String(value.into()),
        };
        SpanRecord {
            trace_id: 1,
            span_id: id,
            parent_span_id: parent,
            references: vec![Reference {
                kind: ReferenceKind::FollowsFrom,
                trace_id: 2,
                span_id: 3,
            }],
            service: value.into(),
            operation: value.into(),
            start_us: id as i64 * 10,
            duration_us: 5,
            error: id % 2 == 0,
            tags: vec![tag(value), tag("k")],
            logs: vec![Log {
                timestamp_us: 12,
                fields: vec![tag(value), tag("message")],
            }],
            baggage: vec![Baggage {
                key: value.into(),
                value: value.into(),
            }],
        }
    }

    #[test]
    fn hostile_span_data_stays_text_on_the_trace_page() {
        let spans = arcs(
            HOSTILE
                .iter()
                .enumerate()
                .map(|(i, value)| {
                    let id = i as u64 + 1;
                    hostile_span(id, (id > 1).then_some(1), value)
                })
                .collect(),
        );
        for base in [BASE, "/a\"b<c>&'"] {
            let page = trace_page(base, 1, &spans);
            let text = check_markup(&page, base);
            assert!(!page.to_ascii_lowercase().contains("<script"));
            assert!(!page.contains("<img"));
            assert!(!page.contains("href=\"javascript:"));
            assert!(!text.contains('\u{0}') && !text.contains('\u{1b}'));
            assert_eq!(page.matches("class=\"span").count(), spans.len());
            for value in HOSTILE {
                let escaped = html(value).to_string();
                // Operation, service, tags, log fields, baggage, and the
                // data attributes.
                assert!(page.matches(escaped.as_str()).count() >= 8, "{value:?}");
                assert!(page.contains(&format!("data-operation=\"{escaped}\"")));
            }
            // The filter links carry the operation URL-encoded.
            assert!(page.contains("?operation=%3Cscript%3Ealert%281%29%3C%2Fscript%3E\""));
        }
    }

    #[test]
    fn hostile_values_stay_text_on_the_list_and_not_found_pages() {
        for value in HOSTILE {
            let mut trace = summary(1, value, true);
            trace.service = value.to_string();
            let form = ListForm {
                operation: value.to_string(),
                error: value.to_string(),
                min_duration_ms: value.to_string(),
                id: value.to_string(),
                limit: value.to_string(),
            };
            let escaped = html(value).to_string();
            for base in [BASE, *value] {
                let page = list_page(
                    base,
                    &[trace.clone()],
                    &form,
                    &[value.to_string()],
                    &stats(1, 1),
                );
                check_markup(&page, base);
                assert!(!page.to_ascii_lowercase().contains("<script"));
                assert!(page.contains(&format!("name=\"operation\" value=\"{escaped}\"")));
                assert!(page.contains(&format!("name=\"id\" value=\"{escaped}\"")));
                assert!(page.contains(&format!("<option value=\"{escaped}\">")));
                assert!(page.contains(&format!(">{escaped}</a></td>")));
                let page = not_found_page(base, value);
                check_markup(&page, base);
                assert!(page.contains(&format!("<code>{escaped}</code>")));
            }
        }
    }

    #[test]
    fn the_markup_check_catches_injection() {
        // The checker itself must fail on what escaping prevents.
        for bad in [
            "<p><img src=x onerror=alert(1)></p>",
            "<p class=\"x\" onerror=\"alert(1)\"></p>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<p title=\"a\"b\">x</p>",
        ] {
            let result = std::panic::catch_unwind(|| check_markup(bad, BASE));
            assert!(result.is_err(), "{bad}");
        }
    }
}
