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
//! [`html`]: super::escape::html
//! [`query`]: super::escape::query
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
//!
//! # Files
//!
//! - [`page`]: the page shell (head, Content-Security-Policy, navigation,
//!   CSS) every page is written into;
//! - [`list`]: the trace list, its filter and lookup forms;
//! - [`waterfall`]: a trace's page, its waterfall and each span's details;
//! - [`not_found`]: the page of a trace that is not stored;
//! - [`colours`]: the services' colours;
//! - [`format`](mod@format): durations, times and plurals for people.

mod colours;
mod format;
mod list;
mod not_found;
mod page;
mod waterfall;

#[cfg(test)]
mod testing;

pub(super) use list::{list_page, ListForm};
pub(super) use not_found::not_found_page;
pub(super) use waterfall::trace_page;
