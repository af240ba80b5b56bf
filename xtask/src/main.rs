//! `cargo xtask <task>`: developer tasks.
//!
//! - `man`: writes `man/rear.8` and one page per workflow (`man/rear-<workflow>.8`), and the
//!   shell completions under `completions/`, all generated from the clap definition in
//!   `crates/rear/src/cli.rs`. A test in `crates/rear/tests/docs.rs` fails when they are stale.
//! - `vm-test [SCENARIO...]`: the bare-metal recovery suite. Builds the release `rear` once, then
//!   runs `lab/recover.sh` for each scenario (all of `lab/source/scenarios/` when none is named,
//!   one after the other: two guests at once only slow each other down on small machines), and
//!   prints a table of the phase timings and where the logs are. Exits 1 if any scenario failed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    let root = workspace_root();
    match task.as_str() {
        "man" => generate_docs(&root),
        "vm-test" => vm_test(&root, std::env::args().skip(2).collect()),
        _ => bail!("usage: cargo xtask man | cargo xtask vm-test [SCENARIO...]"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn generate_docs(root: &Path) -> Result<()> {
    let man_dir = root.join("man");
    std::fs::create_dir_all(&man_dir).with_context(|| format!("creating {}", man_dir.display()))?;
    for (name, bytes) in rear::docs::man_pages()? {
        let path = man_dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    let comp_dir = root.join("completions");
    std::fs::create_dir_all(&comp_dir)
        .with_context(|| format!("creating {}", comp_dir.display()))?;
    for (name, bytes) in rear::docs::completions() {
        let path = comp_dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn vm_test(root: &Path, mut scenarios: Vec<String>) -> Result<()> {
    let dir = root.join("lab/source/scenarios");
    if scenarios.is_empty() {
        for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if let Some(s) = name.strip_suffix(".sh") {
                scenarios.push(s.to_string());
            }
        }
        scenarios.sort();
    }
    let status = std::process::Command::new("cargo")
        .args(["build", "--release", "--locked", "-p", "rear"])
        .current_dir(root)
        .status()
        .context("running cargo build --release -p rear")?;
    if !status.success() {
        bail!("cargo build --release -p rear failed");
    }
    let rear = root.join("target/release/rear");
    let out = std::env::var("REAR_LAB_OUT").unwrap_or_else(|_| "/var/tmp/rear-lab".into());
    let mut results = Vec::new();
    for s in &scenarios {
        println!("==== recovery scenario {s}");
        let start = std::time::Instant::now();
        let ok = std::process::Command::new(root.join("lab/recover.sh"))
            .arg(s)
            .env("REAR_BIN", &rear)
            .status()
            .with_context(|| format!("running lab/recover.sh {s}"))?
            .success();
        let timings = std::fs::read_to_string(format!("{out}/recover/{s}/timings.txt"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(", ");
        results.push((s.clone(), ok, start.elapsed().as_secs(), timings));
    }
    println!(
        "\n{:<22} {:<7} {:>7}  phases",
        "scenario", "result", "total"
    );
    for (s, ok, secs, t) in &results {
        let r = if *ok { "ok" } else { "FAILED" };
        println!("{s:<22} {r:<7} {secs:>6}s  {t}");
    }
    println!("logs: {out}/recover/<scenario>/ and the serial logs in {out}/logs/recover-*.serial");
    if results.iter().any(|r| !r.1) {
        bail!("recovery scenarios failed");
    }
    Ok(())
}
