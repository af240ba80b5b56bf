//! UEFI boot entries: which disk and partition number a partition device is, the `efibootmgr`
//! command line that creates an entry, and whether an equal entry already exists.
//!
//! Pure functions; the only input from the system is the text of `efibootmgr -v`, parsed by
//! [`crate::probe::efibootmgr::parse_efibootmgr`].

use crate::probe::efibootmgr::EfiBoot;

/// Splits a partition device into its disk and partition number.
///
/// Handles the kernel's two naming schemes (`/dev/sda2`, `/dev/vda2`, `/dev/xvda1`: digits
/// straight after the disk name; `/dev/nvme0n1p2`, `/dev/mmcblk0p1`, `/dev/md126p1`,
/// `/dev/loop0p1`: a `p` when the disk name ends in a digit) and device-mapper partitions made by
/// kpartx or multipathd (`/dev/mapper/mpatha-part2`, `/dev/mapper/mpatha2`,
/// `/dev/mapper/36001405...p1`). Returns `None` for a device that is not a partition by its name
/// (a whole disk such as `/dev/md0`, or a symlink such as `/dev/disk/by-uuid/...`, which the
/// caller must resolve first).
pub fn split_partition(dev: &str) -> Option<(String, u32)> {
    let digits = dev.len() - dev.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let (head, num) = dev.split_at(dev.len() - digits);
    let number: u32 = num.parse().ok()?;
    if let Some(disk) = head.strip_prefix("/dev/mapper/") {
        if let Some(d) = disk.strip_suffix("-part") {
            return Some((format!("/dev/mapper/{d}"), number));
        }
        if let Some(d) = disk.strip_suffix('p')
            && d.ends_with(|c: char| c.is_ascii_digit())
        {
            return Some((format!("/dev/mapper/{d}"), number));
        }
        if disk.ends_with(|c: char| c.is_ascii_alphabetic()) && !disk.is_empty() {
            return Some((format!("/dev/mapper/{disk}"), number));
        }
        return None;
    }
    let name = head.strip_prefix("/dev/")?;
    if name.contains('/') {
        return None;
    }
    // nvme0n1p2, mmcblk0p1, md126p1, loop0p1, nbd0p1
    if let Some(d) = head.strip_suffix('p')
        && d.ends_with(|c: char| c.is_ascii_digit())
    {
        return Some((d.to_string(), number));
    }
    // sda2, vda2, xvda1, hda1; but md0, loop0, nvme0n1, dm-0 are whole devices
    let whole_with_digits = ["md", "loop", "nbd", "dm-", "sr", "zram", "ram"];
    if whole_with_digits.iter().any(|p| name.starts_with(p)) || name.starts_with("nvme") {
        return None;
    }
    if head.ends_with(|c: char| c.is_ascii_alphabetic()) {
        return Some((head.to_string(), number));
    }
    None
}

/// A boot entry to create with `efibootmgr`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BootEntrySpec {
    /// The whole disk holding the EFI system partition (`/dev/nvme0n1`).
    pub disk: String,
    /// The partition number of the ESP on that disk.
    pub partition: u32,
    /// The loader path on the ESP, with backslashes (`\EFI\debian\shimx64.efi`).
    pub loader: String,
    /// The label shown in the firmware's boot menu.
    pub label: String,
}

/// Turns a path relative to the ESP (`EFI/debian/shimx64.efi` or `/EFI/debian/...`) into the
/// backslash form firmware uses (`\EFI\debian\shimx64.efi`).
pub fn loader_path(relative: &str) -> String {
    format!(
        "\\{}",
        relative.trim_start_matches(['/', '\\']).replace('/', "\\")
    )
}

/// The arguments of `efibootmgr` that create `entry` (first in BootOrder, as efibootmgr does).
pub fn efi_boot_entry(disk: &str, partition: u32, loader: &str, label: &str) -> Vec<String> {
    vec![
        "--create".into(),
        "--disk".into(),
        disk.into(),
        "--part".into(),
        partition.to_string(),
        "--loader".into(),
        loader.into(),
        "--label".into(),
        label.into(),
    ]
}

