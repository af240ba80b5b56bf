//! Fleet health: a host's state (ok, failed, stale, drifted), the clock it is computed against,
//! and the Nagios-style check over one host or a selection.
//!
//! The state is a pure function of the host's stored row, the current time and the stale policy
//! (`stale_after_hours` with per-tag overrides), so the overview, the API, `/metrics` and
//! `rear-server check` agree. Precedence, most urgent first: **failed** (the latest report by start
//! time is a failure), **stale** (no successful report within the host's expected interval),
//! **drifted** (the newest layout differs from the one in the last successful rescue-image report,
//! so the image would recreate the wrong layout), **ok**.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use rear_proto::api::{HostState, HostSummary};
use time::{Duration, OffsetDateTime};

use crate::config::Config;
use crate::store::HostRow;

/// The time the server computes states against: the system clock, or a manual one in tests.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<Mutex<OffsetDateTime>>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands still at `t` until [`Clock::set`] or [`Clock::advance`].
    pub fn manual(t: OffsetDateTime) -> Self {
        Self(Some(Arc::new(Mutex::new(t))))
    }

    /// The current time.
    pub fn now(&self) -> OffsetDateTime {
        match &self.0 {
            None => OffsetDateTime::now_utc(),
            Some(t) => *t.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }

    /// Sets a manual clock (no effect on the system clock).
    pub fn set(&self, t: OffsetDateTime) {
        if let Some(c) = &self.0 {
            *c.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = t;
        }
    }

    /// Moves a manual clock forward.
    pub fn advance(&self, d: Duration) {
        self.set(self.now() + d);
    }
}

/// How long a host may go without a successful report.
#[derive(Debug, Clone)]
pub struct StalePolicy {
    default: Duration,
    by_tag: BTreeMap<String, Duration>,
}

fn hours(h: u64) -> Duration {
    Duration::hours(
        i64::try_from(h)
            .unwrap_or(i64::MAX / 3600)
            .min(i64::MAX / 3600),
    )
}

impl StalePolicy {
    /// From `stale_after_hours` and `[stale_after_hours_by_tag]`.
    pub fn from_config(config: &Config) -> Self {
        Self {
            default: hours(config.stale_after_hours),
            by_tag: config
                .stale_after_hours_by_tag
                .iter()
                .map(|(t, h)| (t.clone(), hours(*h)))
                .collect(),
        }
    }

    /// The policy in the form the database computes states with.
    pub fn params(&self, now: OffsetDateTime) -> crate::store::StateParams {
        let ms = |d: Duration| i64::try_from(d.whole_milliseconds()).unwrap_or(i64::MAX);
        crate::store::StateParams {
            now_ms: crate::store::to_millis(now),
            default_ms: ms(self.default),
            by_tag: self
                .by_tag
                .iter()
                .map(|(t, d)| (t.clone(), ms(*d)))
                .collect(),
        }
    }

    /// The expected interval of a host with these tags: the shortest of its tags' intervals, or
    /// the default when none of its tags has one.
    pub fn interval(&self, tags: &[String]) -> Duration {
        tags.iter()
            .filter_map(|t| self.by_tag.get(t))
            .min()
            .copied()
            .unwrap_or(self.default)
    }
}

/// A host's state at `now`.
pub fn host_state(row: &HostRow, now: OffsetDateTime, policy: &StalePolicy) -> HostState {
    if !row.last.success {
        return HostState::Failed;
    }
    let interval = policy.interval(&row.tags);
    match row.last_success_at {
        Some(t) if now - t <= interval => {}
        _ => return HostState::Stale,
    }
    if row.drifted() {
        HostState::Drifted
    } else {
        HostState::Ok
    }
}

/// A stored host row as the API's summary, with its state at `now`.
pub fn host_summary(row: HostRow, now: OffsetDateTime, policy: &StalePolicy) -> HostSummary {
    let state = host_state(&row, now, policy);
    let drifted = row.drifted();
    HostSummary {
        hostname: row.hostname,
        domain: row.domain,
        tags: row.tags,
        os: row.os,
        state,
        report_count: row.report_count,
        last_report: row.last,
        last_rescue_at: row.last_rescue_at,
        last_backup_at: row.last_backup_at,
        last_success_at: row.last_success_at,
        backup_bytes: row.backup_bytes,
        drifted,
    }
}

