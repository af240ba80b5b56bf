#!/bin/bash
# Records the facts of a running lab machine that a recovery must preserve, into OUT_DIR:
# checksums and metadata of the marker tree (/var/lib/lab-marker, written by mksource.sh),
# lsblk -J -O, blkid, LVM reports (JSON), md details, fstab, crypttab, mounts, swaps, the
# hostname, the kernel command line and the boot firmware. Runs inside the booted system
# (from a LABHOOK disk's hook.sh, see lab/source/boot.sh), never on the host.
#
# Usage: facts.sh OUT_DIR
set -uo pipefail
out=${1:?usage: facts.sh OUT_DIR}
mkdir -p "$out"
export LC_ALL=C LVM_SUPPRESS_FD_WARNINGS=1
rec() { # rec FILE CMD...: stdout to FILE, stderr and failures noted, never fatal
    local f=$1
    shift
    "$@" >"$out/$f" 2>"$out/$f.stderr" || echo "rc=$? $*" >>"$out/failures.txt"
    [[ -s $out/$f.stderr ]] || rm -f "$out/$f.stderr"
}
m=/var/lib/lab-marker
if [[ -d $m ]]; then
    (cd "$m" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$out/marker.sha256"
    (cd "$m" && find . -printf '%y %m %U:%G %s %T@ %p -> %l\n' | sort -k7) >"$out/marker.stat"
else
    echo "no $m" >>"$out/failures.txt"
fi
hostname >"$out/hostname"
cat /proc/cmdline >"$out/cmdline"
if [[ -d /sys/firmware/efi ]]; then echo uefi; else echo bios; fi >"$out/firmware"
rec lsblk.json lsblk -J -O
rec blkid.txt blkid
rec findmnt.json findmnt -J --real
rec swapon.txt swapon --show --raw --bytes
cp /etc/fstab "$out/fstab" 2>/dev/null || true
cp /etc/crypttab "$out/crypttab" 2>/dev/null || true
cp /etc/mdadm/mdadm.conf "$out/mdadm.conf" 2>/dev/null || true
if command -v lvm >/dev/null; then
    rec pvs.json lvm pvs --reportformat json -o pv_name,vg_name,pv_uuid,pv_size
    rec vgs.json lvm vgs --reportformat json -o vg_name,vg_uuid,vg_size,vg_extent_size
    rec lvs.json lvm lvs --reportformat json -o lv_name,vg_name,lv_uuid,lv_size,segtype
fi
if grep -q '^md' /proc/mdstat 2>/dev/null; then
    cp /proc/mdstat "$out/mdstat"
    rec mdadm-detail-scan.txt mdadm --detail --scan
fi
command -v efibootmgr >/dev/null && [[ -d /sys/firmware/efi ]] && rec efibootmgr.txt efibootmgr -v
systemd-analyze >"$out/systemd-analyze.txt" 2>&1 || true
systemctl --failed --no-legend >"$out/failed-units.txt" 2>&1 || true
exit 0
