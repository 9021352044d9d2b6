//! Runs and versions side by side (server only): every param and latest metric any of them
//! has, one row per key, with the rows whose values differ marked. A version is compared
//! through the run that logged it; its own facts (stage, aliases, who registered it) head
//! its column.

use std::collections::{BTreeMap, BTreeSet};

use super::server::{pairs, run_for, run_summary, utc, visible_run};
use super::{store, ComparedColumn, ComparedRow, Comparison, COMPARE_LIMIT};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::state::AppState;

/// What one column brings: its facts, params and latest metrics, each `(key, value)`.
#[derive(Default)]
struct Column {
    heading: Option<ComparedColumn>,
    facts: Vec<(String, String)>,
    params: Vec<(String, String)>,
    metrics: Vec<(String, String)>,
}

/// Runs `ids` side by side, in the order given, once the caller may see every one.
pub async fn runs(
    state: &AppState,
    caller: &Caller,
    ids: &[String],
) -> Result<Comparison, AppError> {
    let ids = distinct(ids.iter().map(|id| id.trim().to_string()), "ids", "runs")?;
    let mut columns = Vec::with_capacity(ids.len());
    for id in &ids {
        let row = run_for(state, caller, id).await?;
        let mut column = run_column(state, &row).await?;
        column.heading = Some(ComparedColumn {
            label: row.name.clone(),
            href: format!("/runs/{}", row.id),
        });
        columns.push(column);
    }
    Ok(side_by_side(columns))
}

/// `versions` of model `name` side by side, in the order given, once the caller may see the
/// model. A version's run shows only when the caller may see the run's namespace too.
pub async fn versions(
    state: &AppState,
    caller: &Caller,
    name: &str,
    versions: &[i64],
) -> Result<Comparison, AppError> {
    let versions = distinct(versions.iter().copied(), "versions", "versions")?;
    let model = store::registered(&state.db, name)
        .await?
        .ok_or_else(|| AppError::not_found(format!("model {name:?}")))?;
    caller.check(Action::View, Some(&model.namespace))?;
    let aliases = store::aliases(&state.db, model.id).await?;
    let mut columns = Vec::with_capacity(versions.len());
    for number in versions {
        let version = store::version(&state.db, model.id, number)
            .await?
            .ok_or_else(|| AppError::not_found(format!("version {number} of model {name:?}")))?;
        let run = visible_run(state, caller, &version.run_id).await?;
        let mut column = match &run {
            Some(run) => run_column(state, run).await?,
            None => Column::default(),
        };
        let pointing: Vec<String> = aliases
            .iter()
            .filter(|(_, n)| *n == number)
            .map(|(alias, _)| format!("@{alias}"))
            .collect();
        let mut facts = vec![
            ("Stage".to_string(), version.stage.clone()),
            ("Aliases".to_string(), pointing.join(", ")),
            ("Registered by".to_string(), version.created_by.clone()),
            ("Registered (UTC)".to_string(), utc(version.created_ms)),
            ("Source".to_string(), version.source.clone()),
        ];
        if let Some(run) = &run {
            facts.push(("Run".to_string(), run.name.clone()));
        }
        facts.append(&mut column.facts);
        column.facts = facts;
        column.heading = Some(ComparedColumn {
            label: format!("version {number}"),
            href: run.map(|r| format!("/runs/{}", r.id)).unwrap_or_default(),
        });
        columns.push(column);
    }
    Ok(side_by_side(columns))
}

/// The ids asked for, each once, in the order first given: two at least, at most
/// [`COMPARE_LIMIT`]; else an error naming `field`.
fn distinct<T: Ord + Clone>(
    asked: impl Iterator<Item = T>,
    field: &str,
    what: &str,
) -> Result<Vec<T>, AppError> {
    let mut seen = BTreeSet::new();
    let chosen: Vec<T> = asked.filter(|id| seen.insert(id.clone())).collect();
    if chosen.len() < 2 {
        return Err(AppError::invalid(
            field,
            format!("choose at least two {what} to compare"),
        ));
    }
    if chosen.len() > COMPARE_LIMIT {
        return Err(AppError::invalid(
            field,
            format!(
                "at most {COMPARE_LIMIT} {what} are compared at once; {} were chosen",
                chosen.len()
            ),
        ));
    }
    Ok(chosen)
}

