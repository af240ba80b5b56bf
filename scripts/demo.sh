#!/bin/bash
# Sets up a fresh Debian 12 machine and runs rear's main job on the embedded default
# configuration (etc/demo/local.conf): no configuration to edit. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --locked -p rear
rear=target/release/rear
conf=(-c "$PWD/etc/demo")
mkdir -p /var/lib/rear-demo

echo "== rear -V"; "$rear" -V
echo "== rear dump";  "$rear" "${conf[@]}" dump
echo "== rear validate"; "$rear" "${conf[@]}" -v validate
echo "== rear -s mkbackup (the steps the main job runs)"; "$rear" "${conf[@]}" -s mkbackup
