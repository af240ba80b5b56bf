//! The table of workflows and steps.
//!
//! Adding a feature to a workflow means adding a [`Step`] here with its function. A step whose
//! function is `None` is listed by `rear -s` but makes its workflow refuse to run (see
//! [`super::check_buildable`]); its `pending` text says what will build it.

use super::{Step, StepFn, When, Workflow, steps};

/// Every workflow, in the order `rear help` lists them.
pub const WORKFLOWS: &[Workflow] = &[
    Workflow {
        name: "mkrescue",
        help: "create the rescue media only",
        stages: &[
            "init",
            "prep",
            "layout/save",
            "rescue",
            "build",
            "pack",
            "output",
        ],
        lockless: false,
        rescue: false,
    },
    Workflow {
        name: "mkbackup",
        help: "create rescue media and the backup",
        stages: &[
            "init",
            "prep",
            "layout/save",
            "rescue",
            "build",
            "pack",
            "output",
            "backup",
        ],
        lockless: false,
        rescue: false,
    },
    Workflow {
        name: "mkbackuponly",
        help: "create the backup only",
        stages: &["init", "prep", "layout/save", "backup"],
        lockless: false,
        rescue: false,
    },
    Workflow {
        name: "recover",
        help: "recover the system (in the rescue system)",
        stages: &[
            "init",
            "setup",
            "verify",
            "layout/prepare",
            "layout/recreate",
            "restore",
            "finalize",
            "wrapup",
        ],
        lockless: false,
        rescue: true,
    },
    Workflow {
        name: "restoreonly",
        help: "restore the backup only (into /mnt/local)",
        stages: &["init", "setup", "verify", "restore", "wrapup"],
        lockless: false,
        rescue: true,
    },
    Workflow {
        name: "layoutonly",
        help: "recreate the disk layout only",
        stages: &["init", "setup", "layout/prepare", "layout/recreate"],
        lockless: false,
        rescue: true,
    },
    Workflow {
        name: "savelayout",
        help: "save the disk layout",
        stages: &["init", "prep", "layout/save"],
        lockless: false,
        rescue: false,
    },
    Workflow {
        name: "checklayout",
        help: "check whether the disk layout changed (exit 1 if it did)",
        stages: &["init", "prep", "layout/save", "layout/compare"],
        lockless: true,
        rescue: false,
    },
    Workflow {
        name: "mountonly",
        help: "mount the recovered system's filesystems under /mnt/local",
        stages: &["init", "setup", "layout/prep-for-mount", "layout/do-mount"],
        lockless: false,
        rescue: true,
    },
    Workflow {
        name: "format",
        help: "format a USB disk as rescue medium (REAR-000)",
        stages: &["init", "format"],
        lockless: false,
        rescue: false,
    },
    Workflow {
        name: "validate",
        help: "check the configuration and the tools recovery needs",
        stages: &["init", "prep", "validate"],
        lockless: true,
        rescue: false,
    },
    Workflow {
        name: "mkdist",
        help: "create a distribution archive of rear itself",
        stages: &["init", "mkdist"],
        lockless: false,
        rescue: false,
    },
    Workflow {
        name: "inventory",
        help: "collect the system inventory (hardware, packages, services, network, ...)",
        stages: &["init", "inventory"],
        lockless: true,
        rescue: false,
    },
    Workflow {
        name: "dump",
        help: "show the system definition and the configuration",
        stages: &["dump"],
        lockless: true,
        rescue: false,
    },
];

/// Finds a workflow by name.
pub fn find_workflow(name: &str) -> Option<&'static Workflow> {
    WORKFLOWS.iter().find(|w| w.name == name)
}

const fn done(
    stage: &'static str,
    number: u16,
    name: &'static str,
    when: When,
    run: StepFn,
) -> Step {
    Step {
        stage,
        number,
        name,
        when,
        run: Some(run),
        pending: "",
    }
}

const fn todo(
    stage: &'static str,
    number: u16,
    name: &'static str,
    when: When,
    pending: &'static str,
) -> Step {
    Step {
        stage,
        number,
        name,
        when,
        run: None,
        pending,
    }
}

