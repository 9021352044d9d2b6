//! Who changed an object last, from its managedFields (server only, pure): the history's
//! "who" and a conflict's "changed by".
//!
//! The API server records each writer (field manager) with the fields it set and when. Gantry
//! writes as `gantry:<user>`; kubectl as `kubectl-…`; controllers under their own names.
//! NB: an entry written through the scale subresource has no time, so "the newest entry"
//! cannot be read off one object alone: the watch compares each version with the one
//! before, and the manager whose entry changed is the one who made the change.

use std::hash::{Hash, Hasher};

use kube::api::ObjectMeta;

/// An object's field managers, each with a fingerprint of its entry, and who made the last
/// change seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Managers {
    /// (manager, fingerprint of its entry, when: `None` for an entry without a time, which
    /// sorts as the newest); entries of the status subresource left out: controllers
    /// rewrite status all the time, and a status is nobody's change.
    entries: Vec<(String, u64, Option<String>)>,
    /// The object's generation: it moves with every change to its spec, not its status.
    generation: Option<i64>,
    /// The manager of the last change, once known.
    pub last: Option<String>,
    /// Whether `last` is certain: a manager's entry changed. Not when no entry did though
    /// the object changed (a second identical scale by the same writer leaves its entry as
    /// it was), nor on a first sight.
    pub certain: bool,
}

impl Managers {
    /// The managers of `meta`; on a first sight the newest by time is taken as the last,
    /// and an entry without a time (a write through the scale subresource) as newer still.
    pub fn of(meta: &ObjectMeta) -> Managers {
        let fields: Vec<_> = meta
            .managed_fields
            .iter()
            .flatten()
            .filter(|f| f.subresource.as_deref() != Some("status"))
            .collect();
        let last = fields
            .iter()
            .max_by_key(|f| (f.time.is_none(), f.time.as_ref().map(|t| t.0)))
            .and_then(|f| f.manager.clone());
        // A writer's entry is stamped with the time of its last write; one that only lost
        // fields to another writer keeps its time. Entries without a time are told apart
        // by their fields.
        let entries = fields
            .iter()
            .map(|f| {
                let time = f.time.as_ref().map(|t| t.0.to_string());
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                f.operation.hash(&mut hasher);
                f.subresource.hash(&mut hasher);
                match &time {
                    Some(time) => time.hash(&mut hasher),
                    None => serde_json::to_string(&f.fields_v1)
                        .unwrap_or_default()
                        .hash(&mut hasher),
                }
                (f.manager.clone().unwrap_or_default(), hasher.finish(), time)
            })
            .collect();
        Managers {
            entries,
            generation: meta.generation,
            last,
            certain: false,
        }
    }

    /// Who made the change from `previous` to this version: a manager whose entry is new
    /// or different. When none is and the spec did not change (only the status did), the
    /// author of the last change stays; when none is though the spec changed, it is a guess.
    pub fn after(&mut self, previous: &Managers) {
        let changed = self
            .entries
            .iter()
            .filter(|entry| !previous.entries.contains(entry))
            .max_by_key(|(_, _, time)| (time.is_none(), time.clone()))
            .map(|(manager, _, _)| manager.clone());
        match changed {
            Some(manager) => {
                self.last = Some(manager);
                self.certain = true;
            }
            None => {
                self.last = previous.last.clone();
                self.certain = previous.certain && self.generation == previous.generation;
            }
        }
    }

    /// Who made the last change, for a person: "someone" when the object says nothing.
    pub fn who(&self) -> String {
        self.last.clone().unwrap_or_else(|| "someone".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(entries: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(serde_json::json!({ "managedFields": entries })).unwrap()
    }

    #[test]
    fn the_manager_whose_entry_changed_made_the_change_though_a_scale_has_no_time() {
        let created = meta(serde_json::json!([
            { "manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-12-04T10:00:00Z", "fieldsV1": { "f:spec": {} } },
            { "manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "time": "2026-12-04T10:00:01Z" }
        ]));
        let first = Managers::of(&created);
        assert_eq!(first.last.as_deref(), Some("kubectl-client-side-apply"));

        let scaled = meta(serde_json::json!([
            { "manager": "gantry:alice", "operation": "Update", "subresource": "scale", "fieldsV1": { "f:spec": { "f:replicas": {} } } },
            { "manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-12-04T10:00:00Z", "fieldsV1": { "f:spec": {} } },
            { "manager": "kube-controller-manager", "operation": "Update", "subresource": "status", "time": "2026-12-04T10:05:00Z" }
        ]));
        let mut second = Managers::of(&scaled);
        second.after(&first);
        assert_eq!(second.last.as_deref(), Some("gantry:alice"));
        assert!(second.certain);

        // A later image change by kubectl is kubectl's, though alice's scale entry has no time
        // and the creator's entry lost the image field to it.
        let rolled = meta(serde_json::json!([
            { "manager": "gantry:alice", "operation": "Update", "subresource": "scale", "fieldsV1": { "f:spec": { "f:replicas": {} } } },
            { "manager": "kubectl-client-side-apply", "operation": "Update", "time": "2026-12-04T10:00:00Z", "fieldsV1": { "f:metadata": {} } },
            { "manager": "kubectl-set", "operation": "Update", "time": "2026-12-04T11:00:00Z", "fieldsV1": { "f:spec": { "f:template": {} } } }
        ]));
        let mut third = Managers::of(&rolled);
        third.after(&second);
        assert_eq!(third.who(), "kubectl-set");

        // A status-only update changes no one's entry: the last change stays kubectl's.
        let mut fourth = Managers::of(&rolled);
        fourth.after(&third);
        assert_eq!(fourth.who(), "kubectl-set");
        assert!(fourth.certain);

        // A change to the spec with no entry changed (alice scaling again, her entry as it
        // was): a guess.
        let mut again = rolled.clone();
        again.generation = Some(9);
        let mut fifth = Managers::of(&again);
        fifth.after(&fourth);
        assert!(!fifth.certain);
    }
}
