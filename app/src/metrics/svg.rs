//! Charts drawn as SVG on the server (plotters): time along the bottom in the page's clock
//! (UTC), the unit on the value axis, one coloured line and legend entry per series.
//!
//! Inline on a page the axes and text use `currentColor`, so one SVG suits the light and the
//! dark theme; as a standalone URL (for portals) the theme is chosen by a parameter.

use plotters::prelude::*;

use super::{Chart, ChartsView, Metrics, CHART_MARGIN, CHART_SIZE, PLOT_LEFT};

/// Series beyond this many are drawn but not named in the legend (a 64-GPU job's legend
/// would hide its chart); the numbers table names them all.
const LEGEND_ENTRIES: usize = 8;

/// How the chart's ink is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// Axes and text in `currentColor`, no background: for a page.
    Inline,
    Light,
    Dark,
}

impl Look {
    pub fn parse(theme: Option<&str>) -> Look {
        match theme {
            Some("dark") => Look::Dark,
            Some("light") => Look::Light,
            _ => Look::Inline,
        }
    }
}

/// The ink drawn with this colour becomes `currentColor` (no chart colour is this one).
const INK: RGBColor = RGBColor(1, 2, 3);
const INK_HEX: &str = "#010203";

/// Colours that stay apart on white and on near-black (Okabe–Ito, colour-blind safe); the
/// numbers tables' swatches (style/main.css) repeat them in this order.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(153, 153, 153),
];

fn clock(secs: i64) -> String {
    let day = secs.rem_euclid(86_400);
    format!("{:02}:{:02}", day / 3600, day % 3600 / 60)
}

/// Every chart of `metrics` drawn for a page (charts that failed are left blank: the page
/// shows their reason).
pub fn inline(metrics: Metrics) -> ChartsView {
    let svgs = metrics
        .charts
        .iter()
        .flatten()
        .map(|chart| match chart.error {
            None => render(chart, metrics.start, metrics.end, Look::Inline),
            Some(_) => String::new(),
        })
        .collect();
    ChartsView { metrics, svgs }
}

/// `chart` from `start` to `end` (seconds since the epoch) as an SVG document.
pub fn render(chart: &Chart, start: i64, end: i64, look: Look) -> String {
    draw(chart, start..end.max(start + 1), &|t| clock(*t), look)
}

/// `chart` with a training run's steps along the bottom instead of times: its points are
/// (step, value), drawn from the first step to the last.
pub fn render_steps(chart: &Chart, look: Look) -> String {
    let steps = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
    };
    let first = steps().min().unwrap_or(0);
    let last = steps().max().unwrap_or(0);
    draw(
        chart,
        first..last.max(first + 1),
        &|step| step.to_string(),
        look,
    )
}

