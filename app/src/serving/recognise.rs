//! Which Deployments serve models, and which model (server only, pure). The rule, in order:
//!
//! 1. a Deployment labelled `serving.kserve.io/inferenceservice` belongs to that
//!    InferenceService and is shown as part of it, not on its own;
//! 2. a Deployment labelled `gantry.io/model-server` serves models; the label's value names
//!    the server (a custom predictor, e.g. a Flask app);
//! 3. a Deployment whose first container's image is a known model server's (TF Serving,
//!    vLLM, Triton, TorchServe, Text Generation Inference, MLServer, KServe's runtimes).
//!
//! The model is read from the server's own argument or environment variable for it (TF
//! Serving's `--model_base_path`, vLLM's `--model`, …), else a `MODEL_URI` variable, else the
//! image.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodTemplateSpec};

/// The label that makes a Deployment a model server whatever its image.
pub const SERVER_LABEL: &str = "gantry.io/model-server";
/// The label KServe puts on the Deployments it makes for an InferenceService.
pub const ISVC_LABEL: &str = "serving.kserve.io/inferenceservice";

/// Known servers: (image repository suffix, name, the arguments and variables naming the
/// model).
const SERVERS: [(&str, &str, &[&str]); 8] = [
    (
        "tensorflow/serving",
        "TF Serving",
        &["--model_base_path", "MODEL_BASE_PATH"],
    ),
    ("vllm/vllm-openai", "vLLM", &["--model"]),
    ("tritonserver", "Triton", &["--model-repository"]),
    ("pytorch/torchserve", "TorchServe", &["--models"]),
    (
        "huggingface/text-generation-inference",
        "TGI",
        &["--model-id", "MODEL_ID"],
    ),
    ("seldonio/mlserver", "MLServer", &["MLSERVER_MODEL_URI"]),
    ("kserve/sklearnserver", "KServe sklearn", &["--model_dir"]),
    (
        "kserve/huggingfaceserver",
        "KServe Hugging Face",
        &["--model_id"],
    ),
];

/// What a serving Deployment is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recognised {
    /// Part of this InferenceService.
    PartOf(String),
    /// A model server: its name and the model.
    Server { server: String, model: String },
}

/// The rule above, for one Deployment; `None` when it does not serve models.
pub fn recognise(deployment: &Deployment) -> Option<Recognised> {
    let labels = deployment.metadata.labels.as_ref();
    if let Some(isvc) = labels.and_then(|l| l.get(ISVC_LABEL)) {
        return Some(Recognised::PartOf(isvc.clone()));
    }
    let template = &deployment.spec.as_ref()?.template;
    let labelled = labels.and_then(|l| l.get(SERVER_LABEL)).cloned();
    let container = first_container(template)?;
    let known = known_server(container);
    let server = match (labelled, known) {
        (Some(label), _) if !label.is_empty() => label,
        (Some(_), Some((name, _))) => name.to_string(),
        (Some(_), None) => "custom".to_string(),
        (None, Some((name, _))) => name.to_string(),
        (None, None) => return None,
    };
    Some(Recognised::Server {
        server,
        model: model_of(template),
    })
}

/// The model a pod template serves (see the module's documentation).
pub fn model_of(template: &PodTemplateSpec) -> String {
    let Some(container) = first_container(template) else {
        return String::new();
    };
    let names = known_server(container).map_or(&[][..], |(_, names)| names);
    names
        .iter()
        .chain(&["MODEL_URI"])
        .find_map(|name| setting(container, name))
        .unwrap_or_else(|| container.image.clone().unwrap_or_default())
}

/// Where a pod template names its model, and what it names there: what rolling out
/// another model changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelField {
    /// As `kubectl explain` would name it, e.g. `spec.template.spec.containers[0].args[3]`.
    pub path: String,
    pub from: String,
    pub to: String,
}

/// Makes the template serve `to` where [`model_of`] reads its model: the server's argument
/// or variable, else `MODEL_URI`, else (the image is the model) the image. `None` when it
/// has no container.
pub fn set_model(template: &mut PodTemplateSpec, to: &str) -> Option<ModelField> {
    let container = template.spec.as_mut()?.containers.first_mut()?;
    let names = known_server(container).map_or(&[][..], |(_, names)| names);
    let base = "spec.template.spec.containers[0]";
    for name in names.iter().chain(&["MODEL_URI"]) {
        if let Some(field) = replace_setting(container, name, to) {
            return Some(ModelField {
                path: format!("{base}.{}", field.path),
                ..field
            });
        }
    }
    let from = container.image.replace(to.to_string()).unwrap_or_default();
    Some(ModelField {
        path: format!("{base}.image"),
        from,
        to: to.to_string(),
    })
}

