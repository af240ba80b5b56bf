#!/bin/bash
# Restore-only benchmark: ReaR 2.7's restore command line against rear-rs's restore, side by
# side, several rounds in alternating order (the machine is shared; the faster round counts and
# the median is printed too). Uses the data set of bench/backup/run.sh (made by it with
# KEEP_DATA=1) and makes the two archives once, keeping them for later runs.
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
    rm -rf "$work/rr-rear"
    mkdir -p "$work/rr-rear"
    measure "rear-restore-$1" bash -c "dd if='$arch/backup.tar.gz' bs=1M 2>/dev/null | tar --block-number \
        --totals --verbose --anchored --gzip -C '$work/rr-rear/' -x -f - >'$results/rear-restore.log' 2>&1"
}
ours_restore() {
    rm -rf "$work/rr-ours"
    measure "ours-restore-$1" "$driver" restore "$arch/ours" "$work/rr-ours"
}

: >"$results/times"
# warm the page cache with both archives
cat "$arch/backup.tar.gz" "$arch"/ours/*/* >/dev/null
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
if ! diff <(cd "$work/rr-rear" && find . ! -type d -printf '%p %y %s %m %U %G %Ts %l\n' | LC_ALL=C sort) \
    <(cd "$work/rr-ours" && find . ! -type d -printf '%p %y %s %m %U %G %Ts %l\n' | LC_ALL=C sort) >"$results/tree.diff"; then
    echo "WARNING: the two restored trees differ ($(grep -c '^[<>]' "$results/tree.diff") lines in $results/tree.diff):" >&2
    head -n 10 "$results/tree.diff" >&2
fi
rm -rf "$work/rr-rear" "$work/rr-ours"

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
