//! Which `notify` / `notify-next` messages a change causes (docs/lifecycle.md#pending-list).
//!
//! The caller hands over a thing's pending executions (QUEUED and IN_PROGRESS)
//! before and after a change; the rules compare the two.

use std::cmp::Ordering;

use crate::model::{Execution, ExecutionStatus};

/// ListNotification carries at most this many pending executions.
pub const NOTIFY_LIMIT: usize = 10;

/// The device's pending list order: IN_PROGRESS first, then by queuedAt (ties
/// broken by job id, so the order is total).
pub fn pending_order(a: &Execution, b: &Execution) -> Ordering {
    let rank = |e: &Execution| (e.status != ExecutionStatus::InProgress) as u8;
    rank(a)
        .cmp(&rank(b))
        .then(a.queued_at.cmp(&b.queued_at))
        .then_with(|| a.job_id.cmp(&b.job_id))
}

/// Sorts a thing's executions into its pending list, dropping terminal ones.
pub fn pending_list(mut executions: Vec<Execution>) -> Vec<Execution> {
    executions.retain(|e| !e.status.is_terminal());
    executions.sort_by(pending_order);
    executions
}

/// A message to publish to one thing.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// `…/jobs/notify`: the first [`NOTIFY_LIMIT`] pending executions.
    Notify {
        thing_name: String,
        pending: Vec<Execution>,
    },
    /// `…/jobs/notify-next`: the new head, or none when nothing is pending.
    NotifyNext {
        thing_name: String,
        head: Option<Execution>,
    },
}

impl Notice {
    pub fn thing_name(&self) -> &str {
        match self {
            Notice::Notify { thing_name, .. } | Notice::NotifyNext { thing_name, .. } => thing_name,
        }
    }
}

fn key(e: &Execution) -> (&str, i64) {
    (&e.job_id, e.execution_number)
}

/// The notices a change of one thing's pending list causes. Both lists must
/// be in [`pending_order`].
///
/// - notify: when the set of pending executions changes, or a non-head
///   execution moves QUEUED → IN_PROGRESS;
/// - notify-next: when the head changes (not for detail changes of the head).
///
/// When the head left the list (it finished), notify-next comes first, as AWS
/// sends it; otherwise notify comes first.
pub fn notices(thing_name: &str, before: &[Execution], after: &[Execution]) -> Vec<Notice> {
    let mut before_keys: Vec<_> = before.iter().map(key).collect();
    let mut after_keys: Vec<_> = after.iter().map(key).collect();
    before_keys.sort();
    after_keys.sort();
    let set_changed = before_keys != after_keys;
    let non_head_started = after.iter().any(|e| {
        e.status == ExecutionStatus::InProgress
            && before
                .iter()
                .enumerate()
                .any(|(i, b)| i > 0 && key(b) == key(e) && b.status == ExecutionStatus::Queued)
    });
    let head_before = before.first().map(key);
    let head_after = after.first().map(key);

    let notify = (set_changed || non_head_started).then(|| Notice::Notify {
        thing_name: thing_name.to_owned(),
        pending: after.iter().take(NOTIFY_LIMIT).cloned().collect(),
    });
    let notify_next = (head_before != head_after).then(|| Notice::NotifyNext {
        thing_name: thing_name.to_owned(),
        head: after.first().cloned(),
    });
    let head_finished = head_before.is_some_and(|h| !after_keys.contains(&h));
    let (first, second) = if head_finished {
        (notify_next, notify)
    } else {
        (notify, notify_next)
    };
    first.into_iter().chain(second).collect()
}
