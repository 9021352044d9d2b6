//! The one error type that crosses the wire.
//!
//! Every server function returns `Result<T, AppError>`. The variant decides the HTTP status
//! (see [`AppError::status_code`]); the server sets it on the response, so API clients and the
//! browser see the same status. Internal failures are logged on the server with a reference and
//! reach the user only as that reference, never with their details.

use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// One field's problem; `field` is the form's name for it (`env[2].name`, `gpus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn summary(errors: &[FieldError]) -> String {
        errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.reason))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// An error a user can act on, or an internal one reduced to a reference they can report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppError {
    /// 400: one input field is wrong; `field` names it so the form can show the reason beside it.
    #[error("{field}: {reason}")]
    InvalidInput { field: String, reason: String },
    /// 400: several fields of a form are wrong, each with its reason, so the form can show
    /// every one beside its field.
    #[error("{}", FieldError::summary(errors))]
    InvalidFields { errors: Vec<FieldError> },
    /// 401: the caller is not logged in.
    #[error("you need to log in")]
    Unauthenticated,
    /// 401: a login failed. Deliberately silent about whether the username exists.
    #[error("wrong username or password")]
    WrongCredentials,
    /// 429: too many failed logins; try again after `retry_after_secs` (also sent as the
    /// `Retry-After` header).
    #[error("too many failed attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 429: the caller (or everyone together) holds as many of something as allowed, e.g.
    /// open live streams; the reason says which cap and how to free a place.
    #[error("too many at once: {reason}")]
    TooMany { reason: String },
    /// 403: the caller is logged in but may not do this.
    #[error("not allowed: {reason}")]
    Forbidden { reason: String },
    /// 404: the named thing does not exist (or the caller may not know that it does).
    #[error("{what} not found")]
    NotFound { what: String },
    /// 409: the request conflicts with what is stored, e.g. a name already taken.
    #[error("conflict: {reason}")]
    Conflict { reason: String },
    /// 503: a dependency (Kubernetes, the database, Prometheus) cannot be reached right now.
    #[error("{service} is unavailable: {reason}")]
    Unavailable { service: String, reason: String },
    /// 500: something broke inside Gantry; the details are in the server log under `reference`.
    #[error("internal error (reference {reference}); the server log has the details")]
    Internal { reference: String },
    /// The server function call itself failed (network, encoding); raised by the framework.
    #[error("request failed: {reason}")]
    Transport { reason: String },
}

impl AppError {
    /// The HTTP status this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::InvalidInput { .. } | AppError::InvalidFields { .. } => 400,
            AppError::Unauthenticated | AppError::WrongCredentials => 401,
            AppError::RateLimited { .. } | AppError::TooMany { .. } => 429,
            AppError::Forbidden { .. } => 403,
            AppError::NotFound { .. } => 404,
            AppError::Conflict { .. } => 409,
            AppError::Unavailable { .. } => 503,
            AppError::Internal { .. } => 500,
            AppError::Transport { .. } => 502,
        }
    }

    /// A 400 naming the field and the reason.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AppError::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A 403 with the reason the caller may not do this.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        AppError::Forbidden {
            reason: reason.into(),
        }
    }

    /// A 404 naming what was not found.
    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound { what: what.into() }
    }

    /// A 503 naming the unreachable service.
    pub fn unavailable(service: impl Into<String>, reason: impl Into<String>) -> Self {
        AppError::Unavailable {
            service: service.into(),
            reason: reason.into(),
        }
    }

    /// Logs an internal failure with a fresh reference and returns the error the user sees.
    ///
    /// NB: this is the only way to build `Internal`, so no internal detail can reach a response.
    #[cfg(feature = "ssr")]
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        tracing::error!(%reference, context, error = %err, "internal error");
        AppError::Internal { reference }
    }
}

/// What every fallible function in Gantry returns.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[cfg(feature = "ssr")]
impl AppError {
    /// The API server's answer about `what` (`job team-a/x`, `node "gpu-1"`) as the user
    /// should read it: its 404 is ours, its 403 and 409 carry its message, and anything else
    /// (a timeout, a refused connection, a 5xx) means the cluster is unavailable.
    pub fn from_kube(error: kube::Error, what: &str) -> AppError {
        match error {
            kube::Error::Api(status) => match status.code {
                404 => AppError::not_found(what),
                403 => AppError::forbidden(format!("the cluster refused: {}", status.message)),
                409 => AppError::Conflict {
                    reason: status.message,
                },
                _ => AppError::unavailable("Kubernetes", status.message),
            },
            other => AppError::unavailable("Kubernetes", other.to_string()),
        }
    }
}

