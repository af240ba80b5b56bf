//! `OUTPUT=USB`: a bootable rescue disk (USB stick or any disk) that keeps several rescue systems.
//!
//! Contract: [`format_usb`] (`rear format DISK`) writes a GPT with two partitions: `REAR-EFI`, a
//! FAT32 EFI system partition marked legacy-BIOS-bootable with syslinux installed (BIOS) and the
//! syslinux GPT MBR, and `REAR-000`, an ext4 data partition for backups (ReaR uses ext3 with the
//! same label). [`write_usb`] (the output stage) finds the `REAR-EFI` partition with `sfdisk
//! --json`, copies kernel and initrd to `/rear/PREFIX/TIMESTAMP/` on it, points the syslinux menu
//! and a fresh GRUB EFI image (`\EFI\BOOT\BOOTX64.EFI`) at that copy, and deletes the oldest
//! copies beyond `retain` (`USB_RETAIN_BACKUP_NR`). Everything is done through partition offsets on
//! the whole disk (sfdisk, `mkfs.* --offset`, mtools `@@offset`, `syslinux --offset`), so the same
//! code works on a block device and on an image file, without mounting or loop devices.

use std::path::{Path, PathBuf};

use crate::cmd::{Cmd, Runner, tools};
use crate::rescue::output::{
    self, OutputOptions, SYSLINUX_BIOS_DIR, SYSLINUX_GPTMBR, grub_cfg, isolinux_cfg,
};
use crate::{Error, Result};

/// The partition name (GPT) and FAT label of the boot partition.
pub const EFI_LABEL: &str = "REAR-EFI";
/// The partition name and file system label of the data partition.
pub const DATA_LABEL: &str = "REAR-000";
/// The file the rescue GRUB searches for to find the boot partition.
const MARKER: &str = "rear-usb.marker";

/// Options of [`format_usb`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbFormatOptions {
    /// Size of the boot partition in MiB (`USB_UEFI_PART_SIZE`; ReaR's default is 1024).
    pub efi_mib: u64,
}

impl Default for UsbFormatOptions {
    fn default() -> Self {
        UsbFormatOptions { efi_mib: 1024 }
    }
}

#[derive(serde::Deserialize)]
struct SfdiskJson {
    partitiontable: SfdiskTable,
}

#[derive(serde::Deserialize)]
struct SfdiskTable {
    #[serde(default)]
    sectorsize: Option<u64>,
    #[serde(default)]
    partitions: Vec<SfdiskPart>,
}

#[derive(serde::Deserialize)]
struct SfdiskPart {
    start: u64,
    size: u64,
    #[serde(default)]
    name: Option<String>,
}

/// Start and size in bytes of the partition named `name`, from `sfdisk --json` output.
pub fn find_partition(sfdisk_json: &str, name: &str) -> Option<(u64, u64)> {
    let t: SfdiskJson = serde_json::from_str(sfdisk_json).ok()?;
    let ss = t.partitiontable.sectorsize.unwrap_or(512);
    t.partitiontable
        .partitions
        .iter()
        .find(|p| p.name.as_deref() == Some(name))
        .map(|p| (p.start * ss, p.size * ss))
}

