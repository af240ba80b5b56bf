//! Writing the rescue image out (ReaR's `output` stage).
//!
//! Contract: [`write_output`] takes the kernel and the packed initramfs and produces, in
//! `OutputOptions::output_dir`:
//! - `RAMDISK`: `kernel-PREFIX` and `initramfs-PREFIX.img`;
//! - `ISO`: `PREFIX.iso`, a hybrid image (CD and USB stick) that boots on BIOS through isolinux
//!   (`isolinux`/`syslinux-common` packages, `isohdpfx.bin` as the hybrid MBR) and on UEFI through a
//!   GRUB standalone EFI image (`grub-mkstandalone -O x86_64-efi`, modules from
//!   `grub-efi-amd64-bin`) placed as `\EFI\BOOT\BOOTX64.EFI` in a FAT image (`mkfs.vfat` + mtools,
//!   no loop mount) that is the El Torito EFI boot image. Both menus offer "recover",
//!   "recover unattended" and "boot from local disk". The ISO is written with `xorriso -as mkisofs`.
//! - `RAWDISK`: `PREFIX.raw`, a GPT disk image that boots on BIOS (syslinux) and UEFI (the same
//!   GRUB EFI image), built without loop devices;
//! - `PXE`: in the TFTP directory, `PREFIX.kernel` and the initrd, pxelinux (`pxelinux.0`,
//!   `lpxelinux.0` for HTTP, menus in `pxelinux.cfg/rear-PREFIX` with a `01-MAC` link per MAC),
//!   GRUB for BIOS and UEFI network boot (`grub-mknetdir`: `boot/grub/i386-pc/core.0`,
//!   `boot/grub/x86_64-efi/core.efi`, `grub.cfg-01-MAC`), and an iPXE script `PREFIX.ipxe`;
//! - `USB`: the rescue disk prepared by `rear format` gets the new rescue system and keeps the
//!   last `USB_RETAIN_BACKUP_NR` ones, see [`crate::rescue::usb`].
//!
//! `PXE_TFTP_URL` and `PXE_CONFIG_URL` may be network URLs (`nfs://`, `cifs://`, `sshfs://`,
//! `usb://`): they are mounted with the backup target code ([`Target::mount`], `BACKUP_OPTIONS`)
//! while the files are written and always unmounted ([`with_mounted`]). With Secure Boot files on
//! the host ([`SecureBoot`]) the ISO's EFI image boots the signed shim and GRUB.
//!
//! Copying the results to `OUTPUT_URL` is the caller's job; [`copy_to_url`] does it for any
//! target the backup code mounts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backup::target::Target;
use crate::cmd::{Cmd, Runner, tools};
use crate::ui::{Level, Ui};
use crate::{Error, Result};

/// The isolinux boot sector and the hybrid MBR (Debian's `isolinux` package).
pub const ISOLINUX_DIR: &str = "/usr/lib/ISOLINUX";
/// The BIOS syslinux modules (Debian's `syslinux-common` package).
pub const SYSLINUX_BIOS_DIR: &str = "/usr/lib/syslinux/modules/bios";

/// The kind of rescue media (`OUTPUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// A hybrid BIOS + UEFI ISO image.
    Iso,
    /// Kernel and initramfs only.
    Ramdisk,
    /// Network boot files (not built yet).
    Pxe,
    /// A `REAR-000` USB disk (not built yet).
    Usb,
    /// A bootable GPT disk image (not built yet).
    Rawdisk,
}

impl OutputKind {
    /// Maps `OUTPUT`.
    pub fn from_config(value: &str) -> Result<Self> {
        Ok(match value.trim().to_ascii_uppercase().as_str() {
            "" | "ISO" => OutputKind::Iso,
            "RAMDISK" => OutputKind::Ramdisk,
            "PXE" => OutputKind::Pxe,
            "USB" => OutputKind::Usb,
            "RAWDISK" => OutputKind::Rawdisk,
            other => {
                return Err(Error::invalid(
                    "OUTPUT",
                    format!("'{other}' is not one of ISO, RAMDISK, PXE, USB, RAWDISK"),
                ));
            }
        })
    }
}

/// The boot menu entry chosen when the timeout expires (`ISO_DEFAULT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultEntry {
    /// Boot from the local disk (`boothd`, ReaR's default).
    LocalDisk,
    /// The rescue system with a shell (`manual`).
    Recover,
    /// The rescue system recovering without questions (`automatic` with
    /// `ISO_RECOVER_MODE=unattended`).
    Unattended,
}

/// Options of [`write_output`].
#[derive(Debug, Clone)]
pub struct OutputOptions {
    /// `OUTPUT`.
    pub kind: OutputKind,
    /// Where the results go (`ISO_DIR`, default `/var/lib/rear/output`).
    pub output_dir: PathBuf,
    /// File name prefix (`ISO_PREFIX`, default `rear-HOSTNAME`).
    pub prefix: String,
    /// The ISO volume ID (`ISO_VOLID`, default `REAR-ISO`).
    pub volume_id: String,
    /// Kernel command line for the rescue system (`KERNEL_CMDLINE`).
    pub kernel_args: Vec<String>,
    /// A serial console (`ttyS0,115200`) added to the kernel command line and used by the boot
    /// menus (`USE_SERIAL_CONSOLE`).
    pub serial_console: Option<String>,
    /// Seconds the boot menu waits.
    pub timeout_secs: u32,
    /// The entry booted after the timeout.
    pub default_entry: DefaultEntry,
    /// Scratch directory for the ISO tree and the EFI image.
    pub work_dir: PathBuf,
    /// Network boot settings (`OUTPUT=PXE`).
    pub pxe: PxeOptions,
    /// The rescue disk for `OUTPUT=USB` (the whole disk prepared by
    /// [`crate::rescue::usb::format_usb`]; the caller resolves `USB_DEVICE`).
    pub usb_disk: Option<PathBuf>,
    /// How many rescue systems the USB disk keeps (`USB_RETAIN_BACKUP_NR`, default 2).
    pub usb_retain: usize,
    /// Which EFI boot chain the ISO gets (Secure Boot).
    pub secure_boot: SecureBoot,
}

