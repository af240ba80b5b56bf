//! Loading ReaR configuration files through bash, as a user's /etc/rear would be.

use std::collections::BTreeMap;
use std::path::Path;

use rear_core::cmd::SystemRunner;
use rear_core::config::{LoadOptions, Value, load};
use rear_core::system::SystemInfo;

fn options(dir: &Path, workflow: &str) -> LoadOptions {
    LoadOptions {
        config_dir: dir.to_path_buf(),
        workflow: workflow.into(),
        extra_files: vec![],
        rescue_mode: false,
        system: SystemInfo::from_parts(
            "ID=debian\nVERSION_ID=\"12\"\n",
            "x86_64",
            "host1.example.com",
            "6.1.0-40-amd64",
        ),
        overrides: BTreeMap::new(),
    }
}

#[test]
fn loads_in_rear_order_with_bash_semantics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("os.conf"), "OS_VENDOR=Ubuntu\n").unwrap();
    std::fs::write(
        dir.path().join("mkrescue.conf"),
        "ISO_VOLID=FROM_WORKFLOW\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("site.conf"),
        "# site-wide\nOUTPUT=PXE\nBACKUP=NETFS\nBACKUP_PROG_EXCLUDE+=( '/site/*' )\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("local.conf"),
        r#"OUTPUT=ISO   # local wins
BACKUP_URL=nfs://server/export/$HOSTNAME
MODULES_LOAD=( vmxnet "with space" )
MODULES_LOAD+=( e1000 )
ISO_PREFIX+=-suffix
export SOME_EXPORTED=yes
LONG="first \
second"
[ -f /nonexistent ] && OUTPUT=USB
[ -d / ] && KEYMAP=de
NAME_FROM_CMD=$(echo computed)
BACKUP_ULR=foo
"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("extra.conf"),
        "REAR_SERVER_TAGS=( prod web dmz )\n",
    )
    .unwrap();
    let mut opts = options(dir.path(), "mkrescue");
    opts.extra_files = vec!["extra".into()]; // .conf is optional, relative to the config dir
    let loaded = load(&opts, &SystemRunner::new()).unwrap();
    let c = &loaded.config;

    assert_eq!(c.output(), "ISO");
    assert_eq!(c.backup(), "NETFS");
    assert_eq!(
        c.string("OS_VENDOR"),
        "Ubuntu",
        "os.conf overrides the detected vendor"
    );
    assert_eq!(c.string("ISO_VOLID"), "FROM_WORKFLOW");
    assert_eq!(c.backup_url().unwrap().unwrap().path, "/export/host1");
    assert_eq!(c.modules_load(), vec!["vmxnet", "with space", "e1000"]);
    assert_eq!(c.string("ISO_PREFIX"), "rear-host1-suffix");
    assert_eq!(c.string("LONG"), "first second");
    assert_eq!(c.string("KEYMAP"), "de");
    assert_eq!(c.string("NAME_FROM_CMD"), "computed");
    assert_eq!(c.rear_server_tags(), vec!["prod", "web", "dmz"]);
    // the default is extended, not replaced
    let excl = c.list("BACKUP_PROG_EXCLUDE");
    assert_eq!(excl.first().map(String::as_str), Some("/tmp/*"));
    assert_eq!(excl.last().map(String::as_str), Some("/site/*"));
    assert!(excl.contains(&"/var/lib/rear/output/*".to_string()));
    assert_eq!(c.get("SOME_EXPORTED"), Some(&Value::Scalar("yes".into())));

    // files in order, with what each set
    let names: Vec<_> = loaded
        .files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "os.conf",
            "mkrescue.conf",
            "site.conf",
            "local.conf",
            "extra.conf"
        ]
    );
    assert!(loaded.files.iter().all(|f| f.read));
    let local = &loaded.files[3];
    assert!(local.set.contains(&"OUTPUT".to_string()));
    assert_eq!(
        loaded.origin["OUTPUT"],
        dir.path().join("local.conf").display().to_string()
    );
    assert_eq!(loaded.origin["ISO_DIR"], "default");
    assert_eq!(loaded.origin["ARCH"], "rear");
    // unused variables are reported, known ones are not
    assert!(loaded.unused.contains(&"BACKUP_ULR".to_string()));
    assert!(loaded.unused.contains(&"NAME_FROM_CMD".to_string()));
    assert!(!loaded.unused.contains(&"OUTPUT".to_string()));
    // bash internals and the loader's own variables never leak into the config
    assert!(c.get("BASH_VERSINFO").is_none());
    assert!(c.get("PIPESTATUS").is_none());
    assert!(c.iter().all(|(k, _)| !k.starts_with("__rear")));
}

