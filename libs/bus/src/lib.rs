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

pub mod memory;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

pub use memory::{MemoryBus, MemoryBusConfig};

/// Broker list used when `KAFKA_BROKERS` is not set (local runs and tests).
pub const KAFKA_BROKERS_DEFAULT: &str = "127.0.0.1:9092";

// Topic names (central-ledger spec §2.1, Mojaloop's `TopicMap`).

/// Prepare requests (POST /transfers, fx-prepare, forwarded) from the API adapter to the ledger.
pub const TOPIC_TRANSFER_PREPARE: &str = "topic-transfer-prepare";
/// Fulfil requests (PUT /transfers/{id}, PUT …/error, fx variants) to the ledger.
pub const TOPIC_TRANSFER_FULFIL: &str = "topic-transfer-fulfil";
/// GET /transfers/{id} requests to the ledger.
pub const TOPIC_TRANSFER_GET: &str = "topic-transfer-get";
/// Position changes for the legacy single-message position handler.
pub const TOPIC_TRANSFER_POSITION: &str = "topic-transfer-position";
/// Position changes for the batch position handler. The rewrite sends every position action
/// here, keyed by `participantCurrencyId`, so one account's changes stay in one partition.
pub const TOPIC_TRANSFER_POSITION_BATCH: &str = "topic-transfer-position-batch";
/// Notifications from the ledger to the API adapter's notification handler (callbacks to DFSPs).
pub const TOPIC_NOTIFICATION_EVENT: &str = "topic-notification-event";
/// Funds in / funds out requests from the admin API.
pub const TOPIC_ADMIN_TRANSFER: &str = "topic-admin-transfer";
/// Bulk transfer prepare.
pub const TOPIC_BULK_PREPARE: &str = "topic-bulk-prepare";
/// Bulk transfer fulfil.
pub const TOPIC_BULK_FULFIL: &str = "topic-bulk-fulfil";
/// Bulk transfer processing.
pub const TOPIC_BULK_PROCESSING: &str = "topic-bulk-processing";
/// Bulk transfer get.
pub const TOPIC_BULK_GET: &str = "topic-bulk-get";
/// Deferred settlement window close (central-settlement).
pub const TOPIC_DEFERREDSETTLEMENT_CLOSE: &str = "topic-deferredsettlement-close";

/// Every topic named above, for [`ensure_topics`] at start-up.
pub const TOPICS_ALL: &[&str] = &[
    TOPIC_TRANSFER_PREPARE,
    TOPIC_TRANSFER_FULFIL,
    TOPIC_TRANSFER_GET,
    TOPIC_TRANSFER_POSITION,
    TOPIC_TRANSFER_POSITION_BATCH,
    TOPIC_NOTIFICATION_EVENT,
    TOPIC_ADMIN_TRANSFER,
    TOPIC_BULK_PREPARE,
    TOPIC_BULK_FULFIL,
    TOPIC_BULK_PROCESSING,
    TOPIC_BULK_GET,
    TOPIC_DEFERREDSETTLEMENT_CLOSE,
];

// Consumer group ids (central-ledger spec §2.4).

/// Group of the prepare handler.
pub const GROUP_TRANSFER_PREPARE: &str = "cl-group-transfer-prepare";
/// Group of the fulfil handler.
pub const GROUP_TRANSFER_FULFIL: &str = "cl-group-transfer-fulfil";
/// Group of the get handler.
pub const GROUP_TRANSFER_GET: &str = "cl-group-transfer-get";
/// Group of the legacy position handler.
pub const GROUP_TRANSFER_POSITION: &str = "cl-group-transfer-position";
/// Group of the batch position handler.
pub const GROUP_TRANSFER_POSITION_BATCH: &str = "cl-group-transfer-position-batch";
/// Group of the admin (funds in/out) handler.
pub const GROUP_TRANSFER_ADMIN: &str = "cl-group-transfer-admin";
/// Group of central-settlement's window-close handler.
pub const GROUP_DEFERREDSETTLEMENT_CLOSE: &str = "cs-group-deferredsettlement-close";
/// Group of central-settlement's gross settlement handler (reads notifications).
pub const GROUP_SETTLEMENT_NOTIFICATION_EVENT: &str = "cs-group-notification-event";

