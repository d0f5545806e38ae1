//! Settling the deliveries of one consumer channel: acks gathered into `multiple` acks, nacks
//! one by one.
//!
//! Each delivery is handled on its own task and reports here how it is settled; this task is
//! the only one that sends settlements on the channel. Whatever reports arrived while the last
//! frames went out are settled together, so under load one `basic.ack` with `multiple` covers a
//! run of messages (fewer frames for hookd to write and fewer settlements for a quorum queue to
//! log), and when idle each message is acked at once: no timer, no added latency.
//!
//! The promise kept: a `multiple` ack never covers a delivery that is not settled yet. It goes
//! only up to the lowest delivery still in flight; an ack above that is sent on its own. A
//! delivery is reported only once its fire is durable, so nothing unfinished is acked, and what
//! a crash leaves unacked the broker delivers again.

use std::collections::BTreeSet;
use std::sync::Arc;

use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Channel;
use tokio::sync::mpsc;

use crate::metrics::{AmqpEvent, Metrics};

/// How a delivery is finished with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settle {
    Ack,
    /// Hand it back to the queue for another attempt.
    Requeue,
    /// Give up: the broker moves it to the dead-letter queue.
    DeadLetter,
}

/// What a consumer and its delivery tasks tell the acker, in the order it happened.
#[derive(Debug)]
enum Report {
    /// A delivery arrived and is being handled.
    Delivered(u64),
    Settled(u64, Settle),
}

/// One settlement frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Acks `tag`, and with `multiple` every delivery before it not settled yet; `count` is how
    /// many messages that is.
    Ack {
        tag: u64,
        multiple: bool,
        count: usize,
    },
    Nack {
        tag: u64,
        requeue: bool,
    },
}

/// A failpoint for crash tests, named in `HOOKD_FAILPOINT` like the scheduler's and read when
/// the listener connects: `listener-before-batch-ack` stops the process, as `kill -9` would, just
/// before its first ack of several messages at once, when their fires are durable and none of
/// them acked yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CrashBeforeAck(bool);

impl CrashBeforeAck {
    pub(super) fn from_env() -> Self {
        let name = std::env::var("HOOKD_FAILPOINT").ok();
        Self(name.as_deref() == Some("listener-before-batch-ack"))
    }
}

/// The handle delivery tasks report to; the acker stops once every handle is gone.
#[derive(Clone)]
pub(super) struct Acker {
    reports: mpsc::UnboundedSender<Report>,
}

impl Acker {
    /// Starts the acker of `channel` on `tracker`, so whoever waits for the channel's deliveries
    /// also waits for their settlements to go out.
    pub(super) fn spawn(
        channel: Channel,
        metrics: Arc<Metrics>,
        crash: CrashBeforeAck,
        tracker: &tokio_util::task::TaskTracker,
    ) -> Self {
        let (reports, received) = mpsc::unbounded_channel();
        tracker.spawn(run(channel, received, metrics, crash));
        Self { reports }
    }

    /// Announces delivery `tag`, before its handling starts: until it is settled, no `multiple`
    /// ack may reach it.
    pub(super) fn delivered(&self, tag: u64) {
        // The acker outlives every handle, so the send cannot fail.
        let _ = self.reports.send(Report::Delivered(tag));
    }

    /// Settles delivery `tag`. An ack must come only once its fire is durable.
    pub(super) fn settle(&self, tag: u64, how: Settle) {
        let _ = self.reports.send(Report::Settled(tag, how));
    }
}

async fn run(
    channel: Channel,
    mut received: mpsc::UnboundedReceiver<Report>,
    metrics: Arc<Metrics>,
    crash: CrashBeforeAck,
) {
    let mut in_flight = BTreeSet::new();
    while let Some(first) = received.recv().await {
        let mut settled = Vec::new();
        let mut next = Some(first);
        while let Some(report) = next {
            match report {
                Report::Delivered(tag) => {
                    in_flight.insert(tag);
                }
                Report::Settled(tag, settlement) => settled.push((tag, settlement)),
            }
            next = received.try_recv().ok();
        }
        for frame in plan(&mut in_flight, settled) {
            send(&channel, frame, &metrics, crash).await;
        }
    }
}

