//! The nodes table's filters, search, sort and page over the index's rows: pure, and the
//! only place they are written.

use super::{GpuNodeRow, NodeFilter, NodePage, PAGE_SIZE};
use crate::error::AppError;

/// The longest search, in bytes and in words: a search costs a pass over every node per
/// word, so its size bounds its cost.
pub const SEARCH_BYTES: usize = 256;
pub const SEARCH_WORDS: usize = 8;

/// The search's words, lower-cased, or why it is refused.
pub fn search_words(search: &str) -> Result<Vec<String>, AppError> {
    if search.len() > SEARCH_BYTES {
        return Err(AppError::invalid(
            "search",
            format!("at most {SEARCH_BYTES} characters"),
        ));
    }
    let words: Vec<String> = search
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.len() > SEARCH_WORDS {
        return Err(AppError::invalid(
            "search",
            format!("at most {SEARCH_WORDS} words"),
        ));
    }
    Ok(words)
}

/// Applies `filter`'s conditions, sort and page to `rows` (given in name order, each with its
/// node's labels as lower-cased `key=value` lines); only the page is copied.
pub fn select<'a>(
    rows: impl IntoIterator<Item = (&'a GpuNodeRow, Option<&'a str>)>,
    filter: &NodeFilter,
) -> Result<NodePage, AppError> {
    let mut models: Vec<&str> = Vec::new();
    let search = search_words(&filter.search)?;
    // Node names are lower-case already (DNS subdomains); models are short.
    let matches_word = |(row, labels): &(&GpuNodeRow, Option<&str>), word: &str| {
        row.name.contains(word)
            || row.model.to_lowercase().contains(word)
            || labels.is_some_and(|text| text.contains(word))
    };
    let mut rows: Vec<&GpuNodeRow> = rows
        .into_iter()
        .inspect(|(r, _)| models.push(&r.model))
        .filter(|entry| {
            let r = entry.0;
            (filter.model.is_empty() || r.model == filter.model)
                && r.free >= filter.min_free
                && match filter.readiness.as_str() {
                    "ready" => r.health.ready,
                    "not-ready" => !r.health.ready,
                    _ => true,
                }
                && search.iter().all(|word| matches_word(entry, word))
        })
        .map(|(r, _)| r)
        .collect();
    models.sort_unstable();
    models.dedup();
    // Stable sorts over name order: ties stay sorted by name.
    match filter.sort.as_str() {
        "free" => rows.sort_by_key(|r| std::cmp::Reverse(r.free)),
        "model" => rows.sort_by(|a, b| a.model.cmp(&b.model)),
        _ => {}
    }
    let matching = rows.len();
    let rows = rows
        .into_iter()
        .skip(filter.page.saturating_mul(PAGE_SIZE))
        .take(PAGE_SIZE)
        .cloned()
        .collect();
    Ok(NodePage {
        rows,
        matching,
        page: filter.page,
        models: models.into_iter().map(str::to_string).collect(),
        stale_since: None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::nodes::{GpuSummary, NodeHealth};

    fn row(name: &str, model: &str, free: i64, ready: bool, cordoned: bool) -> GpuNodeRow {
        GpuNodeRow {
            name: name.into(),
            model: model.into(),
            gpu_memory_mib: None,
            physical_gpus: Some(8),
            replicas: None,
            family: None,
            allocatable: 8,
            allocated: 8 - free,
            free,
            resources: BTreeMap::new(),
            cpu_millis: (0, 0),
            memory_bytes: (0, 0),
            health: NodeHealth {
                ready,
                cordoned,
                pressure: vec![],
            },
        }
    }

    #[test]
    fn filters_sort_and_pages() {
        // In name order, as the index keeps them.
        let rows = [
            row("a", "H100", 8, true, false),
            row("b", "H100", 2, true, false),
            row("c", "A100", 5, false, false),
        ];
        let only = |f: NodeFilter| {
            select(rows.iter().map(|r| (r, None)), &f)
                .unwrap()
                .rows
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(only(NodeFilter::default()), ["a", "b", "c"]);
        assert_eq!(
            only(NodeFilter {
                model: "H100".into(),
                ..Default::default()
            }),
            ["a", "b"]
        );
        assert_eq!(
            only(NodeFilter {
                min_free: 5,
                ..Default::default()
            }),
            ["a", "c"]
        );
        assert_eq!(
            only(NodeFilter {
                readiness: "not-ready".into(),
                ..Default::default()
            }),
            ["c"]
        );
        assert_eq!(
            only(NodeFilter {
                search: "a1".into(),
                ..Default::default()
            }),
            ["c"]
        );
        assert_eq!(
            only(NodeFilter {
                sort: "free".into(),
                ..Default::default()
            }),
            ["a", "c", "b"]
        );
        let many: Vec<_> = (0..120)
            .map(|i| row(&format!("n{i:03}"), "L4", 1, true, false))
            .collect();
        let third = select(
            many.iter().map(|r| (r, None)),
            &NodeFilter {
                page: 2,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((third.rows.len(), third.matching), (20, 120));
        assert_eq!(third.rows[0].name, "n100");
    }

    #[test]
    fn the_search_matches_every_word_in_names_models_and_labels() {
        let rows = [
            row("gpu-a", "H100", 8, true, false),
            row("gpu-b", "H100", 8, true, false),
        ];
        let labels = "nvidia.com/gpu.family=hopper\ntopology.kubernetes.io/zone=eu-1\n";
        let find = |search: &str| {
            let filter = NodeFilter {
                search: search.into(),
                ..Default::default()
            };
            let labelled = rows
                .iter()
                .map(|r| (r, (r.name == "gpu-b").then_some(labels)));
            select(labelled, &filter)
                .unwrap()
                .rows
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(find("gpu.family=hopper"), ["gpu-b"]);
        assert_eq!(find("h100 zone=eu-1"), ["gpu-b"]);
        assert_eq!(find("h100, gpu-"), ["gpu-a", "gpu-b"]);
        assert!(find("zone=us").is_empty());
    }

    /// A 60 KB search string was once searched for, word by word, over every node.
    #[test]
    fn an_oversized_search_is_refused_by_field() {
        for search in ["x".repeat(60_000), "a b c d e f g h i".to_string()] {
            let filter = NodeFilter {
                search,
                ..Default::default()
            };
            let error = select([], &filter).unwrap_err();
            assert!(
                matches!(error, AppError::InvalidInput { ref field, .. } if field == "search"),
                "{error}"
            );
        }
        assert_eq!(search_words("A100, zone=EU").unwrap(), ["a100", "zone=eu"]);
    }

    #[test]
    fn the_summary_counts_free_gpus_only_where_pods_can_go() {
        let summary = GpuSummary::from_rows(&[
            row("a", "H100", 8, true, false),
            row("b", "H100", 8, false, false),
            row("c", "H100", 8, true, true),
            row("d", "A100", 3, true, false),
        ]);
        let h100 = summary.models.iter().find(|m| m.model == "H100").unwrap();
        assert_eq!((h100.nodes, h100.allocatable, h100.free), (3, 24, 8));
        assert_eq!(summary.not_ready, ["b"]);
        assert_eq!(summary.cordoned, ["c"]);
    }
}
