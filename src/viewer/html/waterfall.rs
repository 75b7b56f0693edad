//! A trace's page: its summary, then the waterfall: the spans nested by
//! parent (orphans, parent cycles and duplicate ids included, each span
//! once), one bar each on a shared time axis, and each span's details
//! (tags, logs, baggage, references) one click away.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write};
use std::sync::Arc;

use super::colours::{Colours, ERROR_COLOUR};
use super::format::{format_duration, plural, Time};
use super::list::ListLink;
use super::page::{page_end, page_start, render};
use crate::viewer::escape::html;
use crate::viewer::model::{
    format_span_id, format_trace_id, ReferenceKind, SpanRecord, Tag, TraceId,
};
use crate::viewer::store::DEFAULT_LIST_LIMIT;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::escape::HOSTILE;
    use crate::viewer::html::testing::{check_markup, BASE};
    use crate::viewer::model::{Baggage, Log, Reference, TagValue};

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

    // --- Hostile data -----------------------------------------------------

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
}