/// The EFI boot chain of the ISO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecureBoot {
    /// The host's signed shim and GRUB ([`SIGNED_SHIM`], [`SIGNED_GRUB`]) when both are
    /// installed, else an unsigned GRUB standalone image (the default).
    Auto,
    /// Always the unsigned GRUB standalone image.
    Off,
    /// `SECURE_BOOT_BOOTLOADER`: this shim, with the signed GRUB `grubx64.efi` next to it, else
    /// [`SIGNED_GRUB`]; missing files are an error.
    Shim(PathBuf),
}

/// Debian's Microsoft-signed shim (package shim-signed).
pub const SIGNED_SHIM: &str = "/usr/lib/shim/shimx64.efi.signed";
/// Debian's signed MokManager, which shim starts to enrol keys (package shim-signed).
pub const SIGNED_MOK_MANAGER: &str = "/usr/lib/shim/mmx64.efi.signed";
/// Debian's signed monolithic GRUB (package grub-efi-amd64-signed). Its built-in configuration
/// finds the medium by `/.disk/info` and reads `/boot/grub/grub.cfg` there.
pub const SIGNED_GRUB: &str = "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed";

/// The signed boot chain of the host: the files that go to `\EFI\BOOT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBoot {
    /// The shim, installed as `BOOTX64.EFI`.
    pub shim: PathBuf,
    /// The signed GRUB, installed as `grubx64.efi` (the name shim loads).
    pub grub: PathBuf,
    /// MokManager, installed as `mmx64.efi` when present.
    pub mok_manager: Option<PathBuf>,
}

impl SecureBoot {
    /// The signed files to use, `None` for the unsigned GRUB image.
    ///
    /// # Errors
    /// `SECURE_BOOT_BOOTLOADER` names a missing shim, or no signed GRUB is found for it.
    pub fn signed_files(&self) -> Result<Option<SignedBoot>> {
        let mm = Path::new(SIGNED_MOK_MANAGER);
        let mok_manager = mm.is_file().then(|| mm.to_path_buf());
        match self {
            SecureBoot::Off => Ok(None),
            SecureBoot::Auto => {
                let (shim, grub) = (Path::new(SIGNED_SHIM), Path::new(SIGNED_GRUB));
                Ok((shim.is_file() && grub.is_file()).then(|| SignedBoot {
                    shim: shim.to_path_buf(),
                    grub: grub.to_path_buf(),
                    mok_manager,
                }))
            }
            SecureBoot::Shim(shim) => {
                if !shim.is_file() {
                    return Err(Error::invalid(
                        format!("SECURE_BOOT_BOOTLOADER={}", shim.display()),
                        "no such file (install shim-signed, or unset SECURE_BOOT_BOOTLOADER)",
                    ));
                }
                let sibling = shim.with_file_name("grubx64.efi");
                let grub = if sibling.is_file() {
                    sibling
                } else if Path::new(SIGNED_GRUB).is_file() {
                    PathBuf::from(SIGNED_GRUB)
                } else {
                    return Err(Error::invalid(
                        format!("SECURE_BOOT_BOOTLOADER={}", shim.display()),
                        format!(
                            "no signed GRUB next to it (grubx64.efi) nor {SIGNED_GRUB} (install                              grub-efi-amd64-signed)"
                        ),
                    ));
                };
                // Next to Debian's shimx64.efi.signed lie the unsigned mmx64.efi and the signed
                // mmx64.efi.signed: take the one signed like the shim.
                let suffix = if shim.extension().is_some_and(|e| e == "signed") {
                    ".signed"
                } else {
                    ""
                };
                let mm = shim.with_file_name(format!("mmx64.efi{suffix}"));
                Ok(Some(SignedBoot {
                    shim: shim.clone(),
                    grub,
                    mok_manager: if mm.is_file() { Some(mm) } else { mok_manager },
                }))
            }
        }
    }
}

/// Where and how `OUTPUT=PXE` writes its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PxeOptions {
    /// The TFTP (or HTTP) root directory (`PXE_TFTP_URL` as a `file://` URL or a local path;
    /// default `OUTPUT_DIR/pxe`).
    pub tftp_dir: PathBuf,
    /// The pxelinux configuration directory (`PXE_CONFIG_URL`; default `TFTP_DIR/pxelinux.cfg`).
    pub config_dir: Option<PathBuf>,
    /// Prefix of the kernel and initrd file names (`PXE_TFTP_PREFIX`, default `PREFIX.`).
    pub file_prefix: Option<String>,
    /// MAC addresses that get their own boot configuration (`PXE_CREATE_LINKS=MAC`: the source
    /// system's NICs).
    pub macs: Vec<String>,
    /// `PXE_TFTP_URL` when it needs mounting (`nfs://`, `cifs://`, `sshfs://`, `usb://`): mounted
    /// on `WORK_DIR/pxe-tftp` like a backup target while the files are written, then unmounted.
    pub tftp_target: Option<Target>,
    /// `PXE_CONFIG_URL` when it needs mounting, on `WORK_DIR/pxe-config`.
    pub config_target: Option<Target>,
    /// Mount options for those targets (`BACKUP_OPTIONS`, as ReaR uses them for PXE URLs).
    pub mount_options: String,
}

