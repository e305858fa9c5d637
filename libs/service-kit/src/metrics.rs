//! A small Prometheus registry: labelled counters, gauges and histograms, rendered in the text
//! exposition format 0.0.4 for `GET /metrics`.
//!
//! Names are `<prefix>_<name>` (the prefix may carry its own trailing `_`); the registry also
//! renders the unprefixed `process_start_time_seconds` gauge. Handles ([`Counter`], [`Gauge`],
//! [`Histogram`], [`Registry`]) are cheap to clone and can be used from any thread; each
//! metric family has its own lock, held only to update or render it.
//!
//! Registering a name twice with the same kind and labels returns the existing metric.
//! Mistakes in our own code never panic: an invalid name or a clashing registration is
//! logged and yields a metric that is not rendered, and a sample with the wrong number of
//! label values is logged and dropped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::Response;

/// Histogram buckets for request and handler durations, in seconds.
pub const DEFAULT_BUCKETS_SECONDS: [f64; 7] = [0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0];

/// Content type of the text exposition format.
pub const CONTENT_TYPE_PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a metrics lock leaves consistent numbers behind; keep going.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The metrics of one process.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<RegistryInner>,
}

struct RegistryInner {
    prefix: String,
    process_start_time_seconds: f64,
    families: Mutex<Vec<Family>>,
}

#[derive(Clone)]
enum Family {
    Counter(Arc<CounterFamily>),
    Gauge(Arc<GaugeFamily>),
    Histogram(Arc<HistogramFamily>),
}

impl Family {
    fn name(&self) -> &str {
        match self {
            Family::Counter(family) => &family.name,
            Family::Gauge(family) => &family.name,
            Family::Histogram(family) => &family.name,
        }
    }
}

impl Registry {
    /// A registry whose metric names start with `prefix` (`"central_ledger"` gives
    /// `central_ledger_<name>`; an empty prefix gives bare names). The process start time is
    /// taken as now.
    pub fn new(prefix: &str) -> Self {
        Registry::with_start_time(prefix, SystemTime::now())
    }

