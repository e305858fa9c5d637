//! The embedded bus: Kafka's semantics inside one process, for `mojaloop up` without a broker.
//!
//! What it keeps from Kafka, because the handlers depend on it:
//!
//! - **Topics of partitions, keyed placement.** A message with a key always lands in the same
//!   partition, so one key's messages are read in the order they were produced. Messages
//!   without a key are spread round-robin.
//! - **Consumer groups with committed offsets.** Each group reads every message of a topic; a
//!   group's position only moves past a message when the consumer commits it. When a consumer
//!   goes away, its group's uncommitted messages are delivered again to the next consumer of
//!   the group (at-least-once).
//! - **Earliest start.** A group that joins late reads every message still held.
//!
//! What it does not keep: durability. Messages live in this process's memory, so a crash
//! loses what was produced but not yet handled (the DFSP sees a timeout, never a
//! double-posting: the ledger's state is in MySQL). Run over Kafka when that matters.
//!
//! Memory is bounded: a partition holds at most `partition_messages_max` messages. Messages
//! every group has committed are dropped; when a partition is full, a producer waits for the
//! slowest group to catch up (back-pressure, bounded by the send timeout). A partition no group
//! reads drops its oldest messages instead, as Kafka's retention would.
//!
//! One consumer per group and topic at a time: scaling a handler out is what Kafka is for.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::{Error, Record};

/// Limits of an embedded bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBusConfig {
    /// Partitions of a topic created implicitly (by a producer or consumer that names it before
    /// [`MemoryBus::ensure_topics`] did).
    pub partitions_default: usize,
    /// Messages one partition holds at most.
    pub partition_messages_max: usize,
}

impl Default for MemoryBusConfig {
    fn default() -> Self {
        MemoryBusConfig {
            partitions_default: 12,
            partition_messages_max: 20_000,
        }
    }
}

/// The embedded bus. Cloning it is cheap; every clone is the same bus.
#[derive(Clone)]
pub struct MemoryBus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MemoryBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBus")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: MemoryBusConfig,
    topics: Mutex<HashMap<String, Arc<Topic>>>,
    members: AtomicU64,
    /// Per topic: sends still let through, then sends to refuse ([`MemoryBus::refuse_sends`]).
    refusals: Mutex<HashMap<String, (usize, usize)>>,
}

struct Topic {
    name: String,
    partitions: Vec<Mutex<Partition>>,
    /// Woken when a message is appended.
    appended: Notify,
    /// Woken when messages are dropped after a commit.
    trimmed: Notify,
    /// Round-robin position for messages without a key.
    next_unkeyed: AtomicUsize,
}

#[derive(Default)]
struct Partition {
    /// Offset of `log[0]`.
    base: i64,
    log: VecDeque<Stored>,
    groups: HashMap<String, GroupPosition>,
}

struct Stored {
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    produced_at_ms: i64,
}

struct GroupPosition {
    /// Everything before this offset is done.
    committed: i64,
    /// The next offset to hand out.
    fetch: i64,
    /// The consumer reading for the group, if one does.
    member: Option<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep using it.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Partition {
    fn end(&self) -> i64 {
        self.base + self.log.len() as i64
    }

    /// Drops the messages every group has committed.
    fn trim(&mut self) -> bool {
        let Some(done) = self.groups.values().map(|g| g.committed).min() else {
            return false;
        };
        let mut trimmed = false;
        while self.base < done && self.log.pop_front().is_some() {
            self.base += 1;
            trimmed = true;
        }
        trimmed
    }
}

impl MemoryBus {
    pub fn new(config: MemoryBusConfig) -> Result<MemoryBus, Error> {
        if config.partitions_default == 0 || config.partition_messages_max == 0 {
            return Err(Error::InvalidConfig(format!(
                "embedded bus limits must be positive: {config:?}"
            )));
        }
        Ok(MemoryBus {
            inner: Arc::new(Inner {
                config,
                topics: Mutex::default(),
                members: AtomicU64::new(0),
                refusals: Mutex::default(),
            }),
        })
    }