/// Settings shared by every Kafka client a service creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// Comma-separated `host:port` list (`bootstrap.servers`).
    pub brokers: String,
    /// Name the broker logs for this client (`client.id`).
    pub client_id: String,
    /// How long the group coordinator waits for a consumer heartbeat before it evicts the member
    /// and rebalances (`session.timeout.ms`). Real Kafka refuses values below its
    /// `group.min.session.timeout.ms` (6000 by default). Tansu holds a new group's first join for
    /// about half of this, so keep it small.
    pub session_timeout_ms: u32,
    /// Upper bound on messages waiting in the producer's local queue
    /// (`queue.buffering.max.messages`); a full queue makes `send` wait instead of growing memory.
    pub producer_queue_messages_max: u32,
    /// How long the producer keeps trying to deliver a message before reporting failure
    /// (`delivery.timeout.ms`).
    pub producer_delivery_timeout_ms: u32,
    /// How long the producer waits to fill a batch before sending it (`linger.ms`).
    pub producer_linger_ms: u32,
    /// Replication factor for topics created by [`ensure_topics`]; `-1` uses the broker's
    /// `default.replication.factor`.
    pub topic_replication_factor: i32,
    /// Longest time the broker may hold a consumer's fetch waiting for data
    /// (`fetch.wait.max.ms`). librdkafka's 500 ms default shows up as transfer latency on brokers
    /// that hold fetches to the limit (Tansu does); Apache Kafka answers as soon as data arrives.
    pub consumer_fetch_wait_max_ms: u32,
}

impl BusConfig {
    /// Default for [`BusConfig::session_timeout_ms`].
    pub const SESSION_TIMEOUT_MS_DEFAULT: u32 = 6_000;
    /// Default for [`BusConfig::producer_queue_messages_max`]. Mojaloop uses 10 000 000; a
    /// smaller bound keeps memory predictable and still covers several seconds of peak load.
    pub const PRODUCER_QUEUE_MESSAGES_MAX_DEFAULT: u32 = 100_000;
    /// Default for [`BusConfig::producer_delivery_timeout_ms`].
    pub const PRODUCER_DELIVERY_TIMEOUT_MS_DEFAULT: u32 = 30_000;
    /// Default for [`BusConfig::producer_linger_ms`] (librdkafka's own default).
    pub const PRODUCER_LINGER_MS_DEFAULT: u32 = 5;
    /// Default for [`BusConfig::topic_replication_factor`].
    pub const TOPIC_REPLICATION_FACTOR_DEFAULT: i32 = 1;
    /// Default for [`BusConfig::consumer_fetch_wait_max_ms`].
    pub const CONSUMER_FETCH_WAIT_MAX_MS_DEFAULT: u32 = 10;

    /// A configuration with the given brokers and client id and defaults for everything else.
    pub fn new(brokers: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            client_id: client_id.into(),
            session_timeout_ms: Self::SESSION_TIMEOUT_MS_DEFAULT,
            producer_queue_messages_max: Self::PRODUCER_QUEUE_MESSAGES_MAX_DEFAULT,
            producer_delivery_timeout_ms: Self::PRODUCER_DELIVERY_TIMEOUT_MS_DEFAULT,
            producer_linger_ms: Self::PRODUCER_LINGER_MS_DEFAULT,
            topic_replication_factor: Self::TOPIC_REPLICATION_FACTOR_DEFAULT,
            consumer_fetch_wait_max_ms: Self::CONSUMER_FETCH_WAIT_MAX_MS_DEFAULT,
        }
    }

    /// Checks the values librdkafka or the broker would reject later with a vaguer message.
    pub fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        if self.brokers.trim().is_empty() {
            problems.push("brokers is empty".to_owned());
        }
        if self.client_id.trim().is_empty() {
            problems.push("client_id is empty".to_owned());
        }
        if self.session_timeout_ms < 1_000 {
            problems.push(format!(
                "session_timeout_ms {} is below 1000",
                self.session_timeout_ms
            ));
        }
        if self.producer_queue_messages_max == 0 {
            problems.push("producer_queue_messages_max is 0".to_owned());
        }
        if self.producer_delivery_timeout_ms == 0 {
            problems.push("producer_delivery_timeout_ms is 0".to_owned());
        }
        if self.topic_replication_factor == 0 || self.topic_replication_factor < -1 {
            problems.push(format!(
                "topic_replication_factor {} is neither -1 nor positive",
                self.topic_replication_factor
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidConfig(problems.join("; ")))
        }
    }
}

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

/// Settings common to every client.
fn base_client_config(config: &BusConfig) -> ClientConfig {
    let mut client_config = ClientConfig::new();
    client_config
        .set("bootstrap.servers", &config.brokers)
        .set("client.id", &config.client_id)
        .set("socket.keepalive.enable", "true");
    client_config
}

