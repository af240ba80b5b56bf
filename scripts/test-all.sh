#!/bin/bash
# Sets up the machine and runs every test tier, in order:
#   lint  - cargo fmt --check, cargo clippy -D warnings
#   unit  - cargo test: pure tests, parsers on captured fixtures, the CLI through the binary
#   loop  - tests named loop_*: root and loop devices (real mkfs, real GNU tar)
#   svc   - tests named svc_*: real services started by the tests (PostgreSQL, postfix, ...)
#   vm    - tests named vm_*: qemu (TCG) guests with the Debian kernel
# Run as root. REAR_TEST_TIERS="lint unit" runs a subset. Prints the time of each tier.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"

tiers=${REAR_TEST_TIERS:-lint unit loop svc vm}
declare -a timings=()
run_tier() {
    local name=$1; shift
    case " $tiers " in *" $name "*) ;; *) echo "== tier $name: skipped (REAR_TEST_TIERS)"; return 0 ;; esac
    echo "== tier $name: $*"
    local start=$SECONDS
    "$@"
    timings+=("$name $((SECONDS - start))s")
}

lint() {
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
}

run_tier lint lint
run_tier unit cargo test --workspace --locked
run_tier loop cargo test --workspace --locked -- --ignored --test-threads=1 loop_
run_tier svc cargo test --workspace --locked -- --ignored --test-threads=1 svc_
run_tier vm cargo test --workspace --locked -- --ignored --test-threads=1 vm_

echo "== all tiers passed: ${timings[*]}"
