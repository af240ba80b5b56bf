#!/bin/bash
# lab-vm: --blank 2G
# lab-description: One 2 GiB virtio disk (vda), GPT: BIOS boot partition (1 MiB), /boot ext4 (256 MiB),
# lab-description: swap (256 MiB), / ext4 (rest). Fixed disk and partition GUIDs, filesystem UUIDs and labels;
# lab-description: mounted with options inside the chroot that the capture runs in, swap active.
# lab-expect: lsblk-ipo.txt /dev/vda4 +/dev/vda4 +/dev/vda +part +ext4 +root
# lab-expect: sfdisk-vda.json "label": "gpt"
# lab-expect: tune2fs-vda2.txt ^Block size: +1024$
# lab-expect: tune2fs-vda4.txt 0f0f0f0f-0000-4000-8000-000000000004
# lab-expect: swapon.txt ^/dev/vda3 
# lab-expect: findmnt.json "target": "/boot"
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../guest/scenario-lib.sh
. /lab/scenario-lib.sh

sfdisk --quiet /dev/vda <<'SF'
label: gpt
label-id: 6A1F0C2E-4B5D-4E8F-9A10-3C2B1D0E0001
first-lba: 2048
start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649, uuid=6A1F0C2E-4B5D-4E8F-9A10-3C2B1D0E0011, name="bios-boot"
size=256MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=6A1F0C2E-4B5D-4E8F-9A10-3C2B1D0E0012, name="boot"
size=256MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, uuid=6A1F0C2E-4B5D-4E8F-9A10-3C2B1D0E0013, name="swap"
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=6A1F0C2E-4B5D-4E8F-9A10-3C2B1D0E0014, name="root"
SF
parts /dev/vda

mkfs.ext4 -q -L boot -U 0b0b0b0b-0000-4000-8000-000000000002 -b 1024 -I 128 /dev/vda2
mkswap -L swap -U 5a5a5a5a-0000-4000-8000-000000000003 /dev/vda3
mkfs.ext4 -q -L root -U 0f0f0f0f-0000-4000-8000-000000000004 /dev/vda4

mount -o noatime,errors=remount-ro /dev/vda4 "$ROOT"
mkdir -p "$ROOT/boot"
mount -o nodev,nosuid,noexec /dev/vda2 "$ROOT/boot"
sys_prepare
sys_run swapon -p 5 /dev/vda3
