#!/bin/bash
# BACKUP=NETFS to real NFS and CIFS servers, in the lab guest (the host kernel has no NFS or CIFS
# client). Started by lab/jobs/backup-netfs-host.sh, which runs the servers on the host and puts
# into the share:
#   rear                  the rear binary under test
#   netfs/env             NFS_PORT, SMB_PORT, SMB_USER, SMB_PASS
#   netfs/modules/        virtio_net, nfsv4 and cifs with their dependencies, and `order`
#   netfs/sbin/, lib/     mount.nfs and mount.cifs with their libraries, netfs/etc/netconfig
# The guest reaches the host as 10.0.2.2 (qemu user networking). For each of nfs and cifs it runs
# `rear mkbackuponly` and `rear restoreonly --target`, and writes into /lab/out:
#   src.list, restored-<kind>.list   one line per path (type, mode, owner, size, links, mtime,
#                                    link target, SHA-256), compared by the host test
#   mounts-<kind>.txt                the NFS/CIFS lines of /proc/mounts right after rear's mount
#                                    command returned (seen through a wrapper that only observes)
#   after-<kind>.txt                 the same lines after rear finished (must be empty)
#   rear-<kind>-*.log                rear's output
set -uo pipefail
out=/lab/out
share=/lab/netfs
export PATH=/usr/local/sbin:/usr/local/bin:$PATH
# shellcheck source=/dev/null
. "$share/env"
fail() {
    echo "JOB-FAIL: $*"
    exit 1
}

# Kernel modules (insmod fails harmlessly for those the initramfs already loaded).
while read -r ko; do
    insmod "$share/modules/$ko" 2>/dev/null || true
done <"$share/modules/order"
grep -qw nfs4 /proc/filesystems || fail "no nfs4 in /proc/filesystems after loading the modules"
grep -qw cifs /proc/filesystems || fail "no cifs in /proc/filesystems after loading the modules"

# mount.nfs and mount.cifs with their libraries (never replacing the initramfs' own).
cp "$share"/sbin/* /usr/sbin/
cp -n "$share"/lib/* /usr/lib/x86_64-linux-gnu/
mkdir -p /etc /var/lib/nfs
cp "$share/etc/netconfig" /etc/netconfig
mkdir -p /usr/local/bin && cp /lab/rear /usr/local/bin/rear && chmod 0755 /usr/local/bin/rear

# Network: qemu user networking, static (guest 10.0.2.15, host 10.0.2.2).
dev=""
for d in /sys/class/net/*; do
    [ "${d##*/}" = lo ] || { dev=${d##*/}; break; }
done
[ -n "$dev" ] || fail "no network interface (virtio_net not loaded or no netdev given to qemu)"
ip link set lo up
ip link set "$dev" up
ip addr add 10.0.2.15/24 dev "$dev"
ip route add default via 10.0.2.2
hostname labguest

# The mount wrapper: runs the real mount, then records what the kernel mounted. /usr/local/sbin is
# the first directory rear looks in for its tools.
real_mount=$(command -v mount)
mkdir -p /usr/local/sbin
cat >/usr/local/sbin/mount <<EOF
#!/bin/bash
$real_mount "\$@"
rc=\$?
{ echo "# mount \$* -> \$rc"; grep -E ' (nfs4?|cifs) ' /proc/mounts; } >>/tmp/mounts-seen.txt
exit \$rc
EOF
chmod 0755 /usr/local/sbin/mount

# The source tree, on its own tmpfs (the default excludes drop /tmp/*).
src=/srcdata
mkdir -p $src
mount -t tmpfs -o size=64m tmpfs $src
cd $src || fail "cd $src"
mkdir -p etc/app/conf.d home/alice/.ssh var/lib/db empty-dir
printf 'app config\n' >etc/app/app.conf
printf 'x=1\n' >etc/app/conf.d/10-x.conf
head -c 3000000 /dev/urandom >var/lib/db/data.bin
head -c 100000 /dev/urandom >home/alice/photo.jpg
printf 'ssh-ed25519 AAAA alice\n' >home/alice/.ssh/authorized_keys
: >empty-file
printf '#!/bin/sh\necho hi\n' >setuid-tool
ln home/alice/photo.jpg home/alice/photo-hardlink.jpg
ln -s ../etc/app/app.conf var/app.conf-link
ln -s /nonexistent/target dangling-link
mkfifo var/lib/db/fifo
printf 'a file with spaces\n' >'name with spaces.txt'
chown -R 1000:1000 home/alice
chown 1234:5678 var/lib/db/data.bin
chown -h 42:43 var/app.conf-link
chmod 0700 home/alice home/alice/.ssh
chmod 0600 home/alice/.ssh/authorized_keys
chmod 4755 setuid-tool
chmod 2775 var/lib/db
chmod 1777 empty-dir
chmod 0640 var/lib/db/data.bin
touch -d '2001-02-03 04:05:06' etc/app/app.conf
touch -h -d '2002-03-04 05:06:07' var/app.conf-link
cd / || exit 1

