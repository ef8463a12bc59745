//! A PNG chart of the latency distributions (feature `charts`): latency against percentile
//! on the "number of nines" axis HdrHistogram's plotter uses (50 %, 90 %, 99 %, 99.9 %, …
//! equally spaced), one labelled line per stage, log-scaled latency.
//!
//! Text is drawn with DejaVu Sans, embedded from `assets/fonts/` (Bitstream Vera license,
//! see `assets/fonts/DejaVuSans-LICENSE.txt`).

use std::path::Path;
use std::sync::Once;

use hdrhistogram::Histogram;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::latency::{Latency, Stage};

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// Drawing the chart failed.
#[derive(Debug, thiserror::Error)]
#[error("latency chart: {0}")]
pub struct ChartError(String);

fn ensure_font() {
    static ONCE: Once = Once::new();
    // An error here (a corrupt embedded font) shows up as a drawing error later.
    ONCE.call_once(|| {
        let _ = register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// `-log10(1 - q)`: 0 at the 0th percentile, 1 at p90, 2 at p99, …
fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-12).log10()
}

/// The percentile a "nines" coordinate stands for, as a label: `90%`, `99.9%`.
fn nines_label(x: &f64) -> String {
    let pct = 100.0 * (1.0 - 10f64.powf(-x));
    let text = format!("{pct:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// `(nines, µs)` points of one histogram's distribution; its max is placed at the last
/// point's nines or at `log10(count)`, whichever is further.
fn points(hist: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = Vec::new();
    if hist.is_empty() {
        return pts;
    }
    for v in hist.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        if q >= 1.0 {
            break;
        }
        pts.push((nines(q), (v.value_iterated_to().max(1)) as f64 / 1_000.0));
    }
    let last_x = pts.last().map_or(0.0, |p| p.0);
    let max_x = last_x.max((hist.len() as f64).log10());
    pts.push((max_x, hist.max().max(1) as f64 / 1_000.0));
    pts
}

/// Draws `latency`'s stages (those with data) into a `width` × `height` PNG at `path`.
pub fn write_png(
    latency: &Latency,
    title: &str,
    path: &Path,
    (width, height): (u32, u32),
) -> Result<(), ChartError> {
    ensure_font();
    let err = |e: &dyn std::fmt::Display| ChartError(e.to_string());
    let series: Vec<(Stage, Vec<(f64, f64)>)> = Stage::ALL
        .iter()
        .map(|&s| (s, points(latency.histogram(s))))
        .filter(|(_, pts)| !pts.is_empty())
        .collect();
    let all = series.iter().flat_map(|(_, pts)| pts.iter());
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::MAX, 0.0f64);
    for &(x, y) in all {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    if series.is_empty() {
        (y_min, y_max) = (0.001, 1.0);
    }
    let x_max = x_max.ceil();

    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FAMILY, 26))
        .margin(16)
        .margin_right(48)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max, ((y_min / 1.5)..(y_max * 1.5)).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_labels(x_max as usize + 1)
        .x_label_formatter(&nines_label)
        .y_label_formatter(&|y| {
            if *y >= 1.0 {
                format!("{y:.0}")
            } else {
                format!("{y:.3}")
            }
        })
        .x_desc("percentile")
        .y_desc("latency (µs)")
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 17))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| err(&e))?;

    const COLORS: [RGBColor; 5] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
    ];
    for (i, (stage, pts)) in series.into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let style = color.stroke_width(2);
        chart
            .draw_series(LineSeries::new(pts, style))
            .map_err(|e| err(&e))?
            .label(stage.label())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font((FAMILY, 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_percentiles() {
        assert_eq!(nines_label(&0.0), "0%");
        assert_eq!(nines_label(&1.0), "90%");
        assert_eq!(nines_label(&3.0), "99.9%");
    }

    #[test]
    fn draws_a_png() {
        use crate::event::{Bbo, BookState, Event, Stamps};
        let mut latency = Latency::new();
        let mut x = 12345u64;
        for i in 0..100_000u64 {
            // A deterministic spread of latencies with a long tail.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let jitter = x % 1_000 + if i % 1_000 == 0 { x % 2_000_000 } else { 0 };
            let local_ts = 1_000_000_000 + i * 10_000;
            let stamps = Stamps {
                exch_ts: local_ts - 2_000_000 - jitter * 10,
                local_ts,
                parsed_ts: local_ts + 400 + jitter / 2,
            };
            let mut ev = Event::bbo(stamps, 0, BookState::Synced, Bbo::default());
            ev.stamp_published(i as u32, local_ts + 450 + jitter / 2);
            latency.record(&ev, local_ts + 600 + jitter);
        }
        let path =
            std::env::temp_dir().join(format!("ladderfeed-chart-{}.png", std::process::id()));
        write_png(&latency, "ladderfeed latency (synthetic)", &path, (1200, 700)).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        if std::env::var_os("KEEP_CHART").is_none() {
            std::fs::remove_file(&path).unwrap();
        } else {
            eprintln!("chart: {}", path.display());
        }
    }
}