/// [`setting`]'s counterpart: replaces the value where `setting` reads it, answering the
/// field's path within the container.
fn replace_setting(container: &mut Container, name: &str, to: &str) -> Option<ModelField> {
    if name.starts_with("--") {
        let in_command = container.command.as_ref().map_or(0, Vec::len);
        let mut at = None;
        for (i, word) in container
            .command
            .iter()
            .flatten()
            .chain(container.args.iter().flatten())
            .enumerate()
        {
            if word.strip_prefix(name).is_some_and(|v| v.starts_with('=')) {
                at = Some((i, format!("{name}={to}")));
                break;
            }
            if word.as_str() == name {
                at = Some((i + 1, to.to_string()));
                break;
            }
        }
        let (i, word) = at?;
        let (list, field, i) = if i < in_command {
            (container.command.as_mut()?, "command", i)
        } else {
            (container.args.as_mut()?, "args", i - in_command)
        };
        let from = std::mem::replace(list.get_mut(i)?, word.clone());
        return Some(ModelField {
            path: format!("{field}[{i}]"),
            from,
            to: word,
        });
    }
    let (i, variable) = container
        .env
        .iter_mut()
        .flatten()
        .enumerate()
        .find(|(_, v)| v.name == name)?;
    // A value from a ConfigMap or Secret is not the model's to change here.
    let from = variable.value.as_ref()?.clone();
    variable.value = Some(to.to_string());
    Some(ModelField {
        path: format!("env[{i}].value"),
        from,
        to: to.to_string(),
    })
}

