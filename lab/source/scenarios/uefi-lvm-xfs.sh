# Source machine (b): UEFI (OVMF), one 4 GiB disk, GPT: ESP (vfat, /boot/efi), /boot ext4, and an
# LVM PV with VG vgsrc: root (xfs, /), home (xfs, /home), swap. GRUB is installed for x86_64-efi
# both as EFI/debian and at the removable path EFI/BOOT/BOOTX64.EFI (OVMF starts each lab run
# with empty NVRAM, so only the removable path boots).
SRC_HOSTNAME=src-uefi-lvm-xfs
SRC_FIRMWARE=uefi
SRC_DISKS=(4G)
SRC_BOOT_DISKS=()
SRC_ESP=/boot/efi
# The tree's initramfs already activates LVM (lvm2 hook) and has xfs (MODULES=most); the
# recovery suite's finalize rebuilds it anyway.
SRC_INITRAMFS=keep

src_storage() {
    sfdisk --quiet /dev/vda <<'SF'
label: gpt
size=200MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp"
size=512MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="boot"
type=E6D6D379-F507-44C2-A23C-238F2A3DF928, name="lvm"
SF
    settle
    pvcreate -q /dev/vda3
    vgcreate -q vgsrc /dev/vda3
    lvcreate -q -y -n root -L 2G vgsrc
    lvcreate -q -y -n swap -L 256M vgsrc
    lvcreate -q -y -n home -L 400M vgsrc
    settle
    mkfs.vfat -F 32 -n ESP /dev/vda1 >/dev/null
    mkfs.ext4 -q -L boot /dev/vda2
    mkfs.xfs -q -f -L root /dev/vgsrc/root
    mkfs.xfs -q -f -L home /dev/vgsrc/home
    mkswap -L swap /dev/vgsrc/swap >/dev/null
    SRC_SWAP+=(/dev/mapper/vgsrc-swap)
    mount /dev/mapper/vgsrc-root "$ROOT"
    mkdir -p "$ROOT/boot" "$ROOT/home"
    mount /dev/vda2 "$ROOT/boot"
    mkdir -p "$ROOT/boot/efi"
    mount /dev/vda1 "$ROOT/boot/efi"
    mount /dev/mapper/vgsrc-home "$ROOT/home"
}

# --- recovery (lab/recover.sh; not part of the build key) ---
