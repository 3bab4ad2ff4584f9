//! Bar charts drawn on the server as accessible SVG (no chart library, no JS).

/// Escapes text for SVG/XML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A vertical bar chart; labels under every `label_every`-th bar.
pub fn bars(title: &str, data: &[(String, i64)], label_every: usize) -> String {
    let (w, h, pad_l, pad_b, pad_t) = (640.0, 220.0, 36.0, 28.0, 24.0);
    let max = data.iter().map(|d| d.1).max().unwrap_or(0).max(1) as f64;
    let n = data.len().max(1) as f64;
    let slot = (w - pad_l - 8.0) / n;
    let bar = (slot * 0.7).max(1.0);
    let mut out = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = esc(title)
    );
    out.push_str(&format!(
        "<text x=\"{pad_l}\" y=\"16\" font-size=\"13\" fill=\"#1b1f24\" font-weight=\"600\">{}</text>",
        esc(title)
    ));
    out.push_str(&format!(
        "<text x=\"4\" y=\"{}\" font-size=\"11\" fill=\"#57606a\">{}</text>",
        pad_t + 10.0,
        max as i64
    ));
    let base = h - pad_b;
    out.push_str(&format!(
        "<line x1=\"{pad_l}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#8c959f\"/>",
        w - 8.0
    ));
    for (i, (label, v)) in data.iter().enumerate() {
        let bh = (*v as f64 / max) * (base - pad_t);
        let x = pad_l + i as f64 * slot + (slot - bar) / 2.0;
        out.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" fill=\"#0b5cad\"><title>{}: {v}</title></rect>",
            base - bh,
            esc(label)
        ));
        if label_every > 0 && i % label_every == 0 {
            out.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" fill=\"#57606a\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                h - 10.0,
                esc(label)
            ));
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels_and_scale() {
        let svg = bars("Per <day>", &[("a&b".into(), 2), ("c".into(), 4)], 1);
        assert!(svg.contains("Per &lt;day&gt;"));
        assert!(svg.contains("a&amp;b: 2"));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 2);
    }
}