impl OutputOptions {
    /// Defaults: ISO in `/var/lib/rear/output`, prefix `rear-HOSTNAME`, 5 s menu, local disk.
    pub fn new(work_dir: &Path, hostname: &str) -> Self {
        OutputOptions {
            kind: OutputKind::Iso,
            output_dir: PathBuf::from("/var/lib/rear/output"),
            prefix: format!("rear-{hostname}"),
            volume_id: "REAR-ISO".into(),
            kernel_args: Vec::new(),
            serial_console: None,
            timeout_secs: 5,
            default_entry: DefaultEntry::LocalDisk,
            work_dir: work_dir.to_path_buf(),
            pxe: PxeOptions {
                tftp_dir: PathBuf::from("/var/lib/rear/output/pxe"),
                config_dir: None,
                file_prefix: None,
                macs: Vec::new(),
                tftp_target: None,
                config_target: None,
                mount_options: String::new(),
            },
            usb_disk: None,
            usb_retain: 2,
            secure_boot: SecureBoot::Auto,
        }
    }

    /// Takes the output settings from ReaR's configuration variables: `OUTPUT`, `ISO_DIR`,
    /// `ISO_PREFIX`, `ISO_VOLID`, `KERNEL_CMDLINE`, `USE_SERIAL_CONSOLE` (with
    /// `SERIAL_CONSOLE_DEVICES` naming the first device), `USER_INPUT_TIMEOUT` (menu timeout),
    /// `ISO_DEFAULT` (`boothd`/`manual`/`automatic`, with `ISO_RECOVER_MODE=unattended`),
    /// `PXE_TFTP_URL`/`PXE_TFTP_PATH`, `PXE_CONFIG_URL`/`PXE_CONFIG_PATH`, `PXE_TFTP_PREFIX`.
    /// `file://` URLs and plain paths are accepted for the PXE directories.
    pub fn apply_config(&mut self, config: &crate::config::Config) -> Result<()> {
        let get = |n: &str| config.get_string(n).filter(|v| !v.is_empty());
        if let Some(o) = get("OUTPUT") {
            self.kind = OutputKind::from_config(&o)?;
        }
        if let Some(d) = get("ISO_DIR") {
            self.output_dir = PathBuf::from(d);
        }
        if let Some(p) = get("ISO_PREFIX") {
            self.prefix = p;
        }
        if let Some(v) = get("ISO_VOLID") {
            self.volume_id = v;
        }
        if config.get("KERNEL_CMDLINE").is_some() {
            self.kernel_args = config.list("KERNEL_CMDLINE");
        }
        if config.is_true("USE_SERIAL_CONSOLE") {
            let dev = config
                .list("SERIAL_CONSOLE_DEVICES")
                .first()
                .map(|d| d.trim_start_matches("/dev/").to_string())
                .unwrap_or_else(|| "ttyS0".into());
            self.serial_console = Some(format!("{dev},115200"));
        }
        if let Some(t) = get("USER_INPUT_TIMEOUT").and_then(|t| t.parse().ok()) {
            self.timeout_secs = t;
        }
        match get("ISO_DEFAULT").as_deref() {
            Some("manual") => self.default_entry = DefaultEntry::Recover,
            Some("automatic") => {
                self.default_entry = if get("ISO_RECOVER_MODE").as_deref() == Some("unattended") {
                    DefaultEntry::Unattended
                } else {
                    DefaultEntry::Recover
                }
            }
            Some(_) => self.default_entry = DefaultEntry::LocalDisk,
            None => {}
        }
        // A local path, a file:// URL, or a URL mounted like a backup target.
        let place = |v: String| -> Result<(PathBuf, Option<Target>)> {
            if !v.contains("://") {
                return Ok((PathBuf::from(v), None));
            }
            match Target::parse(&v)? {
                Target::File(p) => Ok((p, None)),
                t => Ok((PathBuf::new(), Some(t))),
            }
        };
        if let Some(d) = get("PXE_TFTP_PATH").or_else(|| get("PXE_TFTP_URL")) {
            let (dir, target) = place(d)?;
            self.pxe.tftp_dir = dir;
            self.pxe.tftp_target = target;
        }
        if let Some(d) = get("PXE_CONFIG_PATH").or_else(|| get("PXE_CONFIG_URL")) {
            let (dir, target) = place(d)?;
            self.pxe.config_dir = Some(dir);
            self.pxe.config_target = target;
        }
        if let Some(o) = get("BACKUP_OPTIONS") {
            self.pxe.mount_options = o;
        }
        if let Some(p) = get("PXE_TFTP_PREFIX") {
            self.pxe.file_prefix = Some(p);
        }
        if let Some(b) = get("SECURE_BOOT_BOOTLOADER") {
            self.secure_boot = SecureBoot::Shim(PathBuf::from(b));
        }
        if let Some(n) = get("USB_RETAIN_BACKUP_NR").and_then(|n| n.parse().ok()) {
            self.usb_retain = n;
        }
        Ok(())
    }

    fn cmdline(&self, extra: &[&str]) -> String {
        let mut v: Vec<String> = self.kernel_args.clone();
        if let Some(s) = &self.serial_console {
            // The last console= becomes /dev/console, where init prints and runs the shell.
            v.push("console=tty0".into());
            v.push(format!("console={s}"));
        }
        v.extend(extra.iter().map(|s| s.to_string()));
        v.join(" ")
    }
}

/// What [`write_output`] produced.
#[derive(Debug, Clone, Default)]
pub struct OutputReport {
    /// The local files written, main image first.
    pub files: Vec<PathBuf>,
    /// Files written to a mounted network URL (`PXE_TFTP_URL=nfs://...`), as `URL/relative
    /// path`; they are not on the local disk any more once it was unmounted.
    pub remote: Vec<String>,
}

