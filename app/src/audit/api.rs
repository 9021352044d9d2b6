//! The audit log's export route (server only): `GET /admin/audit.csv`.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use axum::body::{Body, Bytes};
use futures::StreamExt;

use super::{csv, store, AuditFilter};
use crate::auth::caller::Caller;
use crate::auth::rules::Action;
use crate::error::Result;
use crate::state::AppState;

/// The area's routes, merged into Gantry's router once.
pub fn router() -> Router<AppState> {
    Router::new().route("/admin/audit.csv", get(export_csv))
}

/// Entries read per query while an export streams.
const EXPORT_PAGE: i64 = 1_000;

/// `/admin/audit.csv?actor=…&action=…`: the filtered log as a file (ops admins only),
/// streamed a page of entries at a time: memory stays one page whatever the log holds.
async fn export_csv(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<AuditFilter>,
) -> Result<Response> {
    caller.check(Action::Administer, None)?;
    // The first page before the answer starts, so a failing database is a clear 503.
    let first = store::query(&state.db, &filter, EXPORT_PAGE, None).await?;
    let pages = futures::stream::unfold(
        (Some(first), state, filter),
        |(page, state, filter)| async move {
            let page = match page {
                Some(page) => page,
                None => return None,
            };
            let next = match page.last() {
                Some(last) if page.len() as i64 == EXPORT_PAGE => {
                    match store::query(&state.db, &filter, EXPORT_PAGE, Some(last.id)).await {
                        Ok(next) => Some(next),
                        Err(error) => {
                            // Headers are sent: end the file where the database failed.
                            tracing::warn!(%error, "audit export cut short");
                            None
                        }
                    }
                }
                _ => None,
            };
            let text: String = page.iter().map(csv::line).collect();
            Some((
                Ok::<_, std::convert::Infallible>(Bytes::from(text)),
                (next, state, filter),
            ))
        },
    );
    let body = futures::stream::once(async { Ok(Bytes::from_static(csv::HEADER.as_bytes())) })
        .chain(pages);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"gantry-audit.csv\"",
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
