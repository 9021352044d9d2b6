//! What every chart section shares: the range picker, the charts drawn on the server, the
//! value under the pointer, and under each chart a table of its numbers for people who would
//! rather read them (and for screen readers, which cannot read a line).

use leptos::prelude::*;

use crate::metrics::{Chart, ChartsView, Span, CHART_SIZE, PLOT_LEFT, PLOT_RIGHT};

/// The range as the server functions take it: `range`, or `from` and `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub range: String,
    pub from: String,
    pub to: String,
}

impl Pick {
    pub fn named(range: &str) -> Pick {
        Pick {
            range: range.to_string(),
            from: String::new(),
            to: String::new(),
        }
    }

    /// A range ending now moves on; a custom one (and a finished run) stays put, but the
    /// page cannot tell a finished run from a running one, so a run moves on too.
    fn advances(&self) -> bool {
        self.from.is_empty()
    }
}

/// A "GPU metrics" section: the range picker (with "Whole run" when `run`), and the charts
/// `fetch` gives for the pick, asked again every step while the pick ends now. `off` says
/// what to set when Prometheus is not configured.
#[component]
pub fn ChartsSection<F, Fut>(
    testid: &'static str,
    #[prop(default = "GPU metrics")] title: &'static str,
    #[prop(default = "1h")] initial: &'static str,
    #[prop(optional)] run: bool,
    off: &'static str,
    fetch: F,
) -> impl IntoView
where
    F: Fn(Pick) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<ChartsView, crate::error::AppError>> + 'static,
{
    let pick = RwSignal::new(Pick::named(initial));
    let tick = RwSignal::new(0u64);
    let charts = LocalResource::new(move || {
        tick.track();
        fetch(pick.get())
    });
    let step = Signal::derive(move || {
        charts
            .get()
            .and_then(|r| r.ok())
            .map_or(0, |v| v.metrics.step_secs)
    });
    advance_with_step(pick.into(), step, tick);
    view! {
        <section class="metrics" data-testid=testid>
            <div class="page-head">
                <h2>{title}</h2>
                <RangePicker pick run />
            </div>
            {move || match charts.get() {
                None => view! { <p class="muted">"Loading charts…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(view)) => view! { <ChartsBody view off /> }.into_any(),
            }}
        </section>
    }
}

/// Asks again every step while the pick ends now, so that a live page moves with the data;
/// `step` is the last answer's.
fn advance_with_step(pick: Signal<Pick>, step: Signal<u64>, tick: RwSignal<u64>) {
    Effect::new(move |_| {
        let (pick, step) = (pick.get(), step.get());
        if !pick.advances() || step == 0 {
            return;
        }
        let every = std::time::Duration::from_secs(step);
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), every) {
            on_cleanup(move || handle.clear());
        }
    });
}

/// The range picker: `run` offers "Whole run" first (a job's page).
#[component]
fn RangePicker(pick: RwSignal<Pick>, run: bool) -> impl IntoView {
    let choices: Vec<(&'static str, &'static str)> = run
        .then_some(("run", "Whole run"))
        .into_iter()
        .chain(Span::ALL.into_iter().map(|s| (s.name(), s.name())))
        .collect();
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    view! {
        <div class="range-picker" role="group" aria-label="Time range">
            {choices
                .into_iter()
                .map(|(name, label)| {
                    view! {
                        <button
                            type="button"
                            class="button"
                            aria-pressed=move || (pick.get().range == name).to_string()
                            on:click=move |_| pick.set(Pick::named(name))
                        >
                            {label}
                        </button>
                    }
                })
                .collect_view()}
            <details class="custom-range">
                <summary aria-pressed=move || (!pick.get().from.is_empty()).to_string()>
                    "Custom"
                </summary>
                <label>
                    "From (UTC) "
                    <input
                        type="datetime-local"
                        on:change=move |ev| from.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "To (UTC) "
                    <input type="datetime-local" on:change=move |ev| to.set(event_target_value(&ev)) />
                </label>
                <button
                    type="button"
                    class="button"
                    on:click=move |_| {
                        pick.set(Pick {
                            range: String::new(),
                            from: from.get(),
                            to: to.get(),
                        })
                    }
                >
                    "Show"
                </button>
            </details>
        </div>
    }
}

/// Latest, lowest, mean and highest of a series' finite points.
fn figures(points: &[(i64, f64)]) -> Option<[f64; 4]> {
    let values: Vec<f64> = points
        .iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .collect();
    let latest = *values.last()?;
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    Some([latest, low, mean, high])
}