/// The size of a file for messages (`94.0 MiB`), as ReaR shows it after writing an image.
fn size_of(path: &Path) -> String {
    std::fs::metadata(path)
        .map(|m| crate::layout::show::human_size(m.len()))
        .unwrap_or_default()
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(p) = to.parent() {
        std::fs::create_dir_all(p).map_err(|e| Error::io("creating directory", p, e))?;
    }
    std::fs::copy(from, to).map_err(|e| Error::io("copying", from, e))?;
    Ok(())
}

/// Writes the rescue media. See the module documentation.
pub fn write_output(
    opts: &OutputOptions,
    kernel: &Path,
    initrd: &Path,
    runner: &dyn Runner,
    ui: &dyn Ui,
) -> Result<OutputReport> {
    std::fs::create_dir_all(&opts.output_dir)
        .map_err(|e| Error::io("creating directory", &opts.output_dir, e))?;
    match opts.kind {
        OutputKind::Ramdisk => {
            let k = opts.output_dir.join(format!("kernel-{}", opts.prefix));
            let i = opts
                .output_dir
                .join(format!("initramfs-{}.img", opts.prefix));
            copy(kernel, &k)?;
            copy(initrd, &i)?;
            ui.message(
                Level::Info,
                &format!("Wrote {} and {}", k.display(), i.display()),
            );
            Ok(OutputReport {
                files: vec![k, i],
                ..OutputReport::default()
            })
        }
        OutputKind::Iso => {
            let iso = make_iso(opts, kernel, initrd, runner)?;
            ui.message(
                Level::Info,
                &format!("Wrote ISO image {} ({})", iso.display(), size_of(&iso)),
            );
            Ok(OutputReport {
                files: vec![iso],
                ..OutputReport::default()
            })
        }
        OutputKind::Pxe => {
            let report = write_pxe(opts, kernel, initrd, runner)?;
            let place = match &opts.pxe.tftp_target {
                Some(t) => target_url(t),
                None => opts.pxe.tftp_dir.display().to_string(),
            };
            ui.message(Level::Info, &format!("Wrote network boot files to {place}"));
            Ok(report)
        }
        OutputKind::Usb => {
            let disk = opts.usb_disk.as_ref().ok_or_else(|| {
                Error::invalid(
                    "USB_DEVICE",
                    "OUTPUT=USB needs the rescue disk (USB_DEVICE)",
                )
            })?;
            let dir =
                crate::rescue::usb::write_usb(opts, disk, opts.usb_retain, kernel, initrd, runner)?;
            ui.message(
                Level::Info,
                &format!("Wrote the rescue system to {} ({dir})", disk.display()),
            );
            Ok(OutputReport {
                files: vec![disk.clone()],
                ..OutputReport::default()
            })
        }
        OutputKind::Rawdisk => {
            let raw = make_rawdisk(opts, kernel, initrd, runner)?;
            ui.message(
                Level::Info,
                &format!("Wrote disk image {} ({})", raw.display(), size_of(&raw)),
            );
            Ok(OutputReport {
                files: vec![raw],
                ..OutputReport::default()
            })
        }
    }
}

/// The isolinux configuration.
pub fn isolinux_cfg(opts: &OutputOptions, initrd_name: &str) -> String {
    let default = match opts.default_entry {
        DefaultEntry::LocalDisk => "boothd",
        DefaultEntry::Recover => "recover",
        DefaultEntry::Unattended => "unattended",
    };
    let mut s = String::new();
    if let Some(serial) = &opts.serial_console {
        let port = serial
            .trim_start_matches("ttyS")
            .split(',')
            .next()
            .unwrap_or("0");
        let speed = serial.split(',').nth(1).unwrap_or("115200");
        s.push_str(&format!("serial {port} {speed}\n"));
    }
    s.push_str(&format!(
        "ui menu.c32\nmenu title Relax-and-Recover (rear-rs) {prefix}\ntimeout {t}\ndefault {default}\n\n\
         label recover\n  menu label ^Recover {prefix}\n  kernel /boot/kernel\n  append initrd=/boot/{initrd_name} {rec}\n\n\
         label unattended\n  menu label Recover {prefix} ^unattended (no questions, then reboot)\n  kernel /boot/kernel\n  append initrd=/boot/{initrd_name} {una}\n\n\
         label boothd\n  menu label Boot from ^local disk\n  localboot 0x80\n",
        prefix = opts.prefix,
        t = opts.timeout_secs * 10,
        rec = opts.cmdline(&[]),
        una = opts.cmdline(&["unattended"]),
    ));
    s
}

/// The GRUB configuration embedded in the EFI image.
pub fn grub_cfg(opts: &OutputOptions, initrd_name: &str, marker: &str) -> String {
    let default = match opts.default_entry {
        DefaultEntry::Recover => 0,
        DefaultEntry::Unattended => 1,
        DefaultEntry::LocalDisk => 2,
    };
    let mut s = String::new();
    if opts.serial_console.is_some() {
        s.push_str("serial --unit=0 --speed=115200\nterminal_input console serial\nterminal_output console serial\n");
    }
    s.push_str(&format!(
        "set timeout={t}\nset default={default}\n\
         search --no-floppy --file --set=root /boot/{marker}\n\n\
         menuentry 'Recover {prefix}' {{\n  linux /boot/kernel {rec}\n  initrd /boot/{initrd_name}\n}}\n\
         menuentry 'Recover {prefix} unattended (no questions, then reboot)' {{\n  linux /boot/kernel {una}\n  initrd /boot/{initrd_name}\n}}\n\
         menuentry 'Boot from local disk' {{\n  exit\n}}\n",
        t = opts.timeout_secs,
        prefix = opts.prefix,
        rec = opts.cmdline(&[]),
        una = opts.cmdline(&["unattended"]),
    ));
    s
}

/// GRUB modules put into the standalone EFI image (their dependencies come along).
const GRUB_EFI_MODULES: &str = "part_gpt part_msdos fat iso9660 ext2 search search_fs_file \
    search_label normal configfile linux echo test serial terminal all_video efi_gop gzio \
    reboot halt chain ls";

