//! Integration tests against a real Kafka-protocol broker (Kafka or Tansu) at `KAFKA_BROKERS`
//! (default `127.0.0.1:9092`).
//!
//! They fail, never skip, when no broker answers: `.ci/run` starts one, and a developer can run
//! `docker-compose up kafka`. Every test uses its own topic and consumer group, so the tests run
//! in parallel and leave nothing behind that another run could trip over. Every wait is bounded
//! by [`STEP_TIMEOUT_MS`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bus::{create_consumer, create_producer, ensure_topics, BusConfig, KAFKA_BROKERS_DEFAULT};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Upper bound for each step that waits on the broker.
const STEP_TIMEOUT_MS: u64 = 30_000;
/// Upper bound for the TCP probe that tells "no broker" apart from a broker-side failure.
const CONNECT_TIMEOUT_MS: u64 = 5_000;
const PARTITIONS: i32 = 3;

/// A message as the consumer saw it.
#[derive(Debug, Clone)]
struct Received {
    key: String,
    payload: String,
    partition: i32,
    offset: i64,
}

/// The broker configuration, or an error explaining that no broker answers.
fn broker_config(client_id: &str) -> TestResult<BusConfig> {
    let brokers =
        std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| KAFKA_BROKERS_DEFAULT.to_owned());
    let mut failures = Vec::new();
    for broker in brokers.split(',').map(str::trim) {
        let addresses = match broker.to_socket_addrs() {
            Ok(addresses) => addresses,
            Err(error) => {
                failures.push(format!("{broker}: {error}"));
                continue;
            }
        };
        for address in addresses {
            match TcpStream::connect_timeout(&address, Duration::from_millis(CONNECT_TIMEOUT_MS)) {
                Ok(_) => return Ok(BusConfig::new(brokers.clone(), client_id)),
                Err(error) => failures.push(format!("{address}: {error}")),
            }
        }
    }
    Err(format!(
        "no Kafka broker answers at KAFKA_BROKERS={brokers} ({}); start one with `bash .ci/run` \
         (Tansu) or `docker-compose up -d kafka`, or point KAFKA_BROKERS at a running broker",
        failures.join("; ")
    )
    .into())
}

fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Produces one message and waits for its delivery report; returns (partition, offset).
async fn produce(
    producer: &FutureProducer,
    record: FutureRecord<'_, str, str>,
) -> TestResult<(i32, i64)> {
    let delivery = producer
        .send(record, Duration::from_millis(STEP_TIMEOUT_MS))
        .await
        .map_err(|(error, _message)| error)?;
    Ok((delivery.partition, delivery.offset))
}

/// Receives exactly `count` messages, failing if they do not all arrive within the timeout.
async fn receive(consumer: &StreamConsumer, count: usize) -> TestResult<Vec<Received>> {
    let deadline = Instant::now() + Duration::from_millis(STEP_TIMEOUT_MS);
    let mut received = Vec::with_capacity(count);
    while received.len() < count {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(remaining, consumer.recv())
            .await
            .map_err(|_elapsed| {
                format!(
                    "only {} of {count} messages arrived within {STEP_TIMEOUT_MS} ms",
                    received.len()
                )
            })??;
        let text =
            |bytes: Option<&[u8]>| String::from_utf8_lossy(bytes.unwrap_or_default()).into_owned();
        received.push(Received {
            key: text(message.key()),
            payload: text(message.payload()),
            partition: message.partition(),
            offset: message.offset(),
        });
    }
    Ok(received)
}

/// The group's committed offset for each partition of `topic` (partitions without one are absent).
fn committed_offsets(consumer: &StreamConsumer, topic: &str) -> TestResult<BTreeMap<i32, i64>> {
    let committed =
        tokio::task::block_in_place(|| consumer.committed(Duration::from_millis(STEP_TIMEOUT_MS)))?;
    Ok(committed
        .elements_for_topic(topic)
        .iter()
        .filter_map(|element| match element.offset() {
            Offset::Offset(offset) => Some((element.partition(), offset)),
            _ => None,
        })
        .collect())
}

/// The high watermark (next offset to be written) of each partition of `topic`.
fn high_watermarks(consumer: &StreamConsumer, topic: &str) -> TestResult<BTreeMap<i32, i64>> {
    let mut watermarks = BTreeMap::new();
    for partition in 0..PARTITIONS {
        let (_low, high) = tokio::task::block_in_place(|| {
            consumer.fetch_watermarks(topic, partition, Duration::from_millis(STEP_TIMEOUT_MS))
        })?;
        watermarks.insert(partition, high);
    }
    Ok(watermarks)
}