    /// Creates each `(name, partitions)` topic that does not exist yet; an existing topic keeps
    /// its partition count.
    pub fn ensure_topics(&self, topics: &[(&str, i32)]) -> Result<(), Error> {
        for (name, partitions) in topics {
            let count = usize::try_from(*partitions)
                .ok()
                .filter(|count| *count > 0 && !name.is_empty())
                .ok_or_else(|| {
                    Error::InvalidConfig(format!("topic {name:?} with {partitions} partitions"))
                })?;
            self.topic(name, count);
        }
        Ok(())
    }

    fn topic(&self, name: &str, partitions: usize) -> Arc<Topic> {
        let mut topics = lock(&self.inner.topics);
        topics
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(Topic {
                    name: name.to_owned(),
                    partitions: (0..partitions).map(|_| Mutex::default()).collect(),
                    appended: Notify::new(),
                    trimmed: Notify::new(),
                    next_unkeyed: AtomicUsize::new(0),
                })
            })
            .clone()
    }

    fn topic_or_default(&self, name: &str) -> Arc<Topic> {
        self.topic(name, self.inner.config.partitions_default)
    }

    /// Fault injection, for tests and drills of what a handler does when its broker fails:
    /// after the next `pass` sends to `topic`, the `refuse` sends that follow fail with
    /// [`Error::Refused`] (a broker refusing the message), then sends succeed again.
    pub fn refuse_sends(&self, topic: &str, pass: usize, refuse: usize) {
        lock(&self.inner.refusals).insert(topic.to_owned(), (pass, refuse));
    }

    /// Whether this send to `topic` is to be refused (see [`MemoryBus::refuse_sends`]).
    fn refused(&self, topic: &str) -> bool {
        let mut refusals = lock(&self.inner.refusals);
        let Some((pass, refuse)) = refusals.get_mut(topic) else {
            return false;
        };
        if *pass > 0 {
            *pass -= 1;
            return false;
        }
        if *refuse > 0 {
            *refuse -= 1;
            return true;
        }
        refusals.remove(topic);
        false
    }

    /// Appends one message, waiting at most `timeout_ms` for room when its partition is full.
    pub async fn send(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        timeout_ms: u64,
    ) -> Result<(), Error> {
        if self.refused(topic) {
            return Err(Error::Refused {
                topic: topic.to_owned(),
            });
        }
        let topic = self.topic_or_default(topic);
        let partition_count = topic.partitions.len();
        let index = match key {
            Some(key) => {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                key.hash(&mut hasher);
                (hasher.finish() % partition_count as u64) as usize
            }
            None => topic.next_unkeyed.fetch_add(1, Ordering::Relaxed) % partition_count,
        };
        let Some(partition) = topic.partitions.get(index) else {
            return Err(Error::InvalidConfig(format!(
                "topic {} has no partitions",
                topic.name
            )));
        };
        let limit = self.inner.config.partition_messages_max;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout_ms);
        loop {
            let room = topic.trimmed.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut partition = lock(partition);
                if partition.log.len() >= limit && partition.groups.is_empty() {
                    // Nobody reads this partition: retention drops the oldest message.
                    partition.log.pop_front();
                    partition.base += 1;
                }
                if partition.log.len() < limit {
                    partition.log.push_back(Stored {
                        key: key.map(<[u8]>::to_vec),
                        payload: payload.to_vec(),
                        produced_at_ms: crate::now_ms(),
                    });
                    drop(partition);
                    topic.appended.notify_waiters();
                    return Ok(());
                }
            }
            if tokio::time::timeout_at(deadline, room).await.is_err() {
                return Err(Error::Timeout {
                    operation: format!(
                        "waiting for room in {} (its consumers are {limit} messages behind)",
                        topic.name
                    ),
                    timeout_ms,
                });
            }
        }
    }

    /// A consumer in `group` reading `topic`. Fails when the group already has a consumer of
    /// that topic in this process.
    pub fn consumer(&self, group: &str, topic: &str) -> Result<MemoryConsumer, Error> {
        if group.trim().is_empty() {
            return Err(Error::InvalidConfig("group_id is empty".to_owned()));
        }
        let topic = self.topic_or_default(topic);
        let member = self.inner.members.fetch_add(1, Ordering::Relaxed) + 1;
        for (index, partition) in topic.partitions.iter().enumerate() {
            let mut partition = lock(partition);
            let base = partition.base;
            let position = partition
                .groups
                .entry(group.to_owned())
                .or_insert(GroupPosition {
                    committed: base,
                    fetch: base,
                    member: None,
                });
            if position.member.is_some() {
                drop(partition);
                // Undo the partitions taken so far.
                for taken in topic.partitions.iter().take(index) {
                    if let Some(position) = lock(taken).groups.get_mut(group) {
                        position.member = None;
                    }
                }
                return Err(Error::InvalidConfig(format!(
                    "group {group} already has a consumer of {} on the embedded bus",
                    topic.name
                )));
            }
            position.member = Some(member);
            position.fetch = position.committed;
        }
        Ok(MemoryConsumer {
            group: group.to_owned(),
            topic,
            next_partition: AtomicUsize::new(0),
        })
    }

    /// Messages held and not yet committed by `group`, over every partition of `topic` (lag).
    pub fn lag(&self, group: &str, topic: &str) -> u64 {
        let topic = self.topic_or_default(topic);
        topic
            .partitions
            .iter()
            .map(|partition| {
                let partition = lock(partition);
                let committed = partition
                    .groups
                    .get(group)
                    .map_or(partition.base, |g| g.committed);
                u64::try_from(partition.end() - committed).unwrap_or(0)
            })
            .sum()
    }
}

