#!/bin/bash
# One bare-metal recovery scenario, end to end, in qemu (TCG):
#   1. build   the source machine's disks (lab/source/build.sh, cached by content);
#   2. backup  boot copies of them with a REAR-000 backup disk and a LABHOOK disk: the hook records
#              the facts, installs the rear binary and the scenario's local.conf, runs `rear mkbackup`
#              (the rescue ISO and the backup go to the REAR-000 disk, as with a USB disk);
#   3. recover boot a machine with blank disks (sizes REC_DISKS) from that ISO (or PXE files),
#              the REAR-000 disk and, for REC_EXTRA_DISK, a disk outside the layout filled with
#              data; the ISO's default entry runs `rear recover` unattended, then reboots;
#   4. reboot  boot the recovered disks by themselves and record the facts again;
#   5. compare the facts (lab/source/compare.py) and the extra disk, byte for byte.
#
# Usage: lab/recover.sh SCENARIO        (a file in lab/source/scenarios/, without .sh)
# A scenario file sets SRC_* (the source machine: SRC_HOSTNAME, SRC_FIRMWARE, SRC_DISKS, src_storage;
# see lab/source/build.sh) and optionally REC_*: REC_SOURCE (use another scenario's source machine),
# REC_DISKS (sizes of the blank disks, default SRC_DISKS), REC_EXTRA_DISK (size of a disk outside
# the layout that must stay untouched), REC_CONF (more local.conf lines), REC_COMPARE (options for
# compare.py, e.g. --sizes-may-differ), REC_BOOT (iso, the default, or pxe: OUTPUT=PXE into the
# hook disk, and the recovery machine boots from qemu's TFTP server with pxelinux or GRUB),
# REC_PACKAGES (Debian packages the admin installs before mkbackup: fetched with apt-get download
# on the host, installed with dpkg -i in the source machine).
# Env:   REAR_BIN   the rear binary to test (default: cargo build --release -p rear, then
#                   target/release/rear)
#        LAB_RECOVER_KEEP=1  keep the disk images of the run
# Output: $REAR_LAB_OUT/recover/SCENARIO/: facts-before/, facts-after/, compare.txt, the hook
#         logs (rear's own logs included), timings.txt; every VM's serial log is in
#         $REAR_LAB_OUT/logs/recover-SCENARIO-*.serial. On failure the script prints where they are.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
lab_need qemu-system-x86_64 mkfs.ext4 debugfs python3 truncate

scenario=${1:?usage: lab/recover.sh SCENARIO}
sfile=$here/source/scenarios/$scenario.sh
[[ -f $sfile ]] || lab_die "no scenario $scenario ($sfile); the scenarios are: $(cd "$here/source/scenarios" && ls -- *.sh | sed 's/\.sh$//' | paste -sd' ')"
# A scenario file describes a source machine (SRC_*, lab/source/build.sh) and its recovery
# (REC_*). REC_SOURCE=OTHER reuses OTHER's source machine (for the migrations).
# shellcheck source=/dev/null
SRC_FIRMWARE=bios SRC_DISKS=() REC_DISKS=() REC_EXTRA_DISK="" REC_SOURCE="" REC_CONF="" REC_COMPARE="" REC_BOOT=iso REC_PACKAGES=() && . "$sfile"
source_scenario=$scenario
if [[ -n $REC_SOURCE ]]; then
    source_scenario=$REC_SOURCE
    # shellcheck source=/dev/null
    . "$here/source/scenarios/$REC_SOURCE.sh"
    # shellcheck source=/dev/null
    . "$sfile"
