//! The trace list page: the store's counters, the filter and lookup forms,
//! and a table of the recent traces; and the links back to it, with filters.

use std::fmt::{self, Display, Write};

use super::format::{format_duration, plural, Time};
use super::page::{page_end, page_start, render};
use crate::viewer::escape::{html, query};
use crate::viewer::model::{format_trace_id, parse_trace_id, TraceSummary};
use crate::viewer::store::{StoreStats, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};

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

pub(super) fn lookup_form(out: &mut String, base: &str, id: &str) -> fmt::Result {
    write!(out, "{}", LookupForm { base, id })
}

/// A link to the list page with filters: `{base}/?operation=…&…`, already
/// escaped for an attribute.
pub(super) struct ListLink<'a> {
    pub(super) base: &'a str,
    pub(super) operation: &'a str,
    pub(super) error: &'a str,
    pub(super) min_duration_ms: &'a str,
    pub(super) limit: usize,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::escape::HOSTILE;
    use crate::viewer::html::not_found_page;
    use crate::viewer::html::testing::{check_markup, BASE};
    use crate::viewer::model::TraceId;

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

    // --- Hostile data -----------------------------------------------------

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
}
