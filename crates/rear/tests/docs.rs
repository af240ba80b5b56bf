//! The committed man pages and completions are what the clap definition generates. When this
//! fails, run `cargo xtask man` and commit the result.

use std::path::Path;

#[test]
fn man_pages_and_completions_are_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut stale = Vec::new();
    let pages = rear::docs::man_pages().unwrap();
    assert!(pages.iter().any(|(n, _)| n == "rear-recover.8"));
    for (name, bytes) in pages {
        if std::fs::read(root.join("man").join(&name)).ok().as_deref() != Some(&bytes[..]) {
            stale.push(format!("man/{name}"));
        }
    }
    for (name, bytes) in rear::docs::completions() {
        if std::fs::read(root.join("completions").join(&name))
            .ok()
            .as_deref()
            != Some(&bytes[..])
        {
            stale.push(format!("completions/{name}"));
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated docs: {stale:?}; run 'cargo xtask man' and commit"
    );
}

#[test]
fn man_page_documents_options_and_exit_codes() {
    let pages = rear::docs::man_pages().unwrap();
    let main = String::from_utf8(pages[0].1.clone()).unwrap();
    for needle in ["expose\\-secrets", "simulate", "checklayout", "Exit status"] {
        assert!(main.contains(needle), "rear.8 lacks {needle}");
    }
}