# One line per path, sorted: what must survive the round trip.
listing() (
    cd "$1" || exit 1
    find . | LC_ALL=C sort | while IFS= read -r p; do
        line=$(stat -c '%n|%F|%a|%u|%g|%s|%h' "$p")
        if [ -L "$p" ]; then
            line="$line|$(stat -c %Y "$p")|-> $(readlink "$p")"
        elif [ -d "$p" ]; then
            # a directory's size depends on the filesystem; its mtime is restored last
            line="$(stat -c '%n|%F|%a|%u|%g' "$p")|$(stat -c %Y "$p")"
        elif [ -f "$p" ]; then
            line="$line|$(stat -c %Y "$p")|$(sha256sum <"$p" | cut -d' ' -f1)"
        else
            line="$line|$(stat -c %Y "$p")"
        fi
        echo "$line"
    done
)
listing $src >$out/src.list

rc=0
run_kind() { # run_kind nfs|cifs URL OPTIONS
    local kind=$1 url=$2 opts=$3 conf=/etc/rear-$1
    mkdir -p "$conf"
    cat >"$conf/local.conf" <<EOF
BACKUP=NETFS
OUTPUT=RAMDISK
BACKUP_URL=$url
BACKUP_OPTIONS="$opts"
NETFS_PREFIX=labguest
BACKUP_ONLY_INCLUDE=yes
BACKUP_PROG_INCLUDE=( $src )
VAR_DIR=/tmp/rear-$kind/var
LOGFILE=/tmp/rear-$kind/rear.log
EOF
    : >/tmp/mounts-seen.txt
    local t0 t1 t2
    t0=$(date +%s)
    if ! rear -c "$conf" -v mkbackuponly >"$out/rear-$kind-mkbackuponly.log" 2>&1; then
        echo "mkbackuponly to $url failed:"
        tail -n 30 "$out/rear-$kind-mkbackuponly.log"
        cp "/tmp/rear-$kind/rear.log" "$out/rear-$kind-mkbackuponly.rear.log" 2>/dev/null
        rc=1
        return
    fi
    t1=$(date +%s)
    cp /tmp/mounts-seen.txt "$out/mounts-$kind-backup.txt"
    : >/tmp/mounts-seen.txt
    if ! rear -c "$conf" -v restoreonly --target "/tmp/restore-$kind" >"$out/rear-$kind-restoreonly.log" 2>&1; then
        echo "restoreonly from $url failed:"
        tail -n 30 "$out/rear-$kind-restoreonly.log"
        cp "/tmp/rear-$kind/rear.log" "$out/rear-$kind-restoreonly.rear.log" 2>/dev/null
        rc=1
        return
    fi
    t2=$(date +%s)
    cp /tmp/mounts-seen.txt "$out/mounts-$kind-restore.txt"
    grep -E ' (nfs4?|cifs) ' /proc/mounts >"$out/after-$kind.txt"
    listing "/tmp/restore-$kind$src" >"$out/restored-$kind.list"
    echo "$kind: backup $((t1 - t0)) s, restore $((t2 - t1)) s" | tee -a "$out/times.txt"
}

run_kind nfs "nfs://10.0.2.2/backup" "vers=4.1,port=$NFS_PORT,timeo=321,retrans=4"
run_kind cifs "cifs://10.0.2.2/backup" \
    "vers=3.0,port=$SMB_PORT,username=$SMB_USER,password=$SMB_PASS,actimeo=7"
exit $rc
