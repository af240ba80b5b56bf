#!/bin/bash
# lab-vm: --blank 1G --blank 1G
# lab-description: Two 1 GiB virtio disks. vda: GPT with /boot ext4 (256 MiB) and an LVM PV partition (rest);
# lab-description: vdb: a whole-disk PV (no partition table). VG vg0 (4 MiB extents) on both:
# lab-description: root (linear, 400 MiB, ext4, /), data (striped over 2 PVs, stripe size 64 KiB, 320 MiB, xfs, /srv),
# lab-description: swap (linear, 64 MiB, active), pool (thin pool 256 MiB, chunk 128 KiB, metadata 8 MiB) with
# lab-description: thin volumes home (1 GiB virtual, ext4, /home) and scratch (512 MiB virtual, ext4, not mounted).
# lab-expect: lvm-fullreport.json "lv_name":"scratch"
# lab-expect: lvs.json "lv_layout":"thin,pool"
# lab-expect: lvs-segments.json "stripes":"2", "stripe_size":"65536"
# lab-expect: vgcfgbackup-vg0.txt ^vg0 \{
# lab-expect: xfs_info-vg0-data.txt sunit
# lab-expect: tune2fs-vg0-home.txt ^Filesystem volume name: +home$
# lab-expect: swapon.txt vg0-swap|dm-
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../guest/scenario-lib.sh
. /lab/scenario-lib.sh

sfdisk --quiet /dev/vda <<'SF'
label: gpt
label-id: 1B1B1B1B-0000-4000-8000-000000000200
size=256MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=1B1B1B1B-0000-4000-8000-000000000201, name="boot"
type=E6D6D379-F507-44C2-A23C-238F2A3DF928, uuid=1B1B1B1B-0000-4000-8000-000000000202, name="lvm"
SF
parts /dev/vda

pvcreate -q /dev/vda2 /dev/vdb
vgcreate -q -s 4M vg0 /dev/vda2 /dev/vdb
lvcreate -q -y -n root -L 400M vg0 /dev/vda2
lvcreate -q -y -n data -i 2 -I 64k -L 320M vg0
lvcreate -q -y -n swap -L 64M vg0
lvcreate -q -y --type thin-pool -n pool -L 256M --chunksize 128k --poolmetadatasize 8M vg0
lvcreate -q -y --type thin -n home -V 1G --thinpool pool vg0
lvcreate -q -y --type thin -n scratch -V 512M --thinpool pool vg0
settle

mkfs.ext4 -q -L boot -U 0b0b0b0b-0000-4000-8000-000000000201 /dev/vda1
mkfs.ext4 -q -L root -U 0f0f0f0f-0000-4000-8000-000000000203 /dev/vg0/root
mkfs.xfs -q -L data -m uuid=da7ada7a-0000-4000-8000-000000000204 /dev/vg0/data
mkswap -L swap -U 5a5a5a5a-0000-4000-8000-000000000205 /dev/vg0/swap
mkfs.ext4 -q -L home -U 0e0e0e0e-0000-4000-8000-000000000206 /dev/vg0/home
mkfs.ext4 -q -L scratch -U 5c5c5c5c-0000-4000-8000-000000000207 /dev/vg0/scratch

mount /dev/mapper/vg0-root "$ROOT"
mkdir -p "$ROOT/boot" "$ROOT/srv" "$ROOT/home"
mount /dev/vda1 "$ROOT/boot"
mount -o noatime,logbsize=64k /dev/mapper/vg0-data "$ROOT/srv"
mount -o discard /dev/mapper/vg0-home "$ROOT/home"
sys_prepare
sys_run swapon /dev/mapper/vg0-swap
