# Source machine (e): BIOS, one 3 GiB disk, GPT: BIOS boot partition, swap, and btrfs with the
# subvolumes @ (mounted on /, the default subvolume), @home (/home) and @var_log (/var/log),
# each mounted with subvol= in fstab, as Debian's installer and snapper setups do.
SRC_HOSTNAME=src-bios-btrfs-subvols
SRC_FIRMWARE=bios
SRC_DISKS=(3G)
SRC_BOOT_DISKS=(/dev/vda)

src_storage() {
    sfdisk --quiet /dev/vda <<'SF'
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="bios_grub"
size=256MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swap"
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"
SF
    settle
    mkswap -L swap /dev/vda2 >/dev/null
    SRC_SWAP+=(/dev/vda2)
    mkfs.btrfs -q -f -L rootfs /dev/vda3
    mkdir -p /tmp/top
    mount /dev/vda3 /tmp/top
    btrfs -q subvolume create /tmp/top/@
    btrfs -q subvolume create /tmp/top/@home
    btrfs -q subvolume create /tmp/top/@var_log
    btrfs subvolume set-default /tmp/top/@
    umount /tmp/top
    mount -o subvol=@ /dev/vda3 "$ROOT"
    mkdir -p "$ROOT/home" "$ROOT/var/log"
    mount -o subvol=@home /dev/vda3 "$ROOT/home"
    mount -o subvol=@var_log /dev/vda3 "$ROOT/var/log"
}
