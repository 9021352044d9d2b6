//! What the MLflow handlers share (server only): reading bodies and query strings the way the
//! client sends them, paging, ids, and which namespace a new experiment or model goes to.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::wire::{KeyValue, MlflowError};
use crate::auth::caller::Caller;
use crate::auth::rules::Namespaces;
use crate::error::AppError;

/// What every handler answers.
pub type Reply = Result<Json<serde_json::Value>, MlflowError>;

/// The tag, or header, that says which namespace a new experiment or model belongs to.
pub const NAMESPACE_TAG: &str = "gantry.namespace";
pub const NAMESPACE_HEADER: &str = "x-mlflow-workspace";

/// A JSON body, read the way the client sends it (also on DELETE); a body that is not the
/// expected JSON is `INVALID_PARAMETER_VALUE` naming what is wrong.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = MlflowError;

    async fn from_request(request: Request, state: &S) -> Result<Self, MlflowError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| AppError::invalid("body", e.body_text()))?;
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            bytes
        };
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| MlflowError(AppError::invalid("body", e.to_string())))
    }
}

/// A GET's query string: repeated keys are lists (`stages=Staging&stages=Production`).
pub struct Params(HashMap<String, Vec<String>>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = MlflowError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, MlflowError> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
                .map_err(|e| AppError::invalid("query", e.body_text()))?;
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (key, value) in pairs {
            map.entry(key).or_default().push(value);
        }
        Ok(Params(map))
    }
}

impl Params {
    /// The first value of `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    /// `key`, or a 400 naming it.
    pub fn required(&self, key: &str) -> Result<&str, AppError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AppError::invalid(key, "is required"))
    }

    /// `run_id`, or its older name `run_uuid` (the client sends both).
    pub fn run_id(&self) -> Result<&str, AppError> {
        self.get("run_id")
            .filter(|id| !id.is_empty())
            .or(self.get("run_uuid"))
            .ok_or_else(|| AppError::invalid("run_id", "is required"))
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0.get(key).cloned().unwrap_or_default()
    }
}

/// A request's `run_id`, or its older name `run_uuid` (the client sends both).
#[derive(Debug, Default, Deserialize)]
pub struct RunRef {
    #[serde(default)]
    pub run_id: String,
    #[serde(default)]
    pub run_uuid: String,
}

impl RunRef {
    pub fn id(&self) -> Result<&str, AppError> {
        [&self.run_id, &self.run_uuid]
            .into_iter()
            .find(|id| !id.is_empty())
            .map(String::as_str)
            .ok_or_else(|| AppError::invalid("run_id", "is required"))
    }
}

/// The namespace a new experiment or registered model belongs to: the `gantry.namespace` tag,
/// else the `X-MLFLOW-WORKSPACE` header, else the caller's one namespace. A caller with
/// several must say which: Gantry does not guess where something is kept.
pub fn namespace_for(
    caller: &Caller,
    tags: &[KeyValue],
    headers: &HeaderMap,
) -> Result<String, AppError> {
    let asked = tags
        .iter()
        .find(|t| t.key == NAMESPACE_TAG)
        .map(|t| t.value.clone())
        .or_else(|| {
            headers
                .get(NAMESPACE_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
    match (asked, &caller.namespaces) {
        (Some(namespace), _) => Ok(namespace),
        (None, Namespaces::Only(names)) if names.len() == 1 => Ok(names[0].clone()),
        (None, _) => Err(AppError::invalid(
            NAMESPACE_TAG,
            "you may use several namespaces: say which with the tag gantry.namespace or the \
             header X-MLFLOW-WORKSPACE",
        )),
    }
}

/// Reads an id that MLflow sends as a string of digits.
pub fn numeric_id(field: &str, text: &str) -> Result<i64, AppError> {
    text.parse()
        .map_err(|_| AppError::invalid(field, format!("{text:?} is not an id")))
}

/// The page a listing starts at, from the `page_token` the previous page returned.
pub fn offset(page_token: Option<&str>) -> Result<i64, AppError> {
    match page_token.filter(|t| !t.is_empty()) {
        None => Ok(0),
        Some(token) => token
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| AppError::invalid("page_token", "is not a token this server gave")),
    }
}

/// How many rows a listing returns: what was asked, within 1..=`cap`.
pub fn page_size(asked: Option<i64>, default: i64, cap: i64) -> i64 {
    asked.unwrap_or(default).clamp(1, cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_are_offsets_this_server_gave() {
        assert_eq!(offset(None).unwrap(), 0);
        assert_eq!(offset(Some("")).unwrap(), 0);
        assert_eq!(offset(Some("25000")).unwrap(), 25000);
        assert!(offset(Some("-1")).is_err());
        assert!(offset(Some("abc")).is_err());
        assert_eq!(page_size(Some(25_000), 100, 1000), 1000);
        assert_eq!(page_size(None, 100, 1000), 100);
        assert_eq!(page_size(Some(0), 100, 1000), 1);
    }
}
