//! Consumer lag over a real Kafka-protocol broker (`KAFKA_BROKERS`, default 127.0.0.1:9092):
//! the high watermark minus the group's committed offset, per partition the consumer holds.

#![allow(
    clippy::panic,
    clippy::unwrap_used,
    reason = "test code: a failed expectation panics"
)]

use std::time::{Duration, Instant};

use bus::{Bus, BusConfig};

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| bus::KAFKA_BROKERS_DEFAULT.to_owned())
}

#[tokio::test]
async fn kafka_lag_is_the_high_watermark_minus_the_committed_offset() {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let topic = format!("lag-{id}");
    let group = format!("lag-group-{id}");
    let bus = Bus::Kafka(BusConfig::new(brokers(), "bus-lag-test"));
    bus.ensure_topics(&[(topic.as_str(), 2)], 15_000)
        .await
        .unwrap_or_else(|e| panic!("Kafka at {} (set KAFKA_BROKERS): {e}", brokers()));
    let producer = bus.producer().unwrap();
    for key in ["a", "b", "c", "d", "e", "f"] {
        producer
            .send(&topic, Some(key), b"x", 10_000)
            .await
            .unwrap();
    }
    let consumer = bus.consumer(&group, &topic).unwrap();
    let probe = consumer.lag_probe();
    let first = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .unwrap_or_else(|_| panic!("no message within 30 s"))
        .unwrap();
    consumer
        .commit(
            &[(first.topic.clone(), first.partition, first.offset + 1)],
            true,
        )
        .unwrap();

    // The consumer holds both partitions (it is the group's only member); one message of six
    // is committed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    while Instant::now() < deadline {
        let reading = probe.read(2_000).await;
        if let Ok(Some(lags)) = &reading {
            let partitions: Vec<i32> = lags.iter().map(|lag| lag.partition).collect();
            let total: i64 = lags.iter().map(|lag| lag.messages).sum();
            if partitions == [0, 1] && total == 5 {
                drop(consumer);
                assert!(matches!(probe.read(2_000).await, Ok(None)));
                return;
            }
        }
        last = Some(format!("{reading:?}"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("lag never read 5 over partitions 0 and 1; last reading {last:?}");
}
