//! `cargo xtask <task>`: developer tasks.
//!
//! - `man`: writes `man/rear.8` and one page per workflow (`man/rear-<workflow>.8`), and the
//!   shell completions under `completions/`, all generated from the clap definition in
//!   `crates/rear/src/cli.rs`. A test in `crates/rear/tests/docs.rs` fails when they are stale.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    let root = workspace_root();
    match task.as_str() {
        "man" => generate_docs(&root),
        _ => bail!("usage: cargo xtask man"),
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
