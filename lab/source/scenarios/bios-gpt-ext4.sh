# Source machine (a): BIOS (SeaBIOS), one 3 GiB disk, GPT with a BIOS boot partition for GRUB's
# core.img, swap and an ext4 root.
# Sourced by lab/source/guest/mksource.sh in the lab guest, and by lab/source/build.sh and
# lab/source/boot.sh on the host (for SRC_* only). src_storage partitions the blank disks, makes
# the filesystems and mounts the root tree on $ROOT; the builder writes fstab from those mounts.
SRC_HOSTNAME=src-bios-gpt-ext4
SRC_FIRMWARE=bios           # bios: SeaBIOS boot check; uefi: OVMF (removable EFI path)
SRC_DISKS=(3G)              # vda, vdb, ... (sparse raw images)
SRC_BOOT_DISKS=(/dev/vda)   # GRUB i386-pc boot code goes to each
SRC_INITRAMFS=keep          # the rootfs's generic initramfs boots it

src_storage() {
    sfdisk --quiet /dev/vda <<'SF'
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="bios_grub"
size=256MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name="swap"
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"
SF
    settle
    mkfs.ext4 -q -L root /dev/vda3
    mkswap -L swap /dev/vda2 >/dev/null
    SRC_SWAP+=(/dev/vda2)
    mount /dev/vda3 "$ROOT"
}

# --- recovery (lab/recover.sh; not part of the build key) ---
# (g): a 1 GiB disk that is not in the layout is attached during the recovery; it must stay
# byte for byte the same.
REC_EXTRA_DISK=1G