/// Closes a consumer (leaving its group) without blocking the async workers.
fn close(consumer: StreamConsumer) {
    consumer.unsubscribe();
    tokio::task::block_in_place(|| drop(consumer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_messages_arrive_exactly_once_in_key_order_and_offsets_commit() -> TestResult {
    const KEYS: usize = 5;
    const MESSAGES: usize = 50;
    let config = broker_config("bus-smoke-exactly-once")?;
    let topic = unique_name("bus-smoke-topic");
    let group = unique_name("bus-smoke-group");

    ensure_topics(&config, &[(&topic, PARTITIONS)], STEP_TIMEOUT_MS).await?;
    // A second call finds the topic already there, which is success.
    ensure_topics(&config, &[(&topic, PARTITIONS)], STEP_TIMEOUT_MS).await?;

    // Sent one at a time, so the send order per key is the order the test expects back.
    let producer = create_producer(&config)?;
    let mut sent = BTreeSet::new();
    let mut partition_by_key: BTreeMap<String, i32> = BTreeMap::new();
    let mut end_offsets: BTreeMap<i32, i64> = BTreeMap::new();
    for index in 0..MESSAGES {
        let key = format!("key-{}", index % KEYS);
        let payload = format!("{key}/{}", index / KEYS);
        let (partition, offset) = produce(
            &producer,
            FutureRecord::to(&topic)
                .key(key.as_str())
                .payload(payload.as_str()),
        )
        .await?;
        let key_partition = *partition_by_key.entry(key.clone()).or_insert(partition);
        assert_eq!(
            key_partition, partition,
            "key {key} moved between partitions"
        );
        let end_offset = end_offsets.entry(partition).or_insert(0);
        *end_offset = (*end_offset).max(offset + 1);
        sent.insert(payload);
    }
    assert_eq!(sent.len(), MESSAGES);

    let consumer = create_consumer(&config, &group)?;
    consumer.subscribe(&[&topic])?;
    let received = receive(&consumer, MESSAGES).await?;

    // Exactly once: 50 distinct payloads, and they are the 50 sent.
    let received_payloads: BTreeSet<String> = received
        .iter()
        .map(|message| message.payload.clone())
        .collect();
    assert_eq!(
        received_payloads.len(),
        MESSAGES,
        "duplicates in {received:?}"
    );
    assert_eq!(received_payloads, sent);
    // ... and nothing is left unread: the consumer stands at every partition's end.
    for message in &received {
        assert!(
            message.payload.starts_with(&format!("{}/", message.key)),
            "{message:?}"
        );
        assert_eq!(partition_by_key.get(&message.key), Some(&message.partition));
    }
    assert_eq!(high_watermarks(&consumer, &topic)?, {
        let mut expected: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
        expected.extend(end_offsets.clone());
        expected
    });

    // Per-key order: each key's sequence numbers come back as 0, 1, 2, ...
    let mut sequences: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for message in &received {
        let sequence = message
            .payload
            .rsplit('/')
            .next()
            .ok_or("payload without sequence")?
            .parse::<usize>()?;
        sequences
            .entry(message.key.as_str())
            .or_default()
            .push(sequence);
    }
    assert_eq!(sequences.len(), KEYS);
    for (key, sequence) in &sequences {
        let expected: Vec<usize> = (0..MESSAGES / KEYS).collect();
        assert_eq!(sequence, &expected, "order of key {key}");
    }

    // Commit and read the commit back: the group's offset is the end of each used partition.
    consumer.commit_consumer_state(CommitMode::Sync)?;
    assert_eq!(committed_offsets(&consumer, &topic)?, end_offsets);
    close(consumer);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_group_member_resumes_from_committed_offsets() -> TestResult {
    const OLD_PER_PARTITION: usize = 4;
    let config = broker_config("bus-smoke-resume")?;
    let topic = unique_name("bus-smoke-topic");
    let group = unique_name("bus-smoke-group");
    ensure_topics(&config, &[(&topic, PARTITIONS)], STEP_TIMEOUT_MS).await?;
    let producer = create_producer(&config)?;

    // Old messages on every partition, consumed and committed by a first member.
    for partition in 0..PARTITIONS {
        for index in 0..OLD_PER_PARTITION {
            let payload = format!("old/{partition}/{index}");
            let record = FutureRecord::to(&topic)
                .partition(partition)
                .key("old")
                .payload(payload.as_str());
            produce(&producer, record).await?;
        }
    }
    let old_count = OLD_PER_PARTITION * usize::try_from(PARTITIONS)?;
    let first = create_consumer(&config, &group)?;
    first.subscribe(&[&topic])?;
    let old = receive(&first, old_count).await?;
    assert!(
        old.iter()
            .all(|message| message.payload.starts_with("old/")),
        "{old:?}"
    );
    first.commit_consumer_state(CommitMode::Sync)?;
    let committed = committed_offsets(&first, &topic)?;
    let expected_committed: BTreeMap<i32, i64> = (0..PARTITIONS)
        .map(|partition| Ok((partition, i64::try_from(OLD_PER_PARTITION)?)))
        .collect::<Result<_, std::num::TryFromIntError>>()?;
    assert_eq!(committed, expected_committed);
    close(first);

    // A second member of the same group, then one new message per partition. If the committed
    // offsets were ignored, an old message would come first on its partition.
    let second = create_consumer(&config, &group)?;
    second.subscribe(&[&topic])?;
    let mut new_offsets = BTreeMap::new();
    for partition in 0..PARTITIONS {
        let payload = format!("new/{partition}");
        let record = FutureRecord::to(&topic)
            .partition(partition)
            .key("new")
            .payload(payload.as_str());
        let (delivered_partition, offset) = produce(&producer, record).await?;
        new_offsets.insert(delivered_partition, offset);
    }
    let new = receive(&second, usize::try_from(PARTITIONS)?).await?;
    let mut seen_partitions = BTreeSet::new();
    for message in &new {
        assert_eq!(
            message.payload,
            format!("new/{}", message.partition),
            "{new:?}"
        );
        assert_eq!(message.key, "new");
        assert_eq!(new_offsets.get(&message.partition), Some(&message.offset));
        assert!(seen_partitions.insert(message.partition), "{new:?}");
    }
    assert_eq!(seen_partitions.len(), new_offsets.len());
    close(second);
    Ok(())
}
