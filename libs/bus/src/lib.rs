//! The message bus: Kafka through rdkafka.
//!
//! This crate owns three things every service shares:
//!
//! - the topic and consumer-group names of the Mojaloop switch (central-ledger spec §2.1 and §2.4),
//!   so a Rust service lands on the same topics as the Node services it replaces;
//! - the client settings that matter for compatibility and safety: producers use the
//!   Java-compatible `murmur2_random` partitioner (so a key lands in the same partition as it would
//!   from a Node or Java producer), wait for all in-sync replicas (`acks=all`), and have a bounded
//!   local queue and a delivery timeout; consumers never auto-commit, so a service commits offsets
//!   only after it has done its work;
//! - [`ensure_topics`], which creates topics through the admin API and waits until the broker
//!   reports them, treating "already exists" as success.
//!
//! Everything takes a [`BusConfig`]; there is no global state.
//!
//! Services do not talk to rdkafka directly: they take a [`Bus`] and use its [`Producer`] and
//! [`Consumer`], which are either Kafka clients or the [`memory`] bus (Kafka's semantics inside
//! one process, for `mojaloop up` without a broker). For monitoring, a consumer gives a
//! [`LagProbe`] (its partitions' lag, read by [`lag::watch`] on an interval) and can report
//! each committed batch's size and timings ([`Consumer::with_batch_observer`]).

pub mod batch;
pub mod memory;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

pub use memory::{MemoryBus, MemoryBusConfig};

mod kafka;
pub mod lag;
mod names;

pub use kafka::*;
pub use names::*;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The [`BusConfig`] holds values that cannot work.
    #[error("invalid bus configuration: {0}")]
    InvalidConfig(String),
    /// librdkafka refused to create a client from the configuration.
    #[error("creating kafka {client} failed")]
    ClientCreation {
        /// Which client: `producer`, `consumer` or `admin client`.
        client: &'static str,
        /// The librdkafka error.
        #[source]
        source: KafkaError,
    },
    /// The broker rejected the creation of a topic for a reason other than "already exists".
    #[error("creating topic {topic} failed: {code}")]
    TopicCreation {
        /// The topic.
        topic: String,
        /// The broker's error code.
        code: RDKafkaErrorCode,
    },
    /// The broker did not answer within the allowed time.
    #[error("{operation} did not finish within {timeout_ms} ms")]
    Timeout {
        /// What was being waited for.
        operation: String,
        /// The time allowed.
        timeout_ms: u64,
    },
    /// Any other error from librdkafka.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// A [`StreamConsumer`] was requested outside a Tokio runtime (it spawns a task on creation).
    #[error("a kafka consumer must be created inside a Tokio runtime")]
    NoRuntime,
    /// The bus refused the message (the embedded bus when told to, see
    /// [`MemoryBus::refuse_sends`]).
    #[error("the bus refused a message for {topic}")]
    Refused {
        /// The topic.
        topic: String,
    },
    /// A blocking helper task panicked or was cancelled.
    #[error("background task failed")]
    Task(#[from] tokio::task::JoinError),
}

/// Where a service's messages go: a Kafka cluster, or the embedded bus of this process.
#[derive(Debug, Clone)]
pub enum Bus {
    Kafka(BusConfig),
    Memory(MemoryBus),
}

/// Extra time over a send's own timeout before it is given up locally. librdkafka times
/// messages out on a scan about once a second, later under load, and its delivery report is
/// the verdict that counts: given up here first, a message still in its queue could be
/// delivered after the sender was told it was not (seen with 1 s, the broker cut under load).
const SEND_GRACE_MS: u64 = 5_000;

impl Bus {
    /// Creates the topics that do not exist yet (see [`ensure_topics`]).
    pub async fn ensure_topics(
        &self,
        topics: &[(&str, i32)],
        timeout_ms: u64,
    ) -> Result<(), Error> {
        match self {
            Bus::Kafka(config) => ensure_topics(config, topics, timeout_ms).await,
            Bus::Memory(bus) => bus.ensure_topics(topics),
        }
    }

    pub fn producer(&self) -> Result<Producer, Error> {
        match self {
            Bus::Kafka(config) => Ok(Producer::Kafka(create_producer(config)?)),
            Bus::Memory(bus) => Ok(Producer::Memory(bus.clone())),
        }
    }

