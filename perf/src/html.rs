//! The HTML page of a run: one self-contained file (inline CSS and inline SVG, no scripts,
//! no external resources) rendered from a [`Report`].

use std::fmt::Write as _;

use crate::report::{Capacity, Gate, Report, PHASES};

/// Renders `report` as one self-contained HTML page.
pub fn render(report: &Report) -> String {
    let mut page = String::with_capacity(32 * 1024);
    let title = format!("perf {} — {}", report.scenario, report.started_at);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&title)
    );
    header(&mut page, report);
    summary(&mut page, report);
    windows(&mut page, report);
    errors(&mut page, report);
    charts(&mut page, report);
    if let Some(gate) = &report.gate {
        gate_section(&mut page, gate);
    }
    if let Some(capacity) = &report.capacity {
        capacity_section(&mut page, capacity);
    }
    page.push_str("</body>\n</html>\n");
    page
}

const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;max-width:960px;padding:0 1em;color:#222}\
h1{font-size:1.5em;margin-bottom:.3em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}\
h3{font-size:1em;margin:1.5em 0 .3em}\
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.25em .7em;border:1px solid #ddd;text-align:right}\
th{background:#f4f4f4}td.l,th.l{text-align:left}\
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dl.meta dt{font-weight:600}dl.meta dd{margin:0}\
.pass{color:#17803d;font-weight:700}.fail{color:#b42318;font-weight:700}\
svg.chart{width:100%;height:auto;max-width:760px;display:block}\
svg.chart text{font-family:system-ui,sans-serif;font-size:12px;fill:#333}\
.muted{color:#666}";

/// Colour of a phase in the charts.
fn phase_colour(phase: &str) -> &'static str {
    match phase {
        "lookup" => "#1f77b4",
        "quote" => "#ff7f0e",
        "transfer" => "#2ca02c",
        "fxQuote" => "#9467bd",
        "fxTransfer" => "#8c564b",
        "transactionRequest" => "#e377c2",
        "authorization" => "#17becf",
        "bulkQuote" => "#bcbd22",
        "bulkTransfer" => "#aec7e8",
        "end_to_end" => "#d62728",
        _ => "#7f7f7f",
    }
}

fn header(page: &mut String, report: &Report) {
    let _ = write!(
        page,
        "<h1>Performance run: {}</h1>\n<dl class=\"meta\">\n\
         <dt>Scenario</dt><dd>{}</dd>\n<dt>Mode</dt><dd>{}</dd>\n<dt>Started</dt><dd>{}</dd>\n\
         <dt>Simulator</dt><dd>{}</dd>\n<dt>Bus</dt><dd>{}</dd>\n\
         <dt>Warm-up</dt><dd>{} s</dd>\n<dt>Measured</dt><dd>{} s</dd>\n</dl>\n",
        esc(&report.scenario),
        esc(&report.scenario),
        esc(&report.mode),
        esc(&report.started_at),
        esc(&report.sim_url),
        esc(report.bus.as_deref().unwrap_or("unknown")),
        report.warmup_s,
        report.measured_s,
    );
}

fn summary(page: &mut String, report: &Report) {
    let c = &report.counts;
    let _ = write!(
        page,
        "<h2>Summary</h2>\n<table>\n\
         <tr><th class=\"l\">Rate asked</th><td>{} /s</td></tr>\n\
         <tr><th class=\"l\">Rate achieved</th><td>{} /s</td></tr>\n\
         <tr><th class=\"l\">Sent</th><td>{}</td></tr>\n\
         <tr><th class=\"l\">Succeeded</th><td>{}</td></tr>\n\
         <tr><th class=\"l\">Failed</th><td>{}</td></tr>\n\
         <tr><th class=\"l\">Timed out</th><td>{}</td></tr>\n\
         <tr><th class=\"l\">Dropped</th><td>{}</td></tr>\n",
        num(report.rate_asked_per_s),
        num(report.rate_achieved_per_s),
        c.sent,
        c.succeeded,
        c.failed,
        c.timed_out,
        c.dropped,
    );
    if let (Some(size), Some(rate)) = (report.bulk_size, report.transfers_per_s) {
        let _ = write!(
            page,
            "<tr><th class=\"l\">Transfers per bulk</th><td>{size}</td></tr>\n\
             <tr><th class=\"l\">Transfers committed</th><td>{}</td></tr>\n\
             <tr><th class=\"l\">Transfers failed</th><td>{}</td></tr>\n\
             <tr><th class=\"l\">Transfers achieved</th><td>{} /s</td></tr>\n",
            c.transfers_committed,
            c.transfers_failed,
            num(rate),
        );
    }
    page.push_str("</table>\n");
    let present: Vec<(&str, &crate::report::PhaseSummary)> = PHASES
        .iter()
        .filter_map(|&phase| report.phases.get(phase).map(|s| (phase, s)))
        .collect();
    if present.is_empty() {
        page.push_str("<p class=\"muted\">No phase latencies recorded.</p>\n");
        return;
    }
    page.push_str(
        "<h3>Latency by phase (ms)</h3>\n<table>\n<tr><th class=\"l\">Phase</th><th>Count</th>\
         <th>Mean</th><th>p50</th><th>p95</th><th>p99</th><th>Max</th></tr>\n",
    );
    for (phase, s) in present {
        let _ = writeln!(
            page,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(phase),
            s.count,
            num(s.mean_ms),
            num(s.p50_ms),
            num(s.p95_ms),
            num(s.p99_ms),
            num(s.max_ms),
        );
    }
    page.push_str("</table>\n");
}

/// The first and last windows side by side: p99 per phase, rate, failures, switch memory.
fn windows(page: &mut String, report: &Report) {
    let [first, last] = report.windows.as_slice() else {
        return;
    };
    let _ = writeln!(
        page,
        "<h2>First and last {} s</h2>\n<table>\n<tr><th class=\"l\"></th><th>{} s – {} s</th><th>{} s – {} s</th></tr>",
        first.to_s - first.from_s,
        first.from_s,
        first.to_s,
        last.from_s,
        last.to_s
    );
    let row = |page: &mut String, name: &str, a: String, b: String| {
        let _ = writeln!(
            page,
            "<tr><th class=\"l\">{}</th><td>{}</td><td>{}</td></tr>",
            esc(name),
            esc(&a),
            esc(&b)
        );
    };
    row(
        page,
        "Rate achieved /s",
        num(first.rate_achieved_per_s),
        num(last.rate_achieved_per_s),
    );
    for phase in PHASES {
        if first.phases.contains_key(*phase) || last.phases.contains_key(*phase) {
            let p99 = |w: &crate::report::WindowReport| {
                w.phases.get(*phase).map_or("–".into(), |p| num(p.p99_ms))
            };
            row(page, &format!("{phase} p99 ms"), p99(first), p99(last));
        }
    }
    let failures =
        |w: &crate::report::WindowReport| w.counts.failed + w.counts.timed_out + w.counts.dropped;
    row(
        page,
        "Failed, timed out, dropped",
        failures(first).to_string(),
        failures(last).to_string(),
    );
    let memory =
        |w: &crate::report::WindowReport| match (w.switch_rss_mb_start, w.switch_rss_mb_end) {
            (Some(a), Some(b)) => format!("{} → {}", num(a), num(b)),
            _ => "–".into(),
        };
    row(page, "Switch memory MB", memory(first), memory(last));
    let cpu = |w: &crate::report::WindowReport| w.switch_cpu_percent_mean.map_or("–".into(), num);
    row(page, "Switch CPU % of a core", cpu(first), cpu(last));
    page.push_str("</table>\n");
}

fn errors(page: &mut String, report: &Report) {
    if report.errors_by_code.is_empty() {
        return;
    }
    page.push_str(
        "<h2>Errors by code</h2>\n<table>\n<tr><th class=\"l\">Code</th><th>Count</th></tr>\n",
    );
    for (code, count) in &report.errors_by_code {
        let _ = writeln!(
            page,
            "<tr><td class=\"l\">{}</td><td>{count}</td></tr>",
            esc(code)
        );
    }
    page.push_str("</table>\n");
}

fn charts(page: &mut String, report: &Report) {
    let timeline = &report.timeline;
    let xs: Vec<f64> = timeline.iter().map(|s| s.t_s as f64).collect();
    let along = |ys: Vec<f64>| xs.iter().copied().zip(ys).collect::<Vec<_>>();

    // Warm-up band: from the first warm-up second to the end of the last one.
    let warm: Vec<f64> = timeline
        .iter()
        .filter(|s| s.warmup)
        .map(|s| s.t_s as f64)
        .collect();
    let shade = match (
        warm.iter().copied().reduce(f64::min),
        warm.iter().copied().reduce(f64::max),
    ) {
        (Some(lo), Some(hi)) => Some((lo, hi + 1.0, "warm-up")),
        _ => None,
    };

    page.push_str("<h2>Over time</h2>\n<h3>Rate</h3>\n");
    page.push_str(&line_chart(&Chart {
        label: "Rate asked and completed per second",
        x_label: "seconds",
        y_label: "payments/s",
        shade,
        series: vec![
            Series::line(
                "asked /s",
                "#1f77b4",
                along(timeline.iter().map(|s| s.rate_asked_per_s).collect()),
            ),
            Series::line(
                "completed /s",
                "#2ca02c",
                along(timeline.iter().map(|s| s.completed as f64).collect()),
            ),
        ],
    }));

    // Phases in report order: those summarised or seen in any second.
    let phases: Vec<&str> = PHASES
        .iter()
        .copied()
        .filter(|phase| {
            report.phases.contains_key(*phase)
                || timeline
                    .iter()
                    .any(|s| s.p99_ms.contains_key(*phase) || s.p50_ms.contains_key(*phase))
        })
        .collect();
    let mut latency = Vec::with_capacity(phases.len() * 2);
    for phase in &phases {
        let colour = phase_colour(phase);
        let value = |map: &std::collections::BTreeMap<String, f64>| {
            map.get(*phase).copied().unwrap_or(f64::NAN)
        };
        latency.push(Series::line(
            format!("{phase} p99"),
            colour,
            along(timeline.iter().map(|s| value(&s.p99_ms)).collect()),
        ));
        let mut p50 = Series::line(
            format!("{phase} p50"),
            colour,
            along(timeline.iter().map(|s| value(&s.p50_ms)).collect()),
        );
        p50.dashed = true;
        latency.push(p50);
    }
    page.push_str("<h3>Latency by phase (p99 solid, p50 dashed)</h3>\n");
    page.push_str(&line_chart(&Chart {
        label: "Latency by phase over time",
        x_label: "seconds",
        y_label: "ms",
        shade,
        series: latency,
    }));

    if timeline.iter().any(|s| s.switch_rss_mb.is_some()) {
        let reading = |value: Option<f64>| value.unwrap_or(f64::NAN);
        page.push_str("<h3>Switch process</h3>\n");
        page.push_str(&line_chart(&Chart {
            label: "Switch process memory and CPU over time",
            x_label: "seconds",
            y_label: "MB / % of a core",
            shade,
            series: vec![
                Series::line(
                    "resident MB",
                    "#8c564b",
                    along(timeline.iter().map(|s| reading(s.switch_rss_mb)).collect()),
                ),
                Series::line(
                    "CPU %",
                    "#e377c2",
                    along(
                        timeline
                            .iter()
                            .map(|s| reading(s.switch_cpu_percent))
                            .collect(),
                    ),
                ),
            ],
        }));
    }

    page.push_str("<h3>In flight</h3>\n");
    page.push_str(&line_chart(&Chart {
        label: "Payments in flight over time",
        x_label: "seconds",
        y_label: "payments",
        shade,
        series: vec![Series::line(
            "in flight",
            "#9467bd",
            along(timeline.iter().map(|s| s.in_flight as f64).collect()),
        )],
    }));
}

fn gate_section(page: &mut String, gate: &Gate) {
    let (class, word) = verdict(gate.passed, "PASSED", "FAILED");
    let _ = writeln!(
        page,
        "<h2>Validity gate: <span class=\"{class}\">{word}</span></h2>"
    );
    if gate.checks.is_empty() {
        page.push_str("<p class=\"muted\">No checks.</p>\n");
        return;
    }
    page.push_str("<table>\n<tr><th class=\"l\">Check</th><th class=\"l\">Result</th><th class=\"l\">Detail</th></tr>\n");
    for check in &gate.checks {
        let (class, word) = verdict(check.passed, "pass", "FAIL");
        let _ = writeln!(
            page,
            "<tr><td class=\"l\">{}</td><td class=\"l {class}\">{word}</td><td class=\"l\">{}</td></tr>",
            esc(&check.name),
            esc(&check.detail),
        );
    }
    page.push_str("</table>\n");
}

fn capacity_section(page: &mut String, capacity: &Capacity) {
    page.push_str("<h2>Capacity search</h2>\n");
    match capacity.highest_rate_held_per_s {
        Some(rate) => {
            let _ = writeln!(
                page,
                "<p>Highest rate held: <strong class=\"pass\">{} payments/s</strong></p>",
                num(rate)
            );
        }
        None => page.push_str(
            "<p>Highest rate held: <strong class=\"fail\">none</strong> (the first step did not hold)</p>\n",
        ),
    }
    let _ = writeln!(
        page,
        "<p class=\"muted\">A step holds when every phase's p99 is under {} ms and the error ratio is at most {}.</p>",
        num(capacity.p99_bound_ms),
        percent(capacity.error_ratio_max),
    );
    let phases: Vec<&str> = PHASES
        .iter()
        .copied()
        .filter(|phase| capacity.steps.iter().any(|s| s.p99_ms.contains_key(*phase)))
        .collect();
    page.push_str("<table>\n<tr><th>#</th><th>Asked /s</th><th>Achieved /s</th>");
    for phase in &phases {
        let _ = write!(page, "<th>{} p99 ms</th>", esc(phase));
    }
    page.push_str("<th>Errors</th><th>Held</th></tr>\n");
    for (i, step) in capacity.steps.iter().enumerate() {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            i + 1,
            num(step.rate_asked_per_s),
            num(step.rate_achieved_per_s)
        );
        for phase in &phases {
            let value = step.p99_ms.get(*phase).copied().unwrap_or(f64::NAN);
            let _ = write!(page, "<td>{}</td>", num(value));
        }
        let (class, word) = verdict(step.held, "yes", "no");
        let _ = writeln!(
            page,
            "<td>{}</td><td class=\"{class}\">{word}</td></tr>",
            percent(step.error_ratio)
        );
    }
    page.push_str("</table>\n");

    // Steps may be tried out of order (a search): chart them by rate asked.
    let mut achieved: Vec<(f64, f64)> = capacity
        .steps
        .iter()
        .map(|s| (s.rate_asked_per_s, s.rate_achieved_per_s))
        .collect();
    achieved.sort_by(|a, b| a.0.total_cmp(&b.0));
    let asked: Vec<(f64, f64)> = achieved.iter().map(|&(x, _)| (x, x)).collect();
    let mut ideal = Series::line("asked", "#7f7f7f", asked);
    ideal.dashed = true;
    let mut got = Series::line("achieved", "#1f77b4", achieved);
    got.markers = true;
    page.push_str("<h3>Achieved vs asked rate</h3>\n");
    page.push_str(&line_chart(&Chart {
        label: "Achieved rate against asked rate per step",
        x_label: "rate asked (payments/s)",
        y_label: "payments/s",
        shade: None,
        series: vec![ideal, got],
    }));
}

fn verdict(ok: bool, yes: &'static str, no: &'static str) -> (&'static str, &'static str) {
    if ok {
        ("pass", yes)
    } else {
        ("fail", no)
    }
}

/// A number with one decimal, or a dash when it is not finite.
fn num(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.1}")
    } else {
        "–".to_string()
    }
}

