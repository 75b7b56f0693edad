//! Escaping for the viewer's HTML pages: text into element content and
//! quoted attribute values, and text into the query string of a link.
//!
//! Span data (operation and service names, tags, logs, baggage) comes from
//! HTTP requests: every such value goes through [`html`] (or [`query`] in a
//! URL) before it reaches a page.

use std::fmt::{self, Display, Write};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// Text escaped for HTML: safe in element content and in double- or
/// single-quoted attribute values. Made by [`html`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Escaped<'a>(&'a str);

/// Escapes `text` for HTML: `&`, `<`, `>`, `"` and `'` become character
/// references, and control characters other than tab, line feed and
/// carriage return (which HTML does not allow in a document) become U+FFFD.
/// Everything else, any Unicode included, is kept.
///
/// Not for the inside of `<script>` or `<style>`, nor for unquoted
/// attribute values; a URL escaped with it stays a URL (`javascript:` too),
/// so never put data in an `href` but through [`query`].
pub(crate) fn html(text: &str) -> Escaped<'_> {
    Escaped(text)
}

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().expect("found at a char boundary");
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                _ => f.write_char(char::REPLACEMENT_CHARACTER)?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'')
        || (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

/// What [`query`] percent-encodes: everything but ASCII letters, digits and
/// `-._~` (RFC 3986's unreserved characters).
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes `text` as one name or value of a URL's query string
/// (`?operation={}`), as UTF-8 with every byte but `[A-Za-z0-9-._~]`
/// percent-encoded. The result needs no further HTML escaping.
pub(crate) fn query(text: &str) -> impl Display + '_ {
    percent_encoding::utf8_percent_encode(text, QUERY_COMPONENT)
}

/// Values an attacker could put in an operation name, a tag or a form.
#[cfg(test)]
pub(crate) const HOSTILE: &[&str] = &[
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "'><svg onload=alert(1)>",
    "'",
    "&amp;",
    "</textarea><script>alert(1)</script>",
    "</style><script>alert(1)</script>",
    "javascript:alert(1)",
    "a\u{0}b\u{1b}[31mc\u{7f}d\u{85}e",
    "naïve — 日本語 🚀 \u{202e}txt.exe",
    "<!-- -->",
    "x\" style=\"background:url(javascript:alert(1))",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_the_five_characters() {
        assert_eq!(
            html("<a href=\"x\" title='y'>&amp;</a>").to_string(),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(html("").to_string(), "");
        assert_eq!(html("plain text").to_string(), "plain text");
        assert_eq!(html("&&").to_string(), "&amp;&amp;");
    }

    #[test]
    fn html_keeps_unicode_and_whitespace_and_replaces_controls() {
        assert_eq!(
            html("naïve 日本語 🚀\ttab\nline\r").to_string(),
            "naïve 日本語 🚀\ttab\nline\r"
        );
        assert_eq!(
            html("a\u{0}b\u{1b}c\u{7f}d\u{85}e\u{c}").to_string(),
            "a\u{fffd}b\u{fffd}c\u{fffd}d\u{fffd}e\u{fffd}"
        );
    }

    #[test]
    fn escaped_hostile_values_cannot_open_a_tag_or_leave_an_attribute() {
        for value in HOSTILE {
            let escaped = html(value).to_string();
            for raw in ['<', '>', '"', '\''] {
                assert!(!escaped.contains(raw), "{raw:?} in {escaped:?}");
            }
            // Every `&` starts one of our references: `&amp;` stays text.
            for (at, _) in escaped.match_indices('&') {
                let rest = &escaped[at..];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                        .iter()
                        .any(|r| rest.starts_with(r)),
                    "{escaped:?}"
                );
            }
            assert!(!escaped.chars().any(|c| c.is_control() && c != '\n'));
        }
        assert_eq!(html("&amp;").to_string(), "&amp;amp;");
    }

    #[test]
    fn query_encodes_everything_but_unreserved_characters() {
        assert_eq!(query("GET /a-b_c.d~e").to_string(), "GET%20%2Fa-b_c.d~e");
        assert_eq!(
            query("a&b=c#d?e+f%").to_string(),
            "a%26b%3Dc%23d%3Fe%2Bf%25"
        );
        assert_eq!(query("日").to_string(), "%E6%97%A5");
        assert_eq!(query("").to_string(), "");
        for value in HOSTILE {
            let encoded = query(value).to_string();
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"%-._~".contains(&b)),
                "{encoded:?}"
            );
            assert_eq!(
                percent_encoding::percent_decode_str(&encoded)
                    .decode_utf8()
                    .unwrap(),
                *value
            );
        }
    }
}