    /// A consumer in `group` reading `topic`, committing only when told to.
    pub fn consumer(&self, group: &str, topic: &str) -> Result<Consumer, Error> {
        match self {
            Bus::Kafka(config) => {
                let consumer = create_consumer(config, group)?;
                consumer.subscribe(&[topic])?;
                Ok(Consumer::new(ConsumerClient::Kafka(consumer), group, topic))
            }
            Bus::Memory(bus) => Ok(Consumer::new(
                ConsumerClient::Memory(bus.consumer(group, topic)?),
                group,
                topic,
            )),
        }
    }

    /// `kafka` or `embedded`, for logs and health reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Bus::Kafka(_) => "kafka",
            Bus::Memory(_) => "embedded",
        }
    }
}

/// A message as a consumer receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    /// When the message was produced, in milliseconds since the Unix epoch (Kafka's
    /// `CreateTime`, the producer's wall clock; the embedded bus's send time).
    pub produced_at_ms: Option<i64>,
}

/// Sends messages; cheap to clone.
#[derive(Clone)]
pub enum Producer {
    Kafka(FutureProducer),
    Memory(MemoryBus),
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Producer::Kafka(_) => f.write_str("Producer::Kafka"),
            Producer::Memory(_) => f.write_str("Producer::Memory"),
        }
    }
}

impl Producer {
    /// Sends one message and waits until the bus holds it (the broker's acknowledgement), at
    /// most `timeout_ms`.
    pub async fn send(
        &self,
        topic: &str,
        key: Option<&str>,
        payload: &[u8],
        timeout_ms: u64,
    ) -> Result<(), Error> {
        self.send_all(topic, &[(key, payload)], timeout_ms).await
    }

    /// Sends every `(key, payload)` to `topic`, all enqueued at once, then waits for every
    /// acknowledgement, at most `timeout_ms` in all.
    pub async fn send_all(
        &self,
        topic: &str,
        messages: &[(Option<&str>, &[u8])],
        timeout_ms: u64,
    ) -> Result<(), Error> {
        match self {
            Producer::Kafka(producer) => {
                let mut pending = Vec::with_capacity(messages.len());
                for (key, payload) in messages {
                    let mut record: FutureRecord<'_, str, [u8]> =
                        FutureRecord::to(topic).payload(payload);
                    if let Some(key) = key {
                        record = record.key(key);
                    }
                    pending.push(
                        producer
                            .send_result(record)
                            .map_err(|(error, _)| Error::Kafka(error))?,
                    );
                }
                let deadline = tokio::time::Instant::now()
                    + Duration::from_millis(timeout_ms.saturating_add(SEND_GRACE_MS));
                for delivery in pending {
                    match tokio::time::timeout_at(deadline, delivery).await {
                        Ok(Ok(Ok(_))) => {}
                        Ok(Ok(Err((error, _)))) => return Err(Error::Kafka(error)),
                        Ok(Err(_cancelled)) => {
                            return Err(Error::Kafka(KafkaError::Canceled));
                        }
                        Err(_) => {
                            return Err(Error::Timeout {
                                operation: format!("delivery to {topic}"),
                                timeout_ms,
                            })
                        }
                    }
                }
                Ok(())
            }
            Producer::Memory(bus) => {
                for (key, payload) in messages {
                    bus.send(topic, key.map(str::as_bytes), payload, timeout_ms)
                        .await?;
                }
                Ok(())
            }
        }
    }

    /// Whether the bus answers within `timeout_ms` (a metadata request to the broker).
    pub async fn healthy(&self, timeout_ms: u64) -> bool {
        match self {
            Producer::Kafka(producer) => {
                let producer = producer.clone();
                tokio::task::spawn_blocking(move || {
                    producer
                        .client()
                        .fetch_metadata(None, Timeout::After(Duration::from_millis(timeout_ms)))
                        .is_ok()
                })
                .await
                .unwrap_or(false)
            }
            Producer::Memory(_) => true,
        }
    }

