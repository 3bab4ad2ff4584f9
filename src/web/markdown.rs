//! Markdown to safe HTML: CommonMark (tables, strikethrough) through ammonia, so no script,
//! event handler or `javascript:` link survives; links open without leaking the referrer.

use pulldown_cmark::{Options, Parser, html};

/// Renders user Markdown as sanitised HTML.
pub fn render(md: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    let mut raw = String::with_capacity(md.len() * 2);
    html::push_html(&mut raw, Parser::new_ext(md, opts));
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .clean(&raw)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_script_does_not_survive() {
        let out = render(
            "**bold** [x](javascript:alert(1)) <script>alert(2)</script> <img src=x onerror=alert(3)>\n\n| a |\n|---|\n| b |",
        );
        assert!(out.contains("<strong>bold</strong>"));
        assert!(!out.contains("javascript:"));
        assert!(!out.contains("<script"));
        assert!(!out.contains("onerror"));
        assert!(out.contains("<table>"));
    }
}
