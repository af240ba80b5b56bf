//! The built-in SMTP and LMTP listeners (one session loop, two greetings).
//!
//! Parsing is smtp-proto's (commands and DATA dot-unstuffing); the session loop here enforces the
//! order HELO/LHLO → MAIL → RCPT → DATA, the message size limit (announced with `SIZE`, checked
//! while receiving), and answers 250 only after [`crate::ingest::ingest_mail`] has stored the
//! report. Reasons a message is refused go back in the reply (5xx: the sender must change
//! something; 4xx: a storage failure, the MTA should retry). LMTP answers once per recipient.
//! STARTTLS is offered when `[smtp] tls_cert` and `tls_key` are set (rustls with the ring
//! provider); after the upgrade the session starts over (RFC 3207) and bytes a client pipelined
//! behind STARTTLS are discarded. `require_tls` refuses MAIL on a plain connection.
//! Not implemented: AUTH (the listener accepts mail from anyone who can reach it; use tokens).

use std::net::SocketAddr;
use std::time::Duration;

use rear_proto::api::ReportSource;
use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use smtp_proto::{
    EXT_8BIT_MIME, EXT_ENHANCED_STATUS_CODES, EXT_PIPELINING, EXT_SIZE, EXT_START_TLS,
    EhloResponse, Request,
};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

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
/// Most sessions at once per listener; more are answered 421 and closed.
const MAX_SESSIONS: usize = 256;

/// Loads the STARTTLS certificate and key named in the config; `None` when TLS is not configured.
///
/// # Errors
/// A file cannot be read or holds no usable certificate or key (the message names the file).
pub fn load_tls(cfg: &crate::config::SmtpConfig) -> std::io::Result<Option<TlsAcceptor>> {
    if cfg.tls_cert.is_empty() && cfg.tls_key.is_empty() {
        return Ok(None);
    }
    let err = |what: &str, file: &str, e: &dyn std::fmt::Display| {
        std::io::Error::other(format!("loading the STARTTLS {what} {file}: {e}"))
    };
    let certs = CertificateDer::pem_file_iter(&cfg.tls_cert)
        .map_err(|e| err("certificate", &cfg.tls_cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err("certificate", &cfg.tls_cert, &e))?;
    let key =
        PrivateKeyDer::from_pem_file(&cfg.tls_key).map_err(|e| err("key", &cfg.tls_key, &e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("configuration", "", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err("certificate and key", &cfg.tls_cert, &e))?;
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// A byte stream a session can run on: plain TCP, or TLS after STARTTLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Accepts connections forever, one task per session.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    protocol: Protocol,
    tls: Option<TlsAcceptor>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_SESSIONS));
    loop {
        match listener.accept().await {
            Ok((mut stream, peer)) => {
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    tracing::warn!(%peer, "too many mail sessions, refusing one");
                    let _ = stream
                        .write_all(b"421 4.3.2 too many connections, try again later\r\n")
                        .await;
                    continue;
                };
                let state = state.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Err(e) = session(stream, peer, &state, protocol, tls).await {
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
pub async fn session<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    peer: SocketAddr,
    state: &AppState,
    protocol: Protocol,
    tls: Option<TlsAcceptor>,
) -> std::io::Result<()> {
    let mut stream: Box<dyn Io> = Box::new(stream);
    let mut tls_active = false;
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
        let mut start_tls = false;
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
                    ehlo(
                        &mut out,
                        &cfg.hostname,
                        &host,
                        max,
                        tls.is_some() && !tls_active,
                    );
                }
                Request::Lhlo { host } if protocol == Protocol::Lmtp => {
                    greeted = true;
                    tx = Transaction {
                        mail_from: None,
                        rcpts: Vec::new(),
                    };
                    ehlo(
                        &mut out,
                        &cfg.hostname,
                        &host,
                        max,
                        tls.is_some() && !tls_active,
                    );
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
                Request::StartTls => match &tls {
                    Some(_) if !tls_active && greeted => {
                        out.extend_from_slice(b"220 2.0.0 ready to start TLS\r\n");
                        // Anything the client pipelined after STARTTLS is dropped (RFC 3207 §4.2).
                        start_tls = true;
                        break;
                    }
                    Some(_) if tls_active => {
                        out.extend_from_slice(b"503 5.5.1 TLS is already active\r\n");
                    }
                    Some(_) => out.extend_from_slice(b"503 5.5.1 say hello first\r\n"),
                    None => out.extend_from_slice(b"502 5.5.1 STARTTLS not configured\r\n"),
                },
                Request::Mail { .. } if cfg.require_tls && !tls_active => {
                    out.extend_from_slice(b"530 5.7.0 must issue a STARTTLS command first\r\n");
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
        if start_tls && let Some(acceptor) = &tls {
            stream.flush().await?;
            stream = Box::new(acceptor.accept(stream).await?);
            tls_active = true;
            greeted = false;
            tx = Transaction {
                mail_from: None,
                rcpts: Vec::new(),
            };
            receiver = RequestReceiver::default();
        }
    }
}

fn ehlo(out: &mut Vec<u8>, hostname: &str, _client: &str, max: usize, offer_tls: bool) {
    let mut r = EhloResponse::new(hostname);
    r.capabilities = EXT_SIZE | EXT_8BIT_MIME | EXT_PIPELINING | EXT_ENHANCED_STATUS_CODES;
    if offer_tls {
        r.capabilities |= EXT_START_TLS;
    }
    r.size = max;
    // Writing into a Vec cannot fail.
    let _ = r.write(out);
}