/// Whether `boot` already holds an entry equal to `entry`: the same label and loader (compared
/// case-insensitively, as FAT is), on the partition with `partuuid` when that is known.
/// Returns the entry's boot number.
pub fn existing_entry(
    boot: &EfiBoot,
    entry: &BootEntrySpec,
    partuuid: Option<&str>,
) -> Option<String> {
    boot.entries
        .iter()
        .find(|e| {
            e.label == entry.label
                && e.loader
                    .as_deref()
                    .is_some_and(|l| l.eq_ignore_ascii_case(&entry.loader))
                && match (partuuid, e.partuuid.as_deref()) {
                    (Some(want), Some(have)) => want.eq_ignore_ascii_case(have),
                    _ => true,
                }
        })
        .map(|e| e.num.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::efibootmgr::parse_efibootmgr;

    #[test]
    fn splits_partition_names() {
        let cases = [
            ("/dev/sda2", Some(("/dev/sda", 2))),
            ("/dev/vda15", Some(("/dev/vda", 15))),
            ("/dev/xvda1", Some(("/dev/xvda", 1))),
            ("/dev/nvme0n1p2", Some(("/dev/nvme0n1", 2))),
            ("/dev/mmcblk0p1", Some(("/dev/mmcblk0", 1))),
            ("/dev/md126p1", Some(("/dev/md126", 1))),
            ("/dev/loop0p3", Some(("/dev/loop0", 3))),
            ("/dev/mapper/mpatha-part2", Some(("/dev/mapper/mpatha", 2))),
            ("/dev/mapper/mpatha2", Some(("/dev/mapper/mpatha", 2))),
            (
                "/dev/mapper/3600140512p1",
                Some(("/dev/mapper/3600140512", 1)),
            ),
            ("/dev/md0", None),
            ("/dev/md126", None),
            ("/dev/nvme0n1", None),
            ("/dev/loop0", None),
            ("/dev/dm-3", None),
            ("/dev/sda", None),
            ("/dev/disk/by-uuid/1234", None),
            ("/dev/mapper/vg0-root", None),
        ];
        for (dev, want) in cases {
            assert_eq!(
                split_partition(dev),
                want.map(|(d, n)| (d.to_string(), n)),
                "{dev}"
            );
        }
    }

    #[test]
    fn loader_paths_use_backslashes() {
        assert_eq!(
            loader_path("EFI/debian/shimx64.efi"),
            "\\EFI\\debian\\shimx64.efi"
        );
        assert_eq!(
            loader_path("/EFI/BOOT/BOOTX64.EFI"),
            "\\EFI\\BOOT\\BOOTX64.EFI"
        );
    }

    #[test]
    fn boot_entry_command_line() {
        assert_eq!(
            efi_boot_entry("/dev/nvme0n1", 1, "\\EFI\\debian\\grubx64.efi", "debian").join(" "),
            "--create --disk /dev/nvme0n1 --part 1 --loader \\EFI\\debian\\grubx64.efi --label debian"
        );
    }

    #[test]
    fn finds_duplicates_by_label_loader_and_partuuid() {
        let text = "BootCurrent: 0004\nTimeout: 0 seconds\nBootOrder: 0004,0000\n\
            Boot0000* UiApp\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)\n\
            Boot0004* debian\tHD(1,GPT,5b1c7c2e-8f0a-4c55-9f2b-0a3c1e2d4f60,0x800,0x100000)/File(\\EFI\\debian\\shimx64.efi)\n";
        let boot = parse_efibootmgr(text);
        let spec = BootEntrySpec {
            disk: "/dev/vda".into(),
            partition: 1,
            loader: "\\EFI\\debian\\SHIMX64.EFI".into(),
            label: "debian".into(),
        };
        assert_eq!(
            existing_entry(&boot, &spec, Some("5B1C7C2E-8F0A-4C55-9F2B-0A3C1E2D4F60")).as_deref(),
            Some("0004")
        );
        // the same entry on another (the old, replaced) disk is not a duplicate
        assert_eq!(
            existing_entry(&boot, &spec, Some("00000000-0000-0000-0000-000000000001")),
            None
        );
        let other = BootEntrySpec {
            label: "rhel".into(),
            ..spec
        };
        assert_eq!(existing_entry(&boot, &other, None), None);
    }
}
