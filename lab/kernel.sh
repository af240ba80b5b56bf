#!/bin/bash
# Fetch and unpack the guest kernel: a Debian 6.1 amd64 kernel .deb, cached by package
# and version under $REAR_LAB_CACHE/kernel/, because old ABIs vanish from the archive.
#
# Usage: lab/kernel.sh            prints the unpacked kernel directory on stdout
# Env:   REAR_LAB_KERNEL=linux-image-6.1.0-NN-amd64   use this package instead of the newest
#
# The directory holds root/ (dpkg -x of the .deb, with modules.dep made by depmod -b),
# vmlinuz (a link into root/boot), KVER (the module directory name) and PACKAGE
# (package name, version and the .deb's sha256).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
lab_need dpkg-deb depmod sha256sum

pick_package() {
    if [[ -n ${REAR_LAB_KERNEL:-} ]]; then
        echo "$REAR_LAB_KERNEL"
        return
    fi
    local newest
    newest=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
        awk '{print $1}' | sort -V | tail -n1) || true
    if [[ -z $newest ]]; then
        # Offline or no apt lists: fall back to the newest kernel already in the cache.
        newest=$(find "$REAR_LAB_CACHE/kernel" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null |
            sed 's/_.*//' | sort -V | tail -n1) || true
    fi
    [[ -n $newest ]] || lab_die "no linux-image-6.1.0-*-amd64 in apt (run apt-get update) nor in $REAR_LAB_CACHE/kernel"
    echo "$newest"
}

pkg=$(pick_package)
version=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}') || true
if [[ -z $version || $version == "(none)" ]]; then
    cached=$(find "$REAR_LAB_CACHE/kernel" -mindepth 1 -maxdepth 1 -type d -name "${pkg}_*" -printf '%f\n' 2>/dev/null | sort -V | tail -n1) || true
    [[ -n $cached ]] || lab_die "$pkg is neither in apt nor in $REAR_LAB_CACHE/kernel"
    version=${cached#"${pkg}"_}
fi

dir="$REAR_LAB_CACHE/kernel/${pkg}_${version}"
if [[ ! -f $dir/PACKAGE ]]; then
    lab_log "fetching $pkg $version into $dir"
    tmp="$dir.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$version" >&2)
    deb=$(echo "$tmp"/*.deb)
    [[ -f $deb ]] || lab_die "apt-get download $pkg=$version produced no .deb"
    dpkg-deb -x "$deb" "$tmp/root"
    kver=$(find "$tmp/root/lib/modules" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | head -n1)
    [[ -n $kver && -f $tmp/root/boot/vmlinuz-$kver ]] || lab_die "$deb has no boot/vmlinuz and modules"
    # The .deb ships no modules.dep: make it once, so modprobe -d can resolve dependencies.
    depmod -b "$tmp/root" "$kver"
    echo "$kver" >"$tmp/KVER"
    ln -s "root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
    printf '%s %s sha256:%s\n' "$pkg" "$version" "$(sha256sum "$deb" | cut -d' ' -f1)" >"$tmp/PACKAGE"
    rm -rf "$dir"
    mv "$tmp" "$dir"
fi
echo "$dir"
