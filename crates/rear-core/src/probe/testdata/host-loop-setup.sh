set -ex
cd /tmp/lay
rm -f gpt.img mbr.img
truncate -s 800M gpt.img; truncate -s 300M mbr.img
A=$(losetup -f --show gpt.img); echo $A > A
sfdisk -q $A <<S
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="bios boot"
size=64MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI System"
size=200MiB, type=0FC63DAF-8483-4772-8E79-3D69E4773D00, name="root fs"
size=320MiB, type=0FC63DAF-8483-4772-8E79-3D69E4773D00
size=130MiB, type=0FC63DAF-8483-4772-8E79-3D69E4773D00
type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap
S
B=$(losetup -f --show mbr.img); echo $B > B
sfdisk -q $B <<S
label: dos
${B}p1 : size=100MiB, type=83, bootable
${B}p2 : type=5
${B}p5 : size=60MiB, type=83
${B}p6 : type=82
S
partx -u $A || partx -a $A; partx -u $B || partx -a $B; sleep 1
mkfs.vfat -F 32 -n EFI -i 1234ABCD ${A}p2
mkfs.ext4 -q -L rootfs -b 4096 -I 256 ${A}p3
mkfs.xfs -q -f -L data ${A}p4
mkfs.btrfs -q -f -L pool ${A}p5
mkswap -L swp ${A}p6
mkfs.ext3 -q -L boot ${B}p1
mkfs.ext2 -q ${B}p5
mkswap ${B}p6
mkdir -p /mnt/laytest/root /mnt/laytest/data /mnt/laytest/btr /mnt/laytest/home /mnt/laytest/boot /mnt/laytest/old
mount ${A}p3 /mnt/laytest/root
mount ${A}p4 /mnt/laytest/data
mount ${A}p5 /mnt/laytest/btr
btrfs subvolume create /mnt/laytest/btr/@home
btrfs subvolume create /mnt/laytest/btr/@snap
btrfs subvolume create /mnt/laytest/btr/@home/nested
mount -o subvol=@home ${A}p5 /mnt/laytest/home
mount ${B}p1 /mnt/laytest/boot
mount ${B}p5 /mnt/laytest/old
swapon ${A}p6 || true