fn draw(
    chart: &Chart,
    across: std::ops::Range<i64>,
    label: &dyn Fn(&i64) -> String,
    look: Look,
) -> String {
    let mut svg = String::new();
    let (ink, background) = match look {
        Look::Inline => (INK, None),
        Look::Light => (RGBColor(32, 33, 36), Some(WHITE)),
        Look::Dark => (RGBColor(230, 230, 230), Some(RGBColor(24, 26, 27))),
    };
    let values = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
    };
    let top = values().fold(0.0f64, f64::max);
    // A run's metric may be negative (a log-likelihood); GPU and serving charts never are,
    // and keep their zero at the bottom.
    let bottom = values().fold(0.0f64, f64::min) * 1.1;
    // Percentages keep their scale; other units get 10 % headroom above the highest point.
    let top = if chart.unit == "%" {
        100.0
    } else {
        (top * 1.1).max(1.0)
    };
    {
        let root = SVGBackend::with_string(&mut svg, CHART_SIZE).into_drawing_area();
        if let Some(background) = background {
            let _ = root.fill(&background);
        }
        let text = ("sans-serif", 12).into_font().color(&ink);
        let built = ChartBuilder::on(&root)
            .margin(CHART_MARGIN)
            .x_label_area_size(24)
            .y_label_area_size(PLOT_LEFT - CHART_MARGIN)
            .build_cartesian_2d(across, bottom..top);
        let Ok(mut plot) = built else {
            return String::new();
        };
        let _ = plot
            .configure_mesh()
            .axis_style(ink)
            .bold_line_style(ink.mix(0.15))
            .light_line_style(ink.mix(0.0))
            .label_style(text.clone())
            .x_labels(7)
            .y_labels(5)
            .x_label_formatter(label)
            .y_desc(chart.unit.as_str())
            .draw();
        for (i, series) in chart.series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            let points = series.points.iter().copied().filter(|p| p.1.is_finite());
            let Ok(drawn) = plot.draw_series(LineSeries::new(points, colour.stroke_width(2)))
            else {
                continue;
            };
            let more = chart.series.len().saturating_sub(LEGEND_ENTRIES);
            if i < LEGEND_ENTRIES {
                drawn.label(series.name.as_str()).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 14, y)], colour.stroke_width(2))
                });
            } else if i == LEGEND_ENTRIES {
                drawn
                    .label(format!("and {more} more"))
                    .legend(move |(x, y)| PathElement::new([(x, y), (x, y)], ink));
            }
        }
        if !chart.series.is_empty() {
            let _ = plot
                .configure_series_labels()
                // Upper left: the newest points, at the right, stay visible.
                .position(SeriesLabelPosition::UpperLeft)
                .label_font(text)
                .border_style(ink.mix(0.3))
                .background_style(match background {
                    Some(b) => b.mix(0.8),
                    None => TRANSPARENT.mix(0.0),
                })
                .draw();
        }
        let _ = root.present();
    }
    if look == Look::Inline {
        svg = svg.replace(INK_HEX, "currentColor");
    }
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Series;

    fn chart(series: usize, points: i64) -> Chart {
        Chart {
            id: "utilisation".into(),
            title: "GPU utilisation".into(),
            unit: "%".into(),
            series: (0..series)
                .map(|s| Series {
                    name: format!("GPU {s}"),
                    points: (0..points)
                        .map(|i| {
                            (
                                1_795_000_000 + i * 15,
                                ((i as f64 / 10.0).sin() + 1.0) * 40.0 + s as f64,
                            )
                        })
                        .collect(),
                })
                .collect(),
            error: None,
        }
    }

    #[test]
    fn a_chart_has_its_lines_legend_and_times() {
        let svg = render(&chart(2, 240), 1_795_000_000, 1_795_003_600, Look::Inline);
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
        // Each series: its line and its legend mark.
        assert_eq!(svg.matches(r##"stroke="#0072B2""##).count(), 2);
        assert_eq!(svg.matches(r##"stroke="#E69F00""##).count(), 2);
        assert!(svg.contains(">\nGPU 0\n<") && svg.contains(">\nGPU 1\n<"));
        // 1,795,000,000 is 11:06:40 UTC.
        assert!(svg.contains(">\n11:06\n<"), "times along the bottom");
        assert!(svg.contains("currentColor") && !svg.contains(INK_HEX));
    }

    #[test]
    fn a_run_metric_has_steps_along_the_bottom_and_room_below_zero() {
        let c = Chart {
            id: "loglik".into(),
            title: "loglik".into(),
            unit: String::new(),
            series: vec![Series {
                name: "loglik".into(),
                points: (0..600).map(|s| (s * 10, -1000.0 + s as f64)).collect(),
            }],
            error: None,
        };
        let svg = render_steps(&c, Look::Inline);
        assert!(
            svg.contains(">\n0\n<") && svg.contains(">\n5000\n<"),
            "steps, not times"
        );
        assert!(!svg.contains(">\n00:00\n<"));
        let labels: Vec<&str> = svg
            .split(">\n")
            .filter_map(|t| t.split_once("\n<").map(|(l, _)| l))
            .collect();
        assert!(
            labels.contains(&"-1000.0"),
            "the axis reaches the lowest value: {labels:?}"
        );
    }

    #[test]
    fn ten_series_of_600_points_stay_under_150_kb() {
        let svg = render(&chart(10, 600), 1_795_000_000, 1_795_009_000, Look::Dark);
        assert!(svg.len() < 150 * 1024, "{} bytes", svg.len());
    }

    #[test]
    fn a_legend_names_eight_series_and_counts_the_rest() {
        let svg = render(&chart(64, 10), 1_795_000_000, 1_795_000_150, Look::Light);
        assert!(svg.contains(">\nGPU 7\n<") && !svg.contains(">\nGPU 8\n<"));
        assert!(svg.contains(">\nand 56 more\n<"));
    }

    #[test]
    fn markup_in_a_series_name_is_text() {
        let mut c = chart(1, 10);
        c.series[0].name = "<script>alert(1)</script>".into();
        let svg = render(&c, 1_795_000_000, 1_795_000_150, Look::Light);
        assert!(!svg.contains("<script>") && svg.contains("&lt;script&gt;"));
    }
}