/// The first container's image, for the revisions table.
pub fn image_of(template: &PodTemplateSpec) -> String {
    first_container(template)
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

fn first_container(template: &PodTemplateSpec) -> Option<&Container> {
    template.spec.as_ref()?.containers.first()
}

fn known_server(container: &Container) -> Option<(&'static str, &'static [&'static str])> {
    let image = container.image.as_deref()?;
    // The repository, without the registry's host, the tag or the digest.
    let repository = image.split('@').next()?;
    let repository = match repository.rsplit_once(':') {
        Some((before, tag)) if !tag.contains('/') => before,
        _ => repository,
    };
    SERVERS
        .iter()
        .find(|(suffix, _, _)| repository == *suffix || repository.ends_with(&format!("/{suffix}")))
        .map(|(_, name, names)| (*name, *names))
}

/// `--name=value` or `--name value` among the container's command and arguments, or the
/// variable `name`'s literal value.
fn setting(container: &Container, name: &str) -> Option<String> {
    if name.starts_with("--") {
        let words: Vec<&String> = container
            .command
            .iter()
            .flatten()
            .chain(container.args.iter().flatten())
            .collect();
        for (i, word) in words.iter().enumerate() {
            if let Some(value) = word.strip_prefix(name).and_then(|v| v.strip_prefix('=')) {
                return Some(value.to_string());
            }
            if word.as_str() == name {
                return words.get(i + 1).map(|v| v.to_string());
            }
        }
        return None;
    }
    container
        .env
        .iter()
        .flatten()
        .find(|v| v.name == name)
        .and_then(|v| v.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(labels: serde_json::Value, container: serde_json::Value) -> Deployment {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "d", "labels": labels },
            "spec": {
                "selector": { "matchLabels": { "app": "d" } },
                "template": { "spec": { "containers": [container] } }
            }
        }))
        .unwrap()
    }

    fn server(d: &Deployment) -> Option<(String, String)> {
        match recognise(d)? {
            Recognised::Server { server, model } => Some((server, model)),
            Recognised::PartOf(_) => None,
        }
    }

    #[test]
    fn known_images_labels_and_kserve_parts_are_recognised_by_the_rule() {
        let tf = deployment(
            serde_json::json!({}),
            serde_json::json!({ "name": "s", "image": "docker.io/tensorflow/serving:2.15.0",
                "args": ["--port=8500", "--model_base_path=s3://models/resnet/2"] }),
        );
        assert_eq!(
            server(&tf),
            Some(("TF Serving".into(), "s3://models/resnet/2".into()))
        );
        let vllm = deployment(
            serde_json::json!({}),
            serde_json::json!({ "name": "s", "image": "vllm/vllm-openai:v0.6.3",
                "args": ["--model", "meta-llama/Llama-3.1-8B-Instruct"] }),
        );
        assert_eq!(
            server(&vllm),
            Some(("vLLM".into(), "meta-llama/Llama-3.1-8B-Instruct".into()))
        );
        let custom = deployment(
            serde_json::json!({ SERVER_LABEL: "flask" }),
            serde_json::json!({ "name": "s", "image": "registry.local:5000/fraud:1.4",
                "env": [{ "name": "MODEL_URI", "value": "models:/fraud/4" }] }),
        );
        assert_eq!(
            server(&custom),
            Some(("flask".into(), "models:/fraud/4".into()))
        );
        let unlabelled = deployment(
            serde_json::json!({ SERVER_LABEL: "" }),
            serde_json::json!({ "name": "s", "image": "registry.local:5000/fraud:1.4" }),
        );
        assert_eq!(
            server(&unlabelled),
            Some(("custom".into(), "registry.local:5000/fraud:1.4".into()))
        );
        let part = deployment(
            serde_json::json!({ ISVC_LABEL: "iris" }),
            serde_json::json!({ "name": "s", "image": "kserve/sklearnserver:v0.17.0" }),
        );
        assert_eq!(recognise(&part), Some(Recognised::PartOf("iris".into())));
        let web = deployment(
            serde_json::json!({}),
            serde_json::json!({ "name": "s", "image": "nginx:1.27" }),
        );
        assert_eq!(recognise(&web), None);
        // A look-alike repository is not the server.
        let fake = deployment(
            serde_json::json!({}),
            serde_json::json!({ "name": "s", "image": "example/not-tensorflow/serving-ui:1" }),
        );
        assert_eq!(recognise(&fake), None);
    }

    fn template(container: serde_json::Value) -> PodTemplateSpec {
        serde_json::from_value(serde_json::json!({ "spec": { "containers": [container] } }))
            .unwrap()
    }

    #[test]
    fn a_model_is_set_where_it_is_read_and_read_back_as_set() {
        let cases = [
            (
                serde_json::json!({ "name": "s", "image": "tensorflow/serving:2.15.0",
                    "args": ["--port=8500", "--model_base_path=s3://m/1"] }),
                "args[1]",
                "--model_base_path=s3://m/1",
                "--model_base_path=s3://m/2",
            ),
            (
                serde_json::json!({ "name": "s", "image": "vllm/vllm-openai:v0.6.3",
                    "command": ["python", "-m", "vllm", "--model"], "args": ["s3://m/1"] }),
                "args[0]",
                "s3://m/1",
                "s3://m/2",
            ),
            (
                serde_json::json!({ "name": "s", "image": "vllm/vllm-openai:v0.6.3",
                    "command": ["vllm", "--model", "s3://m/1"] }),
                "command[2]",
                "s3://m/1",
                "s3://m/2",
            ),
            (
                serde_json::json!({ "name": "s", "image": "registry.local:5000/fraud:1.4",
                    "env": [{ "name": "A", "value": "b" }, { "name": "MODEL_URI", "value": "s3://m/1" }] }),
                "env[1].value",
                "s3://m/1",
                "s3://m/2",
            ),
        ];
        for (container, path, from, to) in cases {
            let mut t = template(container);
            let field = set_model(&mut t, "s3://m/2").unwrap();
            assert_eq!(
                field,
                ModelField {
                    path: format!("spec.template.spec.containers[0].{path}"),
                    from: from.into(),
                    to: to.into(),
                }
            );
            assert_eq!(model_of(&t), "s3://m/2");
        }
        // The image is the model when nothing else names it: rolling out is a new tag.
        let mut image = template(serde_json::json!({ "name": "s", "image": "fraud:1.4" }));
        let field = set_model(&mut image, "fraud:1.5").unwrap();
        assert_eq!(
            (field.path.as_str(), field.from.as_str()),
            ("spec.template.spec.containers[0].image", "fraud:1.4")
        );
        assert_eq!(model_of(&image), "fraud:1.5");
    }
}
