//! `runs/search` with the client's `filter_string` and `order_by`: ``metrics.accuracy > 0.9
//! AND params.lr = '0.01' AND attributes.status = 'FINISHED'``, ordered by
//! `["metrics.loss ASC", "attributes.start_time DESC"]`.
//!
//! Without either, the experiment's runs are paged in SQL, newest first. With them, the
//! experiment's newest runs, as many as `GANTRY_MLFLOW_SEARCH_MAX_RUNS`
//! ([`crate::state::AppState::mlflow_search_max_runs`]), are read with only the metrics, params and
//! tags the search names (one statement per key), then filtered and ordered here.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::*;
use crate::models::filter::{Grammar, Subject, NUMERIC_FIELDS};

/// The most `order_by` entries, as MLflow's server allows.
const MAX_ORDER_BY: usize = 10;
/// A run's attributes a search may name (`attributes.` before them is optional).
const RUN_FIELDS: [&str; 6] = [
    "run_id",
    "run_name",
    "status",
    "user_id",
    "start_time",
    "end_time",
];

#[derive(Deserialize)]
pub struct SearchRuns {
    #[serde(default)]
    experiment_ids: Vec<String>,
    #[serde(default)]
    filter: String,
    #[serde(default)]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "wire::opt_int")]
    max_results: Option<i64>,
    #[serde(default)]
    page_token: Option<String>,
}

/// The runs of one experiment that the filter keeps, in the asked order (newest first by
/// default).
pub async fn search_runs(
    State(state): State<AppState>,
    caller: Caller,
    Body(body): Body<SearchRuns>,
) -> Reply {
    let filter = Filter::parse_in(&body.filter, &RUN_FIELDS, Grammar::Runs)?;
    let order = order_by(&body.order_by)?;
    let [experiment] = body.experiment_ids.as_slice() else {
        return Err(AppError::invalid("experiment_ids", "give exactly one experiment").into());
    };
    let experiment = numeric_id("experiment_ids", experiment)?;
    experiment_for(&state, &caller, experiment, Action::View).await?;
    let limit = page_size(body.max_results, 1000, store::MAX_PAGE);
    let start = offset(body.page_token.as_deref())?;
    let (rows, more) = if filter.0.is_empty() && order.is_empty() {
        let rows = store::runs(&state.db, experiment, start, limit).await?;
        let more = rows.len() as i64 == limit;
        (rows, more)
    } else {
        let found = searched(&state, experiment, &filter, &order).await?;
        let more = found.len() as i64 > start + limit;
        let page = found
            .into_iter()
            .skip(start as usize)
            .take(limit as usize)
            .collect();
        (page, more)
    };
    let runs = runs_json(&state, &rows).await?;
    let mut reply = serde_json::json!({ "runs": runs });
    if more {
        reply["next_page_token"] = (start + limit).to_string().into();
    }
    Ok(Json(reply))
}

/// One `order_by` entry: what to order by, and whether ascending.
type OrderBy = (Subject, bool);

/// `["metrics.loss ASC", "start_time"]`: a subject as a filter names it, then `ASC` (the
/// default) or `DESC`.
fn order_by(entries: &[String]) -> Result<Vec<OrderBy>, AppError> {
    if entries.len() > MAX_ORDER_BY {
        return Err(AppError::invalid(
            "order_by",
            format!("at most {MAX_ORDER_BY} entries"),
        ));
    }
    entries
        .iter()
        .map(|entry| {
            let text = entry.trim();
            let (subject, ascending) = match text.rsplit_once(char::is_whitespace) {
                Some((s, d)) if d.eq_ignore_ascii_case("asc") => (s.trim(), true),
                Some((s, d)) if d.eq_ignore_ascii_case("desc") => (s.trim(), false),
                _ => (text, true),
            };
            // Read as a filter's clause reads its subject: both take the same spellings.
            let subject =
                Filter::parse_subject(subject, &RUN_FIELDS, Grammar::Runs).map_err(|_| {
                    AppError::invalid(
                        "order_by",
                        format!(
                            "{entry:?}: order by metrics.<key>, params.<key>, tags.<key> or \
                         one of {}, then ASC or DESC",
                            RUN_FIELDS.join(", ")
                        ),
                    )
                })?;
            Ok((subject, ascending))
        })
        .collect()
}

/// A run with the values the search named.
struct Candidate<'v> {
    row: RunRow,
    values: &'v Values,
}

/// The named metrics, params and tags of the experiment's runs: key → run → value.
#[derive(Default)]
struct Values {
    metrics: HashMap<String, HashMap<String, f64>>,
    params: HashMap<String, HashMap<String, String>>,
    tags: HashMap<String, HashMap<String, String>>,
}

impl Subjects for Candidate<'_> {
    fn field(&self, name: &str) -> Option<String> {
        let row = &self.row;
        match name {
            "run_id" => Some(row.id.clone()),
            "run_name" => Some(row.name.clone()),
            "status" => Some(row.status.clone()),
            "user_id" => Some(row.user_id.clone()),
            "start_time" => Some(row.start_ms.to_string()),
            "end_time" => row.end_ms.map(|ms| ms.to_string()),
            _ => None,
        }
    }
    fn tag(&self, key: &str) -> Option<String> {
        self.values.tags.get(key)?.get(&self.row.id).cloned()
    }
    fn metric(&self, key: &str) -> Option<f64> {
        self.values.metrics.get(key)?.get(&self.row.id).copied()
    }
    fn param(&self, key: &str) -> Option<String> {
        self.values.params.get(key)?.get(&self.row.id).cloned()
    }
}