fn make_iso(
    opts: &OutputOptions,
    kernel: &Path,
    initrd: &Path,
    runner: &dyn Runner,
) -> Result<PathBuf> {
    let tree = opts.work_dir.join("iso");
    if tree.exists() {
        std::fs::remove_dir_all(&tree).map_err(|e| Error::io("removing", &tree, e))?;
    }
    let initrd_name = initrd
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "initrd".into());
    copy(kernel, &tree.join("boot/kernel"))?;
    copy(initrd, &tree.join("boot").join(&initrd_name))?;
    // A file only this image has, for GRUB's search.
    let marker = format!("rear-{}.marker", std::process::id());
    write(&tree.join("boot").join(&marker), opts.prefix.as_bytes())?;

    // BIOS: isolinux.
    let isolinux = tree.join("isolinux");
    copy(
        &Path::new(ISOLINUX_DIR).join("isolinux.bin"),
        &isolinux.join("isolinux.bin"),
    )?;
    for m in ["ldlinux.c32", "menu.c32", "libutil.c32", "libcom32.c32"] {
        copy(&Path::new(SYSLINUX_BIOS_DIR).join(m), &isolinux.join(m))?;
    }
    write(
        &isolinux.join("isolinux.cfg"),
        isolinux_cfg(opts, &initrd_name).as_bytes(),
    )?;

    // UEFI: GRUB standalone image in a FAT El Torito image, or with Secure Boot the signed shim
    // and GRUB, which reads /boot/grub/grub.cfg from the medium it finds by /.disk/info.
    let grub = grub_cfg(opts, &initrd_name, &marker);
    write(&tree.join("boot/grub/grub.cfg"), grub.as_bytes())?;
    let signed = opts.secure_boot.signed_files()?;
    let efi_files: Vec<(PathBuf, &str)> = match &signed {
        Some(sb) => {
            write(
                &tree.join(".disk/info"),
                format!("Relax-and-Recover rescue system {}\n", opts.prefix).as_bytes(),
            )?;
            let mut v = vec![
                (sb.shim.clone(), "::/EFI/BOOT/BOOTX64.EFI"),
                (sb.grub.clone(), "::/EFI/BOOT/grubx64.efi"),
            ];
            if let Some(mm) = &sb.mok_manager {
                v.push((mm.clone(), "::/EFI/BOOT/mmx64.efi"));
            }
            v
        }
        None => vec![(
            grub_efi_image_for(opts, &grub, runner)?,
            "::/EFI/BOOT/BOOTX64.EFI",
        )],
    };
    let mut efi_size = 0;
    for (f, _) in &efi_files {
        efi_size += std::fs::metadata(f)
            .map_err(|e| Error::io("reading", f, e))?
            .len();
    }
    // FAT overhead plus slack, in KiB, at least 2 MiB.
    let kib = (efi_size / 1024 + 1024).max(2048);
    let img = tree.join("boot/efiboot.img");
    Cmd::mutate(tools::MKFS_VFAT)
        .args(["-C", "-n", "REAR-EFI"])
        .arg(&img)
        .arg(kib.to_string())
        .describe("creating the EFI boot image of the rescue ISO")
        .run(runner)?;
    let mtools = |t: tools::Tool, args: Vec<std::ffi::OsString>| {
        Cmd::mutate(t)
            .arg("-i")
            .arg(&img)
            .args(args)
            .env("MTOOLS_SKIP_CHECK", "1")
            .describe("filling the EFI boot image of the rescue ISO")
            .run(runner)
    };
    mtools(tools::MMD, vec!["::/EFI".into(), "::/EFI/BOOT".into()])?;
    for (f, to) in &efi_files {
        mtools(tools::MCOPY, vec![f.clone().into(), (*to).into()])?;
    }

    let iso = opts.output_dir.join(format!("{}.iso", opts.prefix));
    Cmd::mutate(tools::XORRISO)
        .args(["-as", "mkisofs", "-o"])
        .arg(&iso)
        .args([
            "-V",
            &opts.volume_id,
            "-R",
            "-J",
            "-joliet-long",
            "-isohybrid-mbr",
        ])
        .arg(Path::new(ISOLINUX_DIR).join("isohdpfx.bin"))
        .args([
            "-b",
            "isolinux/isolinux.bin",
            "-c",
            "isolinux/boot.cat",
            "-no-emul-boot",
            "-boot-load-size",
            "4",
            "-boot-info-table",
            "-eltorito-alt-boot",
            "-e",
            "boot/efiboot.img",
            "-no-emul-boot",
            "-isohybrid-gpt-basdat",
        ])
        .arg(&tree)
        .describe("writing the rescue ISO image")
        .timeout(Duration::from_secs(600))
        .run(runner)?;
    Ok(iso)
}

/// Builds `WORK_DIR/BOOTX64.EFI`: a GRUB standalone EFI image with `grub_cfg` embedded.
pub(crate) fn grub_efi_image_for(
    opts: &OutputOptions,
    grub_cfg: &str,
    runner: &dyn Runner,
) -> Result<PathBuf> {
    let cfg = opts.work_dir.join("grub-embedded.cfg");
    write(&cfg, grub_cfg.as_bytes())?;
    let efi = opts.work_dir.join("BOOTX64.EFI");
    Cmd::mutate(tools::GRUB_MKSTANDALONE)
        .args(["-O", "x86_64-efi", "--locales=", "--fonts=", "--themes="])
        .arg(format!("--install-modules={GRUB_EFI_MODULES}"))
        .arg(format!("--modules={GRUB_EFI_MODULES}"))
        .arg("-o")
        .arg(&efi)
        .arg(format!("boot/grub/grub.cfg={}", cfg.display()))
        .describe("building the GRUB EFI image of the rescue system")
        .timeout(Duration::from_secs(300))
        .run(runner)?;
    Ok(efi)
}

