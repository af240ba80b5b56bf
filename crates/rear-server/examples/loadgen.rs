//! Load generator for rear-server (see `bench/server/run.sh`, which drives it).
//!
//! ```text
//! loadgen prefill DB_URL HOSTS REPORTS            # bulk insert straight into the store
//! loadgen http URL TOKEN HOSTS REPORTS CONC       # POST /api/v1/reports
//! loadgen smtp ADDR HOSTS MESSAGES CONC           # one report mail per message
//! loadgen query URL USER PASSWORD HOSTS N         # latency of overview, host page, search, API
//! ```
//! Every mode prints one result line per measurement as `name: value`.

use std::time::{Duration, Instant};

use rear_proto::api::ReportSource;
use rear_proto::{OutputFile, Report, RunResult};
use rear_server::store::NewReport;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const WORKFLOWS: [&str; 5] = [
    "mkrescue",
    "mkbackup",
    "mkbackuponly",
    "checklayout",
    "mkbackup",
];
const TAGS: [&str; 8] = [
    "prod", "test", "web", "db", "dmz", "backup", "legacy", "k8s",
];

/// A cheap deterministic pseudo-random number (splitmix64).
fn rnd(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn host_name(i: u64) -> String {
    format!("host{i:05}")
}

/// Report number `n` of a fleet of `hosts` hosts.
fn make_report(n: u64, hosts: u64) -> Report {
    let h = n % hosts;
    let r = rnd(n);
    let mut rep = Report::new(&host_name(h), WORKFLOWS[(r % 5) as usize], "rear-rs 0.1.0");
    rep.domain = format!("site{}.example.com", h % 20);
    rep.tags = vec![
        TAGS[(h % 8) as usize].into(),
        TAGS[((h / 8) % 8) as usize].into(),
    ];
    rep.tags.dedup();
    if r.is_multiple_of(20) {
        rep.result = RunResult::Failure {
            error: format!(
                "mkfs.xfs failed on /dev/sd{}",
                (b'a' + (r % 4) as u8) as char
            ),
        };
    }
    // Reports spread over the last 30 days, older numbers older.
    rep.started_at =
        OffsetDateTime::now_utc() - Duration::from_secs(30 * 86400 - (n % (30 * 86400)));
    rep.duration_ms = 30_000 + r % 600_000;
    rep.os.name = "Debian GNU/Linux 12 (bookworm)".into();
    rep.os.kernel = "6.1.0-26-amd64".into();
    let disk_gb = 20 + (h % 5) * 20;
    let mut layout = format!("disk /dev/sda {} gpt\n", disk_gb << 30);
    for p in 1..=4 {
        layout.push_str(&format!(
            "part /dev/sda {} {} rear-noname none /dev/sda{p}\n",
            (1u64 << 30) * p,
            (1u64 << 20) * p
        ));
    }
    layout.push_str(&format!(
        "fs /dev/sda2 / ext4 uuid=host{h:05}-root label= blocksize=4096\n"
    ));
    layout.push_str("lvmvol /dev/vg0 lv_var 10737418240b linear\nswap /dev/sda3 uuid= label=\n");
    rep.layout = Some(layout);
    rep.log_tail = (0..30)
        .map(|i| {
            format!(
                "2026-11-26 06:{:02}:{:02} Including stage script {i:03}_step_{}.sh",
                i % 60,
                r % 60,
                r % 97
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    rep.output_files = vec![OutputFile {
        path: format!("/var/lib/rear/output/rear-{}.iso", host_name(h)),
        size: 120_000_000 + r % 10_000_000,
        sha256: format!(
            "{:016x}{:016x}{:016x}{:016x}",
            r,
            rnd(r),
            rnd(r + 1),
            rnd(r + 2)
        ),
    }];
    rep
}

fn pct(mut v: Vec<Duration>, p_percent: usize) -> f64 {
    v.sort();
    let i = (v.len() - 1) * p_percent / 100;
    v[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| args[i].parse::<u64>().expect("a number");
    match args.first().map(String::as_str) {
        Some("prefill") => prefill(&args[1], num(2), num(3)).await,
        Some("http") => http(&args[1], &args[2], num(3), num(4), num(5)).await,
        Some("smtp") => smtp(&args[1], num(2), num(3), num(4)).await,
        Some("query") => query(&args[1], &args[2], &args[3], num(4), num(5)).await,
        _ => {
            eprintln!("usage: see the header of crates/rear-server/examples/loadgen.rs");
            std::process::exit(2);
        }
    }
}

/// Reports per bulk transaction of the prefill.
const PREFILL_BATCH: usize = 1000;

/// Inserts `reports` reports through `Store::insert_reports_bulk` (the same rows, host updates and
/// search entries as ingest, 1,000 reports per transaction). The hosts are split between the
/// writers (one for SQLite, which has one writer anyway; four for PostgreSQL), so no two
/// transactions touch the same host row; each writer's reports are made on a blocking thread
/// while the previous batch is written.
async fn prefill(db: &str, hosts: u64, reports: u64) {
    let store = rear_server::store::open(db)
        .await
        .expect("opening the store");
    let writers: u64 = if db.starts_with("postgres") { 4 } else { 1 };
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let store = store.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Report>>(2);
        std::thread::spawn(move || {
            let mut batch = Vec::with_capacity(PREFILL_BATCH);
            for n in (0..reports).filter(|n| (n % hosts) % writers == w) {
                batch.push(make_report(n, hosts));
                if batch.len() == PREFILL_BATCH
                    && tx
                        .blocking_send(std::mem::replace(
                            &mut batch,
                            Vec::with_capacity(PREFILL_BATCH),
                        ))
                        .is_err()
                {
                    return;
                }
            }
            if !batch.is_empty() {
                let _ = tx.blocking_send(batch);
            }
        });
        tasks.spawn(async move {
            let received_at = OffsetDateTime::now_utc();
            while let Some(batch) = rx.recv().await {
                let news: Vec<NewReport<'_>> = batch
                    .iter()
                    .map(|r| NewReport {
                        report: r,
                        source: ReportSource::Http,
                        received_at,
                        legacy_mail: false,
                    })
                    .collect();
                store.insert_reports_bulk(&news).await.expect("bulk insert");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("writer");
    }
    let s = t.elapsed().as_secs_f64();
    println!("prefill_reports: {reports}");
    println!("prefill_seconds: {s:.1}");
    println!("prefill_rate_per_s: {:.0}", reports as f64 / s);
}

async fn http(url: &str, token: &str, hosts: u64, reports: u64, conc: u64) {
    let client = reqwest::Client::new();
    // Numbers far above any prefill so that every report is new.
    let base = 1u64 << 40;
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..conc {
        let (client, url, token) = (
            client.clone(),
            format!("{url}/api/v1/reports"),
            token.to_string(),
        );
        tasks.spawn(async move {
            let mut lat = Vec::new();
            let mut n = w;
            while n < reports {
                let body = make_report(base + n, hosts).to_json();
                let t0 = Instant::now();
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("POST");
                assert_eq!(r.status().as_u16(), 201, "{:?}", r.text().await);
                lat.push(t0.elapsed());
                n += conc;
            }
            lat
        });
    }
    let mut lat = Vec::new();
    while let Some(l) = tasks.join_next().await {
        lat.extend(l.expect("task"));
    }
    let s = t.elapsed().as_secs_f64();
    println!("http_reports: {reports}");
    println!("http_rate_per_s: {:.0}", reports as f64 / s);
    println!("http_p50_ms: {:.1}", pct(lat.clone(), 50));
    println!("http_p99_ms: {:.1}", pct(lat, 99));
}

async fn smtp(addr: &str, hosts: u64, messages: u64, conc: u64) {
    let base = 1u64 << 41;
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..conc {
        let addr = addr.to_string();
        tasks.spawn(async move {
            let stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
            let (r, mut wr) = stream.into_split();
            let mut r = BufReader::new(r);
            let mut line = String::new();
            let mut reply = async |r: &mut BufReader<_>| -> String {
                loop {
                    line.clear();
                    r.read_line(&mut line).await.expect("read");
                    if line.as_bytes().get(3) != Some(&b'-') {
                        return line.clone();
                    }
                }
            };
            reply(&mut r).await;
            wr.write_all(b"EHLO loadgen\r\n").await.expect("write");
            reply(&mut r).await;
            let mut n = w;
            while n < messages {
                let rep = make_report(base + n, hosts);
                let mail = format!(
                    "From: root@{h}\r\nSubject: rear\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                     --b\r\nContent-Type: application/json\r\nContent-Disposition: attachment; filename=\"r.json\"\r\n\r\n{j}\r\n--b--\r\n",
                    h = rep.hostname,
                    j = rep.to_json()
                );
                // Pipelined transaction (PIPELINING is announced).
                wr.write_all(b"MAIL FROM:<root@loadgen>\r\nRCPT TO:<r@server>\r\nDATA\r\n").await.expect("write");
                for _ in 0..3 {
                    reply(&mut r).await;
                }
                wr.write_all(format!("{mail}.\r\n").as_bytes()).await.expect("write");
                let done = reply(&mut r).await;
                assert!(done.starts_with("250"), "{done}");
                n += conc;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let s = t.elapsed().as_secs_f64();
    println!("smtp_messages: {messages}");
    println!("smtp_rate_per_s: {:.0}", messages as f64 / s);
}

async fn query(url: &str, user: &str, password: &str, hosts: u64, n: u64) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = client
        .get(format!("{url}/login"))
        .send()
        .await
        .expect("login form");
    let csrf = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| {
            v.to_str()
                .ok()?
                .strip_prefix("rear_login_csrf=")?
                .split(';')
                .next()
                .map(str::to_string)
        })
        .expect("csrf cookie");
    let resp = client
        .post(format!("{url}/login"))
        .header("Cookie", format!("rear_login_csrf={csrf}"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .expect("login");
    let session = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| {
            v.to_str()
                .ok()?
                .strip_prefix("rear_session=")?
                .split(';')
                .next()
                .map(str::to_string)
        })
        .expect("session cookie");
    let cookie = format!("rear_session={session}");
    let measure = async |name: &str, path: &dyn Fn(u64) -> String| {
        let mut lat = Vec::new();
        let mut bytes = 0;
        for i in 0..n {
            let t0 = Instant::now();
            let r = client
                .get(format!("{url}{}", path(i)))
                .header("Cookie", &cookie)
                .send()
                .await
                .expect("GET");
            let status = r.status().as_u16();
            bytes = r.bytes().await.expect("body").len();
            lat.push(t0.elapsed());
            assert_eq!(status, 200, "{name}");
        }
        println!("{name}_p50_ms: {:.1}", pct(lat.clone(), 50));
        println!("{name}_p99_ms: {:.1}", pct(lat, 99));
        println!("{name}_bytes: {bytes}");
    };
    measure("overview", &|_| "/".into()).await;
    measure("overview_tag", &|i| {
        format!("/?tag={}", TAGS[(i % 8) as usize])
    })
    .await;
    measure("host_page", &|i| {
        format!("/hosts/{}", host_name(rnd(i) % hosts))
    })
    .await;
    measure("search", &|i| {
        format!("/search?q=host{:05}", rnd(i) % hosts)
    })
    .await;
    // One page (the default 500 hosts) starting anywhere in the fleet.
    measure("api_hosts", &|i| {
        format!("/api/v1/hosts?after={}", host_name(rnd(i) % hosts))
    })
    .await;
}
