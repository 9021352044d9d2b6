//! Rolling a service back on its page: a Deployment to one of its revisions (the table of
//! ReplicaSets offers each), an InferenceService to the model it served before (from the
//! history); each after a confirmation that says exactly to what.

use leptos::prelude::*;

use crate::layout::ConfirmButton;
use crate::serving::{RollBackService, ServiceDetail, ServiceKind};

/// The Deployment's revisions, each but the current offering a rollback to it.
#[component]
pub fn Revisions(
    detail: Memo<ServiceDetail>,
    generation: Memo<i64>,
    can_operate: Signal<bool>,
    rollback: ServerAction<RollBackService>,
) -> impl IntoView {
    view! {
        <h2>"Revisions"</h2>
        <div class="table-wrap">
            <table class="table" data-testid="revisions">
                <thead>
                    <tr>
                        <th>"Revision"</th>
                        <th>"Image"</th>
                        <th>"Model"</th>
                        <th>"Created"</th>
                        <th>"Ready pods"</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    // A row is made again only when what its rollback would restore changed;
                    // its ready pods follow the stream.
                    <For
                        each=move || detail.with(|d| d.revisions.clone())
                        key=|rev| (rev.number, rev.current, rev.image.clone(), rev.model.clone())
                        children=move |rev| {
                            let number = rev.number;
                            let offer = detail.with_untracked(|d| {
                                let row = &d.row;
                                (row.kind == ServiceKind::Deployment && !rev.current)
                                    .then(|| RollbackTarget {
                                        question: format!(
                                            "Roll {} back to revision {} ({}, model {})?",
                                            row.name,
                                            rev.number,
                                            rev.image,
                                            rev.model,
                                        ),
                                        kind: ServiceKind::Deployment,
                                        namespace: row.namespace.clone(),
                                        name: row.name.clone(),
                                        to_revision: rev.number,
                                    })
                            });
                            let ready = move || {
                                detail.with(|d| {
                                    d.revisions
                                        .iter()
                                        .find(|r| r.number == number)
                                        .map_or(0, |r| r.ready)
                                })
                            };
                            view! {
                                <tr data-revision=rev.number data-current=rev.current.to_string()>
                                    <td>
                                        {rev.number}
                                        {rev.current.then_some(" (current)")}
                                    </td>
                                    <td class="wrap">{rev.image}</td>
                                    <td class="wrap">{rev.model}</td>
                                    <td>{rev.created}</td>
                                    <td>{ready}</td>
                                    <td>
                                        {move || {
                                            let target = offer.clone().filter(|_| can_operate.get())?;
                                            Some(
                                                view! {
                                                    <RollbackButton
                                                        label="Roll back"
                                                        target
                                                        generation
                                                        rollback
                                                    />
                                                },
                                            )
                                        }}
                                    </td>
                                </tr>
                            }
                        }
                    />
                </tbody>
            </table>
        </div>
    }
}

/// An InferenceService's way back: to the model it served before the current one.
#[component]
pub fn PreviousModel(
    detail: Memo<ServiceDetail>,
    generation: Memo<i64>,
    can_operate: Signal<bool>,
    rollback: ServerAction<RollBackService>,
) -> impl IntoView {
    // What a rollback of an InferenceService returns to: the model it served before.
    let earlier_model = Memo::new(move |_| {
        detail.with(|d| {
            let row = &d.row;
            let earlier = d
                .history
                .iter()
                .find(|h| h.model != row.model && !h.model.is_empty())?;
            (row.kind == ServiceKind::InferenceService).then(|| RollbackTarget {
                question: format!(
                    "Roll {} back from {} to {}?",
                    row.name, row.model, earlier.model
                ),
                kind: ServiceKind::InferenceService,
                namespace: row.namespace.clone(),
                name: row.name.clone(),
                to_revision: 0,
            })
        })
    });
    view! {
        {move || {
            let target = earlier_model.get().filter(|_| can_operate.get())?;
            Some(
                view! {
                    <div class="toolbar" data-testid="rollback-model">
                        <RollbackButton
                            label="Roll back to the previous model"
                            target
                            generation
                            rollback
                        />
                    </div>
                },
            )
        }}
    }
}

/// A rollback on offer: the confirmation's question and what it rolls back (at the
/// generation the page shows when it is confirmed).
#[derive(Debug, Clone, PartialEq)]
struct RollbackTarget {
    question: String,
    kind: ServiceKind,
    namespace: String,
    name: String,
    to_revision: i64,
}

/// Rolls back after a confirmation that says exactly to what.
#[component]
fn RollbackButton(
    label: &'static str,
    target: RollbackTarget,
    generation: Memo<i64>,
    rollback: ServerAction<RollBackService>,
) -> impl IntoView {
    let RollbackTarget {
        question,
        kind,
        namespace,
        name,
        to_revision,
    } = target;
    view! {
        <ConfirmButton
            label
            question
            act=Callback::new(move |()| {
                rollback
                    .dispatch(RollBackService {
                        kind,
                        namespace: namespace.clone(),
                        name: name.clone(),
                        to_revision,
                        generation: generation.get_untracked(),
                    });
            })
        />
    }
}
