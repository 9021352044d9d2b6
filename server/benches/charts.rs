//! Figures for drawing charts: 10 series of 600 points (the most a chart has) to SVG,
//! 200 times, with the median and p95 time and the document's size.
//!
//!   cargo bench -p gantry-server --bench charts      (make bench-charts)

use std::time::Instant;

use gantry_app::metrics::svg::{render, Look};
use gantry_app::metrics::{Chart, Series};

fn main() {
    let start = 1_795_000_000i64;
    let chart = Chart {
        id: "utilisation".into(),
        title: "GPU utilisation".into(),
        unit: "%".into(),
        series: (0..10)
            .map(|s| Series {
                name: format!("GPU {s}"),
                points: (0..600)
                    .map(|i| {
                        (
                            start + i * 15,
                            50.0 + 40.0 * ((i + s * 7) as f64 / 13.0).sin(),
                        )
                    })
                    .collect(),
            })
            .collect(),
        error: None,
    };
    let end = start + 600 * 15;
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..200 {
        let began = Instant::now();
        let svg = render(&chart, start, end, Look::Inline);
        times.push(began.elapsed().as_secs_f64() * 1000.0);
        size = svg.len();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "charts: 10 series x 600 points to SVG: median {:.1} ms, p95 {:.1} ms, {} KiB",
        times[times.len() / 2],
        times[times.len() * 95 / 100],
        size / 1024
    );
}
