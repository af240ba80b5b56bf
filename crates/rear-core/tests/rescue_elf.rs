//! The ELF dependency resolver against binaries built here with gcc.

use std::path::{Path, PathBuf};
use std::process::Command;

use rear_core::rescue::elf::LibResolver;

fn gcc(args: &[&str], dir: &Path) {
    let out = Command::new("gcc")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("gcc is installed");
    assert!(
        out.status.success(),
        "gcc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds `lib/libreartest.so` and `bin/prog` linked against it with the given extra flags.
fn build(dir: &Path, extra: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("lib.c"), "int rear_test_fn(void) { return 42; }\n").unwrap();
    std::fs::write(
        dir.join("main.c"),
        "int rear_test_fn(void);\nint main(void) { return rear_test_fn() == 42 ? 0 : 1; }\n",
    )
    .unwrap();
    gcc(
        &["-shared", "-fPIC", "-o", "lib/libreartest.so", "lib.c"],
        dir,
    );
    let mut args = vec!["-o", "bin/prog", "main.c", "-Llib", "-lreartest"];
    args.extend_from_slice(extra);
    gcc(&args, dir);
    dir.join("bin/prog")
}

#[test]
fn missing_library_fails_the_check_naming_binary_and_library() {
    let tmp = tempfile::tempdir().unwrap();
    let prog = build(tmp.path(), &[]);
    std::fs::remove_file(tmp.path().join("lib/libreartest.so")).unwrap();
    let res = LibResolver::for_host()
        .resolve(std::slice::from_ref(&prog))
        .unwrap();
    assert_eq!(res.missing.len(), 1, "{:?}", res.missing);
    let err = res.check(&[]).unwrap_err().to_string();
    assert!(err.contains(&prog.display().to_string()), "{err}");
    assert!(err.contains("libreartest.so"), "{err}");
    // libc itself was still found
    assert!(res.libraries.iter().any(|l| l.ends_with("libc.so.6")));
    // NON_FATAL_BINARIES_WITH_MISSING_LIBRARY by file name lets it pass
    res.check(&["prog".to_string()]).unwrap();
}

#[test]
fn runpath_with_origin_is_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let prog = build(
        tmp.path(),
        &["-Wl,-rpath,$ORIGIN/../lib", "-Wl,--enable-new-dtags"],
    );
    let deps = rear_core::rescue::elf::read_elf_deps(&prog)
        .unwrap()
        .unwrap();
    assert_eq!(deps.runpath, vec!["$ORIGIN/../lib"]);
    // the program really runs with it
    assert!(Command::new(&prog).status().unwrap().success());
    let res = LibResolver::for_host()
        .resolve(std::slice::from_ref(&prog))
        .unwrap();
    assert!(res.missing.is_empty(), "{:?}", res.missing);
    let lib = tmp
        .path()
        .canonicalize()
        .unwrap()
        .join("bin/../lib/libreartest.so");
    assert!(res.libraries.contains(&lib), "{:?}", res.libraries);
}

#[test]
fn old_style_rpath_is_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let libdir = tmp
        .path()
        .join("lib")
        .canonicalize()
        .unwrap_or_else(|_| tmp.path().join("lib"));
    let flag = format!("-Wl,-rpath,{}", libdir.display());
    let prog = build(tmp.path(), &[&flag, "-Wl,--disable-new-dtags"]);
    let deps = rear_core::rescue::elf::read_elf_deps(&prog)
        .unwrap()
        .unwrap();
    assert!(deps.runpath.is_empty());
    assert_eq!(deps.rpath.len(), 1);
    let res = LibResolver::for_host().resolve(&[prog]).unwrap();
    assert!(res.missing.is_empty(), "{:?}", res.missing);
    assert!(res.libraries.iter().any(|l| l.ends_with("libreartest.so")));
}
