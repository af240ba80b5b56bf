//! Steps of mkrescue and mkbackup that build the rescue system and write the rescue media:
//! `rescue` (the tree), `build` (its checks), `pack` (the initramfs) and `output`.

use std::path::{Path, PathBuf};

use super::super::Context;
use crate::report::OutputFiles;
use crate::rescue::{self, Compression, KernelSource, OutputOptions, RescueOptions, RescueTree};
use crate::ui::Level;
use crate::{Error, Result};

fn build_dir(ctx: &Context<'_>) -> Result<PathBuf> {
    ctx.build_dir
        .clone()
        .ok_or_else(|| Error::invalid("build directory", "was not created by the prep stage"))
}

/// The kernel for the rescue system: `KERNEL_FILE`, else `KERNEL_VERSION` (the running kernel,
/// or `-r KERNEL`) as installed in /boot and /lib/modules.
fn kernel(ctx: &Context<'_>) -> Result<KernelSource> {
    let file = ctx.config.string("KERNEL_FILE");
    if !file.trim().is_empty() {
        let image = Path::new(file.trim());
        let k = KernelSource::from_image(image)?;
        // An unpacked kernel package (ROOT/boot/vmlinuz-V with ROOT/lib/modules/V) brings its
        // own modules; use them when the running system has none for that version.
        if let Some(root) = image
            .parent()
            .filter(|p| p.ends_with("boot"))
            .and_then(Path::parent)
            && root.join("lib/modules").join(&k.version).is_dir()
            && !k.modules_dir().is_dir()
        {
            return KernelSource::in_root(root, &k.version);
        }
        return Ok(k);
    }
    KernelSource::installed(ctx.config.string("KERNEL_VERSION").trim())
}

/// `rescue/default/100_build_rescue_tree`: programs and their libraries (every tool rear may
/// run, plus PROGS and REQUIRED_PROGS), kernel modules and firmware, configuration, layout and
/// recovery facts, network facts and the init.
pub fn build_rescue_tree(ctx: &mut Context<'_>) -> Result<()> {
    let work = build_dir(ctx)?;
    let rear_binary = std::env::current_exe()
        .map_err(|e| Error::io("finding the rear binary", "/proc/self/exe", e))?;
    let mut opts = RescueOptions::new(&work, kernel(ctx)?, &rear_binary);
    opts.apply_config(&ctx.config);
    ctx.ui
        .message(Level::Progress, "Copying binaries and libraries");
    let tree = rescue::build_rescue_tree(&opts, ctx.runner, ctx.ui)?;
    ctx.put(tree);
    Ok(())
}

fn tree<'c>(ctx: &'c Context<'_>) -> Result<&'c RescueTree> {
    ctx.get::<RescueTree>().ok_or_else(|| {
        Error::invalid(
            "rescue system",
            "the rescue tree was not built before this step",
        )
    })
}

/// `build/default/100_check_rescue_tree`: the tree builder already refused missing libraries
/// and required programs; here the optional things that are missing are shown, so that the
/// admin knows before a disaster.
pub fn check_rescue_tree(ctx: &mut Context<'_>) -> Result<()> {
    let t = tree(ctx)?;
    let mut warnings = Vec::new();
    if !t.programs_missing.is_empty() {
        warnings.push(format!(
            "programs asked for in PROGS but not installed: {}",
            t.programs_missing.join(" ")
        ));
    }
    if !t.modules_unknown.is_empty() {
        warnings.push(format!(
            "kernel modules asked for but not in kernel {}: {}",
            t.kernel_version,
            t.modules_unknown.join(" ")
        ));
    }
    if !t.firmware_missing.is_empty() {
        // Common (non-free firmware packages are not installed) and only matters for the hardware
        // that needs it: shown with -v, listed completely in the log.
        tracing::info!(
            "firmware declared by the shipped modules but not installed: {}",
            t.firmware_missing.join(" ")
        );
        ctx.ui.message(
            Level::Progress,
            &format!(
                "{} firmware files declared by the shipped kernel modules are not installed (list \
                 in the log); install them if this machine's hardware needs them",
                t.firmware_missing.len()
            ),
        );
    }
    let summary = format!(
        "Rescue system: {} programs, {} libraries, {} kernel modules, {} firmware files for kernel {}",
        t.programs.len(),
        t.libraries.len(),
        t.modules.len(),
        t.firmware.len(),
        t.kernel_version
    );
    for w in warnings {
        ctx.ui.message(Level::Warning, &w);
    }
    ctx.ui.message(Level::Progress, &summary);
    Ok(())
}

