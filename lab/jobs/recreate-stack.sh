#!/bin/bash
# Recreation in the lab guest (md, device-mapper and LUKS work here, not on the build host).
#
# The share holds cases/<name>/diskrestore.sh, scripts rendered by rear-rs from a captured lab
# layout (crates/rear-core/tests/recreate_vm.rs writes them), plus the files they name (vgcfgbackup
# files, a LUKS key file). For each case, in name order, this job:
#   1. runs the script on the blank disks, then runs it a second time (it must skip every step),
#   2. records what was built into out/<name>/ (sfdisk dumps, blkid, mdadm, LVM reports, mounts),
#   3. takes the stack down again (umount, swapoff, vgchange -an, cryptsetup close, mdadm --stop)
#      so that the next case starts from disks that only hold old signatures, as a real rescue
#      system would find them;
#   4. runs cases/<name>/mountonly.sh (`rear mountonly`'s plan: assemble, open, activate, mount;
#      nothing created) on the taken-down stack, records the mounts, and takes it down again.
set -uo pipefail
export LVM_SUPPRESS_FD_WARNINGS=1
rc=0
take_down() {
    findmnt -rn -o TARGET | grep '^/mnt/local' | sort -r | xargs -r -n1 umount
    swapoff -a 2>/dev/null
    lvm vgchange -a n >/dev/null 2>&1
    for m in /dev/mapper/*; do
        [ "$(basename "$m")" = control ] && continue
        cryptsetup close "$(basename "$m")" 2>/dev/null
    done
    mdadm --stop --scan >/dev/null 2>&1
}
for dir in /lab/cases/*/; do
    name=$(basename "$dir")
    out=/lab/out/$name
    mkdir -p "$out"
    echo "== case $name"
    cd "$dir"
    if STATE_DIR=/tmp/state-$name bash ./diskrestore.sh >"$out/run1.log" 2>&1; then
        echo "run1 ok" >"$out/status"
    else
        echo "run1 failed: $?" >"$out/status"
        tail -30 "$out/run1.log"
        rc=1
    fi
    # the second run finds everything done: a fresh state dir and TRUST_EXISTING=1 make it rely
    # on the done checks alone
    if TRUST_EXISTING=1 STATE_DIR=/tmp/state2-$name bash ./diskrestore.sh >"$out/run2.log" 2>&1; then
        echo "run2 ok" >>"$out/status"
    else
        echo "run2 failed: $?" >>"$out/status"
        tail -30 "$out/run2.log"
        rc=1
    fi
    for d in /dev/vd?; do
        sfdisk --dump "$d" >"$out/sfdisk-$(basename "$d").dump" 2>/dev/null || true
    done
    for d in /dev/vd?* /dev/md[0-9]* /dev/mapper/*; do
        [ -b "$d" ] || continue
        blkid -p -o export "$d" >"$out/blkid-$(basename "$d").txt" 2>/dev/null || true
    done
    for d in /dev/md[0-9]*; do
        [ -b "$d" ] && mdadm --detail --export "$d" >"$out/mdadm-$(basename "$d").txt" 2>/dev/null
    done
    lvm pvs --reportformat json -o pv_name,pv_uuid,vg_name >"$out/pvs.json" 2>/dev/null || true
    lvm vgs --reportformat json --units b -o vg_name,vg_uuid,vg_extent_size,vg_size >"$out/vgs.json" 2>/dev/null || true
    lvm lvs --reportformat json --units b -o lv_name,vg_name,lv_uuid,lv_size,segtype,pool_lv >"$out/lvs.json" 2>/dev/null || true
    findmnt -rn -o SOURCE,TARGET,FSTYPE >"$out/mounts.txt"
    take_down
    if [ -f mountonly.sh ]; then
        if TRUST_EXISTING=1 STATE_DIR=/tmp/state-mount-$name bash ./mountonly.sh >"$out/mountonly.log" 2>&1; then
            echo "mountonly ok" >>"$out/status"
        else
            echo "mountonly failed: $?" >>"$out/status"
            tail -30 "$out/mountonly.log"
            rc=1
        fi
        findmnt -rn -o SOURCE,TARGET,FSTYPE >"$out/mounts-mountonly.txt"
        take_down
    fi
    cd /
done
exit $rc
