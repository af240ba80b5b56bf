//! The built-in SMTP and LMTP listeners (one session loop, two greetings).
//!
//! Parsing is smtp-proto's (commands and DATA dot-unstuffing); the session loop here enforces the
//! order HELO/LHLO → MAIL → RCPT → DATA, the message size limit (announced with `SIZE`, checked
//! while receiving), and answers 250 only after [`crate::ingest::ingest_mail`] has stored the
//! report. Reasons a message is refused go back in the reply (5xx: the sender must change
//! something; 4xx: a storage failure, the MTA should retry). LMTP answers once per recipient.
//! Not implemented yet: STARTTLS and AUTH (not announced; run the listener on localhost or behind
//! an MTA that does TLS, as `docs/server.md` describes).

use std::net::SocketAddr;
use std::time::Duration;

use rear_proto::api::ReportSource;
use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use smtp_proto::{
    EXT_8BIT_MIME, EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING, EXT_SIZE, EhloResponse, Request,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::AppState;
use crate::ingest::{IngestError, ingest_mail};

/// Which dialect a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// RFC 5321 SMTP (EHLO/HELO).
    Smtp,
    /// RFC 2033 LMTP (LHLO, one reply per recipient after DATA).
    Lmtp,
}

/// How long a client may stay silent before the session is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Most recipients per transaction.
const MAX_RECIPIENTS: usize = 100;

