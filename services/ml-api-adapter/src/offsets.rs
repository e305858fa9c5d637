//! Which offsets the notification handler may commit while messages finish out of order.
//!
//! Kafka keeps one committed offset per partition, meaning "everything before this is done".
//! Messages are delivered concurrently, so message 7 can finish before message 5; the
//! committable offset of a partition is the lowest offset still in flight, or one past the
//! highest finished offset when nothing is in flight. It never passes a message whose
//! callbacks have not been attempted, and never goes backwards.

use std::collections::{BTreeMap, HashMap};

/// A topic partition.
pub type Partition = (String, i32);

#[derive(Debug, Default)]
struct PartitionState {
    /// Offsets started and not finished (a redelivered offset can be in flight twice).
    in_flight: BTreeMap<i64, u32>,
    /// One past the highest finished offset.
    finished_next: i64,
    /// The last offset committed (or handed out to commit).
    committed: i64,
}

/// Offsets in flight and finished, per partition.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    partitions: HashMap<Partition, PartitionState>,
}

impl OffsetTracker {
    /// A message at `offset` is being handled.
    pub fn start(&mut self, partition: Partition, offset: i64) {
        let state = self.partitions.entry(partition).or_default();
        *state.in_flight.entry(offset).or_insert(0) += 1;
    }

    /// The message at `offset` is done (its callbacks were attempted).
    pub fn finish(&mut self, partition: Partition, offset: i64) {
        let state = self.partitions.entry(partition).or_default();
        if let Some(count) = state.in_flight.get_mut(&offset) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                state.in_flight.remove(&offset);
            }
        }
        state.finished_next = state.finished_next.max(offset.saturating_add(1));
    }

    /// Messages in flight in every partition.
    pub fn in_flight(&self) -> usize {
        self.partitions
            .values()
            .map(|s| s.in_flight.values().map(|c| *c as usize).sum::<usize>())
            .sum()
    }

    /// The offsets that moved forward since the last call: `(partition, next offset to read)`.
    pub fn take_commits(&mut self) -> Vec<(Partition, i64)> {
        let mut out = Vec::new();
        for (partition, state) in &mut self.partitions {
            let position = match state.in_flight.keys().next() {
                Some(lowest) => *lowest,
                None => state.finished_next,
            };
            if position > state.committed {
                state.committed = position;
                out.push((partition.clone(), position));
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: i32) -> Partition {
        ("topic".to_string(), n)
    }

    #[test]
    fn commits_only_up_to_the_lowest_message_in_flight() {
        let mut t = OffsetTracker::default();
        for offset in 5..=7 {
            t.start(p(0), offset);
        }
        t.start(p(1), 0);
        assert_eq!(t.take_commits(), vec![(p(0), 5)]);
        t.finish(p(0), 7);
        assert_eq!(t.take_commits(), vec![]);
        t.finish(p(0), 5);
        assert_eq!(t.take_commits(), vec![(p(0), 6)]);
        t.finish(p(0), 6);
        t.finish(p(1), 0);
        assert_eq!(t.take_commits(), vec![(p(0), 8), (p(1), 1)]);
        assert_eq!(t.in_flight(), 0);
        assert_eq!(t.take_commits(), vec![]);
    }

    #[test]
    fn redelivered_offsets_never_move_the_commit_back() {
        let mut t = OffsetTracker::default();
        t.start(p(0), 10);
        t.finish(p(0), 10);
        assert_eq!(t.take_commits(), vec![(p(0), 11)]);
        // After a rebalance the partition is read again from 8, twice in flight for 9.
        t.start(p(0), 8);
        t.start(p(0), 9);
        t.start(p(0), 9);
        assert_eq!(t.take_commits(), vec![]);
        t.finish(p(0), 8);
        t.finish(p(0), 9);
        assert_eq!(t.in_flight(), 1);
        t.finish(p(0), 9);
        assert_eq!(t.take_commits(), vec![]);
        t.start(p(0), 11);
        t.finish(p(0), 11);
        assert_eq!(t.take_commits(), vec![(p(0), 12)]);
    }
}