    /// Waits at most `timeout_ms` for queued messages to leave (at shutdown).
    pub async fn flush(&self, timeout_ms: u64) -> Result<(), Error> {
        match self {
            Producer::Kafka(producer) => {
                let producer = producer.clone();
                tokio::task::spawn_blocking(move || {
                    producer.flush(Timeout::After(Duration::from_millis(timeout_ms)))
                })
                .await??;
                Ok(())
            }
            Producer::Memory(_) => Ok(()),
        }
    }
}

/// Reads one topic for one consumer group; offsets move only on [`Consumer::commit`].
pub struct Consumer {
    /// Shared only with [`LagProbe`]s, which hold it weakly: dropping the consumer still
    /// closes it (and leaves the group) at once.
    client: Arc<ConsumerClient>,
    group: String,
    topic: String,
    batches: Option<BatchTracker>,
    waits: Option<WaitObserver>,
}

/// Told, for every message received, how long it was in the bus: from its production to its
/// receipt by this consumer (producer's and consumer's wall clocks, millisecond resolution).
type WaitObserver = Arc<dyn Fn(Duration) + Send + Sync>;

enum ConsumerClient {
    Kafka(StreamConsumer),
    Memory(memory::MemoryConsumer),
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.client.as_ref() {
            ConsumerClient::Kafka(_) => "kafka",
            ConsumerClient::Memory(_) => "embedded",
        };
        f.debug_struct("Consumer")
            .field("bus", &kind)
            .field("group", &self.group)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// What a consumer saw of one batch, reported to its batch observer when the batch's offsets
/// are committed with [`Consumer::commit_records`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchTiming {
    /// Records committed.
    pub messages: usize,
    /// From the first message received since the previous commit to this commit: the time
    /// the batch spent in the handler, filling included.
    pub since_first_received: Duration,
    /// From the last message received to this commit: the handler's work on the batch.
    pub since_last_received: Duration,
}

type BatchObserver = Arc<dyn Fn(&BatchTiming) + Send + Sync>;

struct BatchTracker {
    observer: BatchObserver,
    /// When the first and the last message since the last commit were received.
    received: std::sync::Mutex<Option<(Instant, Instant)>>,
}

impl BatchTracker {
    fn received(&self) {
        let now = Instant::now();
        let mut received = self.received.lock().unwrap_or_else(|e| e.into_inner());
        *received = Some(received.map_or((now, now), |(first, _)| (first, now)));
    }

    fn committed(&self, messages: usize) {
        let taken = self
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some((first, last)) = taken else {
            return;
        };
        (self.observer)(&BatchTiming {
            messages,
            since_first_received: first.elapsed(),
            since_last_received: last.elapsed(),
        });
    }
}

impl Consumer {
    fn new(client: ConsumerClient, group: &str, topic: &str) -> Consumer {
        Consumer {
            client: Arc::new(client),
            group: group.to_owned(),
            topic: topic.to_owned(),
            batches: None,
            waits: None,
        }
    }

    /// Reports to `observer`, for each message received, how long it was in the bus (from its
    /// production to its receipt here): the broker's and the client's share of a hop's latency,
    /// which the handler's own timings do not show.
    #[must_use]
    pub fn with_wait_observer(
        mut self,
        observer: impl Fn(Duration) + Send + Sync + 'static,
    ) -> Consumer {
        self.waits = Some(Arc::new(observer));
        self
    }

    /// The consumer group this consumer reads for.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The topic this consumer reads.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Reports each batch to `observer` when it is committed with
    /// [`Consumer::commit_records`]: how many messages, and how long since its first and its
    /// last message were received. Meant for handlers that receive a batch, handle it and
    /// commit it before receiving again (the timings of overlapping batches would blur).
    #[must_use]
    pub fn with_batch_observer(
        mut self,
        observer: impl Fn(&BatchTiming) + Send + Sync + 'static,
    ) -> Consumer {
        self.batches = Some(BatchTracker {
            observer: Arc::new(observer),
            received: std::sync::Mutex::new(None),
        });
        self
    }

    /// A handle that reads this consumer's lag from another task (see [`lag`]). It does not
    /// keep the consumer alive.
    pub fn lag_probe(&self) -> LagProbe {
        LagProbe {
            client: Arc::downgrade(&self.client),
            group: self.group.clone(),
            topic: self.topic.clone(),
        }
    }

