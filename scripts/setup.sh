#!/bin/bash
# Sets up a fresh Debian 12 machine for building and testing rear-rs: installs every apt
# package listed in ci/packages/*.txt and checks the Rust toolchain. Run as root. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: run as root (it installs packages with apt-get)" >&2
    exit 2
fi

mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' ci/packages/*.txt | grep -v '^$' | sort -u)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Services the tests start themselves, with their own configuration: install them without
    # setting up a system-wide instance.
    debconf-set-selections <<'SEL'
postfix postfix/main_mailer_type select No configuration
slapd slapd/no_configuration boolean true
SEL
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null; then
    echo "setup.sh: no cargo found: install Rust 1.95 or newer (rustup), then run again" >&2
    exit 2
fi
rustc_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "$rustc_minor" -lt 95 ]; then
    echo "setup.sh: rustc $(rustc --version) is too old: rear-rs needs Rust 1.95 or newer" >&2
    exit 2
fi
# --- s3: the S3 server that svc_images_on_s3 (crates/rear-server/tests/server/s3.rs) runs against.
# Debian 12 has no small S3 server, so s3s-fs (an S3 server over a directory) is built from
# crates.io once into a fixed tools directory; later runs find the binary and skip this (about
# 3 minutes of CPU the first time).
s3s_fs_version=0.14.1
s3s_fs_root=/var/cache/rear-rs/tools
if ! "$s3s_fs_root/bin/s3s-fs" --version 2>/dev/null | grep -qF " $s3s_fs_version"; then
    echo "setup.sh: installing s3s-fs $s3s_fs_version into $s3s_fs_root"
    cargo install s3s-fs --version "$s3s_fs_version" --features binary --locked --quiet \
        --root "$s3s_fs_root"
fi

echo "setup.sh: ready ($(rustc --version), ${#packages[@]} packages checked)"