/// The pxelinux boot programs (Debian's `pxelinux` package).
pub const PXELINUX_DIR: &str = "/usr/lib/PXELINUX";

/// A MAC address in pxelinux's and GRUB's config file form: `01-aa-bb-cc-dd-ee-ff`.
pub fn mac_config_name(mac: &str) -> String {
    format!("01-{}", mac.to_lowercase().replace(':', "-"))
}

/// The GRUB configuration for network boot (paths on the TFTP server).
pub fn grub_net_cfg(opts: &OutputOptions, kernel: &str, initrd: &str) -> String {
    let full = grub_cfg(opts, initrd, "");
    full.lines()
        .filter(|l| !l.starts_with("search "))
        .map(|l| {
            l.replace("linux /boot/kernel", &format!("linux /{kernel}"))
                .replace(
                    &format!("initrd /boot/{initrd}"),
                    &format!("initrd /{initrd}"),
                )
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The iPXE script (`chain tftp://SERVER/PREFIX.ipxe`).
pub fn ipxe_script(opts: &OutputOptions, kernel: &str, initrd: &str) -> String {
    format!(
        "#!ipxe\n# Relax-and-Recover rescue system of {p}\nkernel {kernel} initrd={initrd} {args}\ninitrd {initrd}\nboot\n",
        p = opts.prefix,
        args = opts.cmdline(&[]),
    )
}

fn make_pxe(
    opts: &OutputOptions,
    kernel: &Path,
    initrd: &Path,
    runner: &dyn Runner,
) -> Result<Vec<PathBuf>> {
    let tftp = &opts.pxe.tftp_dir;
    let prefix = opts
        .pxe
        .file_prefix
        .clone()
        .unwrap_or_else(|| format!("{}.", opts.prefix));
    let ext = initrd
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "img".into());
    let kname = format!("{prefix}kernel");
    let iname = format!("{prefix}initrd.{ext}");
    let boot_files = [
        (PXELINUX_DIR, "pxelinux.0"),
        (PXELINUX_DIR, "lpxelinux.0"),
        (SYSLINUX_BIOS_DIR, "ldlinux.c32"),
        (SYSLINUX_BIOS_DIR, "menu.c32"),
        (SYSLINUX_BIOS_DIR, "libutil.c32"),
        (SYSLINUX_BIOS_DIR, "libcom32.c32"),
    ];
    // Checked before anything is written, so a missing package leaves the TFTP directory as it was.
    let missing: Vec<String> = boot_files
        .iter()
        .map(|(d, f)| Path::new(d).join(f))
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(
            "OUTPUT=PXE",
            format!(
                "the PXE boot programs {} are missing: install the packages pxelinux and \
                 syslinux-common (Debian, Ubuntu) or syslinux (others)",
                missing.join(", ")
            ),
        ));
    }
    let mut files = vec![tftp.join(&kname), tftp.join(&iname)];
    copy(kernel, &files[0])?;
    copy(initrd, &files[1])?;

    // pxelinux (BIOS): boot programs, modules, the menu and a link per MAC.
    for (dir, f) in boot_files {
        let to = tftp.join(f);
        if !to.exists() {
            copy(&Path::new(dir).join(f), &to)?;
        }
    }
    let cfg_dir = opts
        .pxe
        .config_dir
        .clone()
        .unwrap_or_else(|| tftp.join("pxelinux.cfg"));
    let menu = isolinux_cfg(opts, &iname)
        .replace("kernel /boot/kernel", &format!("kernel {kname}"))
        .replace(&format!("initrd=/boot/{iname}"), &format!("initrd={iname}"));
    let cfg_name = format!("rear-{}", opts.prefix);
    write(&cfg_dir.join(&cfg_name), menu.as_bytes())?;
    files.push(cfg_dir.join(&cfg_name));
    for mac in &opts.pxe.macs {
        let link = cfg_dir.join(mac_config_name(mac));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&cfg_name, &link)
            .map_err(|e| Error::io("creating symlink", &link, e))?;
        files.push(link);
    }

    // GRUB (BIOS and UEFI network boot).
    Cmd::mutate(tools::GRUB_MKNETDIR)
        .arg(format!("--net-directory={}", tftp.display()))
        .args(["--subdir=boot/grub", "-d", "/usr/lib/grub/i386-pc"])
        .describe("writing the GRUB BIOS network boot image")
        .timeout(Duration::from_secs(300))
        .run(runner)?;
    Cmd::mutate(tools::GRUB_MKNETDIR)
        .arg(format!("--net-directory={}", tftp.display()))
        .args(["--subdir=boot/grub", "-d", "/usr/lib/grub/x86_64-efi"])
        .describe("writing the GRUB UEFI network boot image")
        .timeout(Duration::from_secs(300))
        .run(runner)?;
    let grub = grub_net_cfg(opts, &kname, &iname);
    let grub_dir = tftp.join("boot/grub");
    let grub_main = grub_dir.join(format!("grub.cfg-rear-{}", opts.prefix));
    write(&grub_main, grub.as_bytes())?;
    files.push(grub_main);
    for mac in &opts.pxe.macs {
        let p = grub_dir.join(format!("grub.cfg-{}", mac_config_name(mac)));
        write(&p, grub.as_bytes())?;
        files.push(p);
    }
    // GRUB falls back to grub.cfg: only written when the server has none, as pxelinux's
    // `default` is left alone.
    if !grub_dir.join("grub.cfg").exists() {
        write(&grub_dir.join("grub.cfg"), grub.as_bytes())?;
    }
    let ipxe = tftp.join(format!("{}.ipxe", opts.prefix));
    write(&ipxe, ipxe_script(opts, &kname, &iname).as_bytes())?;
    files.push(ipxe);
    Ok(files)
}