/// The frames that settle `settled`, given the deliveries `in_flight` (which loses the settled
/// ones): nacks first, one each, so that no `multiple` ack sent after them can cover them; then
/// one ack for every settled delivery below the lowest one still in flight, and one ack each
/// for those above it.
fn plan(in_flight: &mut BTreeSet<u64>, settled: Vec<(u64, Settle)>) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut acks = BTreeSet::new();
    for (tag, settlement) in settled {
        in_flight.remove(&tag);
        match settlement {
            Settle::Ack => {
                acks.insert(tag);
            }
            Settle::Requeue => frames.push(Frame::Nack { tag, requeue: true }),
            Settle::DeadLetter => frames.push(Frame::Nack {
                tag,
                requeue: false,
            }),
        }
    }
    let lowest_in_flight = in_flight.first().copied().unwrap_or(u64::MAX);
    let above = acks.split_off(&lowest_in_flight);
    if let Some(&tag) = acks.last() {
        let count = acks.len();
        frames.push(Frame::Ack {
            tag,
            multiple: count > 1,
            count,
        });
    }
    frames.extend(above.into_iter().map(|tag| Frame::Ack {
        tag,
        multiple: false,
        count: 1,
    }));
    frames
}

/// Sends one frame. A frame that cannot go out (the channel closed) leaves its messages unacked,
/// and the broker delivers them again; the settled-fire check makes that harmless.
async fn send(channel: &Channel, frame: Frame, metrics: &Metrics, crash: CrashBeforeAck) {
    let (sent, event, count) = match frame {
        Frame::Ack {
            tag,
            multiple,
            count,
        } => {
            if crash.0 && count > 1 {
                tracing::error!(
                    "failpoint listener-before-batch-ack reached; aborting the process"
                );
                std::process::abort();
            }
            let options = BasicAckOptions { multiple };
            let sent = channel.basic_ack(tag, options).await;
            (sent, AmqpEvent::Acked, count)
        }
        Frame::Nack { tag, requeue } => {
            let options = BasicNackOptions {
                requeue,
                ..BasicNackOptions::default()
            };
            let sent = channel.basic_nack(tag, options).await;
            let event = match requeue {
                true => AmqpEvent::Requeued,
                false => AmqpEvent::DeadLettered,
            };
            (sent, event, 1)
        }
    };
    match sent {
        Ok(()) => (0..count).for_each(|_| metrics.amqp(event)),
        Err(e) => tracing::warn!(error = %e, "could not settle messages"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(tag: u64, count: usize) -> Frame {
        Frame::Ack {
            tag,
            multiple: count > 1,
            count,
        }
    }

    #[test]
    fn a_run_of_acks_becomes_one_multiple_ack() {
        let mut in_flight = BTreeSet::from([1, 2, 3]);
        let settled = vec![(2, Settle::Ack), (1, Settle::Ack), (3, Settle::Ack)];
        assert_eq!(plan(&mut in_flight, settled), [ack(3, 3)]);
        assert!(in_flight.is_empty());
    }

    #[test]
    fn no_multiple_ack_reaches_a_delivery_still_in_flight() {
        let mut in_flight = BTreeSet::from([4, 5, 6, 7, 8]);
        let settled = vec![(4, Settle::Ack), (5, Settle::Ack), (7, Settle::Ack)];
        assert_eq!(plan(&mut in_flight, settled), [ack(5, 2), ack(7, 1)]);
        assert_eq!(in_flight, BTreeSet::from([6, 8]));
        // 6 finishes later: it alone is acked, 7 was already.
        assert_eq!(plan(&mut in_flight, vec![(6, Settle::Ack)]), [ack(6, 1)]);
    }

    #[test]
    fn nacks_go_out_one_by_one_before_any_ack_that_could_cover_them() {
        let mut in_flight = BTreeSet::from([1, 2, 3, 4]);
        let settled = vec![
            (1, Settle::Ack),
            (2, Settle::Requeue),
            (3, Settle::DeadLetter),
            (4, Settle::Ack),
        ];
        let frames = plan(&mut in_flight, settled);
        assert_eq!(
            frames,
            [
                Frame::Nack {
                    tag: 2,
                    requeue: true
                },
                Frame::Nack {
                    tag: 3,
                    requeue: false
                },
                ack(4, 2),
            ]
        );
    }

    #[test]
    fn nothing_settled_sends_nothing() {
        let mut in_flight = BTreeSet::from([1]);
        assert!(plan(&mut in_flight, Vec::new()).is_empty());
        assert_eq!(in_flight, BTreeSet::from([1]));
    }
}
