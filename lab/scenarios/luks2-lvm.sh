#!/bin/bash
# lab-vm: --blank 2G
# lab-description: One 2 GiB virtio disk, GPT: vda1 /boot ext4 (256 MiB), vda2 LUKS2 (aes-xts-plain64, 512-bit key,
# lab-description: pbkdf2 with 1000 iterations so TCG stays fast, label cryptlvm, fixed UUID) opened as vda2_crypt,
# lab-description: the LVM PV of VG vgcrypt: root (600 MiB ext4, /), swap (128 MiB, active), home (320 MiB xfs, /home).
# lab-description: The passphrase is "lab-passphrase".
# lab-expect: luksdump-vda2.txt ^Version:[[:space:]]+2$
# lab-expect: luksdump-vda2.json "keyslots"
# lab-expect: cryptsetup-status-vda2_crypt.txt LUKS2
# lab-expect: lvm-fullreport.json vgcrypt
# lab-expect: xfs_info-vgcrypt-home.txt isize
# lab-expect: lsblk-ipo.txt crypt +LVM2_member
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../guest/scenario-lib.sh
. /lab/scenario-lib.sh

sfdisk --quiet /dev/vda <<'SF'
label: gpt
label-id: 4C4C4C4C-0000-4000-8000-000000000400
size=256MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=4C4C4C4C-0000-4000-8000-000000000401, name="boot"
type=CA7D7CCB-63ED-4C53-861C-1742536059CC, uuid=4C4C4C4C-0000-4000-8000-000000000402, name="crypt"
SF
parts /dev/vda

printf '%s' lab-passphrase >/tmp/key
cryptsetup luksFormat --batch-mode --type luks2 --cipher aes-xts-plain64 --key-size 512 --hash sha256 \
    --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --uuid 4c4c4c4c-0000-4000-8000-000000000402 \
    --label cryptlvm --key-file /tmp/key /dev/vda2
cryptsetup open --key-file /tmp/key /dev/vda2 vda2_crypt
settle

pvcreate -q /dev/mapper/vda2_crypt
vgcreate -q vgcrypt /dev/mapper/vda2_crypt
lvcreate -q -y -n root -L 600M vgcrypt
lvcreate -q -y -n swap -L 128M vgcrypt
lvcreate -q -y -n home -L 320M vgcrypt
settle

mkfs.ext4 -q -L boot -U 0b0b0b0b-0000-4000-8000-000000000401 /dev/vda1
mkfs.ext4 -q -L root -U 0f0f0f0f-0000-4000-8000-000000000403 /dev/vgcrypt/root
mkswap -L swap -U 5a5a5a5a-0000-4000-8000-000000000404 /dev/vgcrypt/swap
mkfs.xfs -q -L home -m uuid=0e0e0e0e-0000-4000-8000-000000000405 /dev/vgcrypt/home

mount /dev/mapper/vgcrypt-root "$ROOT"
mkdir -p "$ROOT/boot" "$ROOT/home"
mount /dev/vda1 "$ROOT/boot"
mount -o noatime /dev/mapper/vgcrypt-home "$ROOT/home"
sys_prepare
sys_run swapon /dev/mapper/vgcrypt-swap
