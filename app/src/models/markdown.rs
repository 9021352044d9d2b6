//! Descriptions as HTML (server only). MLflow clients write a model's and a version's
//! description in Markdown, and anyone who may write in the namespace may write it, so the
//! HTML is rendered by pulldown-cmark and then cleaned by ammonia before any page shows it:
//! no script, no event handler, no style, and links only to http(s), mailto or a path.

use std::collections::HashSet;

use pulldown_cmark::{html, Options, Parser};

/// The most of a description that is rendered; past it the page shows the first part and
/// says so. MLflow allows descriptions of any length, and one page render must not cost
/// more than a bounded amount.
pub const DESCRIPTION_LIMIT: usize = 64 * 1024;

/// `markdown` as HTML that is safe to put inside a page.
pub fn to_safe_html(markdown: &str) -> String {
    let (text, cut) = match markdown.char_indices().nth(DESCRIPTION_LIMIT) {
        Some((at, _)) => (&markdown[..at], true),
        None => (markdown, false),
    };
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    let mut rendered = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut rendered, Parser::new_ext(text, options));
    if cut {
        rendered.push_str(&format!(
            "<p><em>The description is longer than {DESCRIPTION_LIMIT} characters; the rest is \
             not shown.</em></p>"
        ));
    }
    ammonia::Builder::default()
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .clean(&rendered)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::{to_safe_html, DESCRIPTION_LIMIT};

    #[test]
    fn markdown_is_rendered() {
        let html = to_safe_html("# Scorer\n\nTrained on **June** data. See [the run](/runs/r1).");
        assert!(html.contains("<h1>Scorer</h1>"), "{html}");
        assert!(html.contains("<strong>June</strong>"), "{html}");
        assert!(
            html.contains(r#"<a href="/runs/r1" rel="noopener noreferrer">"#),
            "{html}"
        );
    }

    #[test]
    fn scripts_handlers_and_unsafe_links_are_removed() {
        let html = to_safe_html(
            "<script>alert(1)</script><img src=x onerror=alert(2)>\n\n\
             [a](javascript:alert(3)) [b](data:text/html,<b>x</b>) [c](JaVaScRiPt:alert(4)) \
             <a href=\"vbscript:x\">d</a> <p style=\"color:red\" onclick=\"x()\">e</p> \
             [f](https://example.com/model)",
        );
        for bad in [
            "<script",
            "alert(1)",
            "onerror",
            "javascript:",
            "JaVaScRiPt",
            "data:",
        ] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        for bad in ["vbscript", "style=", "onclick"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        assert!(
            html.contains(r#"href="https://example.com/model""#),
            "{html}"
        );
    }

    #[test]
    fn a_long_description_is_cut_and_says_so() {
        let html = to_safe_html(&"a".repeat(DESCRIPTION_LIMIT + 10));
        assert!(
            html.contains("the rest is not shown"),
            "{}",
            &html[html.len() - 200..]
        );
        assert!(html.len() < DESCRIPTION_LIMIT + 500);
    }
}