/// For calls whose object needs no name in the message (`?` on a kube call).
#[cfg(feature = "ssr")]
impl From<kube::Error> for AppError {
    fn from(error: kube::Error) -> Self {
        AppError::from_kube(error, "the object")
    }
}

/// Plain axum routes (the JSON API, the CSV export, the request layers) answer errors the
/// way server functions do: the variant's status and the JSON body.
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.status_code())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self)).into_response()
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Raised on the server when the request's arguments cannot be decoded: the
            // caller's mistake, so a 400, not a failure between client and server.
            ServerFnErrorErr::Args(reason) | ServerFnErrorErr::MissingArg(reason) => {
                AppError::invalid("arguments", reason)
            }
            other => AppError::Transport {
                reason: other.to_string(),
            },
        }
    }
}

/// Shows an error to the user; during server rendering it also sets the response's status.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(response), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        axum::http::StatusCode::from_u16(error.status_code()),
    ) {
        response.set_status(status);
    }
    let title = match &error {
        AppError::NotFound { .. } => "Not found",
        AppError::Forbidden { .. } | AppError::Unauthenticated | AppError::WrongCredentials => {
            "Not allowed"
        }
        AppError::InvalidInput { .. } | AppError::InvalidFields { .. } => "Invalid input",
        AppError::Unavailable { .. } => "Unavailable",
        _ => "Something went wrong",
    };
    view! {
        <div class="notice notice-error" role="alert">
            <strong>{title}</strong>
            <p>{error.to_string()}</p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_status() {
        let cases = [
            (AppError::invalid("name", "must be DNS-1123"), 400),
            (
                AppError::InvalidFields {
                    errors: vec![FieldError::new("gpus", "a whole number")],
                },
                400,
            ),
            (AppError::Unauthenticated, 401),
            (AppError::WrongCredentials, 401),
            (
                AppError::RateLimited {
                    retry_after_secs: 30,
                },
                429,
            ),
            (
                AppError::TooMany {
                    reason: "8 live streams".into(),
                },
                429,
            ),
            (AppError::forbidden("ops-admin only"), 403),
            (AppError::not_found("node gpu-1"), 404),
            (
                AppError::Conflict {
                    reason: "name taken".into(),
                },
                409,
            ),
            (AppError::unavailable("Kubernetes", "timeout"), 503),
            (
                AppError::Internal {
                    reference: "abc".into(),
                },
                500,
            ),
            (
                AppError::Transport {
                    reason: "offline".into(),
                },
                502,
            ),
        ];
        for (err, status) in cases {
            assert_eq!(err.status_code(), status, "{err:?}");
        }
    }

    #[test]
    fn invalid_input_names_the_field_and_reason() {
        let err = AppError::invalid("gpus", "must be a whole number, got 1.5");
        assert_eq!(err.to_string(), "gpus: must be a whole number, got 1.5");
    }

    #[test]
    fn round_trips_through_the_wire_encoding() {
        let err = AppError::invalid("namespace", "unknown namespace \"team-z\"");
        let decoded = AppError::de(err.ser());
        assert_eq!(decoded, err);
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn internal_errors_show_only_a_reference() {
        let err = AppError::internal("opening the database", "disk I/O error at /var/secret/db");
        let shown = err.to_string();
        assert!(!shown.contains("/var/secret"), "{shown}");
        assert!(!shown.contains("disk"), "{shown}");
        assert!(shown.contains("reference"), "{shown}");
        let encoded = String::from_utf8(err.ser().to_vec()).unwrap();
        assert!(!encoded.contains("/var/secret"), "{encoded}");
    }

    #[test]
    fn undecodable_arguments_are_the_callers_mistake() {
        let err =
            AppError::from_server_fn_error(ServerFnErrorErr::Args("expected a number".into()));
        assert_eq!(err.status_code(), 400);
        assert_eq!(err.to_string(), "arguments: expected a number");
        let err = AppError::from_server_fn_error(ServerFnErrorErr::MissingArg("name".into()));
        assert_eq!(err.status_code(), 400);
    }

    #[test]
    fn framework_failures_become_transport_errors() {
        let err = AppError::from_server_fn_error(ServerFnErrorErr::Request("offline".into()));
        assert!(matches!(err, AppError::Transport { .. }));
        assert_eq!(err.status_code(), 502);
    }
}