/// One group's reader of one topic. Dropping it hands the uncommitted messages back to the
/// group.
pub struct MemoryConsumer {
    group: String,
    topic: Arc<Topic>,
    next_partition: AtomicUsize,
}

impl std::fmt::Debug for MemoryConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryConsumer")
            .field("group", &self.group)
            .field("topic", &self.topic.name)
            .finish()
    }
}

impl MemoryConsumer {
    /// The next message of any partition, waiting until there is one. Cancel-safe: a message
    /// is taken only when the call returns it.
    pub async fn recv(&self) -> Result<Record, Error> {
        loop {
            let appended = self.topic.appended.notified();
            tokio::pin!(appended);
            appended.as_mut().enable();
            if let Some(record) = self.try_take() {
                return Ok(record);
            }
            appended.await;
        }
    }

    fn try_take(&self) -> Option<Record> {
        let count = self.topic.partitions.len();
        let start = self.next_partition.fetch_add(1, Ordering::Relaxed);
        for step in 0..count {
            let index = (start + step) % count;
            let mut partition = lock(self.topic.partitions.get(index)?);
            let base = partition.base;
            let end = partition.end();
            let position = partition.groups.get_mut(&self.group)?;
            if position.fetch < base {
                // Only possible for a partition no group read when it was full.
                position.fetch = base;
            }
            if position.fetch >= end {
                continue;
            }
            let offset = position.fetch;
            position.fetch += 1;
            let stored = partition.log.get(usize::try_from(offset - base).ok()?)?;
            return Some(Record {
                topic: self.topic.name.clone(),
                partition: i32::try_from(index).ok()?,
                offset,
                key: stored.key.clone(),
                payload: Some(stored.payload.clone()),
                produced_at_ms: Some(stored.produced_at_ms),
            });
        }
        None
    }

