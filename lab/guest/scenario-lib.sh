# shellcheck shell=bash
# Helpers for lab/scenarios/*.sh, sourced in the guest (copied into the share as /lab/scenario-lib.sh).
#
# A scenario builds a "system" under $ROOT (/mnt/sys): it mounts the future / there and the other
# filesystems below it, then calls sys_prepare, which copies the guest's programs into $ROOT and
# mounts proc, sys, dev and run inside it. Commands run with sys_run see $ROOT as / (a chroot),
# so findmnt, lsblk and /proc/mounts show /, /boot, /home ... as on an installed machine.
ROOT=${ROOT:-/mnt/sys}
export LVM_SUPPRESS_FD_WARNINGS=1
mkdir -p "$ROOT"

# sys_prepare: make $ROOT a usable chroot (programs, /proc, /sys, /dev, /run, efivarfs).
sys_prepare() {
    local d
    mkdir -p "$ROOT"
    tar -C / --exclude=./usr/lib/modules -cf - ./usr ./etc ./bin ./sbin ./lib ./lib64 | tar -C "$ROOT" -xf -
    for d in proc sys dev run tmp root var/tmp mnt; do mkdir -p "$ROOT/$d"; done
    mount -t proc proc "$ROOT/proc"
    mount -t sysfs sysfs "$ROOT/sys"
    mount -t devtmpfs devtmpfs "$ROOT/dev"
    # The guest's /run itself: udev's database, LVM's and mdadm's run state live there.
    mount --bind /run "$ROOT/run"
    if [[ -d /sys/firmware/efi/efivars ]]; then
        mount -t efivarfs efivarfs "$ROOT/sys/firmware/efi/efivars"
    fi
    echo "lab" >"$ROOT/etc/hostname"
    # Refresh udev's database (filesystems were just made) so lsblk and blkid see them.
    udevadm trigger --action=change 2>/dev/null || true
    settle
}

# sys_run CMD...: run CMD with $ROOT as /. Through bash, because busybox (chroot, env) would run
# its own applet instead of a real program of the same name (swapon, mount, tar ...).
sys_run() { chroot "$ROOT" /usr/bin/bash -c 'export PATH=/usr/sbin:/usr/bin LVM_SUPPRESS_FD_WARNINGS=1; exec "$@"' sys_run "$@"; }

# settle: wait for udev to finish processing events (no-op without udevd).
settle() { udevadm settle --timeout=60 2>/dev/null || true; }

# wait_dev DEV: wait (max 5 s) for a device node.
wait_dev() {
    local _
    for _ in $(seq 50); do
        [[ -b $1 ]] && return 0
        sleep 0.1
    done
    echo "scenario: $1 did not appear" >&2
    return 1
}

# parts DISK: re-read the partition table and wait for the partition nodes.
parts() {
    local disk=$1 n
    blockdev --rereadpt "$disk" 2>/dev/null || partx -u "$disk" || true
    settle
    for n in $(sfdisk -l -o Device "$disk" 2>/dev/null | grep "^$disk"); do wait_dev "$n"; done
}
