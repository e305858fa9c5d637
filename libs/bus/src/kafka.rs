//! Kafka through rdkafka: the clients' settings ([`BusConfig`]), their construction and topic
//! creation ([`ensure_topics`]).

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::StreamConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;

use crate::Error;

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
    /// (`fetch.wait.max.ms`). Apache Kafka answers as soon as data arrives, so there it only
    /// sets how often an idle consumer asks (its inverse). Tansu 0.6 holds fetches for about
    /// this long even when data is there: a latency floor per hop, and the shorter it is the
    /// more fetches it serves, busy or idle (10 ms: a third of a core idle; perf/README.md).
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
    pub const CONSUMER_FETCH_WAIT_MAX_MS_DEFAULT: u32 = 100;
    /// Largest [`BusConfig::consumer_fetch_wait_max_ms`] librdkafka takes.
    pub const CONSUMER_FETCH_WAIT_MAX_MS_LIMIT: u32 = 300_000;
    /// Largest [`BusConfig::producer_linger_ms`] librdkafka takes.
    pub const PRODUCER_LINGER_MS_LIMIT: u32 = 900_000;

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

    /// The fetch wait and linger outside what librdkafka takes, each named by its key
    /// (services report them under `kafka.` at start-up; [`BusConfig::validate`] too).
    pub fn tuning_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(1..=Self::CONSUMER_FETCH_WAIT_MAX_MS_LIMIT).contains(&self.consumer_fetch_wait_max_ms)
        {
            problems.push(format!(
                "consumer_fetch_wait_max_ms must be between 1 and {} (is {})",
                Self::CONSUMER_FETCH_WAIT_MAX_MS_LIMIT,
                self.consumer_fetch_wait_max_ms
            ));
        }
        if self.producer_linger_ms > Self::PRODUCER_LINGER_MS_LIMIT {
            problems.push(format!(
                "producer_linger_ms must be at most {} (is {})",
                Self::PRODUCER_LINGER_MS_LIMIT,
                self.producer_linger_ms
            ));
        }
        problems
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
        problems.extend(self.tuning_problems());
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
    let admin = admin_client(config)?;

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

/// An admin client on `config`'s brokers.
fn admin_client(config: &BusConfig) -> Result<AdminClient<DefaultClientContext>, Error> {
    base_client_config(config)
        .create()
        .map_err(|source| Error::ClientCreation {
            client: "admin client",
            source,
        })
}

/// The number of partitions the broker lists for each of `topics` (0: not listed), read from
/// its metadata; the whole call is bounded by `timeout_ms`.
pub async fn partition_counts(
    config: &BusConfig,
    topics: &[&str],
    timeout_ms: u64,
) -> Result<Vec<(String, usize)>, Error> {
    config.validate()?;
    let admin = admin_client(config)?;
    let names: Vec<String> = topics.iter().map(|name| (*name).to_owned()).collect();
    let timeout = Duration::from_millis(timeout_ms);
    // Metadata requests block the calling thread, so they run on the blocking pool.
    let counts = tokio::task::spawn_blocking(move || -> Result<_, KafkaError> {
        let metadata = admin.inner().fetch_metadata(None, timeout)?;
        Ok(names
            .into_iter()
            .map(|name| {
                let count = metadata
                    .topics()
                    .iter()
                    .find(|topic| topic.name() == name && topic.error().is_none())
                    .map_or(0, |topic| topic.partitions().len());
                (name, count)
            })
            .collect())
    });
    Ok(counts.await??)
}