/// Accepts connections forever, one task per session.
pub async fn serve(listener: TcpListener, state: AppState, protocol: Protocol) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let state = state.clone();
                tokio::spawn(async move {
                    if let Err(e) = session(stream, peer, &state, protocol).await {
                        tracing::debug!(%peer, error = %e, "mail session ended with an error");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accepting a mail connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

struct Transaction {
    mail_from: Option<String>,
    rcpts: Vec<String>,
}

struct Data {
    receiver: DataReceiver,
    buf: Vec<u8>,
    too_big: bool,
}

/// One single-line reply text: no CR/LF, bounded length.
fn one_line(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    s.chars().take(400).collect()
}

/// Runs one SMTP/LMTP session on any byte stream.
///
/// # Errors
/// I/O errors of the connection.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    state: &AppState,
    protocol: Protocol,
) -> std::io::Result<()> {
    let cfg = &state.config().smtp;
    let max = cfg.max_message_bytes;
    let source = match protocol {
        Protocol::Smtp => ReportSource::Smtp,
        Protocol::Lmtp => ReportSource::Lmtp,
    };
    let kind = if protocol == Protocol::Smtp {
        "ESMTP"
    } else {
        "LMTP"
    };
    stream
        .write_all(format!("220 {} rear-server {kind} ready\r\n", cfg.hostname).as_bytes())
        .await?;
    let mut receiver = RequestReceiver::default();
    let mut greeted = false;
    let mut tx = Transaction {
        mail_from: None,
        rcpts: Vec::new(),
    };
    let mut data: Option<Data> = None;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match tokio::time::timeout(IDLE_TIMEOUT, stream.read(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => {
                stream
                    .write_all(b"421 4.4.2 idle too long, closing\r\n")
                    .await?;
                return Ok(());
            }
        };
        if n == 0 {
            return Ok(());
        }
        let mut iter = buf[..n].iter();
        let mut out = Vec::new();
        loop {
            if let Some(d) = data.as_mut() {
                let done = d.receiver.ingest(&mut iter, &mut d.buf);
                if d.buf.len() > max {
                    // Keep reading to the end of DATA, but stop keeping the bytes.
                    d.too_big = true;
                    d.buf.clear();
                }
                if !done {
                    break;
                }
                let d = data
                    .take()
                    .unwrap_or_else(|| unreachable!("data is Some here"));
                let reply = if d.too_big {
                    tracing::warn!(%peer, max, "mail rejected: message too large");
                    format!("552 5.3.4 message exceeds the size limit of {max} bytes\r\n")
                } else {
                    match ingest_mail(state, &d.buf, source).await {
                        Ok(stored) => format!(
                            "250 2.0.0 stored {} report(s): {}\r\n",
                            stored.len(),
                            stored
                                .iter()
                                .map(|s| s.report_id.to_string())
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        Err(IngestError::Store(_)) => {
                            "451 4.3.0 temporary failure storing the report, try again later\r\n"
                                .to_string()
                        }
                        Err(IngestError::TooLarge(m)) => format!("552 5.3.4 {}\r\n", one_line(&m)),
                        Err(e) => format!("550 5.6.0 {}\r\n", one_line(&e.to_string())),
                    }
                };
                let replies = if protocol == Protocol::Lmtp {
                    tx.rcpts.len().max(1)
                } else {
                    1
                };
                for _ in 0..replies {
                    out.extend_from_slice(reply.as_bytes());
                }
                tx = Transaction {
                    mail_from: None,
                    rcpts: Vec::new(),
                };
                continue;
            }
            let before = iter.len();
            let request = match receiver.ingest(&mut iter) {
                Ok(r) => r.into_owned(),
                Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                Err(smtp_proto::Error::ResponseTooLong) => {
                    out.extend_from_slice(b"500 5.5.2 line too long\r\n");
                    continue;
                }
                Err(e) => {
                    out.extend_from_slice(
                        format!("500 5.5.2 {}\r\n", one_line(&format!("{e:?}"))).as_bytes(),
                    );
                    if iter.len() == before {
                        break;
                    }
                    continue;
                }
            };
            match request {
                Request::Ehlo { host } | Request::Helo { host } if protocol == Protocol::Smtp => {
                    greeted = true;
                    tx = Transaction {
                        mail_from: None,
                        rcpts: Vec::new(),
                    };
                    ehlo(&mut out, &cfg.hostname, &host, max);
                }
                Request::Lhlo { host } if protocol == Protocol::Lmtp => {
                    greeted = true;
                    tx = Transaction {
                        mail_from: None,
                        rcpts: Vec::new(),
                    };
                    ehlo(&mut out, &cfg.hostname, &host, max);
                }
                Request::Ehlo { .. } | Request::Helo { .. } | Request::Lhlo { .. } => {
                    let want = if protocol == Protocol::Smtp {
                        "EHLO"
                    } else {
                        "LHLO"
                    };
                    out.extend_from_slice(
                        format!("500 5.5.1 this is {kind}, say {want}\r\n").as_bytes(),
                    );
                }
                Request::Mail { from } => {
                    if !greeted {
                        out.extend_from_slice(b"503 5.5.1 say hello first\r\n");
                    } else if tx.mail_from.is_some() {
                        out.extend_from_slice(b"503 5.5.1 nested MAIL command\r\n");
                    } else if from.size > max {
                        out.extend_from_slice(
                            format!("552 5.3.4 message size exceeds the limit of {max} bytes\r\n")
                                .as_bytes(),
                        );
                    } else {
                        tx.mail_from = Some(from.address);
                        out.extend_from_slice(b"250 2.1.0 sender ok\r\n");
                    }
                }
                Request::Rcpt { to } => {
                    if tx.mail_from.is_none() {
                        out.extend_from_slice(b"503 5.5.1 need MAIL before RCPT\r\n");
                    } else if tx.rcpts.len() >= MAX_RECIPIENTS {
                        out.extend_from_slice(b"452 4.5.3 too many recipients\r\n");
                    } else {
                        tx.rcpts.push(to.address);
                        out.extend_from_slice(b"250 2.1.5 recipient ok\r\n");
                    }
                }
                Request::Data => {
                    if tx.rcpts.is_empty() {
                        out.extend_from_slice(b"503 5.5.1 need RCPT before DATA\r\n");
                    } else {
                        data = Some(Data {
                            receiver: DataReceiver::new(),
                            buf: Vec::new(),
                            too_big: false,
                        });
                        out.extend_from_slice(b"354 start mail input; end with <CRLF>.<CRLF>\r\n");
                    }
                }
                Request::Rset => {
                    tx = Transaction {
                        mail_from: None,
                        rcpts: Vec::new(),
                    };
                    out.extend_from_slice(b"250 2.0.0 reset\r\n");
                }
                Request::Noop { .. } => out.extend_from_slice(b"250 2.0.0 ok\r\n"),
                Request::Vrfy { .. } => out.extend_from_slice(b"252 2.5.2 cannot verify\r\n"),
                Request::Quit => {
                    out.extend_from_slice(b"221 2.0.0 bye\r\n");
                    stream.write_all(&out).await?;
                    return Ok(());
                }
                other => {
                    out.extend_from_slice(
                        format!("502 5.5.1 {} not implemented\r\n", other.name()).as_bytes(),
                    );
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
        }
    }
}

fn ehlo(out: &mut Vec<u8>, hostname: &str, _client: &str, max: usize) {
    let mut r = EhloResponse::new(hostname);
    r.capabilities = EXT_SIZE | EXT_8BIT_MIME | EXT_PIPELINING | EXT_ENHANCED_STATUS_CODES;
    r.size = max;
    // Writing into a Vec cannot fail.
    let _ = r.write(out);
}
