#!/bin/bash
# Sets up a fresh Debian 12 machine and runs rear's main job, `rear mkbackup`, on the embedded
# default configuration (etc/demo/local.conf; nothing to edit): it captures the disk layout and
# the inventory, builds a bootable rescue ISO, backs up /etc, checks the layout again, and
# restores the backup into a scratch directory to show it is complete. Everything goes to
# /var/lib/rear-demo. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p rear
rear=$PWD/target/release/rear
demo=/var/lib/rear-demo
mkdir -p "$demo"
conf=(-c "$PWD/etc/demo")

# The rescue system boots the running kernel. Machines without its image in /boot (containers,
# some VMs) use Debian's kernel package instead, unpacked into a cache.
if [ ! -e "/boot/vmlinuz-$(uname -r)" ]; then
    cache=/var/cache/rear-lab/rescue-kernel
    if ! ls "$cache"/root/boot/vmlinuz-* >/dev/null 2>&1; then
        echo "== no /boot/vmlinuz-$(uname -r): fetching Debian's kernel package into $cache"
        mkdir -p "$cache"
        (cd "$cache" && pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}') &&
            apt-get download -q "$pkg" && dpkg -x "${pkg}"_*.deb root)
    fi
    image=$(ls "$cache"/root/boot/vmlinuz-* | head -1)
    version=${image##*/vmlinuz-}
    [ -e "$cache/root/lib/modules/$version/modules.dep" ] || depmod -b "$cache/root" "$version"
    echo "KERNEL_FILE=$image" >"$demo/kernel.conf"
    conf+=(-C "$demo/kernel.conf")
fi

echo "== rear -V"; "$rear" -V
echo "== rear dump"; "$rear" "${conf[@]}" dump
echo "== rear validate"; "$rear" "${conf[@]}" -v validate
echo "== rear mkbackup (the main job)"; "$rear" "${conf[@]}" -v mkbackup
echo "== rear checklayout (0: the layout did not change since mkbackup)"
"$rear" "${conf[@]}" checklayout && echo "checklayout: unchanged"
echo "== rear restoreonly into $demo/restored"
rm -rf "$demo/restored"
"$rear" "${conf[@]}" -v restoreonly --target "$demo/restored"
if diff -r --no-dereference /etc "$demo/restored/etc" >/dev/null; then echo "restored /etc is identical to /etc"; else echo "restored /etc differs from /etc (files changed during the run?)"; fi
echo "== results"
ls -l "$demo/output" "$demo/backup/$(hostname -s)"