    /// The next message, waiting until there is one.
    pub async fn recv(&self) -> Result<Record, Error> {
        let record = match self.client.as_ref() {
            ConsumerClient::Kafka(consumer) => {
                let message = consumer.recv().await?;
                Record {
                    topic: message.topic().to_owned(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(<[u8]>::to_vec),
                    payload: message.payload().map(<[u8]>::to_vec),
                    produced_at_ms: message.timestamp().to_millis(),
                }
            }
            ConsumerClient::Memory(consumer) => consumer.recv().await?,
        };
        if let Some(batches) = &self.batches {
            batches.received();
        }
        if let (Some(waits), Some(produced_at_ms)) = (&self.waits, record.produced_at_ms) {
            let waited_ms = now_ms().saturating_sub(produced_at_ms).max(0);
            waits(Duration::from_millis(waited_ms.unsigned_abs()));
        }
        Ok(record)
    }

    /// Commits `(topic, partition, next offset)` positions: everything before each is done.
    /// Over Kafka, `wait` makes the commit synchronous (at shutdown).
    pub fn commit(&self, positions: &[(String, i32, i64)], wait: bool) -> Result<(), Error> {
        match self.client.as_ref() {
            ConsumerClient::Kafka(consumer) => {
                let mut list = TopicPartitionList::new();
                for (topic, partition, next) in positions {
                    list.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
                }
                let mode = if wait {
                    CommitMode::Sync
                } else {
                    CommitMode::Async
                };
                consumer.commit(&list, mode)?;
                Ok(())
            }
            ConsumerClient::Memory(consumer) => {
                for (_, partition, next) in positions {
                    consumer.commit(*partition, *next);
                }
                Ok(())
            }
        }
    }

    /// Commits the position after the last of `records` in each partition (and reports the
    /// batch to the batch observer, if there is one).
    pub fn commit_records(&self, records: &[Record]) -> Result<(), Error> {
        let mut last: std::collections::BTreeMap<(&str, i32), i64> = Default::default();
        for record in records {
            let offset = last
                .entry((record.topic.as_str(), record.partition))
                .or_insert(record.offset);
            *offset = (*offset).max(record.offset);
        }
        let positions: Vec<(String, i32, i64)> = last
            .into_iter()
            .map(|((topic, partition), offset)| (topic.to_owned(), partition, offset + 1))
            .collect();
        if positions.is_empty() {
            return Ok(());
        }
        let committed = self.commit(&positions, false);
        if let Some(batches) = &self.batches {
            batches.committed(records.len());
        }
        committed
    }
}

pub use lag::LagProbe;

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_unique_and_follow_the_mojaloop_scheme() {
        for (index, topic) in TOPICS_ALL.iter().enumerate() {
            assert!(topic.starts_with("topic-"), "{topic}");
            assert!(
                !TOPICS_ALL
                    .iter()
                    .skip(index + 1)
                    .any(|other| other == topic),
                "{topic} is listed twice"
            );
        }
    }

    #[test]
    fn producer_settings_match_the_node_services() {
        let config = BusConfig::new("127.0.0.1:9092", "test");
        let client_config = producer_client_config(&config);
        assert_eq!(client_config.get("partitioner"), Some("murmur2_random"));
        assert_eq!(client_config.get("acks"), Some("all"));
        assert_eq!(
            client_config.get("queue.buffering.max.messages"),
            Some("100000")
        );
        assert_eq!(client_config.get("delivery.timeout.ms"), Some("30000"));
    }

    #[test]
    fn consumer_settings_never_auto_commit() {
        let config = BusConfig::new("127.0.0.1:9092", "test");
        let client_config = consumer_client_config(&config, "group");
        assert_eq!(client_config.get("group.id"), Some("group"));
        assert_eq!(client_config.get("enable.auto.commit"), Some("false"));
        assert_eq!(client_config.get("auto.offset.reset"), Some("earliest"));
        assert_eq!(client_config.get("session.timeout.ms"), Some("6000"));
        assert_eq!(client_config.get("heartbeat.interval.ms"), Some("2000"));
        assert_eq!(client_config.get("fetch.wait.max.ms"), Some("100"));
    }