#[test]
fn syntax_error_names_file_and_line_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    std::fs::write(
        dir.path().join("local.conf"),
        format!(
            "OUTPUT=ISO\ntouch {}\nMODULES=( a b )\nif then fi\n",
            marker.display()
        ),
    )
    .unwrap();
    let err = load(&options(dir.path(), "mkrescue"), &SystemRunner::new()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}:", dir.path().join("local.conf").display())),
        "{text}"
    );
    assert!(
        text.contains("local.conf:4: syntax error"),
        "no line number in: {text}"
    );
    assert!(
        !marker.exists(),
        "a file with a syntax error was partly executed"
    );
}

#[test]
fn carriage_return_is_refused_with_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("site.conf"), "OUTPUT=ISO\nBACKUP=NETFS\r\n").unwrap();
    let err = load(&options(dir.path(), "mkrescue"), &SystemRunner::new()).unwrap_err();
    assert!(
        err.to_string().contains("site.conf:2: carriage return"),
        "{err}"
    );
}

#[test]
fn missing_dash_c_file_is_an_error_but_missing_standard_files_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load(&options(dir.path(), "dump"), &SystemRunner::new()).unwrap();
    assert!(loaded.files.iter().all(|f| !f.read));
    assert_eq!(loaded.config.output(), "ISO");
    let mut opts = options(dir.path(), "dump");
    opts.extra_files = vec!["nothere".into()];
    let err = load(&opts, &SystemRunner::new()).unwrap_err();
    assert!(
        err.to_string().contains("-C nothere does not exist"),
        "{err}"
    );
}

#[test]
fn runtime_errors_are_warnings_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.conf"),
        "OUTPUT=USB\nno_such_command_xyz\n",
    )
    .unwrap();
    let loaded = load(&options(dir.path(), "dump"), &SystemRunner::new()).unwrap();
    assert_eq!(loaded.config.output(), "USB");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("local.conf: line 2") && w.contains("not found")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn rescue_conf_only_in_rescue_mode() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rescue.conf"), "USE_DHCLIENT=yes\n").unwrap();
    let normal = load(&options(dir.path(), "recover"), &SystemRunner::new()).unwrap();
    assert_eq!(normal.config.string("USE_DHCLIENT"), "");
    let mut opts = options(dir.path(), "recover");
    opts.rescue_mode = true;
    let rescue = load(&opts, &SystemRunner::new()).unwrap();
    assert_eq!(rescue.config.string("USE_DHCLIENT"), "yes");
    assert_eq!(rescue.config.string("RECOVERY_MODE"), "1");
}

/// Every example shipped in Debian's `rear` package must load (the package is installed by the
/// test setup: ci/packages/base.txt).
#[test]
fn debian_rear_examples_load() {
    let examples = Path::new("/usr/share/doc/rear/examples");
    let mut files: Vec<_> = std::fs::read_dir(examples)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; install Debian's 'rear' package (apt-get install rear)",
                examples.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        12,
        "Debian 12's rear 2.7 ships 12 examples: {files:?}"
    );
    for file in files {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = options(dir.path(), "mkrescue");
        opts.extra_files = vec![file.display().to_string()];
        let loaded = load(&opts, &SystemRunner::new())
            .unwrap_or_else(|e| panic!("{} does not load: {e}", file.display()));
        let extra = loaded.files.last().unwrap();
        assert!(
            extra.read && !extra.set.is_empty(),
            "{} set nothing",
            file.display()
        );
        // every example chooses an output
        assert!(!loaded.config.output().is_empty(), "{}", file.display());
    }
}