use When::{Always, Backup, Output};

/// Every step of every stage.
pub const STEPS: &[Step] = &[
    // --- init: runs first in every workflow but dump, before the build check ---
    done("init", 100, "check_config", Always, steps::check_config),
    // --- prep ---
    done("prep", 10, "make_build_dir", Always, steps::make_build_dir),
    done(
        "prep",
        300,
        "check_iso_tools",
        Output("ISO"),
        steps::check_iso_tools,
    ),
    done(
        "prep",
        400,
        "check_backup_target",
        Backup("NETFS"),
        steps::backup::check_backup_target,
    ),
    done(
        "prep",
        400,
        "check_rsync_target",
        Backup("RSYNC"),
        steps::backup::check_rsync_source,
    ),
    done(
        "prep",
        400,
        "check_borg_repository",
        Backup("BORG"),
        steps::backup::prep_borg,
    ),
    done(
        "prep",
        400,
        "check_restic_repository",
        Backup("RESTIC"),
        steps::backup::prep_restic,
    ),
    done(
        "prep",
        400,
        "check_external_commands",
        Backup("EXTERNAL"),
        steps::backup::run_external_check,
    ),
    // --- layout/save ---
    done(
        "layout/save",
        100,
        "save_disk_layout",
        Always,
        steps::layout::save_disk_layout,
    ),
    // --- layout/compare ---
    done(
        "layout/compare",
        100,
        "compare_disk_layout",
        Always,
        steps::layout::compare_disk_layout,
    ),
    // --- rescue ---
    done(
        "rescue",
        50,
        "collect_inventory",
        Always,
        steps::collect_inventory,
    ),
    done(
        "rescue",
        100,
        "build_rescue_tree",
        Always,
        steps::rescue::build_rescue_tree,
    ),
    // --- build ---
    done(
        "build",
        100,
        "check_rescue_tree",
        Always,
        steps::rescue::check_rescue_tree,
    ),
    // --- pack ---
    done(
        "pack",
        100,
        "pack_initramfs",
        Always,
        steps::rescue::pack_initramfs,
    ),
    // --- output ---
    done(
        "output",
        100,
        "make_iso",
        Output("ISO"),
        steps::rescue::write_rescue_media,
    ),
    done(
        "output",
        100,
        "make_pxe_files",
        Output("PXE"),
        steps::rescue::write_rescue_media,
    ),
    done(
        "output",
        100,
        "write_usb",
        Output("USB"),
        steps::rescue::write_rescue_media,
    ),
    done(
        "output",
        100,
        "make_raw_disk",
        Output("RAWDISK"),
        steps::rescue::write_rescue_media,
    ),
    done(
        "output",
        100,
        "copy_kernel_and_initrd",
        Output("RAMDISK"),
        steps::rescue::write_rescue_media,
    ),
    done(
        "output",
        900,
        "copy_to_output_url",
        Always,
        steps::rescue::copy_to_output_url,
    ),
    // --- backup ---
    done(
        "backup",
        100,
        "run_pre_backup_script",
        Always,
        steps::backup::run_pre_backup_script,
    ),
    done(
        "backup",
        900,
        "run_post_backup_script",
        Always,
        steps::backup::run_post_backup_script,
    ),
    done(
        "backup",
        500,
        "make_backup",
        Backup("NETFS"),
        steps::backup::make_backup,
    ),
    done(
        "backup",
        500,
        "make_rsync_backup",
        Backup("RSYNC"),
        steps::backup::make_rsync_backup,
    ),
    done(
        "backup",
        500,
        "make_borg_backup",
        Backup("BORG"),
        steps::backup::make_borg_backup,
    ),
    done(
        "backup",
        500,
        "make_restic_backup",
        Backup("RESTIC"),
        steps::backup::make_restic_backup,
    ),
    done(
        "backup",
        500,
        "run_external_backup",
        Backup("EXTERNAL"),
        steps::backup::run_external_backup,
    ),
    // --- setup ---
    done(
        "setup",
        100,
        "run_pre_recovery_script",
        Always,
        steps::run_pre_recovery_script,
    ),
    // --- verify ---
    done(
        "verify",
        100,
        "check_backup_archive",
        Backup("NETFS"),
        steps::backup::check_backup_archive,
    ),
    done(
        "verify",
        100,
        "check_rsync_source",
        Backup("RSYNC"),
        steps::backup::check_rsync_source,
    ),
    done(
        "verify",
        100,
        "check_borg_archive",
        Backup("BORG"),
        steps::backup::check_borg_archive,
    ),
    done(
        "verify",
        100,
        "check_restic_snapshot",
        Backup("RESTIC"),
        steps::backup::check_restic_snapshot,
    ),
    done(
        "verify",
        100,
        "run_external_check",
        Backup("EXTERNAL"),
        steps::backup::run_external_check,
    ),
    // --- layout/prepare, layout/recreate ---
    done(
        "layout/prepare",
        100,
        "map_disks",
        Always,
        steps::recreate::map_disks,
    ),
    done(
        "layout/prepare",
        200,
        "plan_recreation",
        Always,
        steps::recreate::plan_recreation,
    ),
    done(
        "layout/recreate",
        50,
        "rehearse",
        Always,
        steps::recreate::rehearse,
    ),
    done(
        "layout/recreate",
        100,
        "confirm_and_wipe_disks",
        Always,
        steps::recreate::confirm_and_wipe_disks,
    ),
    done(
        "layout/recreate",
        200,
        "apply_plan",
        Always,
        steps::recreate::apply_plan,
    ),
    done(
        "layout/recreate",
        300,
        "mount_target",
        Always,
        steps::recreate::mount_target,
    ),
    // --- restore ---
    done(
        "restore",
        400,
        "restore_backup",
        Backup("NETFS"),
        steps::backup::restore_backup,
    ),
    done(
        "restore",
        400,
        "restore_rsync",
        Backup("RSYNC"),
        steps::backup::restore_rsync,
    ),
    done(
        "restore",
        400,
        "restore_borg",
        Backup("BORG"),
        steps::backup::restore_borg,
    ),
    done(
        "restore",
        400,
        "restore_restic",
        Backup("RESTIC"),
        steps::backup::restore_restic,
    ),
    done(
        "restore",
        400,
        "run_external_restore",
        Backup("EXTERNAL"),
        steps::backup::run_external_restore,
    ),
    done(
        "restore",
        400,
        "wait_for_manual_restore",
        Backup("REQUESTRESTORE"),
        steps::backup::wait_for_manual_restore,
    ),
    // --- finalize ---
    done(
        "finalize",
        100,
        "fix_references",
        Always,
        steps::recreate::fix_references,
    ),
    done(
        "finalize",
        300,
        "rebuild_initramfs_and_install_bootloader",
        Always,
        steps::recreate::make_target_bootable,
    ),
    // --- wrapup ---
    done(
        "wrapup",
        100,
        "copy_logs_and_layout",
        Always,
        steps::copy_logs_and_layout,
    ),
    // --- mountonly ---
    done(
        "layout/prep-for-mount",
        100,
        "map_disks",
        Always,
        steps::recreate::map_disks,
    ),
    done(
        "layout/prep-for-mount",
        200,
        "plan_mount",
        Always,
        steps::recreate::plan_mount,
    ),
    done(
        "layout/do-mount",
        100,
        "apply_mount_plan",
        Always,
        steps::recreate::apply_mount_plan,
    ),
    done(
        "layout/do-mount",
        200,
        "mount_target",
        Always,
        steps::recreate::mount_target,
    ),
    // --- format, validate, mkdist, dump ---
    done(
        "format",
        100,
        "format_usb_disk",
        Always,
        steps::rescue::format_usb_disk,
    ),
    done("validate", 100, "check_tools", Always, steps::check_tools),
    todo(
        "mkdist",
        100,
        "make_distribution_archive",
        Always,
        "packaging",
    ),
    done("dump", 100, "collect_dump", Always, steps::collect_dump),
    done(
        "inventory",
        100,
        "collect_inventory",
        Always,
        steps::collect_inventory,
    ),
];