fi
((${#REC_DISKS[@]})) || REC_DISKS=("${SRC_DISKS[@]}")

out=$REAR_LAB_OUT/recover/$scenario
rm -rf "$out"
mkdir -p "$out"
logs=$REAR_LAB_OUT/logs
timings=$out/timings.txt
: >"$timings"
fail() {
    echo "----- recovery scenario $scenario FAILED: $* -----" >&2
    echo "serial logs: $(ls "$logs"/recover-"$scenario"-*.serial 2>/dev/null | paste -sd' ')" >&2
    echo "run output:  $out" >&2
    exit 1
}
phase_start=0
phase() { phase_start=$(date +%s); lab_log "$scenario: $*"; }
phase_end() {
    local secs=$(($(date +%s) - phase_start))
    echo "$1 ${secs}s${2:+ $2}" >>"$timings"
    lab_log "$scenario: $1 took ${secs}s${2:+ ($2)}"
}
uefi_args=() net_args=()
[[ $SRC_FIRMWARE == uefi ]] && uefi_args=(--uefi)

# The rear binary under test.
if [[ -z ${REAR_BIN:-} ]]; then
    (cd "$LAB_REPO" && cargo build --release --locked -p rear >&2) || lab_die "cargo build --release -p rear failed"
    REAR_BIN=$LAB_REPO/target/release/rear
fi
[[ -x $REAR_BIN ]] || lab_die "REAR_BIN=$REAR_BIN is not an executable"

# 1. build
phase "building the source machine"
src=$("$here/source/build.sh" "$source_scenario") || fail "building the source machine (lab/source/build.sh $source_scenario)"
phase_end build "$(cat "$src/build-steps.txt" 2>/dev/null | awk '{print $NF}' | tail -n1)"

# 2. backup: the source machine runs rear mkbackup.
phase "booting the source machine, rear mkbackup"
work=$out/disks
mkdir -p "$work" "$out/hook-backup"
disk_args=()
for f in "$src"/disk*.img; do
    cp --sparse=always "$f" "$work/src-$(basename "$f")"
    disk_args+=(--disk "$work/src-$(basename "$f")")
done
truncate -s 6G "$work/rear-backup.img"
mkfs.ext4 -q -F -L REAR-000 "$work/rear-backup.img"
cp "$REAR_BIN" "$out/hook-backup/rear"
cp "$here/source/facts.sh" "$out/hook-backup/facts.sh"
if ((${#REC_PACKAGES[@]})); then
    mkdir -p "$out/hook-backup/debs"
    (cd "$out/hook-backup/debs" && apt-get download "${REC_PACKAGES[@]}" >/dev/null 2>&1) ||
        lab_die "apt-get download ${REC_PACKAGES[*]} failed"
fi
case $REC_BOOT in
iso) output_conf="OUTPUT=ISO" ;;
pxe)
    # The source machine gets a NIC (the MAC the recovery machine has too) for the per-MAC entry.
    output_conf="OUTPUT=PXE
PXE_TFTP_URL=file:///mnt/hook/pxe
PXE_CREATE_LINKS=MAC
OUTPUT_URL=null"
    net_args=(--net)
    ;;
*) lab_die "REC_BOOT=$REC_BOOT: iso or pxe" ;;
esac
cat >"$out/hook-backup/local.conf" <<EOF
# /etc/rear/local.conf of the lab source machine $SRC_HOSTNAME (lab/recover.sh)
$output_conf
BACKUP=NETFS
# The REAR-000 disk, as a USB disk would be: the backup and the ISO go to <disk>/$SRC_HOSTNAME/.
BACKUP_URL=usb:///dev/disk/by-label/REAR-000
# The lab machines have only a serial console; boot the ISO into an unattended recovery.
USE_SERIAL_CONSOLE=y
ISO_DEFAULT=automatic
ISO_RECOVER_MODE=unattended
USER_INPUT_TIMEOUT=3
$REC_CONF
EOF
cat >"$out/hook-backup/hook.sh" <<'EOF'
#!/bin/bash
# Runs in the booted source machine (lab agent, $HOOK = this disk's mount point).
set -euxo pipefail
bash "$HOOK/facts.sh" "$HOOK/facts-before"
if [[ -d $HOOK/debs ]]; then
    dpkg -i "$HOOK"/debs/*.deb
fi
install -m 0755 "$HOOK/rear" /usr/sbin/rear
mkdir -p /etc/rear
cp "$HOOK/local.conf" /etc/rear/local.conf
start=$(date +%s)
rc=0
rear -v mkbackup || rc=$?
echo "mkbackup $(($(date +%s) - start))s rc=$rc" >"$HOOK/mkbackup.time"
mkdir -p "$HOOK/rear-logs"
cp -a /var/log/rear/. "$HOOK/rear-logs/" 2>/dev/null || true
cp -a /var/lib/rear/layout "$HOOK/rear-layout" 2>/dev/null || true
cp /var/lib/rear/recovery/inventory.json "$HOOK/inventory.json" 2>/dev/null || true
exit "$rc"
EOF
mkfs.ext4 -q -F -L LABHOOK -d "$out/hook-backup" "$work/hook-backup.img" 256M >/dev/null
rc=0
LAB_MEM=${LAB_MEM:-1536} "$LAB_DIR/vm.sh" "recover-$scenario-backup" --no-kernel "${disk_args[@]}" \
    --disk "$work/rear-backup.img" --disk "$work/hook-backup.img" "${uefi_args[@]}" "${net_args[@]}" \
    --timeout "${LAB_BACKUP_TIMEOUT:-1500}" || rc=$?
debugfs -R "rdump / $out/hook-backup" "$work/hook-backup.img" >/dev/null 2>&1 || true
((rc == 0)) || fail "rear mkbackup in the source machine (rc $rc; log: $out/hook-backup/hook.log, rear's logs: $out/hook-backup/rear-logs)"
phase_end backup "$(cat "$out/hook-backup/mkbackup.time" 2>/dev/null)"
mv "$out/hook-backup/facts-before" "$out/facts-before"
# The inventory mkbackup collected in the guest (issue 9: collected inside a qemu guest).
python3 "$here/source/check-inventory.py" "$out/hook-backup/inventory.json" "$SRC_HOSTNAME" >"$out/inventory-check.txt" ||
    fail "$(cat "$out/inventory-check.txt")"
if [[ $REC_BOOT == iso ]]; then
    iso=$out/rescue.iso
    debugfs -R "dump /$SRC_HOSTNAME/rear-$SRC_HOSTNAME.iso $iso" "$work/rear-backup.img" >/dev/null 2>&1 || true
    [[ -s $iso ]] || fail "no /$SRC_HOSTNAME/rear-$SRC_HOSTNAME.iso on the REAR-000 disk ($(debugfs -R "ls -l /$SRC_HOSTNAME" "$work/rear-backup.img" 2>/dev/null | tr -s ' ' | tr '\n' ';'))"
    boot_media=(--cdrom "$iso")
else
    bootfile=pxelinux.0
    [[ $SRC_FIRMWARE == uefi ]] && bootfile=boot/grub/x86_64-efi/core.efi
    [[ -f $out/hook-backup/pxe/$bootfile ]] || fail "no $bootfile in the PXE output ($out/hook-backup/pxe)"
    boot_media=(--tftp "$out/hook-backup/pxe" --bootfile "$bootfile")
fi
debugfs -R "ls -l /$SRC_HOSTNAME" "$work/rear-backup.img" >"$out/rear-000-listing.txt" 2>/dev/null || true
rm -f "$work"/src-disk*.img

# 3. recover: blank disks, the ISO, the backup disk (and a bystander disk).
phase "booting the rescue system ($REC_BOOT) on blank disks, rear recover (unattended)"
rec_args=()
i=0
for size in "${REC_DISKS[@]}"; do
    truncate -s "$size" "$work/target-disk$i.img"
    rec_args+=(--disk "$work/target-disk$i.img")
    i=$((i + 1))
done
rec_args+=(--disk "$work/rear-backup.img")
if [[ -n $REC_EXTRA_DISK ]]; then
    truncate -s "$REC_EXTRA_DISK" "$work/extra.img"
    # Data at the start (where a partition table would go), in the middle and at the end.
    head -c 4M /dev/urandom | dd of="$work/extra.img" conv=notrunc status=none
    head -c 4M /dev/urandom | dd of="$work/extra.img" bs=1M seek=256 conv=notrunc status=none
    sha_extra=$(sha256sum <"$work/extra.img")
    rec_args+=(--disk "$work/extra.img")
fi
vars=()
[[ $SRC_FIRMWARE == uefi ]] && vars=(--uefi-vars "$work/OVMF_VARS.fd")
serial=$logs/recover-$scenario-recover.serial
rc=0
LAB_MEM=${LAB_MEM:-1536} "$LAB_DIR/vm.sh" "recover-$scenario-recover" --no-kernel "${boot_media[@]}" \
    "${rec_args[@]}" "${vars[@]}" --result "finished with exit code " \
    --timeout "${LAB_RECOVER_TIMEOUT:-1800}" &
vmpid=$!
ready=""
while kill -0 "$vmpid" 2>/dev/null; do
    if [[ -z $ready ]] && grep -aq 'REAR-RESCUE-INIT: ready' "$serial" 2>/dev/null; then
        ready=$(($(date +%s) - phase_start))
    fi
    sleep 1
done
wait "$vmpid" || rc=$?
((rc == 0)) || fail "rear recover in the rescue system (rc $rc; serial log: $serial)"
phase_end recover "rescue ready after ${ready:-?}s"

# 4. reboot: the recovered disks by themselves, with a hook that records the facts.
phase "booting the recovered system"
mkdir -p "$out/hook-after"
cp "$here/source/facts.sh" "$out/hook-after/facts.sh"
printf '#!/bin/bash\nbash "$HOOK/facts.sh" "$HOOK/facts-after"\n' >"$out/hook-after/hook.sh"
mkfs.ext4 -q -F -L LABHOOK -d "$out/hook-after" "$work/hook-after.img" 64M >/dev/null
boot_args=()
for ((j = 0; j < ${#REC_DISKS[@]}; j++)); do
    boot_args+=(--disk "$work/target-disk$j.img")
done
rc=0
LAB_MEM=${LAB_MEM:-1536} "$LAB_DIR/vm.sh" "recover-$scenario-reboot" --no-kernel "${boot_args[@]}" \
    --disk "$work/hook-after.img" "${vars[@]}" --timeout "${LAB_BOOT_TIMEOUT:-600}" || rc=$?
debugfs -R "rdump / $out/hook-after" "$work/hook-after.img" >/dev/null 2>&1 || true
((rc == 0)) || fail "the recovered system did not boot and run its hook (rc $rc)"
booted=$(tr -d '\r' <"$logs/recover-$scenario-reboot.serial" | grep -ao 'LAB-BOOTED .*' | tail -n1 || true)
phase_end reboot "$booted"
mv "$out/hook-after/facts-after" "$out/facts-after"

# 5. compare
python3 "$here/source/compare.py" $REC_COMPARE "$out/facts-before" "$out/facts-after" >"$out/compare.txt" 2>&1 ||
    { cat "$out/compare.txt" >&2; fail "the recovered system differs from the source (above)"; }
if [[ -n $REC_EXTRA_DISK ]]; then
    [[ $(sha256sum <"$work/extra.img") == "$sha_extra" ]] ||
        fail "the extra disk outside the layout was changed by the recovery"
    echo "extra disk outside the layout: unchanged (sha256)" >>"$out/compare.txt"
fi
cat "$out/inventory-check.txt" "$out/compare.txt"
[[ ${LAB_RECOVER_KEEP:-0} == 1 ]] || rm -rf "$work"
printf '%s %s %s\n' "$(date -u +%FT%TZ)" "$scenario" "$(paste -sd' ' "$timings")" >>"$REAR_LAB_OUT/recover-timings.log"
lab_log "$scenario: recovered and verified: $(paste -sd' ' "$timings")"
