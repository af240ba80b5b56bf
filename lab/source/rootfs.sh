#!/bin/bash
# Build (or reuse) the source machine's root tree: debootstrap --variant=minbase bookworm plus
# lab/source/packages.txt, with the lab agent (guest/lab-agent + its unit) baked in.
# Cached as $REAR_LAB_CACHE/source/rootfs-<key>.tar.zst, the key hashing packages.txt, this
# script and the agent files, so a second run is instant.
#
# Usage: lab/source/rootfs.sh     prints the tarball path on stdout
# Env:   REAR_LAB_MIRROR  Debian mirror (default: the first deb.debian.org/debian URI in apt's sources)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
lab_need debootstrap zstd tar chroot

key=$(lab_hash "$here/packages.txt" "$here/rootfs.sh" "$here/guest/lab-agent" "$here/guest/lab-agent.service")
out=$REAR_LAB_CACHE/source/rootfs-$key.tar.zst
if [[ -s $out ]]; then
    echo "$out"
    exit 0
fi
mirror=${REAR_LAB_MIRROR:-$(grep -rhoE 'https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | head -n1 | tr -d ' ' || true)}
mirror=${mirror:-http://deb.debian.org/debian}
pkgs=$(grep -v '^#' "$here/packages.txt" | grep -v '^$' | paste -sd,)

mkdir -p "$REAR_LAB_CACHE/source"
work=$(mktemp -d "$REAR_LAB_CACHE/source/build.XXXXXX")
trap 'umount -R "$work/root/proc" "$work/root/sys" "$work/root/dev" 2>/dev/null || true; rm -rf "$work"' EXIT
root=$work/root
start=$(date +%s)
lab_log "debootstrap bookworm from $mirror into $root"
# Nothing in the tree must try to touch the host's disks (grub-pc, update-initramfs in postinst).
DEBIAN_FRONTEND=noninteractive debootstrap --variant=minbase --include="$pkgs" \
    bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; lab_die "debootstrap failed (log above)"; }

# The agent prints LAB-BOOTED and runs a LABHOOK disk's hook.sh (see guest/lab-agent).
install -m 0755 "$here/guest/lab-agent" "$root/usr/local/sbin/lab-agent"
install -m 0644 "$here/guest/lab-agent.service" "$root/etc/systemd/system/lab-agent.service"
ln -sf /etc/systemd/system/lab-agent.service "$root/etc/systemd/system/multi-user.target.wants/lab-agent.service"
# Console on ttyS0 for the kernel and a root login without password (throwaway lab machine).
ln -sf /lib/systemd/system/serial-getty@.service "$root/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
chroot "$root" passwd -d root >/dev/null
echo 'GRUB_CMDLINE_LINUX="console=ttyS0,115200n8"' >>"$root/etc/default/grub"
echo 'GRUB_TERMINAL="serial console"' >>"$root/etc/default/grub"
echo 'GRUB_TIMEOUT=1' >>"$root/etc/default/grub"
# Under TCG a fast boot matters more than a small initramfs: no resume probing.
echo 'RESUME=none' >"$root/etc/initramfs-tools/conf.d/resume"
# Debian's default zstd -19 takes minutes under TCG, and the recovery's finalize step rebuilds
# the initramfs in the guest: gzip is what an admin of slow machines picks, and is 10x faster.
echo 'COMPRESS=gzip' >"$root/etc/initramfs-tools/conf.d/compress"
# Rebuild here at native speed (MODULES=most: generic, with the lvm2, mdadm and cryptsetup
# hooks), so the source builds in the guest can keep it.
mount -t proc proc "$root/proc"
chroot "$root" update-initramfs -u -k all >"$work/update-initramfs.log" 2>&1 ||
    { tail -n 30 "$work/update-initramfs.log" >&2; lab_die "update-initramfs in the rootfs failed"; }
umount "$root/proc"
rm -f "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
lab_log "packing $(du -sh "$root" | cut -f1) into $out"
tar -C "$root" --xattrs --acls --numeric-owner -cf - . | zstd -q -T0 -3 -o "$work/rootfs.tar.zst"
mv "$work/rootfs.tar.zst" "$out"
lab_log "rootfs built in $(($(date +%s) - start))s"
echo "$out"
