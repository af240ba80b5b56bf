# Source machine (d): BIOS, one 3 GiB disk, GPT: BIOS boot partition, /boot (ext4), and a LUKS2
# partition (pbkdf2: argon2id is too slow and memory-hungry under TCG) holding the LVM PV of VG
# vgcrypt: root (ext4, /) and swap. The initramfs unlocks it with a key file (/etc/keys/root.key,
# whose content is the passphrase, so that it also opens the header the recovery makes with
# that passphrase), so the machine boots unattended.
SRC_HOSTNAME=src-bios-luks2-lvm
SRC_FIRMWARE=bios
SRC_DISKS=(3G)
SRC_BOOT_DISKS=(/dev/vda)
LUKS_PASSPHRASE=lab-passphrase

src_storage() {
    sfdisk --quiet /dev/vda <<'SF'
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="bios_grub"
size=384MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="boot"
type=CA7D7CCB-63ED-4C53-861C-1742536059CC, name="crypt"
SF
    settle
    printf '%s' "$LUKS_PASSPHRASE" >/tmp/root.key
    cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
        --label cryptsys --key-file /tmp/root.key /dev/vda3
    cryptsetup open --key-file /tmp/root.key /dev/vda3 vda3_crypt
    settle
    pvcreate -q /dev/mapper/vda3_crypt
    vgcreate -q vgcrypt /dev/mapper/vda3_crypt
    lvcreate -q -y -n root -L 2G vgcrypt
    lvcreate -q -y -n swap -L 200M vgcrypt
    settle
    mkfs.ext4 -q -L boot /dev/vda2
    mkfs.ext4 -q -L root /dev/vgcrypt/root
    mkswap -L swap /dev/vgcrypt/swap >/dev/null
    SRC_SWAP+=(/dev/mapper/vgcrypt-swap)
    SRC_CRYPTTAB+=("vda3_crypt UUID=$(blkid -s UUID -o value /dev/vda3) /etc/keys/root.key luks,discard,key-slot=0")
    mount /dev/mapper/vgcrypt-root "$ROOT"
    mkdir -p "$ROOT/boot"
    mount /dev/vda2 "$ROOT/boot"
}

src_configure() {
    # (the lab guest's busybox has no install(1))
    mkdir -p "$ROOT/etc/keys"
    chmod 0700 "$ROOT/etc/keys"
    cp /tmp/root.key "$ROOT/etc/keys/root.key"
    chmod 0400 "$ROOT/etc/keys/root.key"
    # cryptsetup-initramfs copies key files matching this into the initramfs (mode 0600).
    echo 'KEYFILE_PATTERN="/etc/keys/*.key"' >>"$ROOT/etc/cryptsetup-initramfs/conf-hook"
    echo 'UMASK=0077' >"$ROOT/etc/initramfs-tools/conf.d/umask"
}

# --- recovery (lab/recover.sh; not part of the build key) ---
# rear recover asks for the LUKS passphrase; the pre-answer gives it.
REC_CONF="USER_INPUT_LUKS_PASSPHRASE_vda3_crypt=$LUKS_PASSPHRASE"
