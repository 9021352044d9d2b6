//! Optimisation jobs (server only): from a version's page, a Job that converts the version to
//! TensorFlow Lite, quantised, and registers the result as a version of a target model whose
//! lineage names its parent. The Job is an ordinary tracked launch, as the user, through the
//! jobs area (validation, tracking, audit), so nothing here can do what the launch form
//! cannot. Its container runs `optimise.py` (MLflow's client and TensorFlow's converter),
//! given in a variable, since a command is one word a line; on the local cluster, where
//! kwok runs no container, the conversion is simulated by the tests.

use super::registry::check_model_name;
use super::{store, Optimisation, PARENT_TAG, QUANTISATIONS};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::AppError;
use crate::jobs::form::{JobForm, KeyValue};
use crate::state::AppState;

/// What the container runs: converts `GANTRY_SOURCE_MODEL_URI`, registers `GANTRY_TARGET_MODEL`.
pub const SCRIPT: &str = include_str!("optimise.py");

/// Launches the optimisation of `asked.version` of model `asked.model` as the caller (a data
/// scientist or ops admin of the model's namespace); the Job's namespace and name.
pub async fn launch(
    state: &AppState,
    caller: &Caller,
    asked: &Optimisation,
) -> Result<(String, String), AppError> {
    let model = store::registered(&state.db, &asked.model)
        .await?
        .ok_or_else(|| AppError::not_found(format!("model {:?}", asked.model)))?;
    caller.check(Action::ManageModels, Some(&model.namespace))?;
    store::version(&state.db, model.id, asked.version)
        .await?
        .ok_or_else(|| {
            AppError::not_found(format!(
                "version {} of model {:?}",
                asked.version, model.name
            ))
        })?;
    check_model_name("target", &asked.target)?;
    if asked.target == model.name {
        return Err(AppError::invalid(
            "target",
            "must be another model than the one optimised, so its versions stay its own",
        ));
    }
    if !QUANTISATIONS.contains(&asked.quantise.as_str()) {
        return Err(AppError::invalid(
            "quantise",
            format!("must be one of {}", QUANTISATIONS.join(", ")),
        ));
    }
    let form = job_form(&model.name, &model.namespace, asked);
    let job = crate::jobs::actions::launch(state, caller, form).await?;
    Ok((job.namespace, job.name))
}

/// The launch form of the optimisation: no GPU, tracked in the experiment
/// `<model> optimisations`, the parent named in a variable and in a pod annotation.
fn job_form(model: &str, namespace: &str, asked: &Optimisation) -> JobForm {
    let source = format!("models:/{model}/{}", asked.version);
    let pair = |key: &str, value: &str| KeyValue {
        key: key.into(),
        value: value.into(),
    };
    JobForm {
        name: job_name(model, asked.version),
        namespace: namespace.into(),
        image: asked.image.trim().into(),
        command: "python\n-c\nimport os; exec(os.environ[\"GANTRY_OPTIMISE_SCRIPT\"])".into(),
        env: vec![
            pair("GANTRY_SOURCE_MODEL_URI", &source),
            pair("GANTRY_TARGET_MODEL", &asked.target),
            pair("GANTRY_QUANTISE", &asked.quantise),
            pair("GANTRY_OPTIMISE_SCRIPT", SCRIPT),
        ],
        gpus: "0".into(),
        cpu_request: "2".into(),
        memory_request: "8Gi".into(),
        annotations: vec![pair(PARENT_TAG, &source)],
        tracking: true,
        experiment: format!("{model} optimisations"),
        ..JobForm::default()
    }
}

/// `optimise-<model as a DNS label>-v<N>-<5 hex>`: unique per launch, and short enough for
/// the `job-name` label its pods get (63 characters).
fn job_name(model: &str, version: i64) -> String {
    let mut label: String = model
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    label.truncate(30);
    let label = label.trim_matches('-');
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..5];
    match label {
        "" => format!("optimise-v{version}-{suffix}"),
        label => format!("optimise-{label}-v{version}-{suffix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::form::{bounds, validate, Context};

    fn asked() -> Optimisation {
        Optimisation {
            model: "Fraud Detector".into(),
            version: 3,
            target: "fraud-detector-tflite".into(),
            image: "tensorflow/tensorflow:2.17.0".into(),
            quantise: "int8".into(),
        }
    }

    #[test]
    fn the_job_is_a_valid_tracked_launch_naming_its_parent() {
        let form = job_form("Fraud Detector", "team-a", &asked());
        assert!(
            form.name.starts_with("optimise-fraud-detector-v3-"),
            "{}",
            form.name
        );
        assert!(crate::names::is_dns_label(&form.name) && form.name.len() <= 52);
        assert!(form.tracking);
        let env: Vec<(&str, &str)> = form
            .env
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert!(env.contains(&("GANTRY_SOURCE_MODEL_URI", "models:/Fraud Detector/3")));
        assert!(env.contains(&("GANTRY_TARGET_MODEL", "fraud-detector-tflite")));
        let context = Context {
            namespaces: vec!["team-a".into()],
            ..Context::default()
        };
        let checked = validate(&form, &context);
        assert!(
            checked.is_ok(),
            "the launch form's rules: {:?}",
            checked.err()
        );
    }

    #[test]
    fn the_script_fits_a_variable_and_reads_what_the_job_sets() {
        assert!(SCRIPT.len() < bounds::VALUE, "{} bytes", SCRIPT.len());
        for name in [
            "GANTRY_SOURCE_MODEL_URI",
            "GANTRY_TARGET_MODEL",
            "GANTRY_QUANTISE",
            PARENT_TAG,
        ] {
            assert!(SCRIPT.contains(name), "{name}");
        }
    }

    #[test]
    fn a_long_or_odd_model_name_still_makes_a_job_name() {
        assert!(job_name(&"x".repeat(300), 12).len() <= 52);
        assert!(job_name("///", 1).starts_with("optimise-v1-"));
    }
}
