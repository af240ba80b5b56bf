#!/bin/bash
# Rescue image benchmark: rear-rs (rear-core, release build) against ReaR 2.7 `rear mkrescue`,
# same kernel (the cached Debian linux-image package), same machine, same run, OUTPUT=ISO.
#
# ReaR runs in a private mount namespace so that it neither overwrites the host's /var/lib/rear
# and /var/log/rear nor needs the kernel's modules installed: the cached modules are bind-mounted
# on /lib/modules/VERSION (an empty directory created for the run and removed afterwards).
# Results go to bench/rescue/results/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kroot=${KERNEL_ROOT:-/var/cache/rear-lab/rescue-kernel/root}
kver=${KERNEL_VERSION:-$(ls "$kroot/boot" | sed -n 's/^vmlinuz-//p' | head -1)}
out=$here/results
rm -rf "$out"; mkdir -p "$out"
[ -f "$kroot/lib/modules/$kver/modules.dep" ] || depmod -b "$kroot" "$kver"

(cd "$here" && cargo build --release -q)

echo "== rear-rs"
/usr/bin/time -f "wall %e s" "$here/target/release/rescue-bench" "$kroot" "$kver" "$out/ours" 2>&1 | tee "$out/ours.txt"

echo "== ReaR $(rear -V | awk '{print $2}')"
cfg=$out/rear-config; mkdir -p "$cfg" "$out/rear-iso"
cat > "$cfg/local.conf" <<CONF
OUTPUT=ISO
ISO_DIR=$out/rear-iso
KERNEL_FILE=$kroot/boot/vmlinuz-$kver
KERNEL_VERSION=$kver
BOOTLOADER=GRUB2
CONF
created=""; created_top=""
[ -e /lib/modules ] || created_top=1
if [ ! -e "/lib/modules/$kver" ]; then mkdir -p "/lib/modules/$kver"; created=1; fi
set +e
unshare -m bash -c "
  mount --bind '$kroot/lib/modules/$kver' '/lib/modules/$kver'
  mkdir -p /var/lib/rear /var/log/rear
  mount -t tmpfs tmpfs /var/lib/rear; mount -t tmpfs tmpfs /var/log/rear
  start=\$(date +%s.%N)
  rear -c '$cfg' mkrescue; rc=\$?
  end=\$(date +%s.%N)
  cp /var/log/rear/*.log '$out/' 2>/dev/null
  echo \"RESULT rc=\$rc total_s=\$(echo \"\$end - \$start\" | bc)\"
" 2>&1 | tee "$out/rear.txt"
set -e
[ -z "$created" ] || rmdir "/lib/modules/$kver"
[ -z "$created_top" ] || rmdir /lib/modules
iso=$(ls "$out"/rear-iso/*.iso 2>/dev/null | head -1)
initrd=$(grep -o 'Created initrd[^(]*([0-9]* bytes)' "$out"/rear-*.log 2>/dev/null | tail -1 || true)
echo "ReaR ISO: $iso $(stat -c %s "$iso" 2>/dev/null) bytes; $initrd"
