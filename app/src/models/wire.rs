//! MLflow's JSON, as its client sends and reads it (`../shared/notes/mlflow.md` has the
//! contract): the entities Gantry answers with, the request bodies it takes, and how an
//! [`AppError`] reads as MLflow's `{"error_code", "message"}`.
//!
//! Ids are JSON strings (a number is a client `ParseError`); times and steps are numbers;
//! a metric's value is a number or `"NaN"`, `"Infinity"`, `"-Infinity"`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::AppError;

/// A `{key, value}` pair: tags and params, everywhere in MLflow's API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: String,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub run_id: String,
    pub run_uuid: String,
    pub experiment_id: String,
    pub run_name: String,
    pub user_id: String,
    pub status: String,
    pub start_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub info: RunInfo,
    pub data: RunData,
    pub inputs: RunInputs,
    pub outputs: RunOutputs,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunData {
    pub metrics: Vec<Metric>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunInputs {
    pub dataset_inputs: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunOutputs {
    pub model_outputs: Vec<ModelOutput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelOutput {
    pub model_id: String,
    #[serde(default, deserialize_with = "int")]
    pub step: i64,
}

/// One point of a metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub key: String,
    #[serde(serialize_with = "write_value", deserialize_with = "read_value")]
    pub value: f64,
    #[serde(default, deserialize_with = "int")]
    pub timestamp: i64,
    #[serde(default, deserialize_with = "int")]
    pub step: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoggedModel {
    pub info: LoggedModelInfo,
    pub data: LoggedModelData,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoggedModelInfo {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    pub artifact_uri: String,
    pub status: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub model_type: String,
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoggedModelData {
    pub params: Vec<KeyValue>,
    pub metrics: Vec<Metric>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub current_stage: String,
    pub description: String,
    pub source: String,
    pub run_id: String,
    pub run_link: String,
    /// Always READY: a version is stored once its source exists (anything else makes the
    /// client poll for five minutes and fail).
    pub status: String,
    pub tags: Vec<KeyValue>,
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// Gantry's own: the namespace the model belongs to (the client ignores unknown fields).
    pub user_id: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RegisteredModel {
    pub name: String,
    pub creation_timestamp: i64,
    pub last_updated_timestamp: i64,
    pub description: String,
    pub latest_versions: Vec<ModelVersion>,
    pub tags: Vec<KeyValue>,
    pub aliases: Vec<Alias>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Alias {
    pub alias: String,
    pub version: String,
}

/// Accepts an int64 as a JSON number or a string (protobuf's JSON writes int64 as strings).
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        Number(i64),
        Float(f64),
        Text(String),
    }
    match Int::deserialize(d)? {
        Int::Number(n) => Ok(n),
        Int::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        Int::Float(f) => Err(serde::de::Error::custom(format!("{f} is not an integer"))),
        Int::Text(s) => s
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not an integer"))),
    }
}

/// [`int`] for an optional field.
pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "int")] i64);
    Ok(Option::<Wrap>::deserialize(d)?.map(|Wrap(n)| n))
}

/// A metric value: a number, or one of the strings `NaN`, `Infinity`, `-Infinity`.
pub fn read_value<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        Number(f64),
        Text(String),
    }
    match Value::deserialize(d)? {
        Value::Number(n) => Ok(n),
        Value::Text(s) => parse_value(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a metric value"))),
    }
}

/// What [`read_value`] accepts as text.
pub fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" | "nan" => Some(f64::NAN),
        "Infinity" | "inf" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// JSON has no NaN or infinities: they go as the strings the client reads back.
fn write_value<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        s.serialize_str("NaN")
    } else if *value == f64::INFINITY {
        s.serialize_str("Infinity")
    } else if *value == f64::NEG_INFINITY {
        s.serialize_str("-Infinity")
    } else {
        s.serialize_f64(*value)
    }
}

/// An error as the MLflow client reads it: it branches on `error_code`, not on the status.
#[derive(Debug)]
pub struct MlflowError(pub AppError);

