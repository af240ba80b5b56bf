#!/bin/bash
# Benchmark of rear-rs's built-in backup against ReaR 2.7's NETFS backup (GNU tar + gzip),
# on the same data set in the same run. Measures wall time, CPU time (user+sys), archive size
# and peak RSS (/usr/bin/time -v) for backup and restore, and prints a Markdown table.
#
# Usage: bench/backup/run.sh [WORKDIR]     (default /var/tmp/rear-bench; needs ~6 GB free)
# Env:   KEEP_DATA=1 keeps the generated data set for the next run.
#
# The data set: a copy of /usr/share, 3000 small files (1-16 KiB, text and binary), two large
# files of 128 MiB (one compressible text, one random) and two sparse files of 2 GiB with
# 8 MiB of data each. Page cache is warm for every run (all files are read once first).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${1:-/var/tmp/rear-bench}
data=$work/data
results=$work/results
mkdir -p "$work" "$results"

echo "== building the driver (release)" >&2
CARGO_TARGET_DIR=$repo/target/bench cargo build --release --quiet --manifest-path "$here/driver/Cargo.toml"
driver=$repo/target/bench/release/backup-bench

if [ ! -d "$data" ] || [ -z "${KEEP_DATA:-}" ]; then
    echo "== generating the data set in $data" >&2
    rm -rf "$data"
    mkdir -p "$data/small" "$data/large" "$data/sparse"
    cp -a /usr/share "$data/usr-share"
    python3 - "$data" <<'PY'
import os, random, sys
d = sys.argv[1]
r = random.Random(42)
words = open('/usr/share/dict/words').read().split() if os.path.exists('/usr/share/dict/words') else \
    [("w%d" % i) for i in range(5000)]
