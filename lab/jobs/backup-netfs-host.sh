#!/bin/bash
# Host side of the NFS/CIFS backup test: real servers on the host, the client in the lab guest.
#
# Usage: lab/jobs/backup-netfs-host.sh REAR_BINARY
#
# 1. Starts Samba's smbd (a private configuration, share "backup", user root with a test
#    password in a private tdbsam) and NFS-Ganesha (userspace NFSv4.1 server, VFS backend, export
#    pseudo path /backup, Graceless so there is no 90 s grace period) on free ports of 127.0.0.1,
#    both in $REAR_LAB_OUT/backup-netfs/ (this host's kernel has no nfsd, so nfs-kernel-server
#    cannot run here).
# 2. Stages the guest's extras (network and NFS/CIFS kernel modules of the lab kernel, mount.nfs
#    and mount.cifs with their libraries) and runs lab/jobs/backup-netfs.sh with lab/run-job.sh.
#    qemu gets user networking (`vm.sh --net`: the guest reaches the host's 127.0.0.1 as 10.0.2.2).
# 3. Lists what the servers stored into the share's out/ (server-nfs.txt, server-cifs.txt), stops
#    the servers and exits with the job's status.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
rear=$(readlink -f "${1:?usage: backup-netfs-host.sh REAR_BINARY}")
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
lab_need smbd smbpasswd ganesha.nfsd mount.nfs mount.cifs qemu-system-x86_64 ss ldd modprobe modinfo strip setsid

work=$REAR_LAB_OUT/backup-netfs
rm -rf "$work"
mkdir -p "$work"/{smb/share,smb/priv,smb/lock,smb/state,smb/cache,smb/pid,smb/ncalrpc,nfs/export,nfs/recovery,stage/netfs/modules,stage/netfs/sbin,stage/netfs/lib,stage/netfs/etc,bin}

free_port() { # a TCP port nobody listens on, from $1 upwards
    local p=$1
    while ss -Hltn "sport = :$p" | grep -q .; do p=$((p + 1)); done
    echo "$p"
}
smb_port=$(free_port 14450)
nfs_port=$(free_port 20490)
smb_pass=lab-smb-$$

pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
stop_servers() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop_servers EXIT

cat >"$work/smb/smb.conf" <<EOF
[global]
    smb ports = $smb_port
    interfaces = lo
    bind interfaces only = yes
    private dir = $work/smb/priv
    lock directory = $work/smb/lock
    state directory = $work/smb/state
    cache directory = $work/smb/cache
    pid directory = $work/smb/pid
    ncalrpc dir = $work/smb/ncalrpc
    log file = $work/smb/smbd.log
    passdb backend = tdbsam:$work/smb/priv/passdb.tdb
    server role = standalone server
    disable spoolss = yes
    load printers = no
    printing = bsd
    printcap name = /dev/null
    server min protocol = SMB3_00
[backup]
    path = $work/smb/share
    read only = no
    valid users = root
EOF
printf '%s\n%s\n' "$smb_pass" "$smb_pass" | smbpasswd -c "$work/smb/smb.conf" -a -s root >/dev/null
# its own session: smbd signals its whole process group when it shuts down, which would
# otherwise reach this script and whoever started it
setsid smbd --foreground --no-process-group -s "$work/smb/smb.conf" --debug-stdout -d1 >"$work/smb/smbd.out" 2>&1 &
pids+=($!)

cat >"$work/nfs/ganesha.conf" <<EOF
NFS_CORE_PARAM {
    Protocols = 4;
    NFS_Port = $nfs_port;
    Bind_addr = 127.0.0.1;
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Enable_UDP = false;
}
NFSV4 {
    Graceless = true;
    RecoveryBackend = fs;
    RecoveryRoot = $work/nfs/recovery;
}
EXPORT {
    Export_Id = 1;
    Path = $work/nfs/export;
    Pseudo = /backup;
    Access_Type = RW;
    Squash = No_Root_Squash;
    Protocols = 4;
    Transports = TCP;
    SecType = sys;
    FSAL { Name = VFS; }
}
EOF
ganesha.nfsd -F -f "$work/nfs/ganesha.conf" -L "$work/nfs/ganesha.log" -p "$work/nfs/ganesha.pid" -N NIV_EVENT &
pids+=($!)

for _ in $(seq 100); do
    ss -Hltn "sport = :$smb_port" | grep -q . && ss -Hltn "sport = :$nfs_port" | grep -q . && break
    sleep 0.2
done
ss -Hltn "sport = :$smb_port" | grep -q . || lab_die "smbd does not listen on $smb_port: $(tail -n5 "$work/smb/smbd.out")"
ss -Hltn "sport = :$nfs_port" | grep -q . || lab_die "ganesha does not listen on $nfs_port: $(tail -n5 "$work/nfs/ganesha.log")"
lab_log "smbd on 127.0.0.1:$smb_port, ganesha on 127.0.0.1:$nfs_port"

# Guest extras: modules in load order, mount helpers and their libraries.
stage=$work/stage/netfs
kdir=$("$LAB_DIR/kernel.sh")
kver=$(cat "$kdir/KVER")
: >"$stage/modules/order"
add_module() { # add_module NAME: the module and its dependencies, in load order
    modprobe -C /nonexistent -d "$kdir/root" -S "$kver" --show-depends "$1" |
        while read -r kind path _; do
            [[ $kind == insmod ]] || continue
            b=$(basename "$path")
            grep -qx "$b" "$stage/modules/order" && continue
            cp "$path" "$stage/modules/$b"
            echo "$b" >>"$stage/modules/order"
        done
}
add_module virtio_net
add_module nfsv4
# cifs names its crypto as soft dependencies (SMB3 signing needs cmac(aes), encryption ccm/gcm):
# modprobe loads them first, insmod does not. Some are built into the kernel.
cifs_ko=$(modprobe -C /nonexistent -d "$kdir/root" -S "$kver" --show-depends cifs | awk '/^insmod .*cifs\.ko/ {print $2}')
for m in $(modinfo -F softdep "$cifs_ko" | sed 's/^pre: //; s/post: //'); do
    add_module "$m" 2>/dev/null || lab_log "cifs soft dependency $m: not a module of $kver (built in or an alias)"
done
add_module cifs
for t in mount.nfs mount.cifs; do
    p=$(command -v "$t")
    cp -L "$p" "$stage/sbin/$t"
    ldd "$p" | awk '/=> \// {print $3}' | while read -r l; do cp -L "$l" "$stage/lib/"; done
done
ln -s mount.nfs "$stage/sbin/mount.nfs4"
cp /etc/netconfig "$stage/etc/netconfig"
printf 'NFS_PORT=%s\nSMB_PORT=%s\nSMB_USER=root\nSMB_PASS=%s\n' "$nfs_port" "$smb_port" "$smb_pass" >"$stage/env"


# without debug information the binary loads faster over 9p
strip -o "$work/rear" "$rear"
rc=0
"$LAB_DIR/run-job.sh" backup-netfs "$LAB_DIR/jobs/backup-netfs.sh" "$stage" "$work/rear" \
    -- --net --timeout "${BACKUP_NETFS_TIMEOUT:-240}" || rc=$?

out=$REAR_LAB_OUT/share/backup-netfs/out
(cd "$work/nfs/export" && find . -printf '%p %s %u\n' | LC_ALL=C sort) >"$out/server-nfs.txt"
(cd "$work/smb/share" && find . -printf '%p %s %u\n' | LC_ALL=C sort) >"$out/server-cifs.txt"
exit "$rc"