/// The librdkafka settings [`create_producer`] uses, for callers that need to add their own.
pub fn producer_client_config(config: &BusConfig) -> ClientConfig {
    let mut client_config = base_client_config(config);
    client_config
        // Java-compatible murmur2 on the key, random for messages without a key: keyed messages
        // land in the same partition as they would from the Node services.
        .set("partitioner", "murmur2_random")
        .set("acks", "all")
        .set(
            "queue.buffering.max.messages",
            config.producer_queue_messages_max.to_string(),
        )
        .set(
            "delivery.timeout.ms",
            config.producer_delivery_timeout_ms.to_string(),
        )
        .set("linger.ms", config.producer_linger_ms.to_string());
    client_config
}

/// The librdkafka settings [`create_consumer`] uses, for callers that need to add their own.
pub fn consumer_client_config(config: &BusConfig, group_id: &str) -> ClientConfig {
    // librdkafka requires the heartbeat to be well inside the session timeout.
    let heartbeat_interval_ms = (config.session_timeout_ms / 3).max(100);
    let mut client_config = base_client_config(config);
    client_config
        .set("group.id", group_id)
        // Offsets are committed by the service after its work is durable, never on a timer.
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", config.session_timeout_ms.to_string())
        .set(
            "fetch.wait.max.ms",
            config.consumer_fetch_wait_max_ms.to_string(),
        )
        .set("heartbeat.interval.ms", heartbeat_interval_ms.to_string());
    client_config
}

/// A producer with the switch's settings: `murmur2_random` partitioner, `acks=all`, a bounded
/// local queue and a delivery timeout.
pub fn create_producer(config: &BusConfig) -> Result<FutureProducer, Error> {
    config.validate()?;
    producer_client_config(config)
        .create()
        .map_err(|source| Error::ClientCreation {
            client: "producer",
            source,
        })
}

/// A consumer in `group_id` that never auto-commits and starts from the earliest offset when
/// the group has no committed offset. The caller subscribes it and commits explicitly.
///
/// Must be called inside a Tokio runtime: the consumer spawns its wake-up task on creation.
pub fn create_consumer(config: &BusConfig, group_id: &str) -> Result<StreamConsumer, Error> {
    config.validate()?;
    if group_id.trim().is_empty() {
        return Err(Error::InvalidConfig("group_id is empty".to_owned()));
    }
    // rdkafka would panic instead.
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(Error::NoRuntime);
    }
    consumer_client_config(config, group_id)
        .create()
        .map_err(|source| Error::ClientCreation {
            client: "consumer",
            source,
        })
}

/// Creates each `(name, partitions)` topic that does not exist yet, then waits until the broker's
/// metadata lists all of them. A topic that already exists counts as success, whatever its
/// partition count. The whole call is bounded by `timeout_ms`.
pub async fn ensure_topics(
    config: &BusConfig,
    topics: &[(&str, i32)],
    timeout_ms: u64,
) -> Result<(), Error> {
    config.validate()?;
    if topics.is_empty() {
        return Ok(());
    }
    if let Some((name, partitions)) = topics
        .iter()
        .find(|(name, partitions)| name.is_empty() || *partitions < 1)
    {
        return Err(Error::InvalidConfig(format!(
            "topic {name:?} with {partitions} partitions"
        )));
    }
    let deadline = Instant::now()
        .checked_add(Duration::from_millis(timeout_ms))
        .ok_or_else(|| Error::InvalidConfig(format!("timeout_ms {timeout_ms} is too large")))?;
    let admin: AdminClient<DefaultClientContext> =
        base_client_config(config)
            .create()
            .map_err(|source| Error::ClientCreation {
                client: "admin client",
                source,
            })?;

    create_topics(&admin, config, topics, deadline, timeout_ms).await?;
    wait_for_topics_metadata(admin, topics, deadline, timeout_ms).await
}