/// A target as a URL again, for messages and [`OutputReport::remote`].
pub fn target_url(t: &Target) -> String {
    match t {
        Target::File(p) => format!("file://{}", p.display()),
        Target::Nfs { host, path } => format!("nfs://{host}{path}"),
        Target::Cifs { host, share } => format!("cifs://{host}{share}"),
        Target::Usb(d) => format!("usb://{}", d.display()),
        Target::Sshfs { host, path } => format!("sshfs://{host}{path}"),
    }
}

/// Mounts `target` on `mountpoint` with the backup target code, runs `work` with the local
/// directory, and unmounts again whatever `work` returned. A failed unmount after a successful
/// `work` is the error; after a failed `work`, that error is kept and the unmount failure logged.
pub fn with_mounted<T>(
    target: &Target,
    mountpoint: &Path,
    options: &str,
    runner: &dyn Runner,
    work: impl FnOnce(&Path) -> Result<T>,
) -> Result<T> {
    let mounted = target.mount(runner, mountpoint, options)?;
    let result = work(mounted.dir());
    match (result, mounted.unmount(runner)) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(e),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(u)) => {
            tracing::warn!("{u}");
            Err(e)
        }
    }
}

/// `OUTPUT=PXE`: mounts `PXE_TFTP_URL` and `PXE_CONFIG_URL` when they are network URLs, writes
/// the files ([`make_pxe`]) and unmounts. Files on a mounted URL are reported in
/// [`OutputReport::remote`].
fn write_pxe(
    opts: &OutputOptions,
    kernel: &Path,
    initrd: &Path,
    runner: &dyn Runner,
) -> Result<OutputReport> {
    let p = &opts.pxe;
    let tftp_mp = opts.work_dir.join("pxe-tftp");
    let config_mp = opts.work_dir.join("pxe-config");
    let finish = |files: Vec<PathBuf>| {
        let mut report = OutputReport::default();
        for f in files {
            let remote = [(&p.tftp_target, &tftp_mp), (&p.config_target, &config_mp)]
                .into_iter()
                .find_map(|(t, mp)| {
                    let t = t.as_ref()?;
                    let rel = f.strip_prefix(mp).ok()?;
                    Some(format!("{}/{}", target_url(t), rel.display()))
                });
            match remote {
                Some(r) => report.remote.push(r),
                None => report.files.push(f),
            }
        }
        report
    };
    let with_config = |o: &OutputOptions| -> Result<Vec<PathBuf>> {
        match &p.config_target {
            None => make_pxe(o, kernel, initrd, runner),
            Some(t) => with_mounted(t, &config_mp, &p.mount_options, runner, |dir| {
                let mut o = o.clone();
                o.pxe.config_dir = Some(dir.to_path_buf());
                make_pxe(&o, kernel, initrd, runner)
            }),
        }
    };
    let files = match &p.tftp_target {
        None => with_config(opts)?,
        Some(t) => with_mounted(t, &tftp_mp, &p.mount_options, runner, |dir| {
            let mut o = opts.clone();
            o.pxe.tftp_dir = dir.to_path_buf();
            with_config(&o)
        })?,
    };
    Ok(finish(files))
}

/// Copies `files` to `DIR/subdir/` of an `OUTPUT_URL` target (mounted on `mountpoint` when it
/// is a network URL, with `options`), each under a temporary name first, and unmounts. Returns
/// the destinations as URLs. For the output stage's copy to `OUTPUT_URL`.
pub fn copy_to_url(
    target: &Target,
    subdir: &str,
    files: &[PathBuf],
    options: &str,
    mountpoint: &Path,
    runner: &dyn Runner,
) -> Result<Vec<String>> {
    with_mounted(target, mountpoint, options, runner, |dir| {
        let dest_dir = dir.join(subdir.trim_matches('/'));
        std::fs::create_dir_all(&dest_dir)
            .map_err(|e| Error::io("creating directory", &dest_dir, e))?;
        let mut out = Vec::new();
        for f in files {
            let Some(name) = f.file_name() else { continue };
            let dest = dest_dir.join(name);
            if &dest == f {
                continue;
            }
            let tmp = dest_dir.join(format!(".{}.tmp", name.to_string_lossy()));
            if let Err(e) = std::fs::copy(f, &tmp) {
                // A full target: only the partial copy goes, the last good media stay.
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::io("copying rescue media", f, e));
            }
            std::fs::rename(&tmp, &dest)
                .map_err(|e| Error::io("copying rescue media", &dest, e))?;
            let rel = Path::new(subdir.trim_matches('/')).join(name);
            out.push(format!("{}/{}", target_url(target), rel.display()));
        }
        Ok(out)
    })
}

/// The GPT type GUID of an EFI system partition.
const ESP_TYPE: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
/// The syslinux GPT-aware MBR boot code (Debian's `syslinux-common`).
pub const SYSLINUX_GPTMBR: &str = "/usr/lib/syslinux/mbr/gptmbr.bin";