    /// Marks everything before `next_offset` in `partition` as done for the group.
    pub fn commit(&self, partition: i32, next_offset: i64) {
        let Some(slot) = usize::try_from(partition)
            .ok()
            .and_then(|index| self.topic.partitions.get(index))
        else {
            return;
        };
        let trimmed = {
            let mut partition = lock(slot);
            let end = partition.end();
            if let Some(position) = partition.groups.get_mut(&self.group) {
                position.committed = position.committed.max(next_offset.min(end));
            }
            partition.trim()
        };
        if trimmed {
            self.topic.trimmed.notify_waiters();
        }
    }

    /// The topic this consumer reads.
    pub fn topic(&self) -> &str {
        &self.topic.name
    }

    /// `(partition, messages)` for every partition: messages held after the group's committed
    /// offset (end offset minus committed offset; received but uncommitted messages count).
    pub fn lag(&self) -> Vec<(i32, i64)> {
        self.topic
            .partitions
            .iter()
            .enumerate()
            .filter_map(|(index, partition)| {
                let partition_index = i32::try_from(index).ok()?;
                let partition = lock(partition);
                let committed = partition
                    .groups
                    .get(&self.group)
                    .map_or(partition.base, |g| g.committed.max(partition.base));
                Some((partition_index, (partition.end() - committed).max(0)))
            })
            .collect()
    }
}

