#!/bin/bash
# lab-vm: --blank 1G --multipath-blank 1G
# lab-description: dm-multipath: one 1 GiB image attached twice on virtio-scsi (LUN 0 and 1, same serial
# lab-description: lab-mpath0 and WWN), seen as sda and sdb and assembled by `multipath` into mpatha
# lab-description: (user_friendly_names, no multipathd). mpatha has a GPT with one partition (mpatha-part1, ext4, /srv).
# lab-description: The system disk vda (1 GiB, GPT) holds / ext4.
set -euo pipefail
. /lab/scenario-lib.sh

sfdisk --quiet /dev/vda <<'SF'
label: gpt
label-id: 8D8D8D8D-0000-4000-8000-000000000800
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=8D8D8D8D-0000-4000-8000-000000000801, name="root"
SF
parts /dev/vda
mkfs.ext4 -q -L root -U 0f0f0f0f-0000-4000-8000-000000000801 /dev/vda1

settle
modprobe dm_multipath
multipath -v2
settle
wait_dev /dev/mapper/mpatha
sfdisk --quiet /dev/mapper/mpatha <<'SF'
label: gpt
label-id: 8D8D8D8D-0000-4000-8000-000000000810
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=8D8D8D8D-0000-4000-8000-000000000811, name="srv"
SF
kpartx -a -p -part /dev/mapper/mpatha
settle
wait_dev /dev/mapper/mpatha-part1
mkfs.ext4 -q -L srv -U 05050505-0000-4000-8000-000000000811 /dev/mapper/mpatha-part1

mount /dev/vda1 "$ROOT"
mkdir -p "$ROOT/srv"
mount /dev/mapper/mpatha-part1 "$ROOT/srv"
sys_prepare
