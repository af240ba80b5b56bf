//! The one path every report takes into the store, whatever the transport.
//!
//! [`ingest_report`] validates the report, checks that the sender may report for that host, stores
//! it idempotently and logs the outcome; HTTP, SMTP, LMTP and the pipe all call it. [`mail`] turns
//! a mail message (a rear-rs report mail or a classic ReaR `RESULT_MAILTO` mail) into reports.
//! Rejections are [`IngestError`]s whose message says what the sender must change; they are
//! logged at warn level with the transport and never take the server down.

pub mod mail;

use rear_proto::api::{IngestResponse, IngestStatus, ReportSource};
use rear_proto::{ProtoError, Report};

use crate::AppState;
use crate::auth::sha256_hex;
use crate::metrics::IngestOutcome;
use crate::store::{NewReport, StoreError, TokenRow, TokenScope};

/// Why a report was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Not a valid report (malformed, unsupported version, broken field, no report in a mail).
    #[error("{0}")]
    Invalid(String),
    /// Larger than the configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// The credentials do not allow this report (forged hostname, missing mail token).
    #[error("{0}")]
    Forbidden(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ProtoError> for IngestError {
    fn from(e: ProtoError) -> Self {
        Self::Invalid(e.to_string())
    }
}

/// Who vouches for a report.
#[derive(Debug, Clone)]
pub enum Sender {
    /// An HTTP bearer token (already looked up).
    Token(TokenRow),
    /// A mail, with the `X-Rear-Token` it carried, if any.
    Mail(Option<String>),
}

/// A report to store and how it arrived.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The parsed report.
    pub report: Report,
    /// Transport.
    pub source: ReportSource,
    /// Converted from a classic ReaR result mail.
    pub legacy_mail: bool,
}

/// Checks, stores and logs one report.
///
/// # Errors
/// [`IngestError`] with a reason the sender can act on.
pub async fn ingest_report(
    state: &AppState,
    incoming: &Incoming,
    sender: &Sender,
) -> Result<IngestResponse, IngestError> {
    let result = check_and_store(state, incoming, sender).await;
    let r = &incoming.report;
    state.counters().ingest(
        incoming.source,
        match &result {
            Ok(IngestResponse {
                status: IngestStatus::Stored,
                ..
            }) => IngestOutcome::Stored,
            Ok(_) => IngestOutcome::Duplicate,
            Err(_) => IngestOutcome::Error,
        },
    );
    match &result {
        Ok(resp) => tracing::info!(
            report_id = %r.report_id,
            host = r.hostname,
            workflow = r.workflow,
            source = incoming.source.as_str(),
            status = ?resp.status,
            "report ingested"
        ),
        Err(IngestError::Store(e)) => tracing::error!(
            report_id = %r.report_id,
            host = r.hostname,
            source = incoming.source.as_str(),
            error = %e,
            "storing report failed"
        ),
        Err(e) => tracing::warn!(
            report_id = %r.report_id,
            host = r.hostname,
            source = incoming.source.as_str(),
            reason = %e,
            "report rejected"
        ),
    }
    result
}

async fn check_and_store(
    state: &AppState,
    incoming: &Incoming,
    sender: &Sender,
) -> Result<IngestResponse, IngestError> {
    let report = &incoming.report;
    report.validate()?;
    let token = match sender {
        Sender::Token(t) => Some(t.clone()),
        Sender::Mail(Some(secret)) => match state.store().token(&sha256_hex(secret)).await? {
            Some(t) if t.scope != TokenScope::Read => Some(t),
            _ => {
                return Err(IngestError::Forbidden(
                    "the mail's X-Rear-Token is not a valid ingest token".into(),
                ));
            }
        },
        Sender::Mail(None) => {
            if state.config().auth.mail_requires_token {
                return Err(IngestError::Forbidden(
                    "this server requires an X-Rear-Token header on report mails \
                     (auth.mail_requires_token)"
                        .into(),
                ));
            }
            None
        }
    };
    if let Some(TokenRow {
        scope: TokenScope::Host(host),
        name,
        ..
    }) = &token
        && host != &report.hostname
    {
        return Err(IngestError::Forbidden(format!(
            "token {name} may only report for host {host}, not for {}",
            report.hostname
        )));
    }
    let status = state
        .store()
        .insert_report(&NewReport {
            report,
            source: incoming.source,
            received_at: state.now(),
            legacy_mail: incoming.legacy_mail,
        })
        .await?;
    Ok(IngestResponse {
        report_id: report.report_id,
        status,
    })
}

/// Ingests a whole mail message (SMTP, LMTP or pipe): every report in it is stored.
///
/// # Errors
/// The first report that fails, or [`IngestError::Invalid`] when the mail carries none.
pub async fn ingest_mail(
    state: &AppState,
    raw: &[u8],
    source: ReportSource,
) -> Result<Vec<IngestResponse>, IngestError> {
    let max = state.config().smtp.max_message_bytes;
    if raw.len() > max {
        let e = IngestError::TooLarge(format!(
            "message of {} bytes exceeds the limit of {max}",
            raw.len()
        ));
        tracing::warn!(source = source.as_str(), reason = %e, "mail rejected");
        state.counters().ingest(source, IngestOutcome::Error);
        return Err(e);
    }
    let parsed = match mail::parse_mail(raw) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(source = source.as_str(), reason = %e, "mail rejected");
            state.counters().ingest(source, IngestOutcome::Error);
            return Err(e);
        }
    };
    let sender = Sender::Mail(parsed.token);
    let mut out = Vec::new();
    for (report, legacy_mail) in parsed.reports {
        let incoming = Incoming {
            report,
            source,
            legacy_mail,
        };
        out.push(ingest_report(state, &incoming, &sender).await?);
    }
    Ok(out)
}
