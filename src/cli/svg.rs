//! The small pieces of SVG that `glassbox attention` and `glassbox lens` draw with: escaping,
//! token labels, one colour scale (white → dark blue) and its legend.
//!
//! The colour of a probability `p` is taken at `√p` along the scale, so the small weights that
//! carry most of the story (0.05 vs 0.2) stay visible next to a 0.9; the legend's ticks are
//! placed the same way, so the picture can be read back into numbers.

use std::fmt::Write as _;

/// Text safe inside an SVG element or attribute.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A token as a label: a leading space shown as `␣`, newlines as `\n`, other control
/// characters as `\u{..}`; long tokens shortened to `max` characters with `…`.
pub fn token_label(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, ch) in text.chars().enumerate() {
        match ch {
            ' ' if i == 0 => out.push('␣'),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect::<String>() + "…";
    }
    out
}

/// Where `p ∈ [0, 1]` sits along the colour scale (0 = white end, 1 = dark end): `√p`.
pub fn scale_pos(p: f32) -> f32 {
    p.clamp(0.0, 1.0).sqrt()
}

/// The fill colour of a probability: white at 0, dark blue (#08306b) at 1.
pub fn colour(p: f32) -> String {
    let t = scale_pos(p);
    let mix = |white: f32, dark: f32| (white + (dark - white) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(255.0, 8.0),
        mix(255.0, 48.0),
        mix(255.0, 107.0)
    )
}

/// Ink that stays readable on `colour(p)`: white on the dark half, black on the light half.
pub fn ink(p: f32) -> &'static str {
    if scale_pos(p) > 0.55 {
        "#fff"
    } else {
        "#111"
    }
}

/// The colour scale as a vertical bar at (x, y), `h` pixels tall, with ticks at 0, 0.01, 0.05,
/// 0.1, 0.25, 0.5 and 1 placed where their colours are, and a caption above it.
pub fn legend(out: &mut String, x: f32, y: f32, h: f32, caption: &str) {
    let (w, steps) = (14.0, 50);
    let _ = write!(
        out,
        r##"<text x="{x}" y="{}" font-size="11">{}</text>"##,
        y - 8.0,
        esc(caption)
    );
    for i in 0..steps {
        // bar drawn top = 1 to bottom = 0, in steps of equal position along the scale
        let top = 1.0 - i as f32 / steps as f32;
        let p = top * top; // the probability at this position (position = √p)
        let _ = write!(
            out,
            r##"<rect x="{x}" y="{:.1}" width="{w}" height="{:.1}" fill="{}"/>"##,
            y + h * i as f32 / steps as f32,
            h / steps as f32 + 0.5,
            colour(p)
        );
    }
    let _ = write!(
        out,
        r##"<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="none" stroke="#555"/>"##
    );
    for p in [0.0f32, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0] {
        let ty = y + h * (1.0 - scale_pos(p));
        let _ = write!(
            out,
            r##"<line x1="{}" y1="{ty:.1}" x2="{}" y2="{ty:.1}" stroke="#555"/><text x="{}" y="{:.1}" font-size="10">{p}</text>"##,
            x + w,
            x + w + 4.0,
            x + w + 6.0,
            ty + 3.5
        );
    }
}

/// Open an SVG document `w × h` with a white background, a `<title>` (the alt text, also read
/// by screen readers) and a heading line.
pub fn open(out: &mut String, w: f32, h: f32, alt: &str, heading: &str) {
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif" role="img" aria-label="{alt}"><title>{alt}</title><rect width="100%" height="100%" fill="#fff"/><text x="12" y="20" font-size="14">{}</text>"##,
        esc(heading),
        alt = esc(alt)
    );
}
