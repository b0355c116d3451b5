//! Self-contained SVG charts of what a bench has just measured, written under
//! `target/bench/`: grouped bars (throughput per frame size) and a histogram over a log
//! scale (round-trip latencies). Plain SVG text, no fonts or scripts, readable offline.

// Each bench includes this file and draws one kind of chart.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
/// Colour-blind-safe (Okabe–Ito); every series also has its name in the legend.
const COLOURS: [&str; 6] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
];

/// One named series: a value per group (bars) or raw samples (histogram).
pub struct Series<T> {
    pub name: String,
    pub values: T,
}

/// `target/bench/` of this workspace (or of `CARGO_TARGET_DIR`).
pub fn out_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("bench"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench"),
    }
}

/// Writes `svg` as `target/bench/{file}` and returns the path.
pub fn write(file: &str, svg: &str) -> io::Result<PathBuf> {
    let dir = out_dir();
    fs::create_dir_all(&dir)?;
    let path = dir.canonicalize()?.join(file);
    fs::write(&path, svg)?;
    Ok(path)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn open(svg: &mut String, title: &str, subtitle: &str) {
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        svg,
        r##"<rect width="100%" height="100%" fill="white"/><text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text><text x="{LEFT}" y="38" fill="#555">{}</text>"##,
        escape(title),
        escape(subtitle)
    );
}

fn legend(svg: &mut String, names: &[&str]) {
    let x = WIDTH - RIGHT + 15.0;
    for (i, name) in names.iter().enumerate() {
        let y = TOP + 10.0 + 20.0 * i as f64;
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            y - 10.0,
            COLOURS[i % COLOURS.len()],
            x + 18.0,
            y,
            escape(name)
        );
    }
}

/// A round upper bound for an axis: 1, 2 or 5 times a power of ten.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * magnitude)
}

/// Grouped bars: one group per label, one bar per series (a missing value leaves a gap),
/// each bar labelled with its value.
pub fn grouped_bars(
    title: &str,
    subtitle: &str,
    y_label: &str,
    groups: &[String],
    series: &[Series<Vec<Option<f64>>>],
) -> String {
    let mut svg = String::new();
    open(&mut svg, title, subtitle);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    let top = nice_ceiling(max);
    for tick in 0..=5 {
        let value = top * tick as f64 / 5.0;
        let y = TOP + plot_h - plot_h * tick as f64 / 5.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{value}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let _ = write!(
        svg,
        r#"<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + plot_h / 2.0,
        escape(y_label)
    );
    let group_w = plot_w / groups.len().max(1) as f64;
    let bar_w = (group_w * 0.8) / series.len().max(1) as f64;
    for (g, label) in groups.iter().enumerate() {
        let x0 = LEFT + group_w * g as f64 + group_w * 0.1;
        for (s, one) in series.iter().enumerate() {
            let Some(value) = one.values.get(g).copied().flatten() else {
                continue;
            };
            let h = plot_h * value / top;
            let x = x0 + bar_w * s as f64;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{}: {value:.2}</title></rect><text x="{:.1}" y="{:.1}" font-size="9" text-anchor="middle">{}</text>"#,
                TOP + plot_h - h,
                bar_w * 0.92,
                COLOURS[s % COLOURS.len()],
                escape(&one.name),
                x + bar_w * 0.46,
                TOP + plot_h - h - 3.0,
                short(value)
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            LEFT + group_w * (g as f64 + 0.5),
            TOP + plot_h + 20.0,
            escape(label)
        );
    }
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    legend(&mut svg, &names);
    svg.push_str("</svg>\n");
    svg
}

fn short(value: f64) -> String {
    if value >= 10.0 {
        format!("{value:.0}")
    } else if value >= 0.1 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// A histogram of sample values (µs) over a log10 x axis, one outline per series, y the
/// share of that series' samples in each bin (so series of different sizes compare).
pub fn log_histogram(title: &str, subtitle: &str, series: &[Series<Vec<f64>>]) -> String {
    const BINS_PER_DECADE: f64 = 10.0;
    let mut svg = String::new();
    open(&mut svg, title, subtitle);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let all = series.iter().flat_map(|s| s.values.iter().copied());
    let (lo, hi) = all
        .filter(|v| *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        svg.push_str("</svg>\n");
        return svg;
    }
    let (d0, d1) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let bins = ((d1 - d0) * BINS_PER_DECADE) as usize;
    let shares: Vec<Vec<f64>> = series
        .iter()
        .map(|s| {
            let mut counts = vec![0usize; bins];
            for v in s.values.iter().filter(|v| **v > 0.0) {
                let b = ((v.log10() - d0) * BINS_PER_DECADE) as usize;
                counts[b.min(bins - 1)] += 1;
            }
            let n = s.values.len().max(1) as f64;
            counts.iter().map(|&c| c as f64 / n).collect()
        })
        .collect();
    let top = nice_ceiling(shares.iter().flatten().fold(0.0f64, |a, &b| a.max(b)));
    let x_of = |decades: f64| LEFT + plot_w * (decades - d0) / (d1 - d0);
    for tick in 0..=4 {
        let share = top * tick as f64 / 4.0;
        let y = TOP + plot_h - plot_h * tick as f64 / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{:.0}%</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            share * 100.0
        );
    }
    let mut decade = d0;
    while decade <= d1 {
        let x = x_of(decade);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{} µs</text>"##,
            TOP + plot_h,
            TOP + plot_h + 18.0,
            short(10f64.powf(decade))
        );
        decade += 1.0;
    }
    let _ = write!(
        svg,
        r#"<text transform="translate(18,{}) rotate(-90)" text-anchor="middle">share of round trips per bin</text>"#,
        TOP + plot_h / 2.0
    );
    for (s, bins_of) in shares.iter().enumerate() {
        let mut points = String::new();
        for (b, share) in bins_of.iter().enumerate() {
            let x0 = x_of(d0 + b as f64 / BINS_PER_DECADE);
            let x1 = x_of(d0 + (b + 1) as f64 / BINS_PER_DECADE);
            let y = TOP + plot_h - plot_h * share / top;
            let _ = write!(points, "{x0:.1},{y:.1} {x1:.1},{y:.1} ");
        }
        let _ = write!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
            points.trim_end(),
            COLOURS[s % COLOURS.len()]
        );
    }
    let names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    legend(&mut svg, &names);
    svg.push_str("</svg>\n");
    svg
}
