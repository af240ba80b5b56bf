#!/bin/bash
# Build one layout scenario in the lab guest and capture it into fixtures/layouts/NAME/.
#
# Usage: lab/scenario.sh NAME        (NAME = a file lab/scenarios/NAME.sh)
#
# A scenario is a bash script run in the guest on blank virtio disks. Its header says how:
#   # lab-vm: --blank 2G --blank 1G --uefi      vm.sh options (disks, firmware)
#   # lab-description: text                    goes into the fixture INDEX.md (may repeat)
#   # lab-expect: FILE [REGEX]                 the capture must have FILE, non-empty, matching REGEX
#                                              (grep -E); checked before the fixture is replaced
# It partitions, creates and mounts everything; then fixtures/capture.sh records the system into
# the share, and this script replaces fixtures/layouts/NAME/ with the result
# ($REAR_LAB_FIXTURES/NAME/ when that is set, e.g. a test's temporary directory).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

name=${1:?usage: lab/scenario.sh NAME}
script=$LAB_DIR/scenarios/$name.sh
[[ -f $script ]] || lab_die "no scenario $script"
read -r -a vmopts <<<"$(sed -n 's/^# lab-vm: *//p' "$script")"
description=$(sed -n 's/^# lab-description: *//p' "$script")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rear-lab-job.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/job.sh" <<JOB
set -euo pipefail
export LVM_SUPPRESS_FD_WARNINGS=1
ROOT=/mnt/sys
echo "== scenario $name"
bash -euo pipefail /lab/scenario.sh
[[ -x \$ROOT/usr/bin/bash ]] || { echo "scenario $name did not call sys_prepare" >&2; exit 1; }
echo "== capture (chroot \$ROOT)"
mkdir -p \$ROOT/root/lab-capture
cp /lab/capture.sh \$ROOT/root/lab-capture/
chroot \$ROOT /usr/bin/env \\
    CAPTURE_SCENARIO=$(printf '%q' "$name") \\
    CAPTURE_DESCRIPTION=$(printf '%q' "$description") \\
    CAPTURE_REGENERATE=$(printf '%q' "lab/scenario.sh $name") \\
    /usr/bin/bash /root/lab-capture/capture.sh /root/lab-capture/out
cp -r \$ROOT/root/lab-capture/out/. /lab/out/
JOB
cp "$script" "$tmp/scenario.sh"
cp "$LAB_DIR/guest/scenario-lib.sh" "$tmp/scenario-lib.sh"
"$LAB_DIR/run-job.sh" "scenario-$name" "$tmp/job.sh" "$tmp/scenario.sh" "$tmp/scenario-lib.sh" -- "${vmopts[@]}"

# The capture must show what the scenario built; a broken guest (no udev, a missing tool) would
# otherwise silently produce fixtures without the interesting files.
got=$REAR_LAB_OUT/share/scenario-$name/out
bad=0
while read -r file regex; do
    [[ -z $file ]] && continue
    if [[ ! -s $got/$file ]]; then
        lab_log "$name: expected $file in the capture, it is missing or empty"
        bad=1
    elif [[ -n $regex ]] && ! grep -Eq -- "$regex" "$got/$file"; then
        lab_log "$name: $file does not match /$regex/"
        bad=1
    fi
done < <(sed -n 's/^# lab-expect: *//p' "$script")
((bad == 0)) || lab_die "$name: the capture in $got is not what the scenario built; fixtures left unchanged"

dest=${REAR_LAB_FIXTURES:-$LAB_REPO/fixtures/layouts}/$name
rm -rf "$dest"
mkdir -p "$dest"
cp -r "$REAR_LAB_OUT/share/scenario-$name/out/." "$dest/"
lab_log "$name: $(find "$dest" -type f | wc -l) files in $dest"
