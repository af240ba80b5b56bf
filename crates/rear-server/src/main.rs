//! `rear-server`: serve (the default), manage users and tokens, ingest a mail from a pipe.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rear_proto::api::ReportSource;
use rear_server::auth::password::hash_password;
use rear_server::auth::{random_token, sha256_hex};
use rear_server::config::Config;
use rear_server::health::{CheckOutcome, StalePolicy, check_fleet, check_host, host_summary};
use rear_server::ingest::IngestError;
use rear_server::store::{self, HostFilter, Role, Store, TokenRow, TokenScope, UserRow};
use rear_server::{AppState, Listeners, Server};

/// Central service that rear clients report to.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Config file (default /etc/rear-server/server.toml; a missing default file means defaults).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (overrides `data_dir` of the config).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web GUI, API and mail listeners (the default).
    Serve,
    /// Manage local users.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Store the report(s) of one mail read from standard input (for an MTA pipe transport).
    /// Exit codes follow sysexits: 0 stored, 65 rejected (do not retry), 75 try again later.
    Ingest,
    /// Nagios/Icinga plugin: the state of one host, of the hosts with a tag, or of the whole fleet.
    /// Prints one status line with perfdata; exit 0 OK, 1 WARNING (drifted), 2 CRITICAL (failed or
    /// stale), 3 UNKNOWN (no such host, no hosts, database unreachable).
    Check {
        /// Check only this host.
        #[arg(long, conflicts_with = "tag")]
        host: Option<String>,
        /// Check the hosts carrying this tag.
        #[arg(long)]
        tag: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a user; the password is read from standard input, or generated and printed once.
    Add {
        /// Login name.
        name: String,
        /// viewer (read only) or admin.
        #[arg(long, default_value = "viewer", value_parser = ["viewer", "admin"])]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a token and print it once (only its hash is stored).
    Add {
        /// A name for the token (unique).
        name: String,
        /// Ingest token that may only send reports for this host.
        #[arg(long, conflicts_with_all = ["site", "read"])]
        host: Option<String>,
        /// Ingest token for every host of the site.
        #[arg(long, conflicts_with = "read")]
        site: bool,
        /// Token that may read the JSON API.
        #[arg(long)]
        read: bool,
    },
    /// Revoke a token by name.
    Remove {
        /// The token's name.
        name: String,
    },
    /// List tokens (names and scopes; the secrets are not stored).
    List,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rear-server: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rear-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open_store(config: &Config) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            anyhow::anyhow!("creating data directory {}: {e}", config.data_dir.display())
        })?;
    }
    let url = config.database_url();
    store::open(&url)
        .await
        .map_err(|e| anyhow::anyhow!("opening database {url}: {e}"))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) if matches!(cli.command, Some(Command::Check { .. })) => {
            println!("{}", CheckOutcome::unknown(&format!("{e:#}")).line);
            return Ok(ExitCode::from(3));
        }
        Err(e) => return Err(e),
    };
    if let Some(d) = cli.data_dir {
        config.data_dir = d;
    }
    if let Some(Command::Check { host, tag }) = &cli.command {
        let out = check(&config, host.as_deref(), tag.as_deref()).await;
        println!("{}", out.line);
        return Ok(ExitCode::from(out.status as u8));
    }
    let store = open_store(&config).await?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Check { .. } => unreachable!("handled above"),
        Command::Serve => serve(config, store).await,
        Command::User(UserCmd::Add {
            name,
            role,
            password_stdin,
        }) => {
            let role = Role::parse(&role).unwrap_or(Role::Viewer);
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                (line.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (random_token()[..20].to_string(), true)
            };
            if password.len() < 8 {
                anyhow::bail!("the password must have at least 8 characters");
            }
            let password_hash = hash_password(&password)?;
            store
                .add_user(&UserRow {
                    name: name.clone(),
                    password_hash,
                    role,
                })
                .await?;
            println!("added user {name} ({})", role.as_str());
            if generated {
                println!("password (shown only now): {password}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(TokenCmd::Add {
            name,
            host,
            site,
            read,
        }) => {
            let scope = match (host, site, read) {
                (Some(h), _, _) => TokenScope::Host(h),
                (None, true, _) => TokenScope::Site,
                (None, false, true) => TokenScope::Read,
                (None, false, false) => {
                    anyhow::bail!("say what the token is for: --host NAME, --site or --read")
                }
            };
            let token = random_token();
            store
                .add_token(&TokenRow {
                    token_hash: sha256_hex(&token),
                    name: name.clone(),
                    scope,
                })
                .await?;
            println!("token {name} (shown only now): {token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(TokenCmd::Remove { name }) => {
            if store.delete_token(&name).await? {
                println!("token {name} revoked");
                Ok(ExitCode::SUCCESS)
            } else {
                anyhow::bail!("there is no token named {name}");
            }
        }
        Command::Token(TokenCmd::List) => {
            for t in store.tokens().await? {
                let scope = match t.scope {
                    TokenScope::Host(h) => format!("host {h}"),
                    TokenScope::Site => "site".into(),
                    TokenScope::Read => "read".into(),
                };
                println!("{}\t{scope}", t.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest => {
            let mut raw = Vec::new();
            std::io::stdin().read_to_end(&mut raw)?;
            // A broken [images] S3 setting (e.g. an unreadable secret file) must not bounce
            // report mails: postfix keeps them until it is fixed.
            let state = match AppState::new(store, config) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("rear-server ingest: [images]: {e}; try again later");
                    return Ok(ExitCode::from(75));
                }
            };
            match rear_server::ingest::ingest_mail(&state, &raw, ReportSource::Pipe).await {
                Ok(stored) => {
                    for s in stored {
                        println!("{} {:?}", s.report_id, s.status);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(IngestError::Store(e)) => {
                    eprintln!("rear-server ingest: storing failed, try again later: {e}");
                    Ok(ExitCode::from(75))
                }
                Err(e) => {
                    eprintln!("rear-server ingest: rejected: {e}");
                    Ok(ExitCode::from(65))
                }
            }
        }
    }
}

/// `rear-server check`: never fails, every problem is an UNKNOWN outcome.
async fn check(config: &Config, host: Option<&str>, tag: Option<&str>) -> CheckOutcome {
    // The check only reads: a missing SQLite database is "no data", not something to create.
    if config.database_url.is_none() && !config.data_dir.join("rear-server.db").exists() {
        return CheckOutcome::unknown(&format!(
            "no database in {} (has rear-server run yet?)",
            config.data_dir.display()
        ));
    }
    let store = match open_store(config).await {
        Ok(s) => s,
        Err(e) => return CheckOutcome::unknown(&format!("{e:#}")),
    };
    let policy = StalePolicy::from_config(config);
    let now = time::OffsetDateTime::now_utc();
    match host {
        Some(name) => match store.host(name).await {
            Ok(Some(row)) => check_host(&host_summary(row, now, &policy), now, &policy),
            Ok(None) => CheckOutcome::unknown(&format!("no reports from host {name}")),
            Err(e) => CheckOutcome::unknown(&format!("reading the database: {e}")),
        },
        None => {
            let filter = HostFilter {
                domain: None,
                tag: tag.map(str::to_string),
            };
            match store::all_hosts(store.as_ref(), &filter, None).await {
                Ok(rows) => {
                    let hosts: Vec<_> = rows
                        .into_iter()
                        .map(|r| host_summary(r, now, &policy))
                        .collect();
                    let what = tag.map_or_else(|| "fleet".to_string(), |t| format!("tag {t}"));
                    check_fleet(&hosts, &what)
                }
                Err(e) => CheckOutcome::unknown(&format!("reading the database: {e}")),
            }
        }
    }
}

async fn bind(addr: &str, what: &str) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    if addr.is_empty() {
        return Ok(None);
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map(Some)
        .map_err(|e| anyhow::anyhow!("listening for {what} on {addr}: {e}"))
}

async fn serve(config: Config, store: std::sync::Arc<dyn Store>) -> anyhow::Result<ExitCode> {
    let mut first_login = None;
    if store.user_count().await? == 0 {
        let password = random_token()[..20].to_string();
        let password_hash = hash_password(&password)?;
        store
            .add_user(&UserRow {
                name: "admin".into(),
                password_hash,
                role: Role::Admin,
            })
            .await?;
        first_login = Some(password);
    }
    let http = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|e| anyhow::anyhow!("listening for HTTP on {}: {e}", config.http.listen))?;
    let smtp = bind(&config.smtp.listen, "SMTP").await?;
    let lmtp = bind(&config.smtp.lmtp_listen, "LMTP").await?;
    let state = AppState::new(store, config)?;
    // An S3 image store must be reachable now rather than at the first upload.
    state.images().check().await?;
    let state_images = state.images().describe();
    let server = Server::start(state, Listeners { http, smtp, lmtp })?;
    println!("rear-server {} is running", env!("CARGO_PKG_VERSION"));
    println!("  web GUI and API: http://{}/", server.http_addr);
    println!("  rescue images: {state_images}");
    if let Some(a) = server.smtp_addr {
        println!("  SMTP: {a}");
    }
    if let Some(a) = server.lmtp_addr {
        println!("  LMTP: {a}");
    }
    match first_login {
        Some(pw) => println!(
            "  log in as user admin with password {pw} (created now and shown only once; \
             add users with: rear-server user add NAME --role admin|viewer)"
        ),
        None => println!(
            "  log in with a user created by: rear-server user add NAME --role admin|viewer"
        ),
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => { r?; tracing::info!("stopping on Ctrl-C"); }
        _ = term.recv() => tracing::info!("stopping on SIGTERM"),
    }
    server.abort();
    Ok(ExitCode::SUCCESS)
}