/// Prepares `disk` as a rear rescue disk. **Destroys everything on it.**
pub fn format_usb(disk: &Path, opts: &UsbFormatOptions, runner: &dyn Runner) -> Result<()> {
    if opts.efi_mib < 64 {
        return Err(Error::invalid(
            "USB_UEFI_PART_SIZE",
            format!(
                "{} MiB is too small for the boot partition (at least 64)",
                opts.efi_mib
            ),
        ));
    }
    let layout = format!(
        "label: gpt\nstart=2048, size={}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, \
         name=\"{EFI_LABEL}\", attrs=\"LegacyBIOSBootable\"\nname=\"{DATA_LABEL}\"\n",
        opts.efi_mib * 2048
    );
    Cmd::mutate(tools::SFDISK)
        .args(["--wipe", "always", "-q"])
        .arg(disk)
        .stdin_bytes(layout)
        .describe(format!(
            "partitioning {} as a rear rescue disk",
            disk.display()
        ))
        .run(runner)?;
    let json = Cmd::probe(tools::SFDISK)
        .arg("--json")
        .arg(disk)
        .describe("reading the new partition table")
        .output_string(runner)?;
    let (efi_start, efi_size) = find_partition(&json, EFI_LABEL)
        .ok_or_else(|| Error::invalid(disk.display().to_string(), "no REAR-EFI partition"))?;
    let (data_start, data_size) = find_partition(&json, DATA_LABEL)
        .ok_or_else(|| Error::invalid(disk.display().to_string(), "no REAR-000 partition"))?;
    Cmd::mutate(tools::MKFS_VFAT)
        .arg(format!("--offset={}", efi_start / 512))
        // One sector per cluster: FAT32 needs at least 65525 clusters, or syslinux (and the
        // spec) take it for FAT16 ("zero FAT sectors") on partitions below ~2 GiB.
        .args(["-F", "32", "-s", "1", "-n", EFI_LABEL])
        .arg(disk)
        .arg((efi_size / 1024).to_string())
        .describe("creating the boot file system of the rescue disk")
        .run(runner)?;
    Cmd::mutate(tools::MKE2FS)
        .args(["-q", "-F", "-t", "ext4", "-L", DATA_LABEL, "-E"])
        .arg(format!("offset={data_start}"))
        .arg(disk)
        .arg(format!("{}k", data_size / 1024))
        .describe("creating the data file system of the rescue disk")
        .run(runner)?;
    Cmd::mutate(tools::MMD)
        .arg("-i")
        .arg(format!("{}@@{efi_start}", disk.display()))
        .arg("::/syslinux")
        .env("MTOOLS_SKIP_CHECK", "1")
        .describe("creating the syslinux directory on the rescue disk")
        .run(runner)?;
    Cmd::mutate(tools::SYSLINUX)
        .args([
            "--offset",
            &efi_start.to_string(),
            "--install",
            "--directory",
            "/syslinux",
        ])
        .arg(disk)
        .describe("installing syslinux on the rescue disk")
        .run(runner)?;
    let mbr =
        std::fs::read(SYSLINUX_GPTMBR).map_err(|e| Error::io("reading", SYSLINUX_GPTMBR, e))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(disk)
        .map_err(|e| Error::io("opening", disk, e))?;
    use std::io::Write as _;
    f.write_all(&mbr[..mbr.len().min(440)])
        .map_err(|e| Error::io("writing the MBR of", disk, e))?;
    Ok(())
}

