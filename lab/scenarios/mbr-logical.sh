#!/bin/bash
# lab-vm: --blank 2G
# lab-description: One 2 GiB virtio disk (vda), MBR (DOS label, disk id 0x1badcafe): vda1 /boot ext2 (bootable),
# lab-description: vda2 / ext3, vda3 extended partition holding the logical partitions vda5 swap, vda6 /home ext3
# lab-description: and vda7 /srv ext2 (mounted read-only). Fixed filesystem UUIDs and labels, swap active.
# lab-expect: sfdisk-vda.dump ^/dev/vda7 : 
# lab-expect: lsblk-ipo.txt vda6 .* ext3 +home
# lab-expect: tune2fs-vda7.txt ^Block size: +2048$
# lab-expect: swapon.txt ^/dev/vda5 
# lab-expect: findmnt.json "options": "ro,
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../guest/scenario-lib.sh
. /lab/scenario-lib.sh

sfdisk --quiet /dev/vda <<'SF'
label: dos
label-id: 0x1badcafe
unit: sectors

/dev/vda1 : start=2048, size=409600, type=83, bootable
/dev/vda2 : start=411648, size=1433600, type=83
/dev/vda3 : start=1845248, size=2349056, type=5
/dev/vda5 : start=1847296, size=409600, type=82
/dev/vda6 : start=2258944, size=614400, type=83
/dev/vda7 : start=2875392, size=1318912, type=83
SF
parts /dev/vda

mkfs.ext2 -q -L boot -U 0b0b0b0b-0000-4000-8000-000000000101 /dev/vda1
mkfs.ext3 -q -L root -U 0f0f0f0f-0000-4000-8000-000000000102 /dev/vda2
mkswap -L swap -U 5a5a5a5a-0000-4000-8000-000000000105 /dev/vda5
mkfs.ext3 -q -L home -U 0e0e0e0e-0000-4000-8000-000000000106 -i 8192 /dev/vda6
mkfs.ext2 -q -L srv -U 05050505-0000-4000-8000-000000000107 -b 2048 /dev/vda7

mount -o relatime /dev/vda2 "$ROOT"
mkdir -p "$ROOT/boot" "$ROOT/home" "$ROOT/srv"
mount -o noatime /dev/vda1 "$ROOT/boot"
mount -o data=journal,nodev /dev/vda6 "$ROOT/home"
mount -o ro,noexec /dev/vda7 "$ROOT/srv"
sys_prepare
sys_run swapon /dev/vda5
