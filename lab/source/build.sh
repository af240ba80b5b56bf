#!/bin/bash
# Build the disks of a lab source machine: a real, bootable Debian 12 system.
#
# Usage: lab/source/build.sh SCENARIO      (a file name in lab/source/scenarios/, without .sh)
#        prints the directory holding disk0.img, disk1.img ... on stdout
#
# The root tree comes from lab/source/rootfs.sh (cached). The disks are built by
# lab/source/guest/mksource.sh in the lab guest (lab/vm.sh: lab kernel + initramfs, 9p share)
# and cached as sparse raw images in $REAR_LAB_CACHE/source/disks/SCENARIO-<key>, the key
# hashing the rootfs tarball's name (itself a content key), the scenario and the job; a second
# run is instant. Never boot the cached images directly: lab/source/boot.sh boots copies.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
lab_need zstd

scenario=${1:?usage: lab/source/build.sh SCENARIO}
sfile=$here/scenarios/$scenario.sh
[[ -f $sfile ]] || lab_die "no scenario $sfile (have: $(cd "$here/scenarios" && ls | sed 's/\.sh$//' | paste -sd' '))"
rootfs=$("$here/rootfs.sh")
# The key leaves out the scenario's recovery part (from the line "# --- recovery" on), which
# lab/recover.sh reads: changing how a machine is recovered does not rebuild it.
key=$( { basename "$rootfs"; sed '/^# --- recovery/,$d' "$sfile"; cat "$here/guest/mksource.sh" "$here/build.sh"; } | sha256sum | cut -c1-16)
out=$REAR_LAB_CACHE/source/disks/$scenario-$key
if [[ -f $out/READY ]]; then
    echo "$out"
    exit 0
fi

# shellcheck source=/dev/null
SRC_DISKS=() && . "$sfile"
work=$REAR_LAB_OUT/source-build/$scenario
share=$REAR_LAB_OUT/share/source-$scenario
rm -rf "$work" "$share"
mkdir -p "$work" "$share/out"
cp "$here/guest/mksource.sh" "$share/job.sh"
cp "$sfile" "$share/scenario.sh"
ln "$rootfs" "$share/rootfs.tar.zst" 2>/dev/null || cp "$rootfs" "$share/rootfs.tar.zst"
zstd -dc "$rootfs" | tar -C "$share" -xf - --strip-components=2 ./etc/passwd ./etc/group
disk_args=()
i=0
for size in "${SRC_DISKS[@]}"; do
    truncate -s "$size" "$work/disk$i.img"
    disk_args+=(--disk "$work/disk$i.img")
    i=$((i + 1))
done
start=$(date +%s)
lab_log "building source machine $scenario (${SRC_DISKS[*]}) in the lab guest"
LAB_MEM=${LAB_MEM:-1536} "$LAB_DIR/vm.sh" "source-build-$scenario" --share "$share" "${disk_args[@]}" \
    --timeout "${LAB_SOURCE_TIMEOUT:-1500}"
secs=$(($(date +%s) - start))
grep -a '^LAB-STEP' "$share/job.log" | tr '\n' ' ' >"$work/steps.txt" || true
lab_log "built $scenario in ${secs}s: $(cat "$work/steps.txt")"
printf '%s build %ss %s\n' "$(date -u +%FT%TZ)" "$secs" "$(cat "$work/steps.txt")" >>"$REAR_LAB_OUT/source-timings.log"
mkdir -p "$out.tmp"
for f in "$work"/disk*.img; do
    cp --sparse=always "$f" "$out.tmp/"
done
cp "$sfile" "$out.tmp/scenario.sh"
cp "$work/steps.txt" "$out.tmp/build-steps.txt"
rm -rf "$out" && mv "$out.tmp" "$out"
touch "$out/READY"
rm -rf "$work" "$share"
echo "$out"
