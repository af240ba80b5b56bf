#!/bin/bash
# Boot check of a built source machine: boots copies of its disks by themselves (SeaBIOS, or
# OVMF for SRC_FIRMWARE=uefi) with a LABHOOK disk whose hook runs lab/source/facts.sh; the
# baked-in lab agent prints "LAB-BOOTED <hostname> ..." and "LAB-RC=<rc>" on the serial console.
#
# Usage: lab/source/boot.sh SCENARIO [DISK_DIR]
#   DISK_DIR  the disks to boot (default: the cached build, lab/source/build.sh SCENARIO)
# Env: LAB_HOOK=FILE  a hook.sh to run instead of facts.sh (it gets $HOOK/facts.sh too; $HOOK is /mnt/hook)
# Output: the facts in $REAR_LAB_OUT/source-boot/SCENARIO/facts/, the hook log next to it.
# Exits non-zero when the machine did not boot, the marker is missing or the hook failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
lab_need mkfs.ext4 debugfs

scenario=${1:?usage: lab/source/boot.sh SCENARIO [DISK_DIR]}
dir=${2:-$("$here/build.sh" "$scenario")}
# shellcheck source=/dev/null
SRC_FIRMWARE=bios && . "$dir/scenario.sh"
work=$REAR_LAB_OUT/source-boot/$scenario
rm -rf "$work"
mkdir -p "$work/hook"
cp "$here/facts.sh" "$work/hook/facts.sh"
if [[ -n ${LAB_HOOK:-} ]]; then
    cp "$LAB_HOOK" "$work/hook/hook.sh"
else
    printf '#!/bin/bash\nbash "$HOOK/facts.sh" "$HOOK/facts"\n' >"$work/hook/hook.sh"
fi
mkfs.ext4 -q -F -L LABHOOK -d "$work/hook" "$work/hook.img" 64M
args=()
for f in "$dir"/disk*.img; do
    cp --sparse=always "$f" "$work/"
    args+=(--disk "$work/$(basename "$f")")
done
args+=(--disk "$work/hook.img")
[[ $SRC_FIRMWARE == uefi ]] && args+=(--uefi)
start=$(date +%s)
rc=0
"$LAB_DIR/vm.sh" "source-boot-$scenario" --no-kernel "${args[@]}" --timeout "${LAB_BOOT_TIMEOUT:-420}" || rc=$?
secs=$(($(date +%s) - start))
serial=$REAR_LAB_OUT/logs/source-boot-$scenario.serial
if ((rc == 125)); then
    # vm.sh wants LAB-RC at the start of a line; the agent's marker may follow a getty prompt
    # ("host login: LAB-RC=0") on the shared console.
    late=$(tr -d '\r' <"$serial" | grep -ao 'LAB-RC=[0-9]*' | tail -n1 | cut -d= -f2 || true)
    [[ -n $late ]] && rc=$late
fi
booted=$(tr -d '\r' <"$serial" | grep -ao 'LAB-BOOTED .*' | tail -n1 || true)
printf '%s boot %s %ss rc=%s %s\n' "$(date -u +%FT%TZ)" "$scenario" "$secs" "$rc" "$booted" >>"$REAR_LAB_OUT/source-timings.log"
mkdir -p "$work/out"
debugfs -R "rdump / $work/out" "$work/hook.img" >/dev/null 2>&1 || true
[[ -d $work/out/facts ]] && mv "$work/out/facts" "$work/facts"
[[ -f $work/out/hook.log ]] && mv "$work/out/hook.log" "$work/hook.log"
rm -f "$work"/disk*.img
[[ -n $booted ]] || lab_die "$scenario: no LAB-BOOTED line on $serial"
[[ $booted == "LAB-BOOTED $SRC_HOSTNAME "* ]] || lab_die "$scenario: booted the wrong system: $booted"
((rc == 0)) || lab_die "$scenario: hook failed (rc $rc), see $work/hook.log"
lab_log "$scenario booted in ${secs}s: $booted; facts in $work/facts"