    #[test]
    fn validate_lists_every_problem() -> Result<(), String> {
        let mut config = BusConfig::new("", "");
        config.session_timeout_ms = 10;
        config.topic_replication_factor = 0;
        config.consumer_fetch_wait_max_ms = 0;
        config.producer_linger_ms = 1_000_000;
        let Err(Error::InvalidConfig(message)) = config.validate() else {
            return Err("expected InvalidConfig".to_owned());
        };
        for expected in [
            "brokers",
            "client_id",
            "session_timeout_ms",
            "topic_replication_factor",
            "consumer_fetch_wait_max_ms must be between 1 and 300000 (is 0)",
            "producer_linger_ms must be at most 900000 (is 1000000)",
        ] {
            assert!(message.contains(expected), "{message}");
        }
        assert!(BusConfig::new("127.0.0.1:9092", "test").validate().is_ok());
        Ok(())
    }

    #[tokio::test]
    async fn clients_are_created_without_contacting_the_broker() {
        // librdkafka connects lazily, so this works with no broker running.
        let config = BusConfig::new("127.0.0.1:1", "test");
        assert!(create_producer(&config).is_ok());
        assert!(create_consumer(&config, "group").is_ok());
        assert!(matches!(
            create_consumer(&config, " "),
            Err(Error::InvalidConfig(_))
        ));
    }

    #[test]
    fn partition_lag_counts_from_the_committed_offset_or_the_first_held() {
        assert_eq!(lag::partition_lag(Offset::Offset(7), 0, 10), 3);
        assert_eq!(lag::partition_lag(Offset::Invalid, 4, 10), 6);
        // Retention dropped messages the group never read: count what is still held.
        assert_eq!(lag::partition_lag(Offset::Offset(2), 4, 10), 6);
        assert_eq!(lag::partition_lag(Offset::Offset(12), 0, 10), 0);
        assert_eq!(lag::partition_lag(Offset::End, 0, 0), 0);
    }

    fn memory_bus() -> Bus {
        Bus::Memory(
            MemoryBus::new(MemoryBusConfig {
                partitions_default: 2,
                partition_messages_max: 100,
            })
            .unwrap_or_else(|e| panic!("{e}")),
        )
    }

