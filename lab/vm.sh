#!/bin/bash
# shellcheck disable=SC2054 # qemu options contain commas, not array separators
# One qemu TCG run (never KVM) under timeout, serial console to $REAR_LAB_OUT/logs/NAME.serial.
#
# Usage: lab/vm.sh NAME [options]
#   --disk FILE           attach a raw image as the next virtio disk (vda, vdb, ...)
#   --blank SIZE          create a fresh sparse raw image (truncate -s SIZE) in the run dir and attach it
#   --multipath FILE      attach FILE twice, as two virtio-scsi paths (same serial and WWN)
#   --multipath-blank SIZE  the same with a fresh sparse image in the run dir
#   --share DIR           9p share, mounted by the guest init on /lab (the job is DIR/job.sh)
#   --uefi                OVMF firmware (pflash, a private copy of the variable store in the run dir)
#   --uefi-vars FILE      OVMF with this variable store (made from the template if missing; kept, so
#                         boot entries survive from one run to the next)
#   --kernel K --initrd I boot this kernel/initramfs (default: $LAB_KERNEL_IMAGE and $LAB_INITRD if
#                         set, else lab/kernel.sh and lab/initramfs.sh)
#   --no-kernel           boot from the disks (an installed system; for the recovery scenarios)
#   --append ARGS         extra kernel command line (e.g. lab.shell)
#   --cdrom FILE          attach an ISO image as a CD-ROM (AHCI) that boots first (bootindex 0)
#   --net                 a virtio NIC (MAC 52:54:00:12:34:56) on qemu user networking (the host is
#                         10.0.2.2, DHCP works)
#   --tftp DIR --bootfile F  the same NIC, booting first (bootindex 0) from qemu's TFTP server on DIR
#   --qemu-arg ARG        one more qemu argument, passed as is (repeatable)
#   --result TEXT         the text before the exit status on the serial console (default LAB-RC=)
#   --timeout SECONDS     kill qemu after this long (default 600)
# Env: LAB_SMP (2), LAB_MEM (MiB, 1024), CONSOLE=1 (serial on this terminal too, interactive).
#
# The run dir is $REAR_LAB_OUT/runs/NAME (made empty first). The result is the last LAB-RC=<n> (or
# --result TEXT<n>) the guest prints, anywhere in a line (a getty prompt may precede it): vm.sh exits with n, or 124 on timeout / 125 when the line is missing, and then
# prints the tail of the serial log and its path.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
lab_need qemu-system-x86_64 timeout truncate

name=${1:?usage: lab/vm.sh NAME [options]}
shift
run=$REAR_LAB_OUT/runs/$name
logs=$REAR_LAB_OUT/logs
serial=$logs/$name.serial
kernel=${LAB_KERNEL_IMAGE:-} initrd=${LAB_INITRD:-} boot_kernel=1 uefi=0 vars="" share="" append="" tmo=600
cdrom="" net=0 tftp="" bootfile="" result=LAB-RC=
disks=() mpaths=() extra=()

rm -rf "$run"
mkdir -p "$run" "$logs"
# A stale log could hold an old LAB-RC line if qemu failed to start.
rm -f "$serial"
while (($#)); do
    case $1 in
    --disk) disks+=("$(readlink -f "$2")"); shift 2 ;;
    --blank)
        f=$run/disk${#disks[@]}.img
        truncate -s "$2" "$f"
        disks+=("$f")
        shift 2
        ;;
    --multipath) mpaths+=("$(readlink -f "$2")"); shift 2 ;;
    --multipath-blank)
        f=$run/mpath${#mpaths[@]}.img
        truncate -s "$2" "$f"
        mpaths+=("$f")
        shift 2
        ;;
    --share) share=$(readlink -f "$2"); shift 2 ;;
    --uefi) uefi=1; shift ;;
    --uefi-vars) uefi=1 vars=$(readlink -f "$2"); shift 2 ;;
    --kernel) kernel=$2; shift 2 ;;
    --initrd) initrd=$2; shift 2 ;;
    --no-kernel) boot_kernel=0; shift ;;
    --append) append="$append $2"; shift 2 ;;
    --cdrom) cdrom=$(readlink -f "$2"); shift 2 ;;
    --net) net=1; shift ;;
    --tftp) net=1 tftp=$(readlink -f "$2"); shift 2 ;;
    --bootfile) bootfile=$2; shift 2 ;;
    --qemu-arg) extra+=("$2"); shift 2 ;;
    --result) result=$2; shift 2 ;;
    --timeout) tmo=$2; shift 2 ;;
    *) lab_die "vm.sh: unknown option $1" ;;
    esac
done

