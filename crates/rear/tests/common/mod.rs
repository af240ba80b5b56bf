//! Helpers shared by the integration tests of the `rear` binary.

use std::path::Path;

/// `rear -c CONF_DIR` with a lock file of its own, so tests run in parallel.
pub fn rear(conf_dir: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("rear").unwrap();
    c.env("REAR_LOCK_FILE", conf_dir.join("rear.lock"))
        .arg("-c")
        .arg(conf_dir);
    c
}
