//! The node page's "GPU metrics" section: a range picker, the charts drawn on the server,
//! and under each a table of its numbers for people who would rather read them (and for
//! screen readers, which cannot read a line).

use leptos::prelude::*;

use crate::metrics::{get_node_charts, Chart, NodeChartsView, Span};

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

fn number(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

#[component]
pub fn NodeCharts(#[prop(into)] name: Signal<String>) -> impl IntoView {
    let range = RwSignal::new(Span::H1);
    let charts =
        LocalResource::new(move || get_node_charts(name.get(), range.get().name().to_string()));
    view! {
        <section class="metrics" data-testid="node-metrics">
            <div class="page-head">
                <h2>"GPU metrics"</h2>
                <div class="range-picker" role="group" aria-label="Time range">
                    {Span::ALL
                        .into_iter()
                        .map(|span| {
                            view! {
                                <button
                                    type="button"
                                    class="button"
                                    aria-pressed=move || (range.get() == span).to_string()
                                    on:click=move |_| range.set(span)
                                >
                                    {span.name()}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
            </div>
            {move || match charts.get() {
                None => view! { <p class="muted">"Loading charts…"</p> }.into_any(),
                Some(Err(error)) => view! { <crate::error::ErrorNotice error /> }.into_any(),
                Some(Ok(view)) => view! { <ChartsView view /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn ChartsView(view: NodeChartsView) -> impl IntoView {
    let NodeChartsView { metrics, svgs } = view;
    let Some(charts) = metrics.charts else {
        return view! {
            <p class="muted" data-testid="metrics-off">
                "Prometheus not configured: set GANTRY_PROMETHEUS_URL to chart this node's GPUs."
            </p>
        }
        .into_any();
    };
    let step = metrics.step_secs;
    let dialect = metrics.dialect.unwrap_or_default();
    view! {
        <p class="muted" data-testid="metrics-step">
            {format!("One point every {step} s · series from {dialect}")}
        </p>
        {charts
            .into_iter()
            .zip(svgs)
            .map(|(chart, svg)| view! { <ChartView chart svg /> })
            .collect_view()}
    }
    .into_any()
}

#[component]
fn ChartView(chart: Chart, svg: String) -> impl IntoView {
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
            view! { <p class="muted">"No series for this node in this range."</p> }.into_any()
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
            view! {
                <div class="chart" role="img" aria-label=title.clone() inner_html=svg></div>
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
