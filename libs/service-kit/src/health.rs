//! The health body every Mojaloop service answers `GET /health` with, and its HTTP response:
//!
//! ```json
//! {"status":"OK","uptime":12.5,"startTime":"2024-01-01T00:00:00.000Z","versionNumber":"0.1.0",
//!  "services":[{"name":"datastore","status":"OK"}]}
//! ```
//!
//! `services` is left out when a service has no dependencies to report. The overall status is
//! `DOWN` as soon as one sub-service is.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::Response;
use serde::{Deserialize, Serialize};

/// `OK` or `DOWN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "DOWN")]
    Down,
}

impl Status {
    /// `Ok` when `healthy`, else `Down`.
    pub fn from_healthy(healthy: bool) -> Status {
        if healthy {
            Status::Ok
        } else {
            Status::Down
        }
    }
}

/// One dependency's state (`datastore`, `broker`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubServiceHealth {
    pub name: String,
    pub status: Status,
}

impl SubServiceHealth {
    pub fn new(name: impl Into<String>, status: Status) -> Self {
        SubServiceHealth {
            name: name.into(),
            status,
        }
    }
}

/// The `/health` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// `DOWN` if any sub-service is down.
    pub status: Status,
    /// Seconds since the service started (Mojaloop's `process.uptime()`).
    pub uptime: f64,
    /// When the service started, `YYYY-MM-DDTHH:mm:ss.SSSZ`.
    pub start_time: String,
    /// The service's version.
    pub version_number: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<SubServiceHealth>,
}

impl HealthReport {
    /// The report now, for a service started at `start`.
    pub fn new(start: SystemTime, version: &str, services: Vec<SubServiceHealth>) -> Self {
        HealthReport::at(start, SystemTime::now(), version, services)
    }

    /// The report at `now` (for tests and callers that already read the clock).
    pub fn at(
        start: SystemTime,
        now: SystemTime,
        version: &str,
        services: Vec<SubServiceHealth>,
    ) -> Self {
        let uptime = now
            .duration_since(start)
            .map(|elapsed| elapsed.as_secs_f64())
            .unwrap_or(0.0);
        let status =
            Status::from_healthy(services.iter().all(|service| service.status == Status::Ok));
        HealthReport {
            status,
            uptime,
            start_time: fspiop::datetime::format_date_time(epoch_ms(start)),
            version_number: version.to_string(),
            services,
        }
    }
}

/// Milliseconds since the epoch (negative before it), saturating.
fn epoch_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis())
            .map(|ms| -ms)
            .unwrap_or(i64::MIN),
    }
}

/// 200 with the report when it is `OK`, `down_status` (502 or 503 in Mojaloop's services)
/// when it is `DOWN`.
pub fn health_response(report: HealthReport, down_status: u16) -> Response {
    let status = match report.status {
        Status::Ok => 200,
        Status::Down => down_status,
    };
    crate::http::json_response(status, &report)
}

/// The `/health` answer of a service that depends on a database and a message broker: both
/// listed as sub-services, HTTP 502 when either is down (Mojaloop's central services).
pub fn datastore_and_broker(
    started: SystemTime,
    version: &str,
    datastore_up: bool,
    broker_up: bool,
) -> Response {
    let report = HealthReport::new(
        started,
        version,
        vec![
            SubServiceHealth::new("datastore", Status::from_healthy(datastore_up)),
            SubServiceHealth::new("broker", Status::from_healthy(broker_up)),
        ],
    );
    health_response(report, 502)
}

/// [`datastore_and_broker`] for a service with background tasks ([`crate::tasks::TaskWatch`]):
/// Mojaloop's shape while they all run; one more entry, `handlers` DOWN, once one has ended.
pub fn datastore_broker_and_tasks(
    started: SystemTime,
    version: &str,
    datastore_up: bool,
    broker_up: bool,
    tasks: &crate::tasks::TaskWatch,
) -> Response {
    let ended = tasks.ended();
    let mut services = vec![
        SubServiceHealth::new("datastore", Status::from_healthy(datastore_up)),
        SubServiceHealth::new("broker", Status::from_healthy(broker_up)),
    ];
    if !ended.is_empty() {
        tracing::warn!(tasks = ?ended, "health DOWN: background tasks ended");
        services.push(SubServiceHealth::new(
            "handlers",
            Status::from_healthy(false),
        ));
    }
    health_response(HealthReport::new(started, version, services), 502)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn start() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_704_067_200_123)
    }

    #[test]
    fn ok_report_without_services_has_the_exact_shape() {
        let report = HealthReport::at(
            start(),
            start() + Duration::from_millis(12_500),
            "1.2.3",
            vec![],
        );
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"status":"OK","uptime":12.5,"startTime":"2024-01-01T00:00:00.123Z","versionNumber":"1.2.3"}"#
        );
    }

    #[test]
    fn a_down_sub_service_makes_the_report_down() {
        let services = vec![
            SubServiceHealth::new("datastore", Status::Ok),
            SubServiceHealth::new("broker", Status::Down),
        ];
        let report = HealthReport::at(start(), start() + Duration::from_secs(2), "0.1.0", services);
        assert_eq!(report.status, Status::Down);
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"status":"DOWN","uptime":2.0,"startTime":"2024-01-01T00:00:00.123Z","versionNumber":"0.1.0","services":[{"name":"datastore","status":"OK"},{"name":"broker","status":"DOWN"}]}"#
        );
    }

    #[test]
    fn clock_before_start_gives_zero_uptime() {
        let report = HealthReport::at(start(), start() - Duration::from_secs(1), "0.1.0", vec![]);
        assert_eq!(report.uptime, 0.0);
        assert!(HealthReport::new(start(), "0.1.0", vec![]).uptime > 0.0);
    }

    #[tokio::test]
    async fn response_status_follows_the_report() {
        let ok = HealthReport::at(
            start(),
            start(),
            "0.1.0",
            vec![SubServiceHealth::new("datastore", Status::Ok)],
        );
        let response = health_response(ok, 502);
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");

        let down = HealthReport::at(
            start(),
            start(),
            "0.1.0",
            vec![SubServiceHealth::new("datastore", Status::Down)],
        );
        let response = health_response(down, 502);
        assert_eq!(response.status(), 502);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let back: HealthReport = serde_json::from_slice(&body).unwrap();
        assert_eq!(back.status, Status::Down);
        assert_eq!(back.services.len(), 1);
    }
}