/// A run's column: its facts, params and latest metrics.
async fn run_column(state: &AppState, row: &store::RunRow) -> Result<Column, AppError> {
    let summary = run_summary(state, row).await?;
    let mut facts = vec![
        ("Status".to_string(), summary.status),
        ("User".to_string(), summary.user),
        ("Started (UTC)".to_string(), summary.started),
        (
            "Duration".to_string(),
            crate::time::duration_text(Some(summary.duration_secs)),
        ),
    ];
    if let Some(job) = &row.job_name {
        facts.push(("Job".to_string(), format!("{}/{job}", row.namespace)));
    }
    let params = pairs(store::run_params(&state.db, &row.id).await?);
    Ok(Column {
        heading: None,
        facts,
        params,
        metrics: summary.metrics,
    })
}

fn side_by_side(columns: Vec<Column>) -> Comparison {
    let facts: Vec<_> = columns.iter().map(|c| c.facts.as_slice()).collect();
    let params: Vec<_> = columns.iter().map(|c| c.params.as_slice()).collect();
    let metrics: Vec<_> = columns.iter().map(|c| c.metrics.as_slice()).collect();
    let mut facts = rows(&facts, false);
    // Facts keep the order the columns give them (Stage before Source), not the keys'.
    let order: Vec<&str> = columns
        .iter()
        .flat_map(|c| c.facts.iter().map(|(k, _)| k.as_str()))
        .collect();
    facts.sort_by_key(|row| order.iter().position(|k| *k == row.key));
    Comparison {
        params: rows(&params, true),
        metrics: rows(&metrics, true),
        facts,
        columns: columns.into_iter().filter_map(|c| c.heading).collect(),
    }
}

/// One row per key any column has, by key, with each column's value; `mark` says whether a
/// row whose values are not all the same is marked as differing.
fn rows(columns: &[&[(String, String)]], mark: bool) -> Vec<ComparedRow> {
    let mut by_key: BTreeMap<&str, Vec<Option<String>>> = BTreeMap::new();
    for (at, pairs) in columns.iter().enumerate() {
        for (key, value) in pairs.iter() {
            by_key
                .entry(key.as_str())
                .or_insert_with(|| vec![None; columns.len()])[at] = Some(value.clone());
        }
    }
    by_key
        .into_iter()
        .map(|(key, values)| ComparedRow {
            key: key.to_string(),
            differs: mark && values.iter().any(|v| v != &values[0]),
            values,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{distinct, rows, COMPARE_LIMIT};
    use crate::error::AppError;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rows_line_up_by_key_and_mark_differences() {
        let a = pairs(&[("lr", "0.01"), ("epochs", "3")]);
        let b = pairs(&[("lr", "0.01"), ("epochs", "5"), ("batch", "64")]);
        let found = rows(&[&a, &b], true);
        let keys: Vec<&str> = found.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["batch", "epochs", "lr"]);
        assert_eq!(found[0].values, [None, Some("64".to_string())]);
        assert!(
            found[0].differs,
            "missing in one column counts as different"
        );
        assert!(found[1].differs);
        assert!(!found[2].differs);
        assert!(rows(&[&a, &b], false).iter().all(|r| !r.differs));
    }

    #[test]
    fn between_two_and_the_limit_distinct_ids_are_compared() {
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let chosen = distinct(ids(&["b", "a", "b"]).into_iter(), "ids", "runs").unwrap();
        assert_eq!(chosen, ["b", "a"]);
        let field = |e: AppError| match e {
            AppError::InvalidInput { field, reason } => format!("{field}: {reason}"),
            other => panic!("{other:?}"),
        };
        let one = distinct(ids(&["a", "a"]).into_iter(), "ids", "runs").unwrap_err();
        assert_eq!(field(one), "ids: choose at least two runs to compare");
        let many = distinct(1..=(COMPARE_LIMIT as i64 + 1), "versions", "versions").unwrap_err();
        assert!(field(many).starts_with("versions: at most 8 versions"));
    }
}
