//! The audit log's export route (server only): `GET /admin/audit.csv`.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::csv::to_csv;
use super::{store, AuditFilter};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::Result;
use crate::state::AppState;

/// The area's routes, merged into Gantry's router once.
pub fn router() -> Router<AppState> {
    Router::new().route("/admin/audit.csv", get(export_csv))
}

/// `/admin/audit.csv?actor=…&action=…`: the filtered log as a file (ops admins only).
async fn export_csv(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<AuditFilter>,
) -> Result<Response> {
    caller.check(Action::Administer, None)?;
    // An export is not paged: up to a million lines from one query.
    let entries = store::query(&state.db, &filter, 1_000_000).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"gantry-audit.csv\"",
            ),
        ],
        to_csv(&entries),
    )
        .into_response())
}
