//! Test support shared by the pages' tests: the mount path they render
//! for, and a checker that reads a page's markup as a browser would and
//! fails on any element, attribute or link the pages do not write.

use crate::viewer::escape::html;

/// The mount path the pages are rendered for.
pub(super) const BASE: &str = "/_traces";

/// Elements the pages use; anything else came from data.
const ELEMENTS: &[&str] = &[
    "!doctype", "html", "head", "meta", "title", "style", "body", "header", "nav", "a", "span",
    "main", "h1", "h3", "p", "b", "i", "code", "div", "fieldset", "legend", "form", "label",
    "input", "select", "option", "button", "datalist", "table", "thead", "tbody", "tr", "th", "td",
    "dl", "dt", "dd", "time", "details", "summary", "svg", "rect", "text",
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
pub(super) fn check_markup(page: &str, base: &str) -> String {
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
                        value.starts_with(&format!("{}/", html(base))) || value.starts_with('#'),
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

#[cfg(test)]
mod tests {
    use super::*;

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