    /// [`Registry::new`] with the process start time given.
    pub fn with_start_time(prefix: &str, process_start: SystemTime) -> Self {
        let process_start_time_seconds = process_start
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_secs_f64())
            .unwrap_or(0.0);
        let prefix = if prefix.is_empty() || prefix.ends_with('_') {
            prefix.to_string()
        } else {
            format!("{prefix}_")
        };
        Registry {
            inner: Arc::new(RegistryInner {
                prefix,
                process_start_time_seconds,
                families: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A counter `<prefix>_<name>` with the given label names.
    pub fn counter(&self, name: &str, help: &str, label_names: &[&str]) -> Counter {
        let full_name = format!("{}{name}", self.inner.prefix);
        let labels = owned(label_names);
        let fresh = || Arc::new(CounterFamily::new(full_name.clone(), help, labels.clone()));
        if let Err(problem) = check_names(&full_name, &labels, false) {
            tracing::warn!(metric = %full_name, problem, "counter not registered");
            return Counter { family: fresh() };
        }
        let mut families = lock(&self.inner.families);
        match families.iter().find(|family| family.name() == full_name) {
            Some(Family::Counter(existing)) if existing.label_names == labels => Counter {
                family: existing.clone(),
            },
            Some(_) => {
                tracing::warn!(metric = %full_name, "metric already registered with another kind or labels");
                Counter { family: fresh() }
            }
            None => {
                let family = fresh();
                families.push(Family::Counter(family.clone()));
                Counter { family }
            }
        }
    }

    /// A gauge `<prefix>_<name>` with the given label names: a value that goes up and down.
    pub fn gauge(&self, name: &str, help: &str, label_names: &[&str]) -> Gauge {
        let full_name = format!("{}{name}", self.inner.prefix);
        let labels = owned(label_names);
        let fresh = || Arc::new(GaugeFamily::new(full_name.clone(), help, labels.clone()));
        if let Err(problem) = check_names(&full_name, &labels, false) {
            tracing::warn!(metric = %full_name, problem, "gauge not registered");
            return Gauge { family: fresh() };
        }
        let mut families = lock(&self.inner.families);
        match families.iter().find(|family| family.name() == full_name) {
            Some(Family::Gauge(existing)) if existing.label_names == labels => Gauge {
                family: existing.clone(),
            },
            Some(_) => {
                tracing::warn!(metric = %full_name, "metric already registered with another kind or labels");
                Gauge { family: fresh() }
            }
            None => {
                let family = fresh();
                families.push(Family::Gauge(family.clone()));
                Gauge { family }
            }
        }
    }

    /// A histogram `<prefix>_<name>` with the given label names and upper bucket bounds in
    /// seconds (sorted and deduplicated here; non-finite bounds are dropped, `+Inf` is always
    /// there).
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
        buckets_seconds: &[f64],
    ) -> Histogram {
        let full_name = format!("{}{name}", self.inner.prefix);
        let labels = owned(label_names);
        let mut bounds: Vec<f64> = buckets_seconds
            .iter()
            .copied()
            .filter(|bound| bound.is_finite())
            .collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let fresh = || {
            Arc::new(HistogramFamily::new(
                full_name.clone(),
                help,
                labels.clone(),
                bounds.clone(),
            ))
        };
        if let Err(problem) = check_names(&full_name, &labels, true) {
            tracing::warn!(metric = %full_name, problem, "histogram not registered");
            return Histogram { family: fresh() };
        }
        let mut families = lock(&self.inner.families);
        match families.iter().find(|family| family.name() == full_name) {
            Some(Family::Histogram(existing))
                if existing.label_names == labels && existing.buckets_seconds == bounds =>
            {
                Histogram {
                    family: existing.clone(),
                }
            }
            Some(_) => {
                tracing::warn!(metric = %full_name, "metric already registered with another kind, labels or buckets");
                Histogram { family: fresh() }
            }
            None => {
                let family = fresh();
                families.push(Family::Histogram(family.clone()));
                Histogram { family }
            }
        }
    }

    /// Every metric in the text exposition format 0.0.4, in registration order, series
    /// sorted by label values, then `process_start_time_seconds`.
    pub fn render(&self) -> String {
        let families: Vec<Family> = lock(&self.inner.families).clone();
        let mut out = String::new();
        for family in &families {
            match family {
                Family::Counter(counter) => counter.render(&mut out),
                Family::Gauge(gauge) => gauge.render(&mut out),
                Family::Histogram(histogram) => histogram.render(&mut out),
            }
        }
        out.push_str("# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n");
        out.push_str("# TYPE process_start_time_seconds gauge\n");
        let _ = writeln!(
            out,
            "process_start_time_seconds {}",
            format_value(self.inner.process_start_time_seconds)
        );
        out
    }
}

/// The process's own figures, read from `/proc/self` when rendered (Linux; left out where
/// `/proc` is not there), under the names Prometheus's client libraries give them: how much
/// CPU the process has used, how much memory it holds and how many descriptors it has open.
/// Sampled over a run they show whether anything grows without bound, and what an idle switch
/// costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessFigures {
    pub cpu_seconds_total: f64,
    pub resident_memory_bytes: u64,
    pub open_fds: u64,
}

/// Linux reports CPU times in `/proc` in USER_HZ ticks, 100 a second on every architecture's
/// user ABI.
const USER_HZ: f64 = 100.0;

impl ProcessFigures {
    /// This process's figures now; `None` without `/proc`.
    pub fn read() -> Option<ProcessFigures> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        Some(ProcessFigures {
            cpu_seconds_total: cpu_seconds(&stat)?,
            resident_memory_bytes: resident_bytes(&status)?,
            open_fds,
        })
    }

    fn render(&self, out: &mut String) {
        for (name, kind, help, value) in [
            (
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
                self.cpu_seconds_total,
            ),
            (
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                self.resident_memory_bytes as f64,
            ),
            (
                "process_open_fds",
                "gauge",
                "Number of open file descriptors.",
                self.open_fds as f64,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {}", format_value(value));
        }
    }
}

/// utime + stime of a `/proc/<pid>/stat` line, in seconds. The command name (field 2) may
/// hold spaces and parentheses, so fields are counted after its last `)`.
fn cpu_seconds(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // After the name: state (3), ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt,
    // majflt, cmajflt (13), utime (14), stime (15).
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// `VmRSS` of a `/proc/<pid>/status`, in bytes.
fn resident_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| name.to_string()).collect()
}

/// Metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*`, not
/// starting with `__`, distinct, and no `le` on histograms.
fn check_names(name: &str, labels: &[String], histogram: bool) -> Result<(), &'static str> {
    let name_ok = name.chars().enumerate().all(|(index, c)| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (index > 0 && c.is_ascii_digit())
    });
    if name.is_empty() || !name_ok {
        return Err("invalid metric name");
    }
    for (index, label) in labels.iter().enumerate() {
        let label_ok = label.chars().enumerate().all(|(position, c)| {
            c.is_ascii_alphabetic() || c == '_' || (position > 0 && c.is_ascii_digit())
        });
        if label.is_empty() || !label_ok || label.starts_with("__") {
            return Err("invalid label name");
        }
        if labels.iter().skip(index + 1).any(|other| other == label) {
            return Err("duplicate label name");
        }
        if histogram && label == "le" {
            return Err("`le` is reserved on histograms");
        }
    }
    Ok(())
}

/// A monotonically increasing count.
#[derive(Clone)]
pub struct Counter {
    family: Arc<CounterFamily>,
}

struct CounterFamily {
    name: String,
    help: String,
    label_names: Vec<String>,
    series: Mutex<BTreeMap<Vec<String>, u64>>,
}

impl CounterFamily {
    fn new(name: String, help: &str, label_names: Vec<String>) -> Self {
        let mut series = BTreeMap::new();
        if label_names.is_empty() {
            // A metric without labels has exactly one series: show it from the start.
            series.insert(Vec::new(), 0);
        }
        CounterFamily {
            name,
            help: help.to_string(),
            label_names,
            series: Mutex::new(series),
        }
    }

    fn render(&self, out: &mut String) {
        write_header(out, &self.name, &self.help, "counter");
        for (values, count) in lock(&self.series).iter() {
            let _ = writeln!(
                out,
                "{}{} {count}",
                self.name,
                labels(&self.label_names, values, None)
            );
        }
    }
}

impl Counter {
    /// Adds one to the series with these label values (in the registered order).
    pub fn inc(&self, label_values: &[&str]) {
        self.inc_by(label_values, 1);
    }

    /// Adds `amount` to the series with these label values.
    pub fn inc_by(&self, label_values: &[&str], amount: u64) {
        let family = &self.family;
        if label_values.len() != family.label_names.len() {
            tracing::warn!(metric = %family.name, "counter sample dropped: wrong number of label values");
            return;
        }
        let mut series = lock(&family.series);
        let count = series.entry(owned(label_values)).or_insert(0);
        *count = count.saturating_add(amount);
    }
}

/// A value that goes up and down (a lag, a position, a queue length).
#[derive(Clone)]
pub struct Gauge {
    family: Arc<GaugeFamily>,
}

struct GaugeFamily {
    name: String,
    help: String,
    label_names: Vec<String>,
    series: Mutex<BTreeMap<Vec<String>, f64>>,
}

impl GaugeFamily {
    fn new(name: String, help: &str, label_names: Vec<String>) -> Self {
        let mut series = BTreeMap::new();
        if label_names.is_empty() {
            series.insert(Vec::new(), 0.0);
        }
        GaugeFamily {
            name,
            help: help.to_string(),
            label_names,
            series: Mutex::new(series),
        }
    }

    fn render(&self, out: &mut String) {
        write_header(out, &self.name, &self.help, "gauge");
        for (values, value) in lock(&self.series).iter() {
            let _ = writeln!(
                out,
                "{}{} {}",
                self.name,
                labels(&self.label_names, values, None),
                format_value(*value)
            );
        }
    }

    fn labels_fit(&self, label_values: &[&str]) -> bool {
        if label_values.len() == self.label_names.len() {
            return true;
        }
        tracing::warn!(metric = %self.name, "gauge sample dropped: wrong number of label values");
        false
    }
}

impl Gauge {
    /// Sets the series with these label values (in the registered order) to `value`.
    pub fn set(&self, label_values: &[&str], value: f64) {
        let family = &self.family;
        if family.labels_fit(label_values) {
            lock(&family.series).insert(owned(label_values), value);
        }
    }

    /// Adds `delta` (negative to subtract) to the series with these label values; a series
    /// not seen yet starts at 0.
    pub fn add(&self, label_values: &[&str], delta: f64) {
        let family = &self.family;
        if family.labels_fit(label_values) {
            *lock(&family.series)
                .entry(owned(label_values))
                .or_insert(0.0) += delta;
        }
    }

