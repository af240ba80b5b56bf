#!/bin/bash
# Builds a source machine on the blank disks of a lab guest (lab/vm.sh with the 9p share on
# /lab holding this job, scenario.sh and rootfs.tar.zst; see lab/source/build.sh).
#
# Steps: the scenario's src_storage (partitions, md, LVM, mkfs, mounts on $ROOT), unpack the
# root tree, write fstab (from the mounts, by UUID), mdadm.conf, crypttab, hostname and a marker
# tree, then in a chroot with /proc, /sys, /dev and /run bound: update-initramfs, grub-install
# (i386-pc on each SRC_BOOT_DISKS; x86_64-efi as EFI/debian and removable when SRC_ESP is set)
# and update-grub. Prints "LAB-STEP <name> <seconds>" after each step for the timings.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LVM_SUPPRESS_FD_WARNINGS=1
ROOT=/mnt/local
SRC_SWAP=() SRC_CRYPTTAB=() SRC_ESP="" SRC_BOOT_DISKS=() SRC_INITRAMFS=rebuild
t0=$(date +%s)
step() { echo "LAB-STEP $1 $(($(date +%s) - t0))s"; }
settle() { udevadm settle --timeout=30 2>/dev/null || sleep 1; }

. /lab/scenario.sh
mkdir -p "$ROOT"
src_storage
step storage

# GNU tar restores ACLs by user and group name: the guest needs the tree's passwd and group
# (build.sh puts them in the share), else named ACL entries are dropped.
cp /lab/passwd /etc/passwd
cp /lab/group /etc/group
zstd -dc /lab/rootfs.tar.zst | tar -C "$ROOT" -xpf - --xattrs --xattrs-include='*' --acls --numeric-owner
step unpack

uuid_of() { blkid -s UUID -o value "$1"; }
{
    echo "# /etc/fstab of the lab source machine $SRC_HOSTNAME (lab/source/guest/mksource.sh)"
    findmnt -R -n -r -o TARGET,SOURCE,FSTYPE,FSROOT "$ROOT" | while read -r tgt src fstype fsroot; do
        mp=${tgt#"$ROOT"}
        mp=${mp:-/}
        src=${src%%\[*}
        case $fstype in
        vfat) opts=umask=0077 pass=2 ;;
        ext4) opts=defaults pass=2 ;;
        btrfs) opts=subvol=$fsroot pass=0 ;;
        *) opts=defaults pass=0 ;;
        esac
        [[ $mp == / && $fstype == ext4 ]] && opts=errors=remount-ro pass=1
        echo "UUID=$(uuid_of "$src") $mp $fstype $opts 0 $pass"
    done
    for s in "${SRC_SWAP[@]}"; do
        echo "UUID=$(uuid_of "$s") none swap sw 0 0"
    done
} >"$ROOT/etc/fstab"
if [[ -s /proc/mdstat ]] && grep -q '^md' /proc/mdstat; then
    mkdir -p "$ROOT/etc/mdadm"
    {
        echo "HOMEHOST <system>"
        echo "MAILADDR root"
        mdadm --detail --scan
    } >"$ROOT/etc/mdadm/mdadm.conf"
fi
if ((${#SRC_CRYPTTAB[@]})); then
    printf '%s\n' "${SRC_CRYPTTAB[@]}" >"$ROOT/etc/crypttab"
fi
echo "$SRC_HOSTNAME" >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$SRC_HOSTNAME" >"$ROOT/etc/hosts"

# The marker tree lab/source/facts.sh checksums before and after a recovery.
m=$ROOT/var/lib/lab-marker
mkdir -p "$m/dir with space"
echo "$SRC_HOSTNAME" >"$m/hostname"
head -c 1048576 /dev/urandom >"$m/random.bin"
printf 'mode 640\n' >"$m/dir with space/private"
chmod 640 "$m/dir with space/private"
ln -s hostname "$m/link"
ln "$m/hostname" "$m/hardlink"
# The tree's GNU touch (the guest's busybox one takes no time zone).
chroot "$ROOT" touch -d '2001-02-03 04:05:06 UTC' /var/lib/lab-marker/hostname
cp "$ROOT/etc/fstab" "$m/fstab.at-build"
# The rootfs's initramfs (made by rootfs.sh at native speed) is generic (MODULES=most). A rebuild
# of it (here, and by the recovery's finalize step) under TCG takes 5 to 20 minutes with
# MODULES=most and about a tenth with MODULES=dep, the setting for machines whose hardware is
# known; the initramfs then holds the drivers of the machine it is built on.
echo 'MODULES=dep' >"$ROOT/etc/initramfs-tools/conf.d/modules"
# A scenario's own configuration of the installed tree (key files, initramfs settings, ...).
if declare -F src_configure >/dev/null; then
    src_configure
fi
step config

for d in proc sys dev run; do mount --bind "/$d" "$ROOT/$d"; done
# keep: the initramfs made when debootstrap installed the kernel (MODULES=most, with the lvm2
# and mdadm hooks but without this machine's mdadm.conf/crypttab); rebuilding costs 3-12 min
# of TCG, so scenarios whose boot does not need this machine's config may skip it.
if [[ $SRC_INITRAMFS == rebuild ]]; then
    chroot "$ROOT" update-initramfs -u -k all
fi
step initramfs
for disk in "${SRC_BOOT_DISKS[@]}"; do
    chroot "$ROOT" grub-install --target=i386-pc "$disk"
done
if [[ -n $SRC_ESP ]]; then
    chroot "$ROOT" grub-install --target=x86_64-efi --efi-directory="$SRC_ESP" --bootloader-id=debian --no-nvram
    chroot "$ROOT" grub-install --target=x86_64-efi --efi-directory="$SRC_ESP" --removable --no-nvram
fi
chroot "$ROOT" update-grub
step grub

sync
umount -R "$ROOT"
vgchange -an >/dev/null 2>&1 || true
mdadm --stop --scan >/dev/null 2>&1 || true
step done