/// `RAWDISK`: a GPT disk image with one FAT partition (an ESP marked legacy-BIOS-bootable) that
/// boots on UEFI through `\EFI\BOOT\BOOTX64.EFI` (GRUB) and on BIOS through syslinux
/// (`gptmbr.bin` in the MBR, `ldlinux.sys` in the partition). Built on the image file with
/// sfdisk, `mkfs.vfat --offset`, mtools and `syslinux --offset`: no loop device.
fn make_rawdisk(
    opts: &OutputOptions,
    kernel: &Path,
    initrd: &Path,
    runner: &dyn Runner,
) -> Result<PathBuf> {
    let initrd_name = initrd
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "initrd".into());
    std::fs::create_dir_all(&opts.work_dir)
        .map_err(|e| Error::io("creating directory", &opts.work_dir, e))?;
    let marker = format!("rear-{}.marker", std::process::id());
    let grub = grub_cfg(opts, &initrd_name, &marker);
    let efi = grub_efi_image_for(opts, &grub, runner)?;
    let size_of = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .map_err(|e| Error::io("reading", p, e))
    };
    let payload = size_of(kernel)? + size_of(initrd)? + size_of(&efi)?;
    // FAT needs ~2% for its tables; 16 MiB slack; 1 MiB before the partition and 1 MiB for the
    // backup GPT after it.
    let part_mib = (payload + payload / 50) / (1 << 20) + 16;
    let disk_mib = part_mib + 2;
    let raw = opts.output_dir.join(format!("{}.raw", opts.prefix));
    let f = std::fs::File::create(&raw).map_err(|e| Error::io("creating", &raw, e))?;
    f.set_len(disk_mib << 20)
        .map_err(|e| Error::io("sizing", &raw, e))?;
    drop(f);
    let layout = format!(
        "label: gpt\nstart=2048, size={}, type={ESP_TYPE}, name=\"REAR-RAWDISK\", attrs=\"LegacyBIOSBootable\"\n",
        part_mib * 2048
    );
    Cmd::mutate(tools::SFDISK)
        .args(["--no-reread", "--no-tell-kernel", "-q"])
        .arg(&raw)
        .stdin_bytes(layout)
        .describe("partitioning the rescue disk image")
        .run(runner)?;
    Cmd::mutate(tools::MKFS_VFAT)
        .args(["--offset=2048", "-F", "32", "-n", "REAR-EFI"])
        .arg(&raw)
        .arg((part_mib * 1024).to_string())
        .describe("creating the file system of the rescue disk image")
        .run(runner)?;
    let at = format!("{}@@1M", raw.display());
    let mtools = |t: tools::Tool, args: Vec<std::ffi::OsString>| {
        Cmd::mutate(t)
            .arg("-i")
            .arg(&at)
            .args(args)
            .env("MTOOLS_SKIP_CHECK", "1")
            .describe("filling the rescue disk image")
            .run(runner)
    };
    mtools(
        tools::MMD,
        vec![
            "::/EFI".into(),
            "::/EFI/BOOT".into(),
            "::/boot".into(),
            "::/syslinux".into(),
        ],
    )?;
    let marker_file = opts.work_dir.join(&marker);
    write(&marker_file, opts.prefix.as_bytes())?;
    let syslinux_cfg = opts.work_dir.join("syslinux.cfg");
    write(&syslinux_cfg, isolinux_cfg(opts, &initrd_name).as_bytes())?;
    let mut copies: Vec<(PathBuf, String)> = vec![
        (efi.clone(), "::/EFI/BOOT/BOOTX64.EFI".into()),
        (kernel.to_path_buf(), "::/boot/kernel".into()),
        (initrd.to_path_buf(), format!("::/boot/{initrd_name}")),
        (marker_file, format!("::/boot/{marker}")),
        (syslinux_cfg, "::/syslinux/syslinux.cfg".into()),
    ];
    for m in ["menu.c32", "libutil.c32", "libcom32.c32"] {
        copies.push((
            Path::new(SYSLINUX_BIOS_DIR).join(m),
            format!("::/syslinux/{m}"),
        ));
    }
    for (from, to) in copies {
        mtools(tools::MCOPY, vec![from.into(), to.into()])?;
    }
    Cmd::mutate(tools::SYSLINUX)
        .args([
            "--offset",
            "1048576",
            "--install",
            "--directory",
            "/syslinux",
        ])
        .arg(&raw)
        .describe("installing syslinux into the rescue disk image")
        .run(runner)?;
    // The GPT-aware MBR boot code goes into the first 440 bytes, before the disk signature and
    // the protective partition entry that sfdisk wrote.
    let mbr =
        std::fs::read(SYSLINUX_GPTMBR).map_err(|e| Error::io("reading", SYSLINUX_GPTMBR, e))?;
    let mut img = std::fs::OpenOptions::new()
        .write(true)
        .open(&raw)
        .map_err(|e| Error::io("opening", &raw, e))?;
    use std::io::Write as _;
    img.write_all(&mbr[..mbr.len().min(440)])
        .map_err(|e| Error::io("writing the MBR of", &raw, e))?;
    Ok(raw)
}

fn write(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| Error::io("creating directory", p, e))?;
    }
    std::fs::write(path, data).map_err(|e| Error::io("writing", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menus_have_the_three_entries_and_serial_console() {
        let mut o = OutputOptions::new(Path::new("/tmp/x"), "host1");
        o.serial_console = Some("ttyS0,115200".into());
        o.kernel_args = vec!["quiet".into()];
        let i = isolinux_cfg(&o, "initrd.zst");
        assert!(i.starts_with("serial 0 115200\n"));
        assert!(i.contains("default boothd"));
        assert!(
            i.contains("append initrd=/boot/initrd.zst quiet console=tty0 console=ttyS0,115200\n")
        );
        assert!(i.contains("console=ttyS0,115200 unattended\n"));
        assert!(i.contains("localboot 0x80"));
        let g = grub_cfg(&o, "initrd.zst", "m");
        assert!(g.contains("set default=2"));
        assert!(g.contains("menuentry 'Boot from local disk'"));
        assert!(
            g.contains("linux /boot/kernel quiet console=tty0 console=ttyS0,115200 unattended")
        );
    }

    #[test]
    fn output_kinds() {
        assert_eq!(OutputKind::from_config("iso").unwrap(), OutputKind::Iso);
        assert_eq!(
            OutputKind::from_config("RAMDISK").unwrap(),
            OutputKind::Ramdisk
        );
        assert!(OutputKind::from_config("OBDR").is_err());
    }
}
