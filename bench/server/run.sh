#!/bin/bash
# Benchmarks rear-server: prefill a fleet straight into the store, then start the release server and
# measure HTTP ingest, SMTP ingest, and the latency of the overview, host page, search and API, and
# the server's peak RSS. Prints "name: value" lines.
#
#   bench/server/run.sh sqlite   HOSTS REPORTS [HTTP_REPORTS SMTP_MESSAGES QUERIES]
#   bench/server/run.sh postgres HOSTS REPORTS [...]   # needs root and Debian's postgresql
#
# Builds with `cargo build --release` (thin LTO is turned off to keep the build short).
set -euo pipefail
backend=${1:?sqlite or postgres}
hosts=${2:?hosts}
reports=${3:?reports}
http_reports=${4:-20000}
smtp_messages=${5:-5000}
queries=${6:-200}

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export CARGO_PROFILE_RELEASE_LTO=false
cargo build --release -p rear-server --bin rear-server --example loadgen >&2
bin=$root/target/release/rear-server
loadgen=$root/target/release/examples/loadgen

work=$(mktemp -d /tmp/rear-bench.XXXXXX)
chmod 755 "$work"
server_pid=
pg_bin=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    if [ -n "$pg_bin" ]; then
        runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_port=$(free_port)
smtp_port=$(free_port)

case $backend in
sqlite) db="sqlite:$work/rear-server.db" ;;
postgres)
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    pg_port=$(free_port)
    mkdir "$work/pg" && chown postgres:postgres "$work/pg"
    runuser -u postgres -- "$pg_bin/initdb" -A trust -U rear --no-sync -D "$work/pg" >/dev/null
    touch "$work/pg.log" && chown postgres "$work/pg.log"
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
        -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null
    db="postgres://rear@127.0.0.1:$pg_port/postgres"
    ;;
*) echo "backend must be sqlite or postgres" >&2; exit 2 ;;
esac

cat >"$work/server.toml" <<TOML
data_dir = "$work"
database_url = "$db"
[http]
listen = "127.0.0.1:$http_port"
[smtp]
listen = "127.0.0.1:$smtp_port"
TOML

echo "backend: $backend"
echo "hosts: $hosts"
echo "cores: $(nproc)"
"$loadgen" prefill "$db" "$hosts" "$reports"
case $backend in
sqlite) echo "db_bytes_after_prefill: $(du -cb "$work"/rear-server.db* | tail -1 | cut -f1)" ;;
postgres)
    echo "db_bytes_after_prefill: $(psql -h 127.0.0.1 -p "$pg_port" -U rear -d postgres -tAc \
        "SELECT pg_database_size('postgres')")"
    echo "pg_dir_bytes_after_prefill: $(du -sb "$work/pg" | cut -f1)"
    # A server that received its reports over months has had autovacuum's ANALYZE; right after a
    # bulk load the planner has no statistics yet.
    psql -h 127.0.0.1 -p "$pg_port" -U rear -d postgres -qc "ANALYZE" >/dev/null
    ;;
esac
echo bench-password | "$bin" --config "$work/server.toml" user add bench --role viewer --password-stdin >/dev/null
token=$("$bin" --config "$work/server.toml" token add bench --site | awk '{print $NF}')

RUST_LOG=warn "$bin" --config "$work/server.toml" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "rss_after_start_kb: $(awk '/VmRSS/ {print $2}' /proc/$server_pid/status)"
"$loadgen" query "http://127.0.0.1:$http_port" bench bench-password "$hosts" "$queries"
"$loadgen" http "http://127.0.0.1:$http_port" "$token" "$hosts" "$http_reports" 32
"$loadgen" smtp "127.0.0.1:$smtp_port" "$hosts" "$smtp_messages" 16
echo "rss_peak_kb: $(awk '/VmHWM/ {print $2}' /proc/$server_pid/status)"
