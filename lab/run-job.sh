#!/bin/bash
# Run a job script in the lab guest (rescue-style: lab kernel + initramfs, 9p share on /lab).
#
# Usage: lab/run-job.sh NAME JOB.sh [FILE...] [-- vm.sh options: --blank 2G --uefi ...]
#
# The share is $REAR_LAB_OUT/share/NAME, made empty first. It holds job.sh (a copy of JOB.sh),
# capture.sh (fixtures/capture.sh), the extra FILEs, and out/ for results. The guest runs
# `bash /lab/job.sh` in /lab; its output is in the share's job.log and in the serial log
# $REAR_LAB_OUT/logs/NAME.serial. Exits with the job's exit status (see lab/vm.sh).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

name=${1:?usage: lab/run-job.sh NAME JOB.sh [FILE...] [-- vm.sh options]}
job=${2:?usage: lab/run-job.sh NAME JOB.sh [FILE...] [-- vm.sh options]}
shift 2
share=$REAR_LAB_OUT/share/$name
rm -rf "$share"
mkdir -p "$share/out"
cp "$job" "$share/job.sh"
cp "$LAB_REPO/fixtures/capture.sh" "$share/capture.sh"
while (($#)) && [[ $1 != -- ]]; do
    cp -r "$1" "$share/"
    shift
done
(($#)) && shift
"$LAB_DIR/vm.sh" "$name" --share "$share" "$@"