    /// Adds one to the series with these label values.
    pub fn inc(&self, label_values: &[&str]) {
        self.add(label_values, 1.0);
    }

    /// Subtracts one from the series with these label values.
    pub fn dec(&self, label_values: &[&str]) {
        self.add(label_values, -1.0);
    }

    /// The value of the series with these label values, if it is shown.
    pub fn get(&self, label_values: &[&str]) -> Option<f64> {
        lock(&self.family.series).get(&owned(label_values)).copied()
    }

    /// Stops showing the series with these label values (a partition no longer held, an
    /// account that went away); whether it was shown.
    pub fn remove(&self, label_values: &[&str]) -> bool {
        lock(&self.family.series)
            .remove(&owned(label_values))
            .is_some()
    }

    /// Keeps only the series for which `keep(label values, value)` is true.
    pub fn retain(&self, mut keep: impl FnMut(&[String], f64) -> bool) {
        lock(&self.family.series).retain(|values, value| keep(values, *value));
    }

    /// Replaces every series at once with `series` (label values, value), so a scrape sees
    /// either the old set or the new one. Entries with the wrong number of label values are
    /// dropped.
    pub fn replace_all<I, L, S>(&self, series: I)
    where
        I: IntoIterator<Item = (L, f64)>,
        L: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let family = &self.family;
        let mut fresh = BTreeMap::new();
        for (values, value) in series {
            let values: Vec<String> = values.into_iter().map(Into::into).collect();
            if values.len() == family.label_names.len() {
                fresh.insert(values, value);
            } else {
                tracing::warn!(metric = %family.name, "gauge sample dropped: wrong number of label values");
            }
        }
        *lock(&family.series) = fresh;
    }
}

/// A distribution of observations (durations in seconds, or sizes such as messages per
/// batch).
#[derive(Clone)]
pub struct Histogram {
    family: Arc<HistogramFamily>,
}

struct HistogramFamily {
    name: String,
    help: String,
    label_names: Vec<String>,
    buckets_seconds: Vec<f64>,
    series: Mutex<BTreeMap<Vec<String>, HistogramSeries>>,
}

#[derive(Clone)]
struct HistogramSeries {
    /// Observations per bucket (not cumulative); the last entry is the `+Inf` bucket.
    bucket_counts: Vec<u64>,
    sum_seconds: f64,
    count: u64,
}

impl HistogramFamily {
    fn new(name: String, help: &str, label_names: Vec<String>, buckets_seconds: Vec<f64>) -> Self {
        let mut series = BTreeMap::new();
        if label_names.is_empty() {
            series.insert(Vec::new(), HistogramSeries::new(buckets_seconds.len()));
        }
        HistogramFamily {
            name,
            help: help.to_string(),
            label_names,
            buckets_seconds,
            series: Mutex::new(series),
        }
    }

    fn render(&self, out: &mut String) {
        write_header(out, &self.name, &self.help, "histogram");
        for (values, series) in lock(&self.series).iter() {
            let mut cumulative: u64 = 0;
            let bounds = self
                .buckets_seconds
                .iter()
                .map(|bound| format_value(*bound))
                .chain(["+Inf".to_string()]);
            for (bound, in_bucket) in bounds.zip(&series.bucket_counts) {
                cumulative = cumulative.saturating_add(*in_bucket);
                let _ = writeln!(
                    out,
                    "{}_bucket{} {cumulative}",
                    self.name,
                    labels(&self.label_names, values, Some(&bound))
                );
            }
            let plain = labels(&self.label_names, values, None);
            let _ = writeln!(
                out,
                "{}_sum{plain} {}",
                self.name,
                format_value(series.sum_seconds)
            );
            let _ = writeln!(out, "{}_count{plain} {}", self.name, series.count);
        }
    }
}

impl HistogramSeries {
    fn new(bucket_len: usize) -> Self {
        HistogramSeries {
            bucket_counts: vec![0; bucket_len.saturating_add(1)],
            sum_seconds: 0.0,
            count: 0,
        }
    }
}