/// The packed initramfs.
#[derive(Debug, Clone)]
pub struct Initramfs(pub PathBuf);

/// `pack/default/100_pack_initramfs`: the tree as a cpio archive, compressed with
/// `REAR_INITRD_COMPRESSION` (zstd by default).
pub fn pack_initramfs(ctx: &mut Context<'_>) -> Result<()> {
    let stage = tree(ctx)?.root.clone();
    let compression = Compression::from_config(&ctx.config.string("REAR_INITRD_COMPRESSION"))?;
    let dest = build_dir(ctx)?.join("initrd.cgz");
    // Reproducible archives when SOURCE_DATE_EPOCH is set, as in reproducible-builds.org.
    let mtime = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    ctx.ui.message(Level::Progress, "Creating the initramfs");
    let report = rescue::pack_initramfs(&stage, &dest, compression, mtime, ctx.runner)?;
    ctx.ui.message(
        Level::Progress,
        &format!(
            "Created the initramfs ({}) in {:.1} s",
            crate::layout::show::human_size(report.compressed_bytes),
            report.elapsed.as_secs_f64()
        ),
    );
    ctx.put(Initramfs(dest));
    Ok(())
}

/// `output/<OUTPUT>/100_*`: writes the rescue media chosen by OUTPUT.
pub fn write_rescue_media(ctx: &mut Context<'_>) -> Result<()> {
    let kernel_image = tree(ctx)?.kernel_image.clone();
    let initrd = ctx.get::<Initramfs>().map(|i| i.0.clone()).ok_or_else(|| {
        Error::invalid(
            "rescue system",
            "the initramfs was not packed before this step",
        )
    })?;
    let mut opts = OutputOptions::new(&build_dir(ctx)?.join("output"), &ctx.system.hostname);
    opts.apply_config(&ctx.config)?;
    opts.usb_retain = ctx
        .config
        .string("USB_RETAIN_BACKUP_NR")
        .trim()
        .parse()
        .unwrap_or(opts.usb_retain);
    if opts.kind == rescue::output::OutputKind::Usb {
        let dev = ctx.config.string("USB_DEVICE");
        if dev.trim().is_empty() {
            return Err(Error::invalid(
                "USB_DEVICE",
                "OUTPUT=USB needs USB_DEVICE (the disk prepared with 'rear format')",
            ));
        }
        opts.usb_disk = Some(
            std::fs::canonicalize(dev.trim())
                .map_err(|e| Error::io("resolving USB_DEVICE", dev.trim(), e))?,
        );
    }
    if opts.kind == rescue::output::OutputKind::Pxe {
        opts.pxe.macs = host_macs();
    }
    let report = rescue::write_output(&opts, &kernel_image, &initrd, ctx.runner, ctx.ui)?;
    let mut outputs = ctx.take::<OutputFiles>().unwrap_or_default();
    if matches!(
        opts.kind,
        rescue::output::OutputKind::Iso | rescue::output::OutputKind::Rawdisk
    ) {
        outputs.image = report.files.first().cloned();
    }
    outputs.files.extend(report.files);
    ctx.put(outputs);
    Ok(())
}

/// MAC addresses of the host's NICs (for per-MAC PXE configurations).
fn host_macs() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    let mut macs: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_name() != "lo")
        .filter_map(|e| std::fs::read_to_string(e.path().join("address")).ok())
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty() && m != "00:00:00:00:00:00")
        .collect();
    macs.sort();
    macs.dedup();
    macs
}

