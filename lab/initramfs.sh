#!/bin/bash
# Build the guest initramfs: busybox-static, the host's real storage tools (lab/guest/tools)
# with their ldd libraries, the kernel modules in lab/guest/modules with their dependencies,
# and lab/guest/init as PID 1. Cached in $REAR_LAB_CACHE/initramfs/<key>.img, where the key
# hashes every input file (scripts, lists, binaries, libraries, modules, the kernel package).
#
# Usage: lab/initramfs.sh      prints the initramfs path on stdout (builds it when missing)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_need busybox cpio zstd ldd depmod modprobe sha256sum
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

kdir=$("$LAB_DIR/kernel.sh")
kver=$(cat "$kdir/KVER")
kroot=$kdir/root
guest=$LAB_DIR/guest

# /sbin/x and /usr/sbin/x are the same file on a merged-/usr host: store everything under /usr.
norm() { echo "$(readlink -f "$(dirname "$1")")/$(basename "$1")"; }

declare -A files=() links=()
add_file() { # add_file PATH: the file (following symlinks), and the symlink chain as links
    local p
    p=$(norm "$1")
    while [[ -L $p ]]; do
        links[$p]=$(readlink "$p")
        p=$(norm "$(cd "$(dirname "$p")" && readlink -f "$(readlink "$p")")")
    done
    files[$p]=1
}

# Programs and the LVM command links (pvs, lvcreate, vgcfgbackup ... -> lvm).
while read -r t; do
    [[ -z $t || $t == \#* ]] && continue
    optional=0
    [[ $t == *\? ]] && optional=1 t=${t%\?}
    if [[ $t == /* ]]; then
        # An absolute path or glob: files that are not programs (plugins, helpers).
        found=0
        for p in $t; do
            [[ -e $p ]] && add_file "$p" && found=1
        done
        ((found || optional)) || lab_die "$t not found on the host"
    elif p=$(command -v "$t"); then
        add_file "$p"
    elif ((optional)); then
        lab_log "optional tool $t not on the host, skipped"
    else
        lab_die "tool $t not found on the host; install the packages in ci/packages/lab.txt"
    fi
done <"$guest/tools"
for p in /usr/sbin/*; do
    [[ -L $p && $(readlink "$p") == lvm ]] && add_file "$p"
done
for p in mkfs.ext2 mkfs.ext3 mkfs.ext4 mkfs.vfat mkdosfs fsck.vfat xfs_info; do
    command -v "$p" >/dev/null && add_file "$(command -v "$p")"
done

# Shared libraries of every ELF program, and libgcc_s (glibc dlopens it for pthread_cancel).
libs=()
for f in "${!files[@]}"; do
    head -c4 "$f" | grep -q ELF || continue
    while read -r l; do libs+=("$l"); done < <(ldd "$f" 2>/dev/null | awk '/=> \// {print $3} /^\t\/lib/ {print $1}')
done
libs+=("$(ldconfig -p | awk '/libgcc_s.so.1 .*x86-64/ {print $NF; exit}')")
for l in "${libs[@]}"; do add_file "$l"; done

# Kernel modules with their dependencies, resolved against the unpacked kernel (no host config).
declare -A mods=()
while read -r m; do
    [[ -z $m || $m == \#* ]] && continue
    while read -r kind path _; do
        [[ $kind == insmod ]] && mods[${path#"$kroot"/}]=1
    done < <(modprobe -C /nonexistent -d "$kroot" -S "$kver" --show-depends "$m" ||
        lab_die "module $m not in kernel $kver")
done <"$guest/modules"

rules=()
while read -r r; do
    [[ -z $r || $r == \#* ]] && continue
    [[ -f /usr/lib/udev/rules.d/$r ]] || lab_die "udev rule $r missing on the host"
    rules+=("/usr/lib/udev/rules.d/$r")
done <"$guest/udev-rules"

key=$({
    # Contents only (not the names of the scripts, which depend on how they were called).
    sha256sum "$LAB_DIR/initramfs.sh" "$LAB_DIR/lib.sh" "$guest"/* "$kdir/PACKAGE" "$(command -v busybox)" /etc/mke2fs.conf "${rules[@]}" | cut -d' ' -f1
    printf '%s\n' "${!files[@]}" | sort | xargs sha256sum
    for l in "${!links[@]}"; do echo "$l -> ${links[$l]}"; done | sort
    printf '%s\n' "${!mods[@]}" | sort
} | sha256sum | cut -c1-16)
out=$REAR_LAB_CACHE/initramfs/$kver-$key.img
if [[ -f $out ]]; then
    echo "$out"
    exit 0
fi

lab_log "building initramfs $out"
stage=$(mktemp -d "${TMPDIR:-/tmp}/rear-lab-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/usr/{bin,sbin,lib,lib64} "$stage"/{dev,proc,sys,run,tmp,lab,root,etc/lvm,etc/mdadm,mnt,var}
ln -s usr/bin "$stage/bin"
ln -s usr/sbin "$stage/sbin"
ln -s usr/lib "$stage/lib"
ln -s usr/lib64 "$stage/lib64"
ln -s ../run "$stage/var/run"
ln -s ../run/lock "$stage/var/lock"

for f in "${!files[@]}"; do
    mkdir -p "$stage$(dirname "$f")"
    cp -p "$f" "$stage$f"
done
for l in "${!links[@]}"; do
    mkdir -p "$stage$(dirname "$l")"
    ln -sfn "${links[$l]}" "$stage$l"
done
for m in "${!mods[@]}"; do
    mkdir -p "$stage/$(dirname "$m")"
    cp -p "$kroot/$m" "$stage/$m"
done
cp -p "$kroot/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$stage/lib/modules/$kver/"
depmod -b "$stage" "$kver"

# busybox for everything else (sh, mount helpers, poweroff ...), never shadowing a real tool.
cp -p "$(command -v busybox)" "$stage/usr/bin/busybox"
while read -r a; do
    a=/usr/${a#usr/}
    a=${a/#\/usr\/\//\/usr\/}
    [[ -e $stage$a || -L $stage$a ]] || ln -s /usr/bin/busybox "$stage$a"
done < <("$stage/usr/bin/busybox" --list-full)

mkdir -p "$stage/usr/lib/udev/rules.d" "$stage/etc/udev"
cp -p "${rules[@]}" "$stage/usr/lib/udev/rules.d/"
install -m 0755 "$guest/init" "$stage/init"
install -m 0644 "$guest/lvm.conf" "$stage/etc/lvm/lvm.conf"
install -m 0644 "$guest/multipath.conf" "$stage/etc/multipath.conf"
grep -v '^#' "$guest/modules" >"$stage/etc/lab-modules"
cp -p /etc/mke2fs.conf /etc/os-release /etc/debian_version "$stage/etc/"
printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$stage/etc/passwd"
printf 'root:x:0:\ndisk:x:6:\nnogroup:x:65534:\n' >"$stage/etc/group"
ln -s /proc/self/mounts "$stage/etc/mtab"
touch "$stage/etc/fstab"

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | zstd -q -T0 -6 >"$out.tmp"
mv "$out.tmp" "$out"
lab_log "initramfs $(du -h "$out" | cut -f1) for kernel $kver"
echo "$out"
