//! Shields-style SVG badges (`label | message`), for READMEs and wikis: a check's state, its
//! uptime over a window, its latency. Widths come from a per-character estimate of Verdana
//! 11px, as shields.io's flat style lays them out; text is escaped.

use super::escape;

pub const GREEN: &str = "#2e7d32";
pub const YELLOW: &str = "#9a6700";
pub const RED: &str = "#c62828";
pub const GREY: &str = "#6b7280";

/// Approximate advance of Verdana 11px, in px (digits and lower case ≈ 7, wide letters 9).
fn text_width(s: &str) -> u32 {
    s.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '!' | '|' | '\'' => 3,
            'f' | 't' | 'r' | ' ' | '(' | ')' | '-' => 4,
            'm' | 'w' | 'M' | 'W' | '%' => 10,
            'A'..='Z' => 8,
            _ => 7,
        })
        .sum()
}

/// The badge: `label` on grey, `message` on `color`.
pub fn svg(label: &str, message: &str, color: &str) -> String {
    let (lw, mw) = (text_width(label) + 10, text_width(message) + 10);
    let w = lw + mw;
    let (label, message) = (escape(label), escape(message));
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{label}: {message}"><title>{label}: {message}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{color}"/><rect width="{w}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="14">{label}</text><text x="{mx}" y="14">{message}</text></g></svg>"##,
        lx = lw / 2,
        mx = lw + mw / 2,
    )
}

/// The colour for an uptime percentage: green at or above the objective, yellow within a
/// percentage point under it, red below that.
pub fn uptime_color(percent: f64, objective: f64) -> &'static str {
    if percent >= objective {
        GREEN
    } else if percent >= objective - 1.0 {
        YELLOW
    } else {
        RED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_escape_text_and_grow_with_it() {
        let b = svg("web <prod>", "up", GREEN);
        assert!(b.starts_with("<svg") && b.ends_with("</svg>"));
        assert!(b.contains("web &lt;prod&gt;: up"), "{b}");
        assert!(!b.contains("<prod>"));
        let wide = svg("uptime 30d", "99.987%", GREEN);
        let narrow = svg("uptime", "1%", GREEN);
        let width = |s: &str| -> u32 {
            s.split("width=\"")
                .nth(1)
                .and_then(|w| w.split('"').next())
                .and_then(|w| w.parse().ok())
                .unwrap_or(0)
        };
        assert!(width(&wide) > width(&narrow));
        assert_eq!(uptime_color(99.95, 99.9), GREEN);
        assert_eq!(uptime_color(99.2, 99.9), YELLOW);
        assert_eq!(uptime_color(97.0, 99.9), RED);
    }
}
