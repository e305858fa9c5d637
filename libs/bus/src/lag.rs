//! Consumer lag: how many messages of each partition a consumer group has not committed yet.

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