for i in range(3000):
    n = r.randint(1024, 16384)
    if i % 3 == 0:
        b = r.randbytes(n)
    else:
        b = (" ".join(r.choice(words) for _ in range(n // 6)) + "\n").encode()[:n]
    sub = os.path.join(d, "small", "%02d" % (i % 50))
    os.makedirs(sub, exist_ok=True)
    open(os.path.join(sub, "f%04d" % i), "wb").write(b)
with open(os.path.join(d, "large", "text.log"), "wb") as f:
    line = 0
    while f.tell() < 128 << 20:
        f.write(("%08d 2026-11-26T06:00:00Z host service[%d]: %s\n" % (
            line, r.randint(1, 9999), " ".join(r.choice(words) for _ in range(12)))).encode())
        line += 1
with open(os.path.join(d, "large", "random.bin"), "wb") as f:
    for _ in range(128):
        f.write(r.randbytes(1 << 20))
for name in ("vm1.img", "vm2.img"):
    with open(os.path.join(d, "sparse", name), "wb") as f:
        f.truncate(2 << 30)
        for k in range(8):
            f.seek(k * (256 << 20))
            f.write(r.randbytes(1 << 20))
PY
fi

# (sparse files are left out: cat would read their gigabytes of holes)
warm() { find "$data" -path "$data/sparse" -prune -o -type f -print0 | xargs -0 cat > /dev/null; }

# measure NAME COMMAND...: runs under /usr/bin/time -v, appends "name wall cpu rss_kib" to $results/times
measure() {
    local name=$1; shift
    warm
    sync
    /usr/bin/time -v -o "$results/$name.time" "$@" > "$results/$name.out" 2> "$results/$name.err"
    local wall user sys rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$results/$name.time")
    user=$(awk -F': ' '/User time/ {print $2}' "$results/$name.time")
    sys=$(awk -F': ' '/System time/ {print $2}' "$results/$name.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$results/$name.time")
    # wall is [h:]m:ss.cc
    wall=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    echo "$name $wall $(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}') $rss" >> "$results/times"
}

rm -f "$results/times"
rm -rf "$work/rear" "$work/ours" "$work/ours-gz" "$work/restore-"*
sync
mkdir -p "$work/rear"
: > "$work/rear/backup-exclude.txt"

# Each run twice, in alternating order, and the faster run counts: the machine is shared.
# Nothing is deleted between runs (deleting a restored tree keeps the disk busy for minutes
# with discards on this VM and slows whatever runs next); all is removed at the end.
rear_backup() {
    rm -f "$work/rear/backup.tar.gz"
    measure "rear-backup-$1" bash -c "cd / && tar --warning=no-xdev --sparse --block-number --totals --verbose \
        --no-wildcards-match-slash --one-file-system --ignore-failed-read --anchored --gzip \
        -X '$work/rear/backup-exclude.txt' -C '$data' -c -f - . 2>'$results/rear-backup.log' \
        | dd of='$work/rear/backup.tar.gz' bs=1M 2>/dev/null"
}
ours_backup() {
    # keep_chains=1: the previous archive is replaced after the new one is committed
    measure "ours-backup-$1" "$driver" backup "$data" "$work/ours" zstd 3
}
rear_restore() {
    mkdir -p "$work/restore-rear-$1"
    measure "rear-restore-$1" bash -c "dd if='$work/rear/backup.tar.gz' bs=1M 2>/dev/null | tar --block-number \
        --totals --verbose --anchored --gzip -C '$work/restore-rear-$1/' -x -f - > '$results/rear-restore.log' 2>&1"
}
ours_restore() {
    measure "ours-restore-$1" "$driver" restore "$work/ours" "$work/restore-ours-$1"
}

echo "== backups, round 1: ReaR 2.7 (tar --gzip | dd), then rear-rs (zstd -3)" >&2
rear_backup 1
ours_backup 1
echo "== backups, round 2: rear-rs, then ReaR" >&2
ours_backup 2
rear_backup 2
ours_archive=$(sed -n 's/.*archive=//p' "$results/ours-backup-2.out")

echo "== rear-rs backup with gzip -6 (same compression as ReaR), once" >&2
measure ours-gz-backup-1 "$driver" backup "$data" "$work/ours-gz" gzip 6

echo "== restores, round 1: ReaR (dd | tar --gzip -x), then rear-rs (checked against the manifest)" >&2
rear_restore 1
ours_restore 1
echo "== restores, round 2: rear-rs, then ReaR" >&2
ours_restore 2
rear_restore 2

echo "== GNU tar restore of the rear-rs archive (compatibility, for reference), once" >&2
mkdir -p "$work/restore-tar"
measure tar-restore-ours-1 tar --zstd --xattrs --acls --xattrs-include='*' -xpf "$ours_archive" -C "$work/restore-tar"

size_rear=$(stat -c %s "$work/rear/backup.tar.gz")
size_ours=$(stat -c %s "$ours_archive")
size_ours_gz=$(stat -c %s "$(sed -n 's/.*archive=//p' "$results/ours-gz-backup-1.out")")
content=$(du -s --apparent-size -B1 "$data" | cut -f1)
alloc=$(du -s -B1 "$data" | cut -f1)

python3 - "$results/times" "$size_rear" "$size_ours" "$size_ours_gz" "$content" "$alloc" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    n, wall, cpu, rss = line.split()
    base = n.rsplit("-", 1)[0]
    cur = (float(wall), float(cpu), int(rss))
    # the faster of the rounds counts
    if base not in rows or cur[0] < rows[base][0]:
        rows[base] = cur
size_rear, size_ours, size_ours_gz, content, alloc = map(int, sys.argv[2:7])
sizes = {"rear-backup": size_rear, "ours-backup": size_ours, "ours-gz-backup": size_ours_gz}
label = {
    "rear-backup": "backup: ReaR 2.7 (`tar --gzip \\| dd`)",
    "ours-backup": "backup: rear-rs (zstd -3, 2 threads)",
    "ours-gz-backup": "backup: rear-rs (gzip -6)",
    "rear-restore": "restore: ReaR 2.7 (`dd \\| tar --gzip -x`)",
    "ours-restore": "restore: rear-rs (zstd, checked against manifest)",
    "tar-restore-ours": "restore: GNU tar of the rear-rs archive",
}
mib = 1 << 20
print(f"Data set: {content / mib:.0f} MiB apparent ({alloc / mib:.0f} MiB allocated; sparse files count once).\n")
print("| run | wall s | CPU s | peak RSS MiB | archive MiB | throughput MiB/s (allocated data / wall) |")
print("|---|---:|---:|---:|---:|---:|")
for k in ["rear-backup", "ours-backup", "ours-gz-backup", "rear-restore", "ours-restore", "tar-restore-ours"]:
    if k not in rows:
        continue
    w, c, r = rows[k]
    s = f"{sizes[k] / mib:.1f}" if k in sizes else ""
    print(f"| {label[k]} | {w:.1f} | {c:.1f} | {r / 1024:.0f} | {s} | {alloc / mib / w:.0f} |")
rb, ob, rr, orr = rows["rear-backup"][0], rows["ours-backup"][0], rows["rear-restore"][0], rows["ours-restore"][0]
print(f"\nBackup speed-up {rb / ob:.1f}x, restore speed-up {rr / orr:.1f}x, "
      f"archive size ratio (rear-rs zstd / ReaR gzip) {size_ours / size_rear:.2f}.")
PY

echo "== raw times (name wall cpu rss_kib):" >&2
cat "$results/times" >&2
rm -rf "$work/rear" "$work/ours" "$work/ours-gz" "$work/restore-"*
if [ -z "${KEEP_DATA:-}" ]; then
    rm -rf "$data"
fi
