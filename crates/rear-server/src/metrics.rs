//! `/metrics` in the Prometheus text exposition format (version 0.0.4): per-host gauges computed
//! from the host rows in one pass, and the server's own counters.
//!
//! The counters live in [`Counters`] (atomics in the shared state, per process: a pipe
//! `rear-server ingest` counts in its own short-lived process and is not seen here). Every
//! label value is escaped as the format requires (backslash, double quote, newline).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use rear_proto::api::{HostState, HostSummary, ReportSource};
use time::OffsetDateTime;

const SOURCES: [ReportSource; 4] = [
    ReportSource::Http,
    ReportSource::Smtp,
    ReportSource::Lmtp,
    ReportSource::Pipe,
];

fn idx(s: ReportSource) -> usize {
    match s {
        ReportSource::Http => 0,
        ReportSource::Smtp => 1,
        ReportSource::Lmtp => 2,
        ReportSource::Pipe => 3,
    }
}

/// The server's own counters.
#[derive(Debug, Default)]
pub struct Counters {
    stored: [AtomicU64; 4],
    duplicate: [AtomicU64; 4],
    rejected: [AtomicU64; 4],
    http_requests: AtomicU64,
    http_micros: AtomicU64,
}

/// What happened to one report or mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Stored.
    Stored,
    /// Already stored.
    Duplicate,
    /// Rejected or failed to store.
    Error,
}

impl Counters {
    /// Counts one ingest outcome.
    pub fn ingest(&self, source: ReportSource, outcome: IngestOutcome) {
        let set = match outcome {
            IngestOutcome::Stored => &self.stored,
            IngestOutcome::Duplicate => &self.duplicate,
            IngestOutcome::Error => &self.rejected,
        };
        set[idx(source)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one HTTP request and its duration.
    pub fn http_request(&self, elapsed: std::time::Duration) {
        self.http_requests.fetch_add(1, Ordering::Relaxed);
        self.http_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// Escapes a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn age(now: OffsetDateTime, t: OffsetDateTime) -> f64 {
    (now - t).as_seconds_f64().max(0.0)
}

/// Picks a time from a host.
type TimeOf = fn(&HostSummary) -> Option<OffsetDateTime>;

/// Renders the whole exposition.
pub fn render(hosts: &[HostSummary], counters: &Counters, now: OffsetDateTime) -> String {
    let mut out = String::with_capacity(256 + hosts.len() * 600);
    let id = |h: &HostSummary| {
        format!(
            "host=\"{}\",domain=\"{}\"",
            label(&h.hostname),
            label(&h.domain)
        )
    };

    header(
        &mut out,
        "rear_host_state",
        "gauge",
        "1 for the state the host is in (ok, failed, stale, drifted), 0 for the others.",
    );
    for h in hosts {
        for st in HostState::ALL {
            let _ = writeln!(
                out,
                "rear_host_state{{{},state=\"{}\"}} {}",
                id(h),
                st.as_str(),
                u8::from(h.state == st)
            );
        }
    }
    let gauges: [(&str, &str, TimeOf); 4] = [
        (
            "rear_host_last_success_age_seconds",
            "Seconds since the start of the host's newest successful run.",
            |h| h.last_success_at,
        ),
        (
            "rear_host_last_report_age_seconds",
            "Seconds since the start of the host's newest run.",
            |h| Some(h.last_report.started_at),
        ),
        (
            "rear_host_rescue_image_age_seconds",
            "Seconds since the start of the newest successful mkrescue or mkbackup run.",
            |h| h.last_rescue_at,
        ),
        (
            "rear_host_backup_age_seconds",
            "Seconds since the start of the newest successful mkbackup or mkbackuponly run.",
            |h| h.last_backup_at,
        ),
    ];
    for (name, help, get) in gauges {
        header(&mut out, name, "gauge", help);
        for h in hosts {
            if let Some(t) = get(h) {
                let _ = writeln!(out, "{name}{{{}}} {:.3}", id(h), age(now, t));
            }
        }
    }
    header(
        &mut out,
        "rear_host_backup_size_bytes",
        "gauge",
        "Total size of the output files of the newest successful backup run.",
    );
    for h in hosts {
        if let Some(b) = h.backup_bytes {
            let _ = writeln!(out, "rear_host_backup_size_bytes{{{}}} {b}", id(h));
        }
    }
    header(
        &mut out,
        "rear_host_layout_drifted",
        "gauge",
        "1 when the host's layout differs from the one in its last rescue image report.",
    );
    for h in hosts {
        let _ = writeln!(
            out,
            "rear_host_layout_drifted{{{}}} {}",
            id(h),
            u8::from(h.drifted)
        );
    }
    header(
        &mut out,
        "rear_hosts",
        "gauge",
        "Number of hosts per state.",
    );
    for st in HostState::ALL {
        let n = hosts.iter().filter(|h| h.state == st).count();
        let _ = writeln!(out, "rear_hosts{{state=\"{}\"}} {n}", st.as_str());
    }

    let counter_sets = [
        (
            "rear_server_reports_stored_total",
            "Reports stored, by transport.",
            &counters.stored,
        ),
        (
            "rear_server_reports_duplicate_total",
            "Reports received again (already stored), by transport.",
            &counters.duplicate,
        ),
        (
            "rear_server_ingest_errors_total",
            "Reports and mails rejected or not stored, by transport.",
            &counters.rejected,
        ),
    ];
    for (name, help, set) in counter_sets {
        header(&mut out, name, "counter", help);
        for s in SOURCES {
            let _ = writeln!(
                out,
                "{name}{{transport=\"{}\"}} {}",
                s.as_str(),
                set[idx(s)].load(Ordering::Relaxed)
            );
        }
    }
    header(
        &mut out,
        "rear_server_http_request_duration_seconds",
        "summary",
        "HTTP requests answered and the time spent answering them.",
    );
    let _ = writeln!(
        out,
        "rear_server_http_request_duration_seconds_sum {:.6}",
        counters.http_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(
        out,
        "rear_server_http_request_duration_seconds_count {}",
        counters.http_requests.load(Ordering::Relaxed)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