/// Sends the CreateTopics request and checks each topic's result.
async fn create_topics(
    admin: &AdminClient<DefaultClientContext>,
    config: &BusConfig,
    topics: &[(&str, i32)],
    deadline: Instant,
    timeout_ms: u64,
) -> Result<(), Error> {
    let new_topics: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, partitions)| {
            NewTopic::new(
                name,
                *partitions,
                TopicReplication::Fixed(config.topic_replication_factor),
            )
        })
        .collect();
    let remaining = deadline.saturating_duration_since(Instant::now());
    let options = AdminOptions::new()
        .request_timeout(Some(remaining))
        .operation_timeout(Some(remaining));
    let results = tokio::time::timeout(remaining, admin.create_topics(&new_topics, &options))
        .await
        .map_err(|_elapsed| Error::Timeout {
            operation: "creating topics".to_owned(),
            timeout_ms,
        })??;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(Error::TopicCreation { topic, code }),
        }
    }
    Ok(())
}

/// Polls the broker's metadata until every topic is listed with at least one partition, so that
/// producers and consumers created next see the topics at once.
async fn wait_for_topics_metadata(
    admin: AdminClient<DefaultClientContext>,
    topics: &[(&str, i32)],
    deadline: Instant,
    timeout_ms: u64,
) -> Result<(), Error> {
    const POLL_INTERVAL_MS: u64 = 50;
    let names: Vec<String> = topics.iter().map(|(name, _)| (*name).to_owned()).collect();
    // Metadata requests block the calling thread, so they run on the blocking pool.
    let wait = tokio::task::spawn_blocking(move || -> Result<bool, KafkaError> {
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Ok(false);
            }
            let mut all_listed = true;
            for name in &names {
                let metadata = admin.inner().fetch_metadata(Some(name), remaining)?;
                all_listed &= metadata.topics().iter().any(|topic| {
                    topic.name() == name
                        && topic.error().is_none()
                        && !topic.partitions().is_empty()
                });
                if !all_listed {
                    break;
                }
            }
            if all_listed {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS).min(remaining));
        }
    });
    let listed = wait.await??;
    if listed {
        Ok(())
    } else {
        Err(Error::Timeout {
            operation: "waiting for created topics in the broker metadata".to_owned(),
            timeout_ms,
        })
    }
}

/// Where a service's messages go: a Kafka cluster, or the embedded bus of this process.
#[derive(Debug, Clone)]
pub enum Bus {
    Kafka(BusConfig),
    Memory(MemoryBus),
}