async fn searched(
    state: &AppState,
    experiment: i64,
    filter: &Filter,
    order: &[OrderBy],
) -> Result<Vec<RunRow>, AppError> {
    let rows = store::runs(&state.db, experiment, 0, state.mlflow_search_max_runs).await?;
    let mut values = Values::default();
    for subject in filter.keys().chain(order.iter().map(|(s, _)| s)) {
        let db = &state.db;
        match subject {
            Subject::Metric(key) if !values.metrics.contains_key(key) => {
                let found = store::experiment_metric(db, experiment, key).await?;
                values.metrics.insert(key.clone(), found);
            }
            Subject::Param(key) if !values.params.contains_key(key) => {
                let found = store::experiment_values(db, store::Keyed::Params, experiment, key);
                values.params.insert(key.clone(), found.await?);
            }
            Subject::Tag(key) if !values.tags.contains_key(key) => {
                let found = store::experiment_values(db, store::Keyed::Tags, experiment, key);
                values.tags.insert(key.clone(), found.await?);
            }
            _ => {}
        }
    }
    let mut kept: Vec<Candidate> = rows
        .into_iter()
        .map(|row| Candidate {
            row,
            values: &values,
        })
        .filter(|c| filter.matches(c))
        .collect();
    // Stable: runs equal in every entry stay newest first, as read.
    kept.sort_by(|a, b| {
        order
            .iter()
            .map(|(subject, ascending)| compare(a, b, subject, *ascending))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    Ok(kept.into_iter().map(|c| c.row).collect())
}

/// One entry's order of two runs: a run without the value comes last either way, as in
/// MLflow; numbers (metrics, times) compare as numbers, NaN after every number.
fn compare(a: &Candidate, b: &Candidate, subject: &Subject, ascending: bool) -> Ordering {
    let directed = |o: Ordering| if ascending { o } else { o.reverse() };
    let time = matches!(subject, Subject::Field(f) if NUMERIC_FIELDS.contains(&f.as_str()));
    if time || matches!(subject, Subject::Metric(_)) {
        let number = |c: &Candidate| match subject {
            Subject::Metric(key) => c.metric(key),
            Subject::Field(f) => c.field(f).and_then(|v| v.parse::<f64>().ok()),
            _ => None,
        };
        missing_last(number(a), number(b), |x, y| {
            match (x.is_nan(), y.is_nan()) {
                (false, false) => directed(x.total_cmp(&y)),
                (x_nan, y_nan) => x_nan.cmp(&y_nan),
            }
        })
    } else {
        let text = |c: &Candidate| match subject {
            Subject::Field(f) => c.field(f),
            Subject::Tag(key) => c.tag(key),
            Subject::Param(key) => c.param(key),
            Subject::Metric(_) => None,
        };
        missing_last(text(a), text(b), |x, y| directed(x.cmp(&y)))
    }
}

/// `present`'s order when both have a value; else the one without it last.
fn missing_last<T>(a: Option<T>, b: Option<T>, present: impl FnOnce(T, T) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => present(x, y),
        (x, y) => y.is_some().cmp(&x.is_some()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_by_reads_the_clients_spellings() {
        let parsed = order_by(&[
            "metrics.loss ASC".into(),
            "attributes.start_time DESC".into(),
            "params.`lr`".into(),
            "tags.team desc".into(),
        ])
        .unwrap();
        assert_eq!(
            parsed,
            [
                (Subject::Metric("loss".into()), true),
                (Subject::Field("start_time".into()), false),
                (Subject::Param("lr".into()), true),
                (Subject::Tag("team".into()), false),
            ]
        );
        for bad in ["owner DESC", "metrics.loss SIDEWAYS", ""] {
            let err = order_by(&[bad.into()]).unwrap_err();
            assert!(
                matches!(&err, AppError::InvalidInput { field, .. } if field == "order_by"),
                "{bad}: {err:?}"
            );
        }
        assert!(order_by(&vec!["start_time".to_string(); 11]).is_err());
    }

    fn run(id: &str, start_ms: i64) -> RunRow {
        RunRow {
            id: id.into(),
            experiment_id: 1,
            name: id.into(),
            user_id: "alice".into(),
            status: "FINISHED".into(),
            start_ms,
            end_ms: None,
            lifecycle_stage: "active".into(),
            namespace: "team-a".into(),
            job_name: None,
            job_uid: None,
        }
    }

    #[test]
    fn runs_without_the_value_come_last_and_nan_after_numbers() {
        let mut values = Values::default();
        values.metrics.insert(
            "loss".into(),
            [
                ("a".to_string(), 0.5),
                ("b".into(), 0.2),
                ("c".into(), f64::NAN),
            ]
            .into(),
        );
        let runs = [run("a", 3), run("b", 2), run("c", 1), run("d", 0)];
        let order = |ascending: bool| {
            let mut c: Vec<Candidate> = runs
                .iter()
                .cloned()
                .map(|row| Candidate {
                    row,
                    values: &values,
                })
                .collect();
            let subject = Subject::Metric("loss".into());
            c.sort_by(|x, y| compare(x, y, &subject, ascending));
            c.iter().map(|c| c.row.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(order(true), ["b", "a", "c", "d"]);
        assert_eq!(order(false), ["a", "b", "c", "d"]);
        let filter = Filter::parse_in("metrics.loss < 0.4", &RUN_FIELDS, Grammar::Runs).unwrap();
        let kept: Vec<&str> = runs
            .iter()
            .filter(|row| {
                filter.matches(&Candidate {
                    row: (*row).clone(),
                    values: &values,
                })
            })
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(kept, ["b"]);
    }
}