impl Drop for MemoryConsumer {
    fn drop(&mut self) {
        for partition in &self.topic.partitions {
            let mut partition = lock(partition);
            if let Some(position) = partition.groups.get_mut(&self.group) {
                position.member = None;
                position.fetch = position.committed;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;

    fn bus(partitions: usize, max: usize) -> MemoryBus {
        MemoryBus::new(MemoryBusConfig {
            partitions_default: partitions,
            partition_messages_max: max,
        })
        .unwrap()
    }

    async fn recv(consumer: &MemoryConsumer) -> Record {
        tokio::time::timeout(Duration::from_secs(5), consumer.recv())
            .await
            .expect("a message in time")
            .unwrap()
    }

    #[tokio::test]
    async fn one_keys_messages_arrive_in_order() {
        let bus = bus(4, 100);
        let consumer = bus.consumer("g", "t").unwrap();
        for i in 0..20 {
            let key = format!("k{}", i % 3);
            bus.send("t", Some(key.as_bytes()), i.to_string().as_bytes(), 100)
                .await
                .unwrap();
        }
        let mut seen: HashMap<Vec<u8>, Vec<i32>> = HashMap::new();
        for _ in 0..20 {
            let record = recv(&consumer).await;
            let value: i32 = String::from_utf8(record.payload.unwrap())
                .unwrap()
                .parse()
                .unwrap();
            seen.entry(record.key.unwrap()).or_default().push(value);
        }
        assert_eq!(seen.len(), 3);
        for values in seen.values() {
            let mut sorted = values.clone();
            sorted.sort_unstable();
            assert_eq!(values, &sorted);
        }
    }

    #[tokio::test]
    async fn every_group_reads_every_message_even_when_it_joins_late() {
        let bus = bus(2, 100);
        let early = bus.consumer("early", "t").unwrap();
        for i in 0..4 {
            bus.send("t", None, &[i], 100).await.unwrap();
        }
        let late = bus.consumer("late", "t").unwrap();
        let mut a: Vec<u8> = Vec::new();
        let mut b: Vec<u8> = Vec::new();
        for _ in 0..4 {
            a.extend(recv(&early).await.payload.unwrap());
            b.extend(recv(&late).await.payload.unwrap());
        }
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, vec![0, 1, 2, 3]);
        assert_eq!(b, vec![0, 1, 2, 3]);
    }

    #[tokio::test]
    async fn uncommitted_messages_are_delivered_again_to_the_next_consumer() {
        let bus = bus(1, 100);
        let consumer = bus.consumer("g", "t").unwrap();
        for i in 0..3 {
            bus.send("t", Some(b"k"), &[i], 100).await.unwrap();
        }
        let first = recv(&consumer).await;
        consumer.commit(first.partition, first.offset + 1);
        let second = recv(&consumer).await;
        assert_eq!(second.payload, Some(vec![1]));
        assert!(
            bus.consumer("g", "t").is_err(),
            "one consumer per group and topic"
        );
        drop(consumer);
        let again = bus.consumer("g", "t").unwrap();
        assert_eq!(recv(&again).await.payload, Some(vec![1]));
        assert_eq!(recv(&again).await.payload, Some(vec![2]));
        assert_eq!(bus.lag("g", "t"), 2);
    }

    #[tokio::test]
    async fn a_full_partition_holds_producers_back_until_the_group_commits() {
        let bus = bus(1, 2);
        let consumer = bus.consumer("g", "t").unwrap();
        bus.send("t", None, b"a", 100).await.unwrap();
        bus.send("t", None, b"b", 100).await.unwrap();
        let refused = bus.send("t", None, b"c", 50).await;
        assert!(matches!(refused, Err(Error::Timeout { .. })), "{refused:?}");
        let producer = bus.clone();
        let waiting = tokio::spawn(async move { producer.send("t", None, b"c", 5_000).await });
        let first = recv(&consumer).await;
        consumer.commit(first.partition, first.offset + 1);
        waiting.await.unwrap().unwrap();
        assert_eq!(recv(&consumer).await.payload, Some(b"b".to_vec()));
        assert_eq!(recv(&consumer).await.payload, Some(b"c".to_vec()));
    }

    #[tokio::test]
    async fn a_topic_nobody_reads_keeps_only_its_newest_messages() {
        let bus = bus(1, 3);
        for i in 0..10 {
            bus.send("t", None, &[i], 10).await.unwrap();
        }
        let consumer = bus.consumer("g", "t").unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.extend(recv(&consumer).await.payload.unwrap());
        }
        assert_eq!(got, vec![7, 8, 9]);
    }

    #[tokio::test]
    async fn a_waiting_consumer_wakes_for_a_new_message() {
        let bus = bus(3, 10);
        let consumer = bus.consumer("g", "t").unwrap();
        let producer = bus.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            producer.send("t", Some(b"x"), b"late", 100).await.unwrap();
        });
        assert_eq!(recv(&consumer).await.payload, Some(b"late".to_vec()));
    }

    #[tokio::test]
    async fn lag_is_end_offset_minus_committed_offset_per_partition() {
        let bus = bus(2, 100);
        bus.ensure_topics(&[("t", 2)]).unwrap();
        let consumer = bus.consumer("g", "t").unwrap();
        assert_eq!(consumer.lag(), vec![(0, 0), (1, 0)]);
        for i in 0..6 {
            bus.send("t", None, &[i], 100).await.unwrap();
        }
        // Round-robin: three messages in each partition.
        assert_eq!(consumer.lag(), vec![(0, 3), (1, 3)]);
        let first = recv(&consumer).await;
        let second = recv(&consumer).await;
        // Received is not done: only a commit moves the lag.
        assert_eq!(consumer.lag(), vec![(0, 3), (1, 3)]);
        consumer.commit(first.partition, first.offset + 1);
        consumer.commit(second.partition, second.offset + 1);
        assert_eq!(consumer.lag(), vec![(0, 2), (1, 2)]);
        // A group that joins now has read nothing of what is still held (the committed
        // messages were dropped: every group then known had them).
        let other = bus.consumer("other", "t").unwrap();
        assert_eq!(other.lag(), vec![(0, 2), (1, 2)]);
        assert_eq!(bus.lag("g", "t"), 4);
    }

    #[test]
    fn topics_and_limits_must_be_sensible() {
        assert!(MemoryBus::new(MemoryBusConfig {
            partitions_default: 0,
            partition_messages_max: 1
        })
        .is_err());
        let bus = bus(1, 1);
        assert!(bus.ensure_topics(&[("t", 0)]).is_err());
        assert!(bus.ensure_topics(&[("t", 3)]).is_ok());
        assert!(bus.consumer(" ", "t").is_err());
    }
}
