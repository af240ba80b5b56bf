#!/bin/bash
# Re-create every layout fixture end to end: for each lab/scenarios/NAME.sh (or the NAMEs given),
# boot the lab guest on blank disks, build the layout, run fixtures/capture.sh, and replace
# fixtures/layouts/NAME/. Then rewrite fixtures/layouts/INDEX.md. One VM at a time.
#
# Usage: lab/capture-all.sh [NAME...]     lab/capture-all.sh --index   (only rewrite the index)
# Prints the wall time of each step; they are also appended to $REAR_LAB_OUT/capture-all.times.
# Exits 1 if any scenario failed (the others still run); the serial logs are in $REAR_LAB_OUT/logs/.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

layouts=$LAB_REPO/fixtures/layouts

write_index() {
    local f name desc
    {
        echo "# Layout fixtures"
        echo
        echo "Real output of the storage tools for each layout scenario, recorded by \`fixtures/capture.sh\` inside"
        echo "the lab guest (a Debian kernel and an initramfs with the host's tools, under qemu TCG; see docs/lab.md)."
        echo "Each directory has its own INDEX.md with the tool versions, the kernel and the exact command line of"
        echo "every file. Never edit them by hand: \`lab/scenario.sh NAME\` regenerates one, \`lab/capture-all.sh\` all."
        echo
        echo "| scenario | layout | files |"
        echo "|---|---|---|"
        for f in "$LAB_DIR"/scenarios/*.sh; do
            name=$(basename "$f" .sh)
            desc=$(sed -n 's/^# lab-description: *//p' "$f" | tr '\n' ' ' | sed 's/ *$//; s/|/\\|/g')
            if [[ -f $layouts/$name/INDEX.md ]]; then
                echo "| [$name]($name/INDEX.md) | $desc | $(find "$layouts/$name" -type f | wc -l) |"
            else
                echo "| $name | $desc | not captured yet |"
            fi
        done
    } >"$layouts/INDEX.md"
}

if [[ ${1:-} == --index ]]; then
    write_index
    exit 0
fi

if (($#)); then
    names=("$@")
else
    names=()
    for f in "$LAB_DIR"/scenarios/*.sh; do names+=("$(basename "$f" .sh)"); done
fi

mkdir -p "$REAR_LAB_OUT"
times=$REAR_LAB_OUT/capture-all.times
results=() failed=0
step() { # step LABEL CMD...: run and time one step
    local label=$1 t0 rc=0 secs
    shift
    t0=$(date +%s)
    "$@" || rc=$?
    secs=$(($(date +%s) - t0))
    results+=("$(printf '%-28s %4ss  %s' "$label" "$secs" "$([[ $rc == 0 ]] && echo ok || echo "FAILED rc=$rc")")")
    printf '%s %s %ss rc=%s\n' "$(date -u +%FT%TZ)" "$label" "$secs" "$rc" >>"$times"
    return "$rc"
}

total0=$(date +%s)
# Resolve the kernel and initramfs once; every vm.sh run below reuses them.
step kernel "$LAB_DIR/kernel.sh" >"$REAR_LAB_OUT/.kernel"
step initramfs "$LAB_DIR/initramfs.sh" >"$REAR_LAB_OUT/.initrd"
LAB_KERNEL_IMAGE=$(cat "$REAR_LAB_OUT/.kernel")/vmlinuz
LAB_INITRD=$(cat "$REAR_LAB_OUT/.initrd")
export LAB_KERNEL_IMAGE LAB_INITRD
for n in "${names[@]}"; do
    step "$n" "$LAB_DIR/scenario.sh" "$n" || failed=1
done
write_index
results+=("$(printf '%-28s %4ss' total "$(($(date +%s) - total0))")")

echo
echo "capture-all (qemu TCG, LAB_SMP=${LAB_SMP:-2}):"
printf '  %s\n' "${results[@]}"
if ((failed)); then
    echo "some scenarios failed; serial logs: $REAR_LAB_OUT/logs/" >&2
    exit 1
fi
