# shellcheck shell=bash
# Common settings and helpers for the lab scripts. Sourced, never run.
#
# REAR_LAB_CACHE  content-keyed inputs that are expensive or may vanish upstream
#                 (kernel .deb and its unpacked tree, built initramfs images).
# REAR_LAB_OUT    per-run work dirs (disks, 9p share) and every serial log, in logs/.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this
LAB_REPO=$(cd "$LAB_DIR/.." && pwd)
REAR_LAB_CACHE=${REAR_LAB_CACHE:-/var/cache/rear-lab}
REAR_LAB_OUT=${REAR_LAB_OUT:-/var/tmp/rear-lab}
export REAR_LAB_CACHE REAR_LAB_OUT

lab_log() { printf '%s lab: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
lab_die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

# lab_need CMD... : fail early, naming the Debian package list to install.
lab_need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 ||
            lab_die "'$c' not found; install the packages in ci/packages/lab.txt (apt-get install \$(cat ci/packages/lab.txt))"
    done
}

# lab_hash FILE... : short content hash of files (and of stdin lines given with -).
lab_hash() { cat "$@" | sha256sum | cut -c1-16; }