/// Extra time over a send's own timeout before it is given up locally (the delivery report
/// of a message librdkafka timed out arrives a little after the timeout).
const SEND_GRACE_MS: u64 = 1_000;

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
}

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
        }
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
                }
            }
            ConsumerClient::Memory(consumer) => consumer.recv().await?,
        };
        if let Some(batches) = &self.batches {
            batches.received();
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

/// Consumer lag: how many messages of each partition a consumer group has not committed yet.
pub mod lag {
    use super::*;

    /// The lag of one partition.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PartitionLag {
        pub partition: i32,
        /// Messages after the group's committed offset: the partition's end offset (Kafka's
        /// high watermark) minus the committed offset, or minus the partition's first offset
        /// when the group never committed there; never negative.
        pub messages: i64,
    }

    /// Reads the lag of one [`Consumer`] while the consumer is used elsewhere; made by
    /// [`Consumer::lag_probe`]. Holds the consumer weakly: once the consumer is dropped the
    /// probe reads nothing.
    #[derive(Clone)]
    pub struct LagProbe {
        pub(crate) client: std::sync::Weak<ConsumerClient>,
        pub(crate) group: String,
        pub(crate) topic: String,
    }

    impl std::fmt::Debug for LagProbe {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("LagProbe")
                .field("group", &self.group)
                .field("topic", &self.topic)
                .finish_non_exhaustive()
        }
    }

    /// Longest a lag reading over Kafka may take (the broker is asked for the committed
    /// offsets and each partition's watermarks).
    pub const LAG_TIMEOUT_MS_MAX: u64 = 2_000;

    impl LagProbe {
        pub fn group(&self) -> &str {
            &self.group
        }

        pub fn topic(&self) -> &str {
            &self.topic
        }

        /// The lag of each partition the consumer holds (over Kafka, its current
        /// assignment, so the members of a group each report their own partitions; on the
        /// embedded bus, every partition). `None` once the consumer is gone. Over Kafka the
        /// broker is asked, within `timeout_ms` in all.
        pub async fn read(&self, timeout_ms: u64) -> Result<Option<Vec<PartitionLag>>, Error> {
            let Some(client) = self.client.upgrade() else {
                return Ok(None);
            };
            if let ConsumerClient::Memory(consumer) = client.as_ref() {
                let lags = consumer
                    .lag()
                    .into_iter()
                    .map(|(partition, messages)| PartitionLag {
                        partition,
                        messages,
                    })
                    .collect();
                return Ok(Some(lags));
            }
            // The broker calls block: run them on the blocking pool.
            let topic = self.topic.clone();
            let lags = tokio::task::spawn_blocking(move || match client.as_ref() {
                ConsumerClient::Kafka(consumer) => kafka_lag(consumer, &topic, timeout_ms),
                ConsumerClient::Memory(_) => Ok(Vec::new()),
            })
            .await??;
            Ok(Some(lags))
        }
    }

    fn kafka_lag(
        consumer: &StreamConsumer,
        topic: &str,
        timeout_ms: u64,
    ) -> Result<Vec<PartitionLag>, Error> {
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        let timed_out = || Error::Timeout {
            operation: format!("reading the consumer lag of {topic}"),
            timeout_ms,
        };
        let remaining = || {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                Err(timed_out())
            } else {
                Ok(left)
            }
        };
        let assignment = consumer.assignment()?;
        let mut held = TopicPartitionList::new();
        for element in assignment.elements_for_topic(topic) {
            held.add_partition(topic, element.partition());
        }
        if held.count() == 0 {
            return Ok(Vec::new());
        }
        let committed = consumer.committed_offsets(held, remaining()?)?;
        let mut lags = Vec::new();
        for element in committed.elements_for_topic(topic) {
            let partition = element.partition();
            let (low, high) = consumer.fetch_watermarks(topic, partition, remaining()?)?;
            lags.push(PartitionLag {
                partition,
                messages: partition_lag(element.offset(), low, high),
            });
        }
        lags.sort_by_key(|lag| lag.partition);
        Ok(lags)
    }

    /// `high - committed`, or `high - low` when the group has no committed offset there.
    pub(crate) fn partition_lag(committed: Offset, low: i64, high: i64) -> i64 {
        let from = match committed {
            Offset::Offset(offset) => offset.max(low),
            _ => low,
        };
        (high - from).max(0)
    }

    /// Reads every probe every `interval_ms` and hands each reading to `publish` (the
    /// partitions' lags, or the error that stopped the reading), until `stop` changes or
    /// every probe's consumer is gone; a consumer that went away is reported once with no
    /// partitions. `interval_ms` 0 returns at once (lag not watched). Each reading is bounded
    /// by the smaller of the interval and [`LAG_TIMEOUT_MS_MAX`].
    pub async fn watch(
        probes: Vec<LagProbe>,
        interval_ms: u64,
        mut stop: tokio::sync::watch::Receiver<bool>,
        mut publish: impl FnMut(&LagProbe, Result<&[PartitionLag], &Error>) + Send,
    ) {
        if interval_ms == 0 || probes.is_empty() {
            return;
        }
        let timeout_ms = interval_ms.min(LAG_TIMEOUT_MS_MAX);
        let mut probes = probes;
        let mut ticks = tokio::time::interval(Duration::from_millis(interval_ms));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !probes.is_empty() {
            tokio::select! {
                _ = stop.changed() => return,
                _ = ticks.tick() => {}
            }
            let mut gone = Vec::new();
            for (index, probe) in probes.iter().enumerate() {
                let reading = tokio::select! {
                    _ = stop.changed() => return,
                    reading = probe.read(timeout_ms) => reading,
                };
                match reading {
                    Ok(Some(lags)) => publish(probe, Ok(&lags)),
                    Ok(None) => {
                        publish(probe, Ok(&[]));
                        gone.push(index);
                    }
                    Err(error) => publish(probe, Err(&error)),
                }
            }
            for index in gone.into_iter().rev() {
                probes.remove(index);
            }
        }
    }
}

pub use lag::LagProbe;

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
        assert_eq!(client_config.get("fetch.wait.max.ms"), Some("10"));
    }

    #[test]
    fn validate_lists_every_problem() -> Result<(), String> {
        let mut config = BusConfig::new("", "");
        config.session_timeout_ms = 10;
        config.topic_replication_factor = 0;
        let Err(Error::InvalidConfig(message)) = config.validate() else {
            return Err("expected InvalidConfig".to_owned());
        };
        for expected in [
            "brokers",
            "client_id",
            "session_timeout_ms",
            "topic_replication_factor",
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

    #[test]
    fn a_consumer_outside_a_runtime_is_an_error_not_a_panic() {
        let config = BusConfig::new("127.0.0.1:1", "test");
        assert!(matches!(
            create_consumer(&config, "group"),
            Err(Error::NoRuntime)
        ));
    }
}