impl From<AppError> for MlflowError {
    fn from(error: AppError) -> Self {
        MlflowError(error)
    }
}

impl MlflowError {
    /// MLflow's code and HTTP status for Gantry's error. A name already taken is
    /// `RESOURCE_ALREADY_EXISTS` with 400, not 409: the client's own table says so.
    pub fn code(&self) -> (&'static str, StatusCode) {
        match &self.0 {
            AppError::InvalidInput { .. } | AppError::InvalidFields { .. } => {
                ("INVALID_PARAMETER_VALUE", StatusCode::BAD_REQUEST)
            }
            AppError::Unauthenticated | AppError::WrongCredentials => {
                ("UNAUTHENTICATED", StatusCode::UNAUTHORIZED)
            }
            AppError::RateLimited { .. } | AppError::TooMany { .. } => {
                ("REQUEST_LIMIT_EXCEEDED", StatusCode::TOO_MANY_REQUESTS)
            }
            AppError::Forbidden { .. } => ("PERMISSION_DENIED", StatusCode::FORBIDDEN),
            AppError::NotFound { .. } => ("RESOURCE_DOES_NOT_EXIST", StatusCode::NOT_FOUND),
            AppError::Conflict { .. } => ("RESOURCE_ALREADY_EXISTS", StatusCode::BAD_REQUEST),
            AppError::Unavailable { .. } => {
                ("TEMPORARILY_UNAVAILABLE", StatusCode::SERVICE_UNAVAILABLE)
            }
            AppError::Internal { .. } | AppError::Transport { .. } => {
                ("INTERNAL_ERROR", StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

impl IntoResponse for MlflowError {
    fn into_response(self) -> Response {
        let (code, status) = self.code();
        let body = serde_json::json!({ "error_code": code, "message": self.0.to_string() });
        (status, axum::Json(body)).into_response()
    }
}

/// A route under MLflow's prefix that Gantry does not serve: JSON, so the client reads it as
/// `ENDPOINT_NOT_FOUND` and not as a broken server.
pub async fn endpoint_not_found(uri: axum::http::Uri) -> Response {
    let body = serde_json::json!({
        "error_code": "ENDPOINT_NOT_FOUND",
        "message": format!("{} is not an MLflow endpoint Gantry serves", uri.path()),
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_values_read_and_write_nan_and_infinities_as_the_client_does() {
        let m: Metric =
            serde_json::from_str(r#"{"key":"loss","value":"NaN","timestamp":"5","step":2}"#)
                .unwrap();
        assert!(m.value.is_nan());
        assert_eq!((m.timestamp, m.step), (5, 2));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["value"], "NaN");
        for (text, expect) in [
            ("Infinity", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
        ] {
            let m: Metric =
                serde_json::from_str(&format!(r#"{{"key":"k","value":"{text}"}}"#)).unwrap();
            assert_eq!(m.value, expect);
            assert_eq!(serde_json::to_value(&m).unwrap()["value"], text);
        }
        let m: Metric = serde_json::from_str(r#"{"key":"k","value":0.93,"step":1.0}"#).unwrap();
        assert_eq!((m.value, m.step), (0.93, 1));
        assert!(serde_json::from_str::<Metric>(r#"{"key":"k","value":"high"}"#).is_err());
    }

    #[test]
    fn errors_carry_the_codes_the_client_branches_on() {
        let cases = [
            (AppError::not_found("run x"), "RESOURCE_DOES_NOT_EXIST", 404),
            (
                AppError::Conflict {
                    reason: "taken".into(),
                },
                "RESOURCE_ALREADY_EXISTS",
                400,
            ),
            (
                AppError::invalid("value", "no"),
                "INVALID_PARAMETER_VALUE",
                400,
            ),
            (AppError::forbidden("team-b"), "PERMISSION_DENIED", 403),
            (AppError::Unauthenticated, "UNAUTHENTICATED", 401),
        ];
        for (error, code, status) in cases {
            let got = MlflowError(error).code();
            assert_eq!((got.0, got.1.as_u16()), (code, status));
        }
    }
}
