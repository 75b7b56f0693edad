//! The page of a trace id the store has no span of: why that happens, and
//! the lookup form to try another id.

use std::fmt::Write;

use super::list::lookup_form;
use super::page::{page_end, page_start, render};
use crate::viewer::escape::html;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::html::testing::BASE;

    #[test]
    fn the_not_found_page_explains_and_links_back() {
        let page = not_found_page(BASE, "00000000000000ff");
        assert!(page.contains("<code>00000000000000ff</code>"));
        assert!(page.contains("no longer"));
        assert!(page.contains("evicts the oldest"));
        assert!(page.contains("<a href=\"/_traces/\">← Back to the trace list</a>"));
        assert!(page.starts_with("<!doctype html>"));
    }
}
