#!/bin/bash
# lab-vm: --blank 2G
# lab-description: One 2 GiB virtio disk, GPT: vda1 BIOS boot (1 MiB), vda2 btrfs (label rootfs, fixed UUID) with
# lab-description: subvolumes @ (the default subvolume, mounted on / with compress=zstd:3), @home (/home),
# lab-description: @var_log (/var/log), @snapshots (/.snapshots) holding a read-only snapshot @snapshots/1 of @,
# lab-description: and a nested subvolume @/srv/nested.
# lab-expect: btrfs-subvolume-list-vda2.txt path <FS_TREE>/@snapshots/1$
# lab-expect: btrfs-get-default-vda2.txt path @$
# lab-expect: btrfs-subvolume-show-home.txt @home
# lab-expect: findmnt.json subvol=/@var_log
# lab-expect: btrfs-filesystem-show.txt rootfs
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../guest/scenario-lib.sh
. /lab/scenario-lib.sh

sfdisk --quiet /dev/vda <<'SF'
label: gpt
label-id: 5B5B5B5B-0000-4000-8000-000000000500
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, uuid=5B5B5B5B-0000-4000-8000-000000000501, name="bios-boot"
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=5B5B5B5B-0000-4000-8000-000000000502, name="rootfs"
SF
parts /dev/vda

mkfs.btrfs -q -L rootfs -U b7f5b7f5-0000-4000-8000-000000000502 /dev/vda2
top=/tmp/btrfs-top
mkdir -p $top
mount -o subvolid=5 /dev/vda2 $top
btrfs -q subvolume create $top/@
btrfs -q subvolume create $top/@home
btrfs -q subvolume create $top/@var_log
btrfs -q subvolume create $top/@snapshots
mkdir -p $top/@/srv
btrfs -q subvolume create $top/@/srv/nested
echo lab >$top/@/marker
btrfs -q subvolume snapshot -r $top/@ $top/@snapshots/1
btrfs subvolume set-default $top/@
umount $top

mount -o compress=zstd:3,noatime /dev/vda2 "$ROOT"
mkdir -p "$ROOT/home" "$ROOT/var/log" "$ROOT/.snapshots"
mount -o subvol=@home,compress=zstd:3,noatime /dev/vda2 "$ROOT/home"
mount -o subvol=@var_log,noatime /dev/vda2 "$ROOT/var/log"
mount -o subvol=@snapshots /dev/vda2 "$ROOT/.snapshots"
sys_prepare
