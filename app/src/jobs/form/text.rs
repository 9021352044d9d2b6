//! The form as the launch page edits it: one text per field, under the field's name (the
//! same name its errors carry), and back. Lists are lines of text (see `lines`). Pure, so
//! the round trip is tested here rather than in a browser.

use super::{lines, JobForm};

/// Fields of the form, in the page's order.
pub const FIELDS: usize = 28;

/// Each field's name and text.
pub fn texts(form: &JobForm) -> [(&'static str, String); FIELDS] {
    [
        ("name", form.name.clone()),
        ("namespace", form.namespace.clone()),
        ("image", form.image.clone()),
        ("command", form.command.clone()),
        ("args", form.args.clone()),
        ("env", lines::pairs_text(&form.env)),
        ("secret_env", lines::secrets_text(&form.secret_env)),
        ("gpus", form.gpus.clone()),
        ("gpu_model", form.gpu_model.clone()),
        ("gpu_resource", form.gpu_resource.clone()),
        ("cpu_request", form.cpu_request.clone()),
        ("cpu_limit", form.cpu_limit.clone()),
        ("memory_request", form.memory_request.clone()),
        ("memory_limit", form.memory_limit.clone()),
        ("mounts", lines::mounts_text(&form.mounts)),
        ("shm_size", form.shm_size.clone()),
        ("parallelism", form.parallelism.clone()),
        ("completions", form.completions.clone()),
        ("backoff_limit", form.backoff_limit.clone()),
        (
            "active_deadline_seconds",
            form.active_deadline_seconds.clone(),
        ),
        (
            "ttl_seconds_after_finished",
            form.ttl_seconds_after_finished.clone(),
        ),
        ("labels", lines::pairs_text(&form.labels)),
        ("annotations", lines::pairs_text(&form.annotations)),
        ("hyperparameters", lines::pairs_text(&form.hyperparameters)),
        ("hyperparameters_as", form.hyperparameters_as.clone()),
        ("tracking", if form.tracking { "true" } else { "" }.into()),
        ("experiment", form.experiment.clone()),
        (
            "tracking_service",
            if form.tracking_service { "true" } else { "" }.into(),
        ),
    ]
}

/// The form whose field `name` has the text `text(name)`.
pub fn form(text: impl Fn(&str) -> String) -> JobForm {
    JobForm {
        name: text("name"),
        namespace: text("namespace"),
        image: text("image"),
        command: text("command"),
        args: text("args"),
        env: lines::pairs(&text("env")),
        secret_env: lines::secrets(&text("secret_env")),
        gpus: text("gpus"),
        gpu_model: text("gpu_model"),
        gpu_resource: text("gpu_resource"),
        cpu_request: text("cpu_request"),
        cpu_limit: text("cpu_limit"),
        memory_request: text("memory_request"),
        memory_limit: text("memory_limit"),
        mounts: lines::mounts(&text("mounts")),
        shm_size: text("shm_size"),
        parallelism: text("parallelism"),
        completions: text("completions"),
        backoff_limit: text("backoff_limit"),
        active_deadline_seconds: text("active_deadline_seconds"),
        ttl_seconds_after_finished: text("ttl_seconds_after_finished"),
        labels: lines::pairs(&text("labels")),
        annotations: lines::pairs(&text("annotations")),
        hyperparameters: lines::pairs(&text("hyperparameters")),
        hyperparameters_as: text("hyperparameters_as"),
        tracking: text("tracking") == "true",
        experiment: text("experiment"),
        tracking_service: text("tracking_service") == "true",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::form::malformed::good;

    #[test]
    fn every_field_reads_back_what_it_writes_under_a_name_of_its_own() {
        let original = good();
        let texts = texts(&original);
        let mut names: Vec<&str> = texts.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIELDS);
        let text = |name: &str| {
            texts
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.clone())
                .unwrap_or_else(|| panic!("no field {name}"))
        };
        assert_eq!(form(text), original);
        // Every field distinct and filled, so two fields swapped (in either direction)
        // cannot pass: each name's text comes back under that name.
        let unique = |name: &str| match name {
            "env" | "labels" | "annotations" | "hyperparameters" => format!("K_{name}=v"),
            "secret_env" => format!("N=secret/{name}"),
            "mounts" => format!("claim:/{name}"),
            "tracking" | "tracking_service" => "true".into(),
            _ => format!("text-of-{name}"),
        };
        let filled = form(unique);
        for (name, text) in super::texts(&filled) {
            assert_eq!(text, unique(name), "{name}");
        }
        // Each field is read from its own text: changing one changes only that field.
        let changed = form(|name| {
            if name == "gpus" {
                "7".into()
            } else {
                text(name)
            }
        });
        assert_eq!(
            changed,
            JobForm {
                gpus: "7".into(),
                ..original
            }
        );
    }
}
