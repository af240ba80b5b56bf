#!/bin/bash
# lab-vm: --blank 2G --uefi
# lab-description: UEFI guest (OVMF, pflash with a fresh variable store). One 2 GiB virtio disk, GPT: vda1 EFI system
# lab-description: partition (256 MiB, FAT32, volume id 1234ABCD, label EFI) on /boot/efi, vda2 /boot ext4 (512 MiB),
# lab-description: vda3 swap (128 MiB), vda4 / ext4 (rest). A boot entry "debian" (\EFI\debian\shimx64.efi on vda1)
# lab-description: is created with efibootmgr before the capture, next to OVMF's own entries.
# lab-expect: efi-firmware.txt ^UEFI
# lab-expect: efibootmgr-v.txt debian.*shimx64.efi
# lab-expect: fsck.fat-vda1.txt 32 bit entries
# lab-expect: blkid-vda1.txt ^UUID=1234-ABCD$
# lab-expect: findmnt.json "target": "/boot/efi"
# lab-expect: swapon.txt ^/dev/vda3 
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../guest/scenario-lib.sh
. /lab/scenario-lib.sh

sfdisk --quiet /dev/vda <<'SF'
label: gpt
label-id: 7E7E7E7E-0000-4000-8000-000000000700
size=256MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=7E7E7E7E-0000-4000-8000-000000000701, name="EFI System Partition"
size=512MiB, type=BC13C2FF-59E6-4262-A352-B275FD6F7172, uuid=7E7E7E7E-0000-4000-8000-000000000702, name="boot"
size=128MiB, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, uuid=7E7E7E7E-0000-4000-8000-000000000703, name="swap"
type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=7E7E7E7E-0000-4000-8000-000000000704, name="root"
SF
parts /dev/vda

mkfs.vfat -F 32 -n EFI -i 1234ABCD /dev/vda1
mkfs.ext4 -q -L boot -U 0b0b0b0b-0000-4000-8000-000000000702 /dev/vda2
mkswap -L swap -U 5a5a5a5a-0000-4000-8000-000000000703 /dev/vda3
mkfs.ext4 -q -L root -U 0f0f0f0f-0000-4000-8000-000000000704 /dev/vda4

mount /dev/vda4 "$ROOT"
mkdir -p "$ROOT/boot"
mount /dev/vda2 "$ROOT/boot"
mkdir -p "$ROOT/boot/efi"
mount -o umask=0077,shortname=winnt /dev/vda1 "$ROOT/boot/efi"
mkdir -p "$ROOT/boot/efi/EFI/debian"
echo "not a real loader" >"$ROOT/boot/efi/EFI/debian/shimx64.efi"
sys_prepare
sys_run swapon /dev/vda3
if [[ -d /sys/firmware/efi/efivars ]]; then
    sys_run efibootmgr -q -c -d /dev/vda -p 1 -L debian -l '\EFI\debian\shimx64.efi'
else
    echo "uefi-esp: no EFI variables in this guest; efibootmgr output will say so" >&2
fi
