# Source machine (c): BIOS, two 3 GiB disks, each GPT with a BIOS boot partition and one
# "Linux RAID" partition; md0 = RAID1 (metadata 1.2) of vda2+vdb2 as the LVM PV of VG vgmd:
# root (ext4, /) and swap. GRUB's boot code goes to both disks, so either one boots alone.
SRC_HOSTNAME=src-bios-raid1-lvm
SRC_FIRMWARE=bios
SRC_DISKS=(3G 3G)
SRC_BOOT_DISKS=(/dev/vda /dev/vdb)

src_storage() {
    local d
    for d in vda vdb; do
        sfdisk --quiet /dev/$d <<'SF'
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="bios_grub"
type=A19D880F-05FC-4D3B-A006-743F0F84911E, name="raid"
SF
    done
    settle
    # --assume-clean: no resync eating TCG CPU.
    mdadm --create /dev/md0 --run --level=1 --raid-devices=2 --metadata=1.2 --assume-clean \
        --homehost="$SRC_HOSTNAME" --name=system /dev/vda2 /dev/vdb2
    settle
    pvcreate -q /dev/md0
    vgcreate -q vgmd /dev/md0
    lvcreate -q -y -n root -L 2G vgmd
    lvcreate -q -y -n swap -L 256M vgmd
    settle
    mkfs.ext4 -q -L root /dev/vgmd/root
    mkswap -L swap /dev/vgmd/swap >/dev/null
    SRC_SWAP+=(/dev/mapper/vgmd-swap)
    mount /dev/mapper/vgmd-root "$ROOT"
}

# --- recovery (lab/recover.sh; not part of the build key) ---
# The rescue system boots by PXE (pxelinux from qemu's TFTP server; OUTPUT=PXE in the source
# machine, with a per-MAC entry), so CI covers ISO on BIOS (a), ISO on UEFI (b) and PXE (c).
REC_BOOT=pxe
REC_PACKAGES=(pxelinux)