impl Histogram {
    /// Records one observation of `seconds` in the series with these label values. NaN is
    /// ignored.
    pub fn observe(&self, label_values: &[&str], seconds: f64) {
        let family = &self.family;
        if label_values.len() != family.label_names.len() {
            tracing::warn!(metric = %family.name, "histogram sample dropped: wrong number of label values");
            return;
        }
        if seconds.is_nan() {
            return;
        }
        let bucket_index = family
            .buckets_seconds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(family.buckets_seconds.len());
        let mut all = lock(&family.series);
        let series = all
            .entry(owned(label_values))
            .or_insert_with(|| HistogramSeries::new(family.buckets_seconds.len()));
        if let Some(in_bucket) = series.bucket_counts.get_mut(bucket_index) {
            *in_bucket = in_bucket.saturating_add(1);
        }
        series.sum_seconds += seconds;
        series.count = series.count.saturating_add(1);
    }
}

fn write_header(out: &mut String, name: &str, help: &str, kind: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// `{a="x",b="y"}` (with `le` last when given), or nothing when there are no labels.
fn labels(names: &[String], values: &[String], le: Option<&str>) -> String {
    let mut pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(name, value)| format!("{name}=\"{}\"", escape_label_value(value)))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value as Prometheus writes it: `NaN`, `+Inf`, `-Inf` or a plain decimal.
fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_string()
    } else if value == f64::INFINITY {
        "+Inf".to_string()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        value.to_string()
    }
}

/// `200` with the rendered registry and the Prometheus text content type.
pub fn metrics_response(registry: &Registry) -> Response {
    let mut text = registry.render();
    if let Some(process) = ProcessFigures::read() {
        process.render(&mut text);
    }
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE_PROMETHEUS_TEXT),
    );
    response
}

/// The HTTP metrics every service records: `<prefix>_http_requests_total` and
/// `<prefix>_http_request_duration_seconds`, both labelled `method`, `path` (the route
/// template, never the raw path, to keep the series bounded) and `status_code`.
#[derive(Clone)]
pub struct HttpMetrics {
    requests_total: Counter,
    request_duration_seconds: Histogram,
}

/// Registers the HTTP metrics in `registry` (again returns the same metrics).
pub fn http_request_metrics(registry: &Registry) -> HttpMetrics {
    const LABELS: [&str; 3] = ["method", "path", "status_code"];
    HttpMetrics {
        requests_total: registry.counter(
            "http_requests_total",
            "Count of HTTP requests answered",
            &LABELS,
        ),
        request_duration_seconds: registry.histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request in seconds",
            &LABELS,
            &DEFAULT_BUCKETS_SECONDS,
        ),
    }
}

impl HttpMetrics {
    /// Records one answered request: `route` is the matched route template
    /// (`/transfers/{id}`), `seconds` the time from receipt to response.
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests_total.inc(&labels);
        self.request_duration_seconds.observe(&labels, seconds);
    }
}

/// `<prefix>_consumer_lag_messages{topic,partition,group}`: the messages of a partition its
/// consumer group has not committed yet, as last read ([`run_consumer_lag`] reads them with the
/// bus crate's `lag::watch`).
#[derive(Clone)]
pub struct ConsumerLagMetrics {
    gauge: Gauge,
}

/// Upper bounds of `bus_message_wait_seconds`.
const BUS_WAIT_BUCKETS_SECONDS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// `bus_message_wait_seconds{consumer}`: how long each message a consumer received was in the
/// bus, from its production to its receipt (the broker's and the clients' share of a hop).
pub fn bus_wait_histogram(registry: &Registry) -> Histogram {
    registry.histogram(
        "bus_message_wait_seconds",
        "Time from a message's production to its receipt by the consumer, in seconds",
        &["consumer"],
        &BUS_WAIT_BUCKETS_SECONDS,
    )
}

/// What a consumer calls with each message's time in the bus
/// (`bus::Consumer::with_wait_observer`), recorded under `consumer`.
pub fn bus_wait_observer(
    histogram: &Histogram,
    consumer: &'static str,
) -> impl Fn(std::time::Duration) + Send + Sync + 'static {
    let histogram = histogram.clone();
    move |waited| histogram.observe(&[consumer], waited.as_secs_f64())
}

/// Registers the consumer lag gauge in `registry` (again returns the same gauge).
pub fn consumer_lag_metrics(registry: &Registry) -> ConsumerLagMetrics {
    ConsumerLagMetrics {
        gauge: registry.gauge(
            "consumer_lag_messages",
            "Messages on a partition not yet committed by the consumer group reading it",
            &["topic", "partition", "group"],
        ),
    }
}