/// `output/default/900_copy_to_output_url`: the rescue media are copied to
/// `<OUTPUT_URL>/<OUTPUT_PREFIX>/` (OUTPUT_URL defaults to BACKUP_URL), each under a temporary name
/// first. `file://` is a local directory; `nfs://`, `cifs://`, `usb://` and `sshfs://` are mounted
/// (with `OUTPUT_OPTIONS`) on the build directory's `outputfs-media` for the copy and unmounted
/// again, also when the copy failed.
pub fn copy_to_output_url(ctx: &mut Context<'_>) -> Result<()> {
    let Some(url) = ctx.config.output_url()? else {
        return Ok(());
    };
    if ctx.config.output() == "USB" {
        // The rescue disk itself is the medium (its files went onto it in the output step).
        return Ok(());
    }
    if url.scheme == "rsync" && ctx.config.string("OUTPUT_URL").trim().is_empty() {
        // BACKUP=RSYNC's target is not a place for rescue media: they stay in the output dir.
        tracing::info!("OUTPUT_URL not set and BACKUP_URL is rsync://: rescue media stay local");
        return Ok(());
    }
    // Only image files: never a device (OUTPUT=USB names its disk).
    let files: Vec<PathBuf> = ctx
        .get::<OutputFiles>()
        .map(|o| o.files.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f.is_file())
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    let raw = ["OUTPUT_URL", "BACKUP_URL", "NETFS_URL"]
        .iter()
        .map(|v| ctx.config.string(v).trim().to_string())
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    let target = crate::backup::target::Target::parse(&raw)?;
    let copied = rescue::output::copy_to_url(
        &target,
        ctx.config.string("OUTPUT_PREFIX").trim(),
        &files,
        ctx.config.string("OUTPUT_OPTIONS").trim(),
        &build_dir(ctx)?.join("outputfs-media"),
        ctx.runner,
    )?;
    for c in copied {
        ctx.ui
            .message(Level::Progress, &format!("Copied the rescue media to {c}"));
    }
    Ok(())
}

/// `format/default/100_format_usb_disk`: `rear format DEVICE` partitions a disk as rescue medium
/// (a `REAR-EFI` boot partition and a `REAR-000` data partition). The device comes from the
/// command line (`FORMAT_DEVICE`); everything on it is lost, so the user confirms
/// (`USER_INPUT_FORMAT_CONFIRM=yes`, or `rear format -y`), and the disk of the running system is
/// refused.
pub fn format_usb_disk(ctx: &mut Context<'_>) -> Result<()> {
    let dev = ctx.config.string("FORMAT_DEVICE");
    if dev.trim().is_empty() {
        return Err(Error::invalid(
            "rear format",
            "give the disk to format, e.g. 'rear format /dev/sdX'",
        ));
    }
    let disk =
        std::fs::canonicalize(dev.trim()).map_err(|e| Error::io("resolving", dev.trim(), e))?;
    let disk_str = disk.display().to_string();
    let mounts = crate::system::mounts().unwrap_or_default();
    if let Some(m) = mounts.iter().find(|m| m.source.starts_with(&disk_str)) {
        return Err(Error::invalid(
            &disk_str,
            format!(
                "is in use ({} on {}): unmount it first; rear format never touches a mounted disk",
                m.source, m.target
            ),
        ));
    }
    let q = crate::ui::Question::new(
        "FORMAT_CONFIRM",
        format!("Format {disk_str} as rear rescue disk? Everything on it is lost"),
    )
    .choices(["yes", "no"])
    .default_answer("no");
    if ctx.config.is_true("FORMAT_YES") || crate::ui::ask(ctx.ui, &ctx.config, &q)? == "yes" {
        let mut opts = rescue::usb::UsbFormatOptions::default();
        if let Ok(mib) = ctx.config.string("USB_UEFI_PART_SIZE").trim().parse() {
            opts.efi_mib = mib;
        }
        rescue::usb::format_usb(&disk, &opts, ctx.runner)?;
        ctx.ui.message(
            Level::Info,
            &format!("Formatted {disk_str} as rear rescue disk (REAR-EFI, REAR-000)"),
        );
        Ok(())
    } else {
        Err(Error::Aborted { id: q.id })
    }
}
