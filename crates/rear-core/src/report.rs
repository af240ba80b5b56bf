//! Run reports for rear-server: built at the end of every run (success or failure) and
//! delivered by HTTPS or mail, or queued on disk when the server cannot be reached.
//!
//! Contract:
//! - Reporting never fails a run. [`deliver`] returns what happened ([`Delivery`]); a report that
//!   could not be sent is written to the queue (`$VAR_DIR/report-queue/<report id>.json`) and
//!   sent, oldest first, before the next report.
//! - `REAR_SERVER=https://host[:port][/prefix]` posts the JSON to `<url>/api/v1/reports` with
//!   `Authorization: Bearer $REAR_SERVER_TOKEN`; the server stores a report ID once, so a retry
//!   of a report that did arrive changes nothing.
//! - `REAR_SERVER=mailto:address` sends a MIME mail with `report.json` (`application/json`) and,
//!   when there is one, `disklayout.conf` attached, plus the rescue image when it is smaller than
//!   `REAR_SERVER_MAIL_MAX_IMAGE_SIZE` bytes. It goes through the local MTA (`sendmail -t -oi`,
//!   through the command runner) or, with `REAR_SERVER_SMTP_RELAY=host[:port]`, straight to that
//!   relay (STARTTLS when offered). `REAR_SERVER_TOKEN` travels as `X-Rear-Token`.

mod build;
mod send;
pub mod upload;

pub use build::{OutputFiles, RunFacts, build_report};
pub use send::{Delivery, MailSettings, ServerSettings, deliver, queue_dir};