    #[tokio::test]
    async fn a_lag_probe_reads_the_consumers_partitions_until_it_is_dropped() {
        let bus = memory_bus();
        let producer = bus.producer().unwrap_or_else(|e| panic!("{e}"));
        let consumer = bus.consumer("g", "t").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((consumer.group(), consumer.topic()), ("g", "t"));
        for key in ["a", "b", "c", "d", "e"] {
            producer
                .send("t", Some(key), b"x", 100)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let probe = consumer.lag_probe();
        let total = |lags: &[lag::PartitionLag]| lags.iter().map(|l| l.messages).sum::<i64>();
        let lags = probe.read(100).await.ok().flatten().unwrap_or_default();
        assert_eq!(lags.len(), 2);
        assert_eq!(total(&lags), 5);
        let record = consumer.recv().await.unwrap_or_else(|e| panic!("{e}"));
        consumer
            .commit_records(std::slice::from_ref(&record))
            .unwrap_or_else(|e| panic!("{e}"));
        let lags = probe.read(100).await.ok().flatten().unwrap_or_default();
        assert_eq!(total(&lags), 4);
        drop(consumer);
        assert!(matches!(probe.read(100).await, Ok(None)));
    }

    #[tokio::test]
    async fn watch_publishes_every_interval_and_ends_when_the_consumers_are_gone() {
        let bus = memory_bus();
        let producer = bus.producer().unwrap_or_else(|e| panic!("{e}"));
        let consumer = bus.consumer("g", "t").unwrap_or_else(|e| panic!("{e}"));
        producer
            .send("t", None, b"x", 100)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
        let watcher = tokio::spawn(lag::watch(
            vec![consumer.lag_probe()],
            10,
            stop_rx,
            move |probe, reading| {
                let lags = reading
                    .map(<[lag::PartitionLag]>::to_vec)
                    .unwrap_or_default();
                let _ = seen_tx.send((probe.group().to_owned(), probe.topic().to_owned(), lags));
            },
        ));
        let (group, topic, lags) = seen_rx.recv().await.unwrap_or_default();
        assert_eq!((group.as_str(), topic.as_str()), ("g", "t"));
        assert_eq!(lags.iter().map(|l| l.messages).sum::<i64>(), 1);
        assert!(seen_rx.recv().await.is_some(), "published again");
        drop(consumer);
        tokio::time::timeout(Duration::from_secs(5), watcher)
            .await
            .unwrap_or_else(|_| panic!("watch did not end when its consumer went away"))
            .unwrap_or_else(|e| panic!("{e}"));
        // The last reading of a consumer that went away holds no partitions.
        let mut last = None;
        while let Ok(reading) = seen_rx.try_recv() {
            last = Some(reading);
        }
        assert_eq!(last.map(|(_, _, lags)| lags), Some(Vec::new()));
    }

    #[tokio::test]
    async fn watch_stops_on_the_stop_signal_and_zero_means_off() {
        let bus = memory_bus();
        let consumer = bus.consumer("g", "t").unwrap_or_else(|e| panic!("{e}"));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let off = lag::watch(vec![consumer.lag_probe()], 0, stop_rx.clone(), |_, _| {
            panic!("interval 0 publishes nothing")
        });
        tokio::time::timeout(Duration::from_secs(1), off)
            .await
            .unwrap_or_else(|_| panic!("interval 0 returns at once"));
        let watcher = tokio::spawn(lag::watch(
            vec![consumer.lag_probe()],
            3_600_000,
            stop_rx,
            |_, _| {},
        ));
        let _ = stop_tx.send(true);
        tokio::time::timeout(Duration::from_secs(5), watcher)
            .await
            .unwrap_or_else(|_| panic!("watch did not stop"))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[tokio::test]
    async fn a_batch_observer_sees_each_committed_batch() {
        let bus = memory_bus();
        let producer = bus.producer().unwrap_or_else(|e| panic!("{e}"));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let consumer = bus
            .consumer("g", "t")
            .unwrap_or_else(|e| panic!("{e}"))
            .with_batch_observer(move |timing| {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(*timing);
            });
        for _ in 0..3 {
            producer
                .send("t", None, b"x", 100)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let mut batch = Vec::new();
        for _ in 0..3 {
            batch.push(consumer.recv().await.unwrap_or_else(|e| panic!("{e}")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        consumer
            .commit_records(&batch)
            .unwrap_or_else(|e| panic!("{e}"));
        // Nothing received since: an empty commit reports nothing.
        consumer
            .commit_records(&[])
            .unwrap_or_else(|e| panic!("{e}"));
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let timing = seen.first().copied().unwrap_or_else(|| panic!("no timing"));
        assert_eq!(timing.messages, 3);
        assert!(timing.since_last_received >= Duration::from_millis(20));
        assert!(timing.since_first_received >= timing.since_last_received);
    }

    #[tokio::test]
    async fn a_wait_observer_sees_each_messages_time_in_the_bus() {
        let bus = memory_bus();
        let producer = bus.producer().unwrap_or_else(|e| panic!("{e}"));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let consumer = bus
            .consumer("g", "t")
            .unwrap_or_else(|e| panic!("{e}"))
            .with_wait_observer(move |waited| {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(waited);
            });
        for _ in 0..2 {
            producer
                .send("t", None, b"x", 100)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        for _ in 0..2 {
            let record = consumer.recv().await.unwrap_or_else(|e| panic!("{e}"));
            assert!(record.produced_at_ms.is_some(), "{record:?}");
        }
        let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        // Each waited the 30 ms between its production and its receipt (the clock's
        // millisecond resolution allowed for), and not more than a few seconds.
        for waited in seen {
            assert!(waited >= Duration::from_millis(29), "{waited:?}");
            assert!(waited < Duration::from_secs(5), "{waited:?}");
        }
    }

    #[test]
    fn a_consumer_outside_a_runtime_is_an_error_not_a_panic() {
        let config = BusConfig::new("127.0.0.1:1", "test");
        assert!(matches!(
            create_consumer(&config, "group"),
            Err(Error::NoRuntime)
        ));
    }
}