/// A ratio as a percentage with two decimals, or a dash when it is not finite.
fn percent(ratio: f64) -> String {
    if ratio.is_finite() {
        format!("{:.2}%", ratio * 100.0)
    } else {
        "–".to_string()
    }
}

/// Escapes text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// SVG line chart

/// One line of a chart. Points whose coordinates are not finite break the line.
struct Series {
    name: String,
    colour: &'static str,
    dashed: bool,
    markers: bool,
    points: Vec<(f64, f64)>,
}

impl Series {
    fn line(name: impl Into<String>, colour: &'static str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            colour,
            dashed: false,
            markers: false,
            points,
        }
    }
}

/// A line chart: linear axes starting at zero (or below, for negative data).
struct Chart<'a> {
    /// Accessible name of the image.
    label: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    /// An x range shaded and labelled (the warm-up).
    shade: Option<(f64, f64, &'a str)>,
    series: Vec<Series>,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const BOTTOM: f64 = 44.0;
const LEGEND_ROW: f64 = 18.0;

/// A linear axis with "nice" bounds and step.
struct Axis {
    lo: f64,
    hi: f64,
    step: f64,
}

impl Axis {
    /// An axis covering `values` and zero, with about five ticks.
    fn covering(values: impl Iterator<Item = f64>) -> Axis {
        let (lo, hi) = values
            .filter(|v| v.is_finite())
            .fold((0.0_f64, 0.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let step = nice_step((hi - lo) / 5.0);
        let (nice_lo, nice_hi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
        if nice_lo.is_finite() && nice_hi.is_finite() && nice_hi > nice_lo {
            Axis {
                lo: nice_lo,
                hi: nice_hi,
                step,
            }
        } else if nice_lo.is_finite() && nice_lo == nice_hi {
            Axis {
                lo: nice_lo,
                hi: nice_lo + step,
                step,
            }
        } else {
            // Values near the limits of f64: no rounding, ticks spread evenly.
            let (lo, hi) = if (hi - lo).is_finite() && hi > lo {
                (lo, hi)
            } else {
                (0.0, 1.0)
            };
            Axis {
                lo,
                hi,
                step: (hi - lo) / 5.0,
            }
        }
    }

    fn ticks(&self) -> impl Iterator<Item = f64> + '_ {
        let count = ((self.hi - self.lo) / self.step).round();
        let count = if count.is_finite() {
            count.clamp(1.0, 20.0) as u32
        } else {
            1
        };
        (0..=count).map(move |i| self.lo + f64::from(i) * self.step)
    }

    /// Position of `value` along the axis, 0 at `lo` and 1 at `hi`.
    fn fraction(&self, value: f64) -> f64 {
        (value - self.lo) / (self.hi - self.lo)
    }

    fn label(&self, value: f64) -> String {
        let decimals = if self.step >= 1.0 {
            0
        } else {
            (-self.step.log10()).ceil().clamp(0.0, 6.0) as usize
        };
        // Avoid "-0".
        let value = if value.abs() < self.step / 2.0 {
            0.0
        } else {
            value
        };
        format!("{value:.decimals$}")
    }
}

/// The smallest of 1, 2, 2.5, 5 × 10ⁿ at least `raw` (1 for a degenerate input).
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let base = 10_f64.powf(raw.log10().floor());
    let fraction = raw / base;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 2.5 {
        2.5
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    let step = nice * base;
    if step.is_finite() && step > 0.0 {
        step
    } else {
        1.0
    }
}

/// Renders `chart` as an inline SVG element.
fn line_chart(chart: &Chart<'_>) -> String {
    let finite = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite();
    let points = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().filter(|p| finite(p)))
    };
    let has_data = points().next().is_some();
    let x_axis = Axis::covering(
        points()
            .map(|p| p.0)
            .chain(chart.shade.iter().flat_map(|&(a, b, _)| [a, b])),
    );
    let y_axis = Axis::covering(points().map(|p| p.1));

    // Legend rows, wrapped to the width; the plot starts below them.
    let mut legend = Vec::with_capacity(chart.series.len());
    let (mut lx, mut row) = (LEFT, 0_u32);
    for series in &chart.series {
        let width = 28.0 + 7.0 * series.name.chars().count() as f64 + 18.0;
        if lx + width > WIDTH - RIGHT && lx > LEFT {
            lx = LEFT;
            row += 1;
        }
        legend.push((lx, 14.0 + f64::from(row) * LEGEND_ROW, series));
        lx += width;
    }
    let top = 14.0 + f64::from(row + 1) * LEGEND_ROW;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - top - BOTTOM;
    let px = |x: f64| LEFT + x_axis.fraction(x) * plot_w;
    let py = |y: f64| top + plot_h - y_axis.fraction(y) * plot_h;

    let mut svg = String::with_capacity(8 * 1024);
    let _ = writeln!(
        svg,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         role=\"img\" aria-label=\"{0}\"><title>{0}</title>",
        esc(chart.label)
    );
    let _ = writeln!(
        svg,
        "<rect x=\"{LEFT}\" y=\"{top:.1}\" width=\"{plot_w:.1}\" height=\"{plot_h:.1}\" fill=\"#fff\" stroke=\"#ccc\"/>"
    );
    if let Some((a, b, text)) = chart.shade {
        let (x0, x1) = (px(a.max(x_axis.lo)), px(b.min(x_axis.hi)));
        if x1 > x0 {
            let _ = writeln!(
                svg,
                "<rect x=\"{x0:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{plot_h:.1}\" fill=\"#999\" fill-opacity=\"0.15\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" class=\"muted\">{}</text>",
                x1 - x0,
                x0 + 4.0,
                top + plot_h - 6.0,
                esc(text)
            );
        }
    }

    // Grid, ticks and labels.
    for y in y_axis.ticks() {
        let sy = py(y);
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{sy:.1}\" y2=\"{sy:.1}\" stroke=\"#eee\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + plot_w,
            LEFT - 6.0,
            sy + 4.0,
            y_axis.label(y)
        );
    }
    for x in x_axis.ticks() {
        let sx = px(x);
        let base = top + plot_h;
        let _ = writeln!(
            svg,
            "<line x1=\"{sx:.1}\" x2=\"{sx:.1}\" y1=\"{base:.1}\" y2=\"{:.1}\" stroke=\"#888\"/>\
             <text x=\"{sx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            base + 5.0,
            base + 18.0,
            x_axis.label(x)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        LEFT + plot_w / 2.0,
        HEIGHT - 8.0,
        esc(chart.x_label),
        top + plot_h / 2.0,
        esc(chart.y_label)
    );

    // Lines, broken where a point is missing; lone points drawn as dots.
    for series in &chart.series {
        let dash = if series.dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for point in &series.points {
            if finite(point) {
                if let Some(last) = segments.last_mut() {
                    last.push((px(point.0), py(point.1)));
                }
            } else if segments.last().is_some_and(|s| !s.is_empty()) {
                segments.push(Vec::new());
            }
        }
        for segment in &segments {
            match segment.as_slice() {
                [] => {}
                [(x, y)] => {
                    let _ = writeln!(
                        svg,
                        "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"{}\"/>",
                        series.colour
                    );
                }
                many => {
                    let coords: Vec<String> =
                        many.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                    let _ = writeln!(
                        svg,
                        "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"{dash} points=\"{}\"/>",
                        series.colour,
                        coords.join(" ")
                    );
                }
            }
            if series.markers {
                for (x, y) in segment {
                    let _ = writeln!(
                        svg,
                        "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{}\"/>",
                        series.colour
                    );
                }
            }
        }
    }
    if !has_data {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"muted\">no data</text>",
            LEFT + plot_w / 2.0,
            top + plot_h / 2.0
        );
    }

    for (x, y, series) in legend {
        let dash = if series.dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            "<line x1=\"{x:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"2.5\"{dash}/>\
             <text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
            x + 22.0,
            y - 4.0,
            y - 4.0,
            series.colour,
            x + 28.0,
            esc(&series.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

    use std::collections::BTreeMap;

    use super::*;
    use crate::report::{CapacityStep, Counts, GateCheck, PhaseSummary, Second};

    fn phase_map(base: f64) -> BTreeMap<String, f64> {
        PHASES
            .iter()
            .enumerate()
            .map(|(i, p)| (p.to_string(), base + i as f64 * 10.0))
            .collect()
    }

    fn sample() -> Report {
        let timeline = (0..6)
            .map(|t| Second {
                t_s: t,
                warmup: t < 2,
                rate_asked_per_s: 100.0,
                started: 100,
                completed: 95 + t,
                failed: 1,
                in_flight: 20 + t,
                p50_ms: phase_map(5.0),
                // One missing second for a phase, and a NaN: both break the line.
                p99_ms: if t == 3 {
                    BTreeMap::from([("lookup".to_string(), f64::NAN)])
                } else {
                    phase_map(40.0)
                },
                switch_rss_mb: None,
                switch_cpu_percent: None,
            })
            .collect();
        let phases = PHASES
            .iter()
            .map(|p| {
                (
                    p.to_string(),
                    PhaseSummary {
                        count: 400,
                        mean_ms: 12.345,
                        p50_ms: 10.0,
                        p95_ms: 30.0,
                        p99_ms: 45.67,
                        max_ms: 120.0,
                    },
                )
            })
            .collect();
        Report {
            scenario: "end-to-end".into(),
            mode: "capacity".into(),
            started_at: "2025-01-01T00:00:00Z".into(),
            sim_url: "http://127.0.0.1:4100".into(),
            bus: Some("kafka".into()),
            ids: Some("random".into()),
            rate_asked_per_s: 100.0,
            rate_achieved_per_s: 97.25,
            bulk_size: None,
            transfers_per_s: None,
            warmup_s: 2,
            measured_s: 4,
            counts: Counts {
                sent: 400,
                succeeded: 390,
                failed: 6,
                timed_out: 4,
                dropped: 0,
                ..Counts::default()
            },
            phases,
            errors_by_code: BTreeMap::from([("3204".into(), 6), ("timeout".into(), 4)]),
            timeline,
            windows: Vec::new(),
            switch: None,
            gate: Some(Gate {
                passed: false,
                checks: vec![
                    GateCheck {
                        name: "balances".into(),
                        passed: true,
                        detail: "net positions sum to 0".into(),
                    },
                    GateCheck {
                        name: "achieved rate".into(),
                        passed: false,
                        detail: "97.3 < 99 /s".into(),
                    },
                ],
            }),
            capacity: Some(Capacity {
                p99_bound_ms: 1000.0,
                error_ratio_max: 0.01,
                steps: vec![
                    CapacityStep {
                        rate_asked_per_s: 200.0,
                        rate_achieved_per_s: 150.0,
                        p99_ms: phase_map(900.0),
                        error_ratio: 0.2,
                        held: false,
                    },
                    CapacityStep {
                        rate_asked_per_s: 100.0,
                        rate_achieved_per_s: 99.5,
                        p99_ms: phase_map(50.0),
                        error_ratio: 0.001,
                        held: true,
                    },
                ],
                highest_rate_held_per_s: Some(137.5),
            }),
        }
    }

    #[test]
    fn full_report_has_every_section() {
        let page = render(&sample());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.trim_end().ends_with("</html>"));
        // Rate, latency, in flight, capacity.
        assert_eq!(page.matches("<svg").count(), 4);
        assert_eq!(page.matches("<svg").count(), page.matches("</svg>").count());
        for phase in PHASES {
            assert!(
                page.contains(&format!("<td class=\"l\">{phase}</td>")),
                "{phase}"
            );
            assert!(page.contains(&format!("{phase} p99")), "{phase}");
        }
        assert!(page.contains("FAILED"));
        assert!(page.contains("achieved rate"));
        assert!(page.contains("97.3 &lt; 99 /s"));
        assert!(page.contains("137.5 payments/s"));
        assert!(page.contains("12.3")); // mean with one decimal
        assert!(page.contains("45.7"));
        assert!(page.contains("97.2") || page.contains("97.3"));
        assert!(page.contains("3204"));
        assert!(page.contains("warm-up"));
        assert!(page.contains("kafka"));
        assert!(page.contains("<polyline"));
        assert!(!page.contains("NaN"));
        assert!(!page.contains("inf"));
        // Self-contained.
        assert!(!page.contains("<script"));
        assert!(!page.contains("<link"));
        assert!(!page.contains("src="));
    }

    #[test]
    fn passed_gate_and_no_capacity() {
        let mut report = sample();
        report.gate = Some(Gate {
            passed: true,
            checks: vec![],
        });
        report.capacity = None;
        report.errors_by_code.clear();
        let page = render(&report);
        assert!(page.contains("PASSED"));
        assert!(!page.contains("FAILED"));
        assert!(!page.contains("Capacity search"));
        assert!(!page.contains("Errors by code"));
        assert_eq!(page.matches("<svg").count(), 3);
    }

    #[test]
    fn a_long_run_shows_its_first_and_last_windows_and_the_switch() {
        let mut report = sample();
        for (t, second) in report.timeline.iter_mut().enumerate() {
            second.switch_rss_mb = Some(40.0 + t as f64);
            second.switch_cpu_percent = (t > 0).then_some(55.5);
        }
        let window = |name: &str, from_s: u64, p99_ms: f64, rss: f64| crate::report::WindowReport {
            name: name.into(),
            from_s,
            to_s: from_s + 600,
            rate_achieved_per_s: 999.5,
            phases: BTreeMap::from([(
                "transfer".to_string(),
                PhaseSummary {
                    p99_ms,
                    ..PhaseSummary::default()
                },
            )]),
            switch_rss_mb_start: Some(rss),
            switch_rss_mb_end: Some(rss + 1.0),
            switch_cpu_percent_mean: Some(91.0),
            ..crate::report::WindowReport::default()
        };
        report.windows = vec![
            window("first", 10, 123.4, 40.0),
            window("last", 3010, 456.7, 90.0),
        ];
        let page = render(&report);
        assert!(page.contains("<h2>First and last 600 s</h2>"), "{page}");
        assert!(page.contains("<th>10 s – 610 s</th><th>3010 s – 3610 s</th>"));
        assert!(page.contains("transfer p99 ms</th><td>123.4</td><td>456.7</td>"));
        assert!(page.contains("<td>40.0 → 41.0</td><td>90.0 → 91.0</td>"));
        // Rate, latency, switch process, in flight, capacity.
        assert_eq!(page.matches("<svg").count(), 5);
        assert!(page.contains("resident MB"));
        assert!(!render(&sample()).contains("First and last"));
    }

    #[test]
    fn capacity_without_a_held_rate() {
        let mut report = sample();
        if let Some(capacity) = report.capacity.as_mut() {
            capacity.highest_rate_held_per_s = None;
            capacity.steps.clear();
        }
        let page = render(&report);
        assert!(page.contains("Highest rate held: <strong class=\"fail\">none"));
    }

    #[test]
    fn a_bulk_report_shows_its_transfers() {
        let mut report = sample();
        report.scenario = "bulk".into();
        report.bulk_size = Some(100);
        report.transfers_per_s = Some(38_950.0 / 4.0);
        report.counts.transfers_committed = 38_950;
        report.counts.transfers_failed = 650;
        let page = render(&report);
        assert!(page.contains("Transfers per bulk</th><td>100<"), "{page}");
        assert!(page.contains("Transfers committed</th><td>38950<"));
        assert!(page.contains("Transfers failed</th><td>650<"));
        assert!(!render(&sample()).contains("Transfers per bulk"));
        let json = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(json["counts"]["transfers_committed"], 38_950);
        assert_eq!(json["bulk_size"], 100);
        let plain = serde_json::to_value(sample()).unwrap_or_default();
        assert!(plain["counts"].get("transfers_committed").is_none());
        assert!(plain.get("bulk_size").is_none());
    }

    #[test]
    fn default_report_renders() {
        let page = render(&Report::default());
        assert!(page.contains("<svg"));
        assert!(page.contains("no data"));
        assert!(!page.contains("Validity gate"));
        assert!(!page.contains("NaN"));
    }

    #[test]
    fn odd_numbers_do_not_panic() {
        let mut report = sample();
        report.rate_asked_per_s = f64::NAN;
        report.rate_achieved_per_s = f64::INFINITY;
        for second in &mut report.timeline {
            second.rate_asked_per_s = f64::NAN;
            second.p99_ms.insert("quote".into(), f64::INFINITY);
            second.p50_ms.insert("quote".into(), 0.0);
        }
        report.timeline.push(Second {
            t_s: u64::MAX,
            ..Second::default()
        });
        let page = render(&report);
        assert!(!page.contains("NaN"));
        assert!(page.contains("<svg"));

        // Tiny and huge values still give finite axes.
        let axis = Axis::covering([1e-9, 3e-9].into_iter());
        assert!(axis.hi > axis.lo && axis.ticks().count() <= 21);
        let axis = Axis::covering([1e300, f64::MAX].into_iter());
        assert!(axis.ticks().count() <= 21);
    }

    #[test]
    fn strings_are_escaped() {
        let mut report = sample();
        report.sim_url = "http://x/<script>alert('x&y')</script>\"".into();
        report.scenario = "<b>".into();
        let page = render(&report);
        assert!(!page.contains("<script>"));
        assert!(!page.contains("<b>"));
        assert!(page.contains("&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;&quot;"));
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(nice_step(f64::NAN), 1.0);
        assert_eq!(nice_step(18.0), 20.0);
        assert_eq!(nice_step(22.0), 25.0);
        assert_eq!(nice_step(0.3), 0.5);
        let axis = Axis::covering([0.0, 97.0].into_iter());
        assert_eq!((axis.lo, axis.hi, axis.step), (0.0, 100.0, 20.0));
        assert_eq!(axis.label(40.0), "40");
    }
}