impl ConsumerLagMetrics {
    /// Shows `(partition, lag)` for `group` on `topic`; that pair's partitions not listed
    /// (no longer held by this process) stop being shown.
    pub fn publish(&self, group: &str, topic: &str, partitions: &[(i32, i64)]) {
        let held: Vec<String> = partitions
            .iter()
            .map(|(partition, _)| partition.to_string())
            .collect();
        self.gauge.retain(|labels, _| match labels {
            [t, partition, g] => t != topic || g != group || held.contains(partition),
            _ => true,
        });
        for ((_, lag), partition) in partitions.iter().zip(&held) {
            self.gauge.set(&[topic, partition, group], *lag as f64);
        }
    }

    /// Stops showing `group` on `topic` (its lag is unknown, or its consumer stopped).
    pub fn forget(&self, group: &str, topic: &str) {
        self.publish(group, topic, &[]);
    }
}

/// Shows the lag of `probes` (this process's handler consumers) every `interval_ms` until
/// `stop` changes (`interval_ms` 0: never). A partition whose lag cannot be read is not shown
/// rather than shown stale.
pub async fn run_consumer_lag(
    probes: Vec<bus::LagProbe>,
    interval_ms: u64,
    stop: tokio::sync::watch::Receiver<bool>,
    lag: ConsumerLagMetrics,
) {
    bus::lag::watch(
        probes,
        interval_ms,
        stop,
        move |probe, reading| match reading {
            Ok(partitions) => {
                let partitions: Vec<(i32, i64)> = partitions
                    .iter()
                    .map(|p| (p.partition, p.messages))
                    .collect();
                lag.publish(probe.group(), probe.topic(), &partitions);
            }
            Err(error) => {
                tracing::debug!(error.message = %error, group = probe.group(), "consumer lag not read");
                lag.forget(probe.group(), probe.topic());
            }
        },
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn registry(prefix: &str) -> Registry {
        Registry::with_start_time(
            prefix,
            UNIX_EPOCH + Duration::from_millis(1_704_067_200_500),
        )
    }

    const PROCESS: &str = "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n\
# TYPE process_start_time_seconds gauge\n\
process_start_time_seconds 1704067200.5\n";

    #[test]
    fn process_figures_from_proc() {
        let stat = "4242 (a (strange) name) S 1 4242 4242 0 -1 4194560 2000 0 3 0 1234 566 0 0 20 0 9 0 100 0 0";
        assert_eq!(cpu_seconds(stat), Some(18.0));
        assert_eq!(cpu_seconds("no name"), None);
        let status = "Name:\tmojaloop\nVmPeak:\t  900 kB\nVmRSS:\t   40960 kB\nThreads:\t9\n";
        assert_eq!(resident_bytes(status), Some(40_960 * 1024));
        if cfg!(target_os = "linux") {
            let figures = ProcessFigures::read().expect("/proc/self on Linux");
            assert!(figures.resident_memory_bytes > 0 && figures.open_fds > 0);
            let mut out = String::new();
            figures.render(&mut out);
            assert!(out
                .contains("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "));
            assert!(out.contains("\nprocess_resident_memory_bytes "));
        }
    }

    #[test]
    fn empty_registry_renders_the_process_start_time() {
        assert_eq!(registry("moja").render(), PROCESS);
    }

    #[test]
    fn counter_renders_exactly() {
        let registry = registry("moja");
        let counter = registry.counter(
            "transfers_total",
            "Transfers\nprepared \\ seen",
            &["currency", "note"],
        );
        counter.inc(&["XOF", "a\"b\\c\nd"]);
        counter.inc_by(&["XOF", "a\"b\\c\nd"], 4);
        counter.inc(&["EUR", ""]);
        counter.inc(&["too few"]);
        let expected = format!(
            "# HELP moja_transfers_total Transfers\\nprepared \\\\ seen\n\
# TYPE moja_transfers_total counter\n\
moja_transfers_total{{currency=\"EUR\",note=\"\"}} 1\n\
moja_transfers_total{{currency=\"XOF\",note=\"a\\\"b\\\\c\\nd\"}} 5\n{PROCESS}"
        );
        assert_eq!(registry.render(), expected);
    }

    #[test]
    fn unlabelled_counter_shows_zero_and_prefix_may_end_with_underscore() {
        let registry = registry("moja_");
        let _ = registry.counter("restarts_total", "Restarts", &[]);
        assert_eq!(
            registry.render(),
            format!("# HELP moja_restarts_total Restarts\n# TYPE moja_restarts_total counter\nmoja_restarts_total 0\n{PROCESS}")
        );
    }

    #[test]
    fn histogram_renders_exactly() {
        let registry = registry("");
        let histogram = registry.histogram(
            "handler_seconds",
            "Handler time",
            &["step"],
            &[1.0, 0.1, 0.5],
        );
        // Binary-exact values, so the sum prints exactly; 0.5 sits on a bound (le is <=).
        for seconds in [0.0625, 0.09375, 0.5, 0.75, 3.0, f64::NAN] {
            histogram.observe(&["prepare"], seconds);
        }
        let expected = format!(
            "# HELP handler_seconds Handler time\n\
# TYPE handler_seconds histogram\n\
handler_seconds_bucket{{step=\"prepare\",le=\"0.1\"}} 2\n\
handler_seconds_bucket{{step=\"prepare\",le=\"0.5\"}} 3\n\
handler_seconds_bucket{{step=\"prepare\",le=\"1\"}} 4\n\
handler_seconds_bucket{{step=\"prepare\",le=\"+Inf\"}} 5\n\
handler_seconds_sum{{step=\"prepare\"}} 4.40625\n\
handler_seconds_count{{step=\"prepare\"}} 5\n{PROCESS}"
        );
        assert_eq!(registry.render(), expected);
    }

    #[test]
    fn registering_again_returns_the_same_metric() {
        let registry = registry("moja");
        let first = registry.counter("a_total", "A", &["x"]);
        let second = registry.counter("a_total", "A", &["x"]);
        first.inc(&["1"]);
        second.inc(&["1"]);
        assert!(registry.render().contains("moja_a_total{x=\"1\"} 2\n"));

        // A clash or an invalid name is not rendered and does not disturb the original.
        let clash = registry.histogram("a_total", "A", &["x"], &DEFAULT_BUCKETS_SECONDS);
        clash.observe(&["1"], 0.2);
        let invalid = registry.counter("bad-name", "B", &[]);
        invalid.inc(&[]);
        let reserved = registry.histogram("h", "H", &["le"], &DEFAULT_BUCKETS_SECONDS);
        reserved.observe(&["1"], 0.2);
        let rendered = registry.render();
        assert!(!rendered.contains("bucket"), "{rendered}");
        assert!(!rendered.contains("bad"), "{rendered}");
    }

    #[test]
    fn http_metrics_count_and_time_requests() {
        let registry = registry("central_ledger");
        let http = http_request_metrics(&registry);
        http.record("POST", "/transfers", 202, 0.02);
        http_request_metrics(&registry).record("POST", "/transfers", 202, 0.2);
        let rendered = registry.render();
        assert!(rendered.contains(
            "central_ledger_http_requests_total{method=\"POST\",path=\"/transfers\",status_code=\"202\"} 2\n"
        ));
        assert!(rendered.contains(
            "central_ledger_http_request_duration_seconds_bucket{method=\"POST\",path=\"/transfers\",status_code=\"202\",le=\"0.05\"} 1\n"
        ));
        assert!(rendered.contains(
            "central_ledger_http_request_duration_seconds_bucket{method=\"POST\",path=\"/transfers\",status_code=\"202\",le=\"0.5\"} 2\n"
        ));
        assert!(rendered.contains(
            "central_ledger_http_request_duration_seconds_count{method=\"POST\",path=\"/transfers\",status_code=\"202\"} 2\n"
        ));
    }

    #[test]
    fn clones_share_state_across_threads() {
        let registry = registry("moja");
        let counter = registry.counter("hits_total", "Hits", &[]);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| counter.inc(&[])))
            })
            .collect();
        threads
            .into_iter()
            .for_each(|thread| thread.join().unwrap());
        assert!(registry.clone().render().contains("moja_hits_total 4000\n"));
    }

    #[tokio::test]
    async fn metrics_response_has_the_prometheus_content_type() {
        let registry = registry("moja");
        let response = metrics_response(&registry);
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.starts_with(PROCESS), "{text}");
        // The process's own figures follow, where /proc tells them.
        if cfg!(target_os = "linux") {
            assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
        }
    }

    #[test]
    fn gauge_sets_adds_and_renders_exactly() {
        let registry = registry("moja");
        let gauge = registry.gauge("queue_messages", "Messages\nwaiting", &["topic"]);
        gauge.set(&["b"], 2.5);
        gauge.inc(&["a"]);
        gauge.inc(&["a"]);
        gauge.dec(&["a"]);
        gauge.add(&["b"], -4.0);
        gauge.set(&["c"], f64::INFINITY);
        gauge.set(&["too", "many"], 1.0);
        let expected = format!(
            "# HELP moja_queue_messages Messages\\nwaiting\n\
# TYPE moja_queue_messages gauge\n\
moja_queue_messages{{topic=\"a\"}} 1\n\
moja_queue_messages{{topic=\"b\"}} -1.5\n\
moja_queue_messages{{topic=\"c\"}} +Inf\n{PROCESS}"
        );
        assert_eq!(registry.render(), expected);
        assert_eq!(gauge.get(&["a"]), Some(1.0));
        assert_eq!(gauge.get(&["too", "many"]), None);
    }

    #[test]
    fn unlabelled_gauge_shows_zero_and_registering_again_shares_it() {
        let registry = registry("moja");
        let first = registry.gauge("in_flight", "In flight", &[]);
        assert!(registry.render().contains("moja_in_flight 0\n"));
        registry.gauge("in_flight", "In flight", &[]).set(&[], 7.0);
        first.inc(&[]);
        assert!(registry.render().contains("moja_in_flight 8\n"));
        // Same name with other labels, or as another kind: not rendered, original untouched.
        registry
            .gauge("in_flight", "In flight", &["x"])
            .set(&["1"], 3.0);
        registry.counter("in_flight", "In flight", &[]).inc(&[]);
        let rendered = registry.render();
        assert_eq!(rendered.matches("moja_in_flight").count(), 3, "{rendered}");
    }

    #[test]
    fn gauge_series_can_be_removed_kept_or_replaced() {
        let registry = registry("moja");
        let gauge = registry.gauge("position", "Position", &["participant", "currency"]);
        gauge.set(&["dfsp1", "USD"], 10.0);
        gauge.set(&["dfsp2", "USD"], -3.0);
        gauge.set(&["dfsp2", "EUR"], 4.0);
        assert!(gauge.remove(&["dfsp1", "USD"]));
        assert!(!gauge.remove(&["dfsp1", "USD"]));
        gauge.retain(|labels, value| {
            labels.get(1).map(String::as_str) == Some("USD") || value > 5.0
        });
        assert_eq!(gauge.get(&["dfsp2", "EUR"]), None);
        assert_eq!(gauge.get(&["dfsp2", "USD"]), Some(-3.0));
        gauge.replace_all([(vec!["dfsp3", "XOF"], 1.25), (vec!["short"], 9.0)]);
        let rendered = registry.render();
        assert!(rendered.contains("moja_position{participant=\"dfsp3\",currency=\"XOF\"} 1.25\n"));
        assert!(!rendered.contains("dfsp2"), "{rendered}");
        assert!(!rendered.contains("short"), "{rendered}");
    }

    #[test]
    fn consumer_lag_replaces_one_groups_partitions_only() {
        let registry = registry("moja_cl_");
        let lag = consumer_lag_metrics(&registry);
        lag.publish(
            "prepare",
            "topic-transfer-prepare",
            &[(0, 3), (1, 0), (2, 7)],
        );
        consumer_lag_metrics(&registry).publish("fulfil", "topic-transfer-fulfil", &[(0, 1)]);
        // After a rebalance this process holds partition 2 only.
        lag.publish("prepare", "topic-transfer-prepare", &[(2, 5)]);
        let rendered = registry.render();
        assert!(rendered.contains("# TYPE moja_cl_consumer_lag_messages gauge\n"));
        assert!(rendered.contains(
            "moja_cl_consumer_lag_messages{topic=\"topic-transfer-prepare\",partition=\"2\",group=\"prepare\"} 5\n"
        ));
        assert!(!rendered.contains("partition=\"1\""), "{rendered}");
        assert!(rendered.contains(
            "moja_cl_consumer_lag_messages{topic=\"topic-transfer-fulfil\",partition=\"0\",group=\"fulfil\"} 1\n"
        ));
        lag.forget("fulfil", "topic-transfer-fulfil");
        assert!(!registry.render().contains("fulfil"));
    }

    #[test]
    fn special_values_format_as_prometheus_does() {
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(0.000_001), "0.000001");
    }
}