/// Writes the rescue system onto a disk prepared by [`format_usb`] and keeps the newest `retain`
/// copies. Returns the directory written on the boot partition (`/rear/PREFIX/TIMESTAMP`).
pub fn write_usb(
    opts: &OutputOptions,
    disk: &Path,
    retain: usize,
    kernel: &Path,
    initrd: &Path,
    runner: &dyn Runner,
) -> Result<String> {
    let json = Cmd::probe(tools::SFDISK)
        .arg("--json")
        .arg(disk)
        .describe(format!("reading the partition table of {}", disk.display()))
        .output_string(runner)?;
    let (efi_start, _) = find_partition(&json, EFI_LABEL).ok_or_else(|| {
        Error::invalid(
            disk.display().to_string(),
            "has no REAR-EFI partition: prepare it with 'rear format' first",
        )
    })?;
    let at = format!("{}@@{efi_start}", disk.display());
    let mtools = |t: tools::Tool, args: Vec<std::ffi::OsString>| {
        Cmd::mutate(t)
            .arg("-i")
            .arg(&at)
            .args(args)
            .env("MTOOLS_SKIP_CHECK", "1")
            .describe("writing the rescue system to the rescue disk")
            .run(runner)
    };
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .map_err(|e| Error::Other(e.into()))?;
    let base = format!("/rear/{}", opts.prefix);
    let dir = format!("{base}/{stamp}");
    let initrd_name = initrd
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "initrd".into());
    // mmd fails on existing directories: create the missing levels one by one.
    let dirs = [
        "/rear".to_string(),
        base.clone(),
        dir.clone(),
        "/EFI".into(),
        "/EFI/BOOT".into(),
        "/syslinux".into(),
    ];
    for d in dirs {
        let exists = Cmd::probe(tools::MDIR)
            .args(["-b", "-i"])
            .arg(&at)
            .arg(format!("::{d}"))
            .env("MTOOLS_SKIP_CHECK", "1")
            .allow_exit_codes(&[1])
            .run(runner)?
            .status
            == 0;
        if !exists {
            mtools(tools::MMD, vec![format!("::{d}").into()])?;
        }
    }
    let work = &opts.work_dir;
    std::fs::create_dir_all(work).map_err(|e| Error::io("creating directory", work, e))?;
    let menu = |s: String| {
        s.replace("/boot/kernel", &format!("{dir}/kernel"))
            .replace(
                &format!("/boot/{initrd_name}"),
                &format!("{dir}/{initrd_name}"),
            )
            .replace(&format!("/boot/{MARKER}"), &format!("/rear/{MARKER}"))
    };
    let syslinux = work.join("usb-syslinux.cfg");
    write(&syslinux, &menu(isolinux_cfg(opts, &initrd_name)))?;
    let grub = menu(grub_cfg(opts, &initrd_name, MARKER));
    let efi = output::grub_efi_image_for(opts, &grub, runner)?;
    let marker = work.join(MARKER);
    write(&marker, &opts.prefix)?;
    let mut copies: Vec<(PathBuf, String)> = vec![
        (kernel.to_path_buf(), format!("::{dir}/kernel")),
        (initrd.to_path_buf(), format!("::{dir}/{initrd_name}")),
        (marker, format!("::/rear/{MARKER}")),
        (efi, "::/EFI/BOOT/BOOTX64.EFI".into()),
        (syslinux, "::/syslinux/syslinux.cfg".into()),
    ];
    for m in ["menu.c32", "libutil.c32", "libcom32.c32"] {
        copies.push((
            Path::new(SYSLINUX_BIOS_DIR).join(m),
            format!("::/syslinux/{m}"),
        ));
    }
    for (from, to) in copies {
        // -o: overwrite the menu and boot image of the previous run
        mtools(tools::MCOPY, vec!["-o".into(), from.into(), to.into()])?;
    }
    // Keep the newest `retain` copies (directory names sort by time).
    let listing = Cmd::probe(tools::MDIR)
        .args(["-b", "-i"])
        .arg(&at)
        .arg(format!("::{base}"))
        .env("MTOOLS_SKIP_CHECK", "1")
        .describe("listing the rescue systems on the rescue disk")
        .output_string(runner)?;
    let mut dirs: Vec<String> = listing
        .lines()
        .map(|l| l.trim().trim_end_matches('/').to_string())
        .filter(|l| l.starts_with("::"))
        .collect();
    dirs.sort();
    let keep = retain.max(1);
    if dirs.len() > keep {
        let old: Vec<String> = dirs[..dirs.len() - keep].to_vec();
        for d in old {
            mtools(tools::MDELTREE, vec![d.into()])?;
        }
    }
    Ok(dir)
}

fn write(path: &Path, data: &str) -> Result<()> {
    std::fs::write(path, data).map_err(|e| Error::io("writing", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_partitions_by_name() {
        let j = r#"{"partitiontable":{"label":"gpt","sectorsize":512,"partitions":[
            {"node":"/x1","start":2048,"size":10240,"type":"C12A7328-F81F-11D2-BA4B-00A0C93EC93B","name":"REAR-EFI"},
            {"node":"/x2","start":12288,"size":26624,"type":"0FC63DAF-8483-4772-8E79-3D69D8477DE4","name":"REAR-000"}]}}"#;
        assert_eq!(find_partition(j, EFI_LABEL), Some((1 << 20, 10240 * 512)));
        assert_eq!(
            find_partition(j, DATA_LABEL),
            Some((12288 * 512, 26624 * 512))
        );
        assert_eq!(find_partition(j, "other"), None);
    }
}
