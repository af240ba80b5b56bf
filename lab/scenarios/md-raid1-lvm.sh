#!/bin/bash
# lab-vm: --blank 1G --blank 1G
# lab-description: Two 1 GiB virtio disks, each GPT with two "Linux RAID" partitions. md0 = RAID1 of vda1+vdb1
# lab-description: (metadata 1.0, name lab:boot, 256 MiB) with /boot ext4; md1 = RAID1 of vda2+vdb2 (metadata 1.2,
# lab-description: name lab:system, bitmap internal) as the LVM PV of VG vgraid: root (500 MiB ext4, /) and swap (64 MiB).
# lab-description: Arrays made with --assume-clean (no resync under TCG); fixed md UUIDs.
# lab-expect: mdadm-detail-export-md0.txt ^MD_METADATA=1.0$
# lab-expect: mdadm-detail-export-md1.txt ^MD_LEVEL=raid1$
# lab-expect: mdadm-examine-export-vdb2.txt ^MD_UUID=
# lab-expect: mdadm-detail-md1.txt Intent Bitmap
# lab-expect: vgcfgbackup-vgraid.txt md1
# lab-expect: tune2fs-md0.txt 0b0b0b0b
# lab-expect: lsblk-ipo.txt raid1
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../guest/scenario-lib.sh
. /lab/scenario-lib.sh

for d in vda vdb; do
    n=$([[ $d == vda ]] && echo 1 || echo 2)
    sfdisk --quiet /dev/$d <<SF
label: gpt
label-id: 3D3D3D3D-0000-4000-8000-00000000030$n
size=256MiB, type=A19D880F-05FC-4D3B-A006-743F0F84911E, uuid=3D3D3D3D-0000-4000-8000-0000000003${n}1, name="raid-boot"
type=A19D880F-05FC-4D3B-A006-743F0F84911E, uuid=3D3D3D3D-0000-4000-8000-0000000003${n}2, name="raid-system"
SF
    parts /dev/$d
done

mdadm --create /dev/md0 --run --level=1 --raid-devices=2 --metadata=1.0 --assume-clean \
    --homehost=lab --name=boot --uuid=3d3d3d3d:00000000:00000000:00000301 /dev/vda1 /dev/vdb1
mdadm --create /dev/md1 --run --level=1 --raid-devices=2 --metadata=1.2 --assume-clean --bitmap=internal \
    --homehost=lab --name=system --uuid=3d3d3d3d:00000000:00000000:00000302 /dev/vda2 /dev/vdb2
settle

pvcreate -q /dev/md1
vgcreate -q vgraid /dev/md1
lvcreate -q -y -n root -L 500M vgraid
lvcreate -q -y -n swap -L 64M vgraid
settle

mkfs.ext4 -q -L boot -U 0b0b0b0b-0000-4000-8000-000000000301 /dev/md0
mkfs.ext4 -q -L root -U 0f0f0f0f-0000-4000-8000-000000000302 /dev/vgraid/root
mkswap -L swap -U 5a5a5a5a-0000-4000-8000-000000000303 /dev/vgraid/swap

mount /dev/mapper/vgraid-root "$ROOT"
mkdir -p "$ROOT/boot"
mount /dev/md0 "$ROOT/boot"
sys_prepare
sys_run swapon /dev/mapper/vgraid-swap