args=(-name "$name" -machine q35,accel=tcg -cpu max -smp "${LAB_SMP:-2}" -m "${LAB_MEM:-1024}"
    -nodefaults -no-user-config -display none -vga none -no-reboot
    -rtc base=utc -device virtio-rng-pci)
if [[ ${CONSOLE:-0} == 1 ]]; then
    args+=(-chardev "stdio,id=ser,signal=off,logfile=$serial" -serial chardev:ser)
else
    args+=(-chardev "file,id=ser,path=$serial" -serial chardev:ser)
fi
if ((uefi)); then
    code=/usr/share/OVMF/OVMF_CODE_4M.fd
    [[ -f $code ]] || lab_die "$code missing: apt-get install ovmf"
    if [[ -z $vars ]]; then
        vars=$run/OVMF_VARS.fd
        cp /usr/share/OVMF/OVMF_VARS_4M.fd "$vars"
    elif [[ ! -f $vars ]]; then
        cp /usr/share/OVMF/OVMF_VARS_4M.fd "$vars"
    fi
    args+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$code"
        -drive "if=pflash,format=raw,unit=1,file=$vars")
fi
if ((boot_kernel)); then
    [[ -n $kernel ]] || kernel=$("$LAB_DIR/kernel.sh")/vmlinuz
    [[ -n $initrd ]] || initrd=$("$LAB_DIR/initramfs.sh")
    args+=(-kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 panic=-1 loglevel=4 no_timer_check$append")
fi
i=0
for d in "${disks[@]}"; do
    # bootindex starts at 1: -kernel takes 0.
    args+=(-drive "file=$d,if=none,id=d$i,format=raw,cache=unsafe,discard=unmap"
        -device "virtio-blk-pci,drive=d$i,serial=lab-disk$i,bootindex=$((i + 1))")
    i=$((i + 1))
done
if ((${#mpaths[@]})); then
    args+=(-device virtio-scsi-pci,id=scsi0)
    j=0
    for d in "${mpaths[@]}"; do
        wwn=$(printf '0x5000c500%08x' $((0x1ab00 + j)))
        for p in 0 1; do
            args+=(-drive "file=$d,if=none,id=mp${j}p$p,format=raw,cache=none,file.locking=off"
                -device "scsi-hd,drive=mp${j}p$p,bus=scsi0.0,channel=0,scsi-id=$j,lun=$p,serial=lab-mpath$j,wwn=$wwn,share-rw=on")
        done
        j=$((j + 1))
    done
fi
if [[ -n $cdrom ]]; then
    args+=(-drive "file=$cdrom,if=none,id=cd0,media=cdrom,readonly=on"
        -device "ide-cd,drive=cd0,bus=ide.0,bootindex=0")
fi
if [[ -n $tftp ]]; then
    args+=(-netdev "user,id=n0,tftp=$tftp,bootfile=$bootfile"
        -device "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,bootindex=0")
elif ((net)); then
    args+=(-netdev user,id=n0 -device "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56")
fi
args+=("${extra[@]}")
if [[ -n $share ]]; then
    args+=(-fsdev "local,id=lab,path=$share,security_model=none"
        -device "virtio-9p-pci,fsdev=lab,mount_tag=lab")
fi

printf '%q ' qemu-system-x86_64 "${args[@]}" >"$run/qemu.cmd"
echo >>"$run/qemu.cmd"
start=$(date +%s.%N)
qrc=0
timeout --foreground -k 10 "$tmo" qemu-system-x86_64 "${args[@]}" >"$run/qemu.out" 2>&1 || qrc=$?
secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
printf '%s %s %ss qemu-rc=%s\n' "$(date -u +%FT%TZ)" "$name" "$secs" "$qrc" >>"$REAR_LAB_OUT/timings.log"

pat=$(printf '%s' "$result" | sed 's/[][\.*^$/]/\\&/g')
rc=$(tr -d '\r' <"$serial" | grep -ao -- "$pat[0-9][0-9]*" | tail -n1 | sed 's/.*[^0-9]//' || true)
if [[ $qrc == 124 ]]; then
    rc=124
    lab_log "$name: timed out after ${tmo}s"
elif [[ -z $rc ]]; then
    rc=125
    lab_log "$name: no LAB-RC line (qemu rc $qrc): $(tail -n3 "$run/qemu.out")"
fi
if [[ $rc != 0 ]]; then
    echo "----- tail of $serial -----" >&2
    tail -n 40 "$serial" >&2
    echo "----- $name failed (rc $rc); serial log: $serial; run dir: $run -----" >&2
else
    lab_log "$name: ok in ${secs}s (serial log $serial)"
fi
exit "$rc"