/// Nagios plugin status (the exit code of `rear-server check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckStatus {
    /// 0.
    Ok = 0,
    /// 1.
    Warning = 1,
    /// 2.
    Critical = 2,
    /// 3.
    Unknown = 3,
}

impl CheckStatus {
    /// `OK`, `WARNING`, `CRITICAL`, `UNKNOWN`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// The plugin status of a host state: failed and stale are CRITICAL (the host is not
    /// protected), drifted is WARNING (protected, but the image would recreate an old layout).
    pub fn of(state: HostState) -> Self {
        match state {
            HostState::Failed | HostState::Stale => Self::Critical,
            HostState::Drifted => Self::Warning,
            HostState::Ok => Self::Ok,
        }
    }
}

/// Result of a check: exit status and the one line to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// Exit status.
    pub status: CheckStatus,
    /// `REAR <STATUS> - <text> | <perfdata>`.
    pub line: String,
}

impl CheckOutcome {
    /// An UNKNOWN outcome (no data, database unreachable, ...).
    pub fn unknown(text: &str) -> Self {
        Self {
            status: CheckStatus::Unknown,
            line: format!("REAR UNKNOWN - {}", one_line(text)),
        }
    }
}

/// Keeps a plugin's output on one line, without the perfdata separator.
fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "/")
}

fn age_text(d: Duration) -> String {
    let s = d.whole_seconds().max(0);
    if s < 7200 {
        format!("{}m", s / 60)
    } else if s < 2 * 86400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86400)
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// The check of one host.
pub fn check_host(h: &HostSummary, now: OffsetDateTime, policy: &StalePolicy) -> CheckOutcome {
    let status = CheckStatus::of(h.state);
    let interval = policy.interval(&h.tags);
    let since = |t: Option<OffsetDateTime>| t.map(|t| (now - t).whole_seconds().max(0));
    let text = match h.state {
        HostState::Failed => format!(
            "{} failed: {} at {}: {}",
            h.hostname,
            h.last_report.workflow,
            rfc3339(h.last_report.started_at),
            h.last_report.error.as_deref().unwrap_or("no error message")
        ),
        HostState::Stale => match h.last_success_at {
            Some(t) => format!(
                "{} stale: last successful report {} ago (expected every {})",
                h.hostname,
                age_text(now - t),
                age_text(interval)
            ),
            None => format!("{} stale: no successful report yet", h.hostname),
        },
        HostState::Drifted => format!(
            "{} drifted: the layout changed since the last rescue image{}",
            h.hostname,
            h.last_rescue_at
                .map(|t| format!(" ({} ago)", age_text(now - t)))
                .unwrap_or_default()
        ),
        HostState::Ok => format!(
            "{} ok: last {} {} ago",
            h.hostname,
            h.last_report.workflow,
            age_text(now - h.last_report.started_at)
        ),
    };
    let mut perf = Vec::new();
    if let Some(s) = since(h.last_success_at) {
        perf.push(format!(
            "last_success_age={s}s;;{};0",
            interval.whole_seconds()
        ));
    }
    if let Some(s) = since(h.last_rescue_at) {
        perf.push(format!("rescue_image_age={s}s;;;0"));
    }
    if let Some(s) = since(h.last_backup_at) {
        perf.push(format!("backup_age={s}s;;;0"));
    }
    if let Some(b) = h.backup_bytes {
        perf.push(format!("backup_size={b}B;;;0"));
    }
    let mut line = format!("REAR {} - {}", status.label(), one_line(&text));
    if !perf.is_empty() {
        line.push_str(" | ");
        line.push_str(&perf.join(" "));
    }
    CheckOutcome { status, line }
}

