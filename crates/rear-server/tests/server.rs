//! Integration tests: the real server on 127.0.0.1:0 with a temporary SQLite database, driven
//! over real HTTP (reqwest) and real SMTP/LMTP (a small tokio client in `common`).

#[path = "server/common.rs"]
mod common;
#[path = "../../rear-core/tests/rescue_support.rs"]
mod rescue_support;

#[path = "server/auth.rs"]
mod auth;
#[path = "server/browser.rs"]
mod browser;
#[path = "server/cli.rs"]
mod cli;
#[path = "server/client.rs"]
mod client;
#[path = "server/health.rs"]
mod health;
#[path = "server/http.rs"]
mod http;
#[path = "server/images.rs"]
mod images;
#[path = "server/ldap.rs"]
mod ldap;
#[path = "server/postfix.rs"]
mod postfix;
#[path = "server/s3.rs"]
mod s3;
#[path = "server/smtp.rs"]
mod smtp;
#[path = "server/store.rs"]
mod store;
