#!/bin/bash
# Restore-only benchmark: ReaR 2.7's restore command line against rear-rs's restore, side by
# side, several rounds in alternating order (the machine is shared; the faster round counts and
# the median is printed too). Uses the data set of bench/backup/run.sh (made by it with
# KEEP_DATA=1) and makes the two archives once, keeping them for later runs.
#
# Every run restores into a freshly made ext4 filesystem (an 8 GiB sparse image on a loop device,
# inode tables initialised at mkfs so no lazy-init thread runs during the measurement), as `rear
# recover` does after recreating the layout, with the page cache dropped and the archive read back
# into it first. Restoring into a directory of a filesystem where the previous round's 58 000 files
# were just deleted measures ext4's search for inodes that were not recently freed
# (`recently_deleted`, a quarter of all CPU samples in a profile), which a recovery never meets,
# and made later rounds 2-10 times slower than the first for both programs. Needs root.
#
# Usage: bench/backup/restore.sh [WORKDIR] [ROUNDS]   (default /var/tmp/rear-bench, 3 rounds)
# Env:   REBUILD_ARCHIVES=1 makes the archives again.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${1:-/var/tmp/rear-bench}
rounds=${2:-3}
data=$work/data
arch=$work/restore-archives
results=$work/results-restore
[ -d "$data" ] || { echo "no data set in $data: run KEEP_DATA=1 bench/backup/run.sh first" >&2; exit 1; }
mkdir -p "$arch" "$results"

echo "== building the driver (release)" >&2
CARGO_TARGET_DIR=$repo/target/bench cargo build --release --quiet --manifest-path "$here/driver/Cargo.toml"
driver=$repo/target/bench/release/backup-bench

if [ -n "${REBUILD_ARCHIVES:-}" ] || [ ! -f "$arch/backup.tar.gz" ] || [ ! -d "$arch/ours" ]; then
    echo "== making the archives (ReaR's tar --gzip, rear-rs zstd -3)" >&2
    rm -rf "${arch:?}"/*
    (cd / && tar --warning=no-xdev --sparse --one-file-system --ignore-failed-read --anchored --gzip \
        -C "$data" -c -f - . | dd of="$arch/backup.tar.gz" bs=1M 2>/dev/null)
    "$driver" backup "$data" "$arch/ours" zstd 3 >/dev/null
fi

[ "$(id -u)" = 0 ] || { echo "needs root (loop devices for the fresh filesystems)" >&2; exit 1; }
declare -A loopdev=()
fresh_fs() { # fresh_fs NAME: a new, empty ext4 mounted at $work/mnt-NAME
    local name=$1 img=$work/fs-$1.img mnt=$work/mnt-$1
    drop_fs "$name"
    truncate -s 8G "$img"
    mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$img"
    loopdev[$name]=$(losetup -f --show "$img")
    mkdir -p "$mnt"
    mount "${loopdev[$name]}" "$mnt"
}
drop_fs() {
    local name=$1
    if [ -n "${loopdev[$name]:-}" ]; then
        umount "$work/mnt-$name"
        losetup -d "${loopdev[$name]}"
        loopdev[$name]=
    fi
    rm -f "$work/fs-$name.img"
}
trap 'drop_fs rear; drop_fs ours' EXIT
cold_start() { # cold_start FILE...: empty page cache, then FILE... read into it
    sync
    echo 3 >/proc/sys/vm/drop_caches
    cat "$@" >/dev/null
}

measure() { # measure NAME COMMAND...: appends "name wall cpu rss_kib" to $results/times
    local name=$1
    shift
    sync
    /usr/bin/time -f '%e %U %S %M' -o "$results/$name.time" "$@" >"$results/$name.out" 2>"$results/$name.err"
    read -r wall user sys rss <"$results/$name.time"
    echo "$name $wall $(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}') $rss" >>"$results/times"
    echo "$name wall ${wall}s cpu $(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')s" >&2
}
rear_restore() {
    fresh_fs rear
    cold_start "$arch/backup.tar.gz"
    measure "rear-restore-$1" bash -c "dd if='$arch/backup.tar.gz' bs=1M 2>/dev/null | tar --block-number \
        --totals --verbose --anchored --gzip -C '$work/mnt-rear/' -x -f - >'$results/rear-restore.log' 2>&1"
}
ours_restore() {
    fresh_fs ours
    cold_start "$arch"/ours/*/*
    measure "ours-restore-$1" "$driver" restore "$arch/ours" "$work/mnt-ours/rr"
}

: >"$results/times"
for i in $(seq "$rounds"); do
    if ((i % 2)); then
        rear_restore "$i"
        ours_restore "$i"
    else
        ours_restore "$i"
        rear_restore "$i"
    fi
done
# the restored trees are the same (path, type, size, mode, owner, mtime in seconds: ReaR's GNU
# format archive has no sub-second times, link target)
if ! diff <(cd "$work/mnt-rear" && find . -path ./lost+found -prune -o ! -type d -printf '%p %y %s %m %U %G %Ts %l\n' | LC_ALL=C sort) \
    <(cd "$work/mnt-ours/rr" && find . ! -type d -printf '%p %y %s %m %U %G %Ts %l\n' | LC_ALL=C sort) >"$results/tree.diff"; then
    echo "WARNING: the two restored trees differ ($(grep -c '^[<>]' "$results/tree.diff") lines in $results/tree.diff):" >&2
    head -n 10 "$results/tree.diff" >&2
fi
drop_fs rear
drop_fs ours

python3 - "$results/times" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    n, wall, cpu, rss = line.split()
    runs.setdefault(n.rsplit("-", 1)[0], []).append((float(wall), float(cpu), int(rss)))
print("| run | best wall s | median wall s | CPU s (best run) | peak RSS MiB |")
print("|---|---:|---:|---:|---:|")
for k, label in [("rear-restore", "ReaR 2.7 (`dd \\| tar --gzip -x`)"),
                 ("ours-restore", "rear-rs (zstd, checked against the manifest)")]:
    r = runs[k]
    best = min(r)
    print(f"| {label} | {best[0]:.1f} | {statistics.median(x[0] for x in r):.1f} | {best[1]:.1f} | {best[2] / 1024:.0f} |")
rb, ob = min(runs["rear-restore"])[0], min(runs["ours-restore"])[0]
rm = statistics.median(x[0] for x in runs["rear-restore"])
om = statistics.median(x[0] for x in runs["ours-restore"])
print(f"\nRestore speed-up: {rb / ob:.1f}x best against best, {rm / om:.1f}x median against median.")
PY
