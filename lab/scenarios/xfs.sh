#!/bin/bash
# lab-vm: --blank 2G
# lab-description: One 2 GiB virtio disk, GPT: vda1 BIOS boot (1 MiB), vda2 / xfs (1 GiB, mkfs.xfs defaults:
# lab-description: crc, reflink, finobt), vda3 /data xfs (rest) with non-default geometry: agcount 2, stripe unit
# lab-description: 64 KiB x 2, 64 MiB internal log, maxpct 10, bigtime off. Fixed UUIDs and labels.
set -euo pipefail
. /lab/scenario-lib.sh

sfdisk --quiet /dev/vda <<'SF'
label: gpt
label-id: 6C6C6C6C-0000-4000-8000-000000000600
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, uuid=6C6C6C6C-0000-4000-8000-000000000601, name="bios-boot"
size=1GiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=6C6C6C6C-0000-4000-8000-000000000602, name="root"
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=6C6C6C6C-0000-4000-8000-000000000603, name="data"
SF
parts /dev/vda

mkfs.xfs -q -L root -m uuid=0f0f0f0f-0000-4000-8000-000000000602 /dev/vda2
mkfs.xfs -q -L data -m uuid=da7ada7a-0000-4000-8000-000000000603,bigtime=0 -d agcount=2,su=64k,sw=2 \
    -l size=64m -i maxpct=10 /dev/vda3

mount /dev/vda2 "$ROOT"
mkdir -p "$ROOT/data"
mount -o noatime,inode64,logbufs=8 /dev/vda3 "$ROOT/data"
sys_prepare