pub fn number(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The charts of `view`, or what to say instead: `off` when Prometheus is not configured.
#[component]
fn ChartsBody(view: ChartsView, off: &'static str) -> impl IntoView {
    let ChartsView { metrics, svgs } = view;
    let Some(charts) = metrics.charts else {
        return view! { <p class="muted" data-testid="metrics-off">{off}</p> }.into_any();
    };
    let step = metrics.step_secs;
    let dialect = metrics.dialect.unwrap_or_default();
    let (start, end) = (metrics.start, metrics.end);
    view! {
        <p class="muted" data-testid="metrics-step">
            {format!(
                "{} to {} · one point every {step} s · series from {dialect}",
                crate::time::format_secs(start),
                crate::time::format_secs(end),
            )}
        </p>
        {charts
            .into_iter()
            .zip(svgs)
            .map(|(chart, svg)| view! { <ChartView chart svg start end /> })
            .collect_view()}
    }
    .into_any()
}

/// The time under the pointer at `x` of `width` pixels across a chart over `start`–`end`.
fn time_at(x: f64, width: f64, start: i64, end: i64) -> Option<i64> {
    let svg_x = x * f64::from(CHART_SIZE.0) / width.max(1.0);
    let across = (svg_x - f64::from(PLOT_LEFT)) / f64::from(PLOT_RIGHT - PLOT_LEFT);
    (0.0..=1.0)
        .contains(&across)
        .then(|| start + (across * (end - start) as f64).round() as i64)
}

/// What the pointer is over: the time, and each series' value nearest it.
fn readout(series: &[crate::metrics::Series], unit: &str, at: i64) -> String {
    let values: Vec<String> = series
        .iter()
        .filter_map(|s| {
            let nearest = s.points.iter().min_by_key(|p| (p.0 - at).abs())?;
            Some(format!("{} {} {unit}", s.name, number(nearest.1)))
        })
        .collect();
    format!("{} · {}", crate::time::format_secs(at), values.join(" · "))
}

#[component]
fn ChartView(chart: Chart, svg: String, start: i64, end: i64) -> impl IntoView {
    let Chart {
        id,
        title,
        unit,
        series,
        error,
    } = chart;
    let body = match error {
        Some(reason) => {
            view! { <p class="notice" role="status">{format!("No chart: {reason}")}</p> }.into_any()
        }
        None if series.is_empty() => {
            view! { <p class="muted">"No series in this range."</p> }.into_any()
        }
        None => {
            let rows = series
                .iter()
                .enumerate()
                .filter_map(|(i, s)| Some((i, s.name.clone(), figures(&s.points)?)))
                .map(|(i, name, f)| {
                    view! {
                        <tr>
                            <td>
                                // The stylesheet colours `data-colour` (the page's policy
                                // refuses inline styles), in the charts' palette order.
                                <span
                                    class="swatch"
                                    aria-hidden="true"
                                    data-colour=(i % 8).to_string()
                                ></span>
                                {name}
                            </td>
                            {f.into_iter().map(|v| view! { <td class="num">{number(v)}</td> }).collect_view()}
                        </tr>
                    }
                })
                .collect_view();
            let hover = RwSignal::new(None::<String>);
            let unit_for_hover = unit.clone();
            // The SVG ignores the pointer (style/main.css), so offsets are the box's own.
            let on_move = move |ev: leptos::ev::MouseEvent| {
                use leptos::wasm_bindgen::JsCast;
                let width = ev
                    .current_target()
                    .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
                    .map_or(0, |e| e.client_width());
                let text = time_at(f64::from(ev.offset_x()), f64::from(width), start, end)
                    .map(|at| readout(&series, &unit_for_hover, at));
                hover.set(text);
            };
            view! {
                <div
                    class="chart"
                    role="img"
                    aria-label=title.clone()
                    inner_html=svg
                    on:mousemove=on_move
                    on:mouseleave=move |_| hover.set(None)
                ></div>
                <p class="chart-hover muted" data-testid=format!("hover-{id}")>
                    {move || hover.get().unwrap_or_else(|| "Point at the chart to read a value.".into())}
                </p>
                <details>
                    <summary>"Show the numbers"</summary>
                    <table class="table" data-testid=format!("numbers-{id}")>
                        <thead>
                            <tr>
                                <th>"Series"</th>
                                <th>{format!("Latest ({unit})")}</th>
                                <th>"Lowest"</th>
                                <th>"Mean"</th>
                                <th>"Highest"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </details>
            }
            .into_any()
        }
    };
    view! {
        <figure class="chart-card" data-testid=format!("chart-{id}")>
            <figcaption>{title.clone()}</figcaption>
            {body}
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pointer_maps_to_the_time_under_it() {
        // A chart 360 px wide: the plot spans SVG units 64–712, i.e. 32–356 px.
        assert_eq!(time_at(32.0, 360.0, 1000, 2000), Some(1000));
        assert_eq!(time_at(356.0, 360.0, 1000, 2000), Some(2000));
        assert_eq!(time_at(194.0, 360.0, 1000, 2000), Some(1500));
        assert_eq!(time_at(10.0, 360.0, 1000, 2000), None);
        let series = vec![crate::metrics::Series {
            name: "GPU 0".into(),
            points: vec![(1000, 10.0), (1015, 87.25)],
        }];
        assert_eq!(
            readout(&series, "%", 1012),
            "1970-01-01T00:16:52Z · GPU 0 87.2 %"
        );
    }

    #[test]
    fn the_numbers_are_the_latest_lowest_mean_and_highest_finite_points() {
        // The backfill test's GPU 0: 120 steps at 40 %, then 121 at 80 %.
        let mut points: Vec<(i64, f64)> = (0..241)
            .map(|i| (i * 15, if i < 120 { 40.0 } else { 80.0 }))
            .collect();
        points.insert(3, (45, f64::NAN));
        let [latest, low, mean, high] = figures(&points).unwrap();
        assert_eq!((latest, low, high), (80.0, 40.0, 80.0));
        assert!(
            (mean - (40.0 * 120.0 + 80.0 * 121.0) / 241.0).abs() < 1e-9,
            "{mean}"
        );
        assert_eq!(figures(&[(0, f64::NAN)]), None);
    }
}