/// The check of a selection of hosts (`what` names it, e.g. `tag prod` or `fleet`): the worst
/// host decides; the text counts the hosts per state and names the first few that are not ok.
pub fn check_fleet(hosts: &[HostSummary], what: &str) -> CheckOutcome {
    if hosts.is_empty() {
        return CheckOutcome::unknown(&format!("no hosts in {what}"));
    }
    let status = hosts
        .iter()
        .map(|h| CheckStatus::of(h.state))
        .max()
        .unwrap_or(CheckStatus::Ok);
    let mut parts = Vec::new();
    let mut perf = vec![format!("hosts={};;;0", hosts.len())];
    for st in HostState::ALL {
        let names: Vec<&str> = hosts
            .iter()
            .filter(|h| h.state == st)
            .map(|h| h.hostname.as_str())
            .collect();
        perf.push(format!("{}={};;;0", st.as_str(), names.len()));
        if names.is_empty() {
            continue;
        }
        if st == HostState::Ok {
            parts.push(format!("{} ok", names.len()));
        } else {
            let mut shown = names.iter().take(5).copied().collect::<Vec<_>>().join(", ");
            if names.len() > 5 {
                shown.push_str(", ...");
            }
            parts.push(format!("{} {} ({shown})", names.len(), st.as_str()));
        }
    }
    CheckOutcome {
        status,
        line: format!(
            "REAR {} - {} hosts in {what}: {} | {}",
            status.label(),
            hosts.len(),
            one_line(&parts.join(", ")),
            perf.join(" ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rear_proto::api::{ReportSource, ReportSummary};
    use time::macros::datetime;

    fn row(success: bool, last_success: Option<OffsetDateTime>, tags: &[&str]) -> HostRow {
        let t = datetime!(2026-11-20 06:00 UTC);
        HostRow {
            hostname: "web1".into(),
            domain: String::new(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            os: String::new(),
            report_count: 1,
            last: ReportSummary {
                report_id: uuid::Uuid::nil(),
                hostname: "web1".into(),
                workflow: "mkrescue".into(),
                success,
                error: (!success).then(|| "mkfs failed".into()),
                started_at: t,
                duration_ms: 1,
                received_at: t,
                source: ReportSource::Http,
                rear_version: "x".into(),
                legacy_mail: false,
            },
            last_rescue_at: last_success,
            last_backup_at: None,
            last_success_at: last_success,
            layout_sha: Some("a".into()),
            rescue_layout_sha: Some("a".into()),
            backup_bytes: None,
        }
    }

    fn policy() -> StalePolicy {
        let mut c = Config {
            stale_after_hours: 48,
            ..Config::default()
        };
        c.stale_after_hours_by_tag.insert("prod".into(), 26);
        c.stale_after_hours_by_tag.insert("hourly".into(), 2);
        StalePolicy::from_config(&c)
    }

    #[test]
    fn interval_is_the_shortest_of_the_hosts_tags() {
        let p = policy();
        assert_eq!(p.interval(&[]), Duration::hours(48));
        assert_eq!(p.interval(&["web".into()]), Duration::hours(48));
        assert_eq!(
            p.interval(&["prod".into(), "hourly".into()]),
            Duration::hours(2)
        );
    }

    #[test]
    fn states_follow_precedence() {
        let p = policy();
        let t = datetime!(2026-11-20 06:00 UTC);
        let now = t + Duration::hours(30);
        assert_eq!(host_state(&row(true, Some(t), &[]), now, &p), HostState::Ok);
        assert_eq!(
            host_state(&row(true, Some(t), &["prod"]), now, &p),
            HostState::Stale
        );
        assert_eq!(
            host_state(&row(false, Some(t), &["prod"]), now, &p),
            HostState::Failed
        );
        let mut drifted = row(true, Some(t), &[]);
        drifted.layout_sha = Some("b".into());
        assert_eq!(host_state(&drifted, now, &p), HostState::Drifted);
        drifted.tags = vec!["prod".into()];
        assert_eq!(host_state(&drifted, now, &p), HostState::Stale);
        assert_eq!(host_state(&row(true, None, &[]), now, &p), HostState::Stale);
    }

    #[test]
    fn fleet_check_takes_the_worst_host() {
        let p = policy();
        let t = datetime!(2026-11-20 06:00 UTC);
        let now = t + Duration::hours(1);
        let ok = host_summary(row(true, Some(t), &[]), now, &p);
        let mut drifted = row(true, Some(t), &[]);
        drifted.hostname = "db1".into();
        drifted.layout_sha = Some("b".into());
        let drifted = host_summary(drifted, now, &p);
        let out = check_fleet(&[ok.clone(), drifted.clone()], "fleet");
        assert_eq!(out.status, CheckStatus::Warning);
        assert_eq!(
            out.line,
            "REAR WARNING - 2 hosts in fleet: 1 drifted (db1), 1 ok | hosts=2;;;0 failed=0;;;0 \
             stale=0;;;0 drifted=1;;;0 ok=1;;;0"
        );
        let failed = host_summary(row(false, Some(t), &[]), now, &p);
        assert_eq!(
            check_fleet(&[ok, drifted, failed], "fleet").status,
            CheckStatus::Critical
        );
        assert_eq!(check_fleet(&[], "tag x").status, CheckStatus::Unknown);
    }
}
