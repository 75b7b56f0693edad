//! The shell every page is written into: the document head (with the
//! Content-Security-Policy meta tag and the inline CSS), the top navigation,
//! and the end of the document.

use std::fmt::{self, Display, Write};

use crate::viewer::escape::html;

/// Runs `body` on a new `String`.
pub(super) fn render(body: impl FnOnce(&mut String) -> fmt::Result) -> String {
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
pub(super) fn page_start(out: &mut String, base: &str, title: &dyn Display) -> fmt::Result {
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

pub(super) fn page_end(out: &mut String) -> fmt::Result {
    out.write_str("</main>\n</body>\n</html>\n")
}
