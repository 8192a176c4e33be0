#!/bin/sh
# Fault campaign: another process fills the disk mid-run (issue 12: report.json was left at 0
# bytes while dira.log said "report written", and the live trial count differed from the file's).
#   tests/faults/disk_fill.sh DIRA EXPERIMENT OUTDIR [FILL_AT_S] [dd|fallocate]
# dira writes its run to a 512 MB tmpfs mounted for the purpose (needs root, or CAP_SYS_ADMIN;
# without it the campaign is skipped, exit 77). FILL_AT_S (default 1.2) seconds after the run
# directory appears — after two flushes; dira alone would reach its own storage-full stop after
# about 5 s at 3 M trials/s — `dd` fills the rest of the filesystem and stays to hold it full. Asserts: dira stops by itself within 60 s (storage-full:
# its free-space check; or storage-error: a write failed), exit 1, the report on stdout; report.json
# whole or absent, and dira.log says "report written" only if it is whole; run.h5 opens with h5dump
# (the watchdog clears the SWMR mark when the final flush fails); the live trial count equals
# run.h5's intact trials or fewer (nothing lost); dira analyze decides or says why; the ledger agrees
# with the trials (ledger_check.py; the weak source's copy is kept off the full filesystem).
DIRA=$1; CFG=$2; OUT=$3; FILL_AT=${4:-1.2}; HOW=${5:-dd}
. "$(dirname "$0")/lib.sh"
[ ! -d "$OUT/mnt" ] || umount "$OUT/mnt" 2>/dev/null
rm -rf "$OUT"; mkdir -p "$OUT/mnt"
if ! mount -t tmpfs -o size=512m,mode=0755 dira-disk-fill "$OUT/mnt" 2> "$OUT/mount.err"; then
  echo "SKIP: cannot mount a tmpfs for the campaign ($(cat "$OUT/mount.err")): needs root or CAP_SYS_ADMIN"
  exit 77
fi
filler=
cleanup() {
  [ -z "$filler" ] || kill "$filler" 2>/dev/null
  [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null
  sleep 0.5  # the watchdog's h5clear, if any, ends before the filesystem goes
  [ -n "$DIRA_FAULTS_KEEP" ] || umount "$OUT/mnt" || umount -l "$OUT/mnt"  # KEEP: to look at it
}
trap cleanup EXIT
trap 'exit 1' INT TERM
tee_source "$CFG" "$OUT/big.yaml" "$OUT/stream.bin" 100000000
"$DIRA" run "$OUT/big.yaml" --out "$OUT/mnt/runs" --json > "$OUT/r.json" 2> "$OUT/err" &
pid=$!
i=0
until [ -e "$OUT"/mnt/runs/*/config.yaml ]; do
  i=$((i + 1)); [ "$i" -lt 600 ] || fail "no run directory within 60 s"
  kill -0 "$pid" 2>/dev/null || fail "dira ended before the disk was filled: $(cat "$OUT/err")"
  sleep 0.01
done
sleep "$FILL_AT"
kill -0 "$pid" 2>/dev/null || fail "dira ended before the disk was filled: $(cat "$OUT/err")"
# The other process: writes zeros until the filesystem is full (dd: about half a second for the
# 400-odd MB left; fallocate: at once), then holds the file open.
if [ "$HOW" = fallocate ]; then
  sh -c 'fallocate -l "$(( ($(df --output=avail -k "$2" | tail -1) - 4096) * 1024 ))" "$1.a"
         dd if=/dev/zero of="$1" bs=64k 2> "$3.dd"; echo $? > "$3.rc"; exec sleep 120' sh "$OUT/mnt/filler" "$OUT/mnt" "$OUT/filler" > /dev/null 2>&1 &
else
  sh -c 'dd if=/dev/zero of="$1" bs=64k 2> "$2.dd"; echo $? > "$2.rc"; exec sleep 120' sh "$OUT/mnt/filler" "$OUT/filler" > /dev/null 2>&1 &
fi
filler=$!
filled=$(date +%s.%N)
i=0
while kill -0 "$pid" 2>/dev/null; do
  i=$((i + 1)); [ "$i" -lt 600 ] || fail "dira did not stop within 60 s of the disk filling"
  sleep 0.1
done
wait "$pid"; rc=$?; pid=
# The disk was full: the filler's dd ended on an error (ENOSPC). (Not the free space now: closing run.h5
# after a failed write can give back the space past HDF5's end of allocation.)
i=0
until [ -e "$OUT/filler.rc" ]; do
  i=$((i + 1)); [ "$i" -lt 300 ] || fail "the filler was still writing 30 s after dira stopped"
  sleep 0.1
done
[ "$(cat "$OUT/filler.rc")" != 0 ] || fail "the filler did not fill the disk: dd ended well ($(cat "$OUT/filler.dd"))"
[ "$rc" -eq 1 ] || fail "exit $rc, expected 1: $(cat "$OUT/err")"
state=$(sed -n 's/^  "state": "\([a-z-]*\)".*/\1/p' "$OUT/r.json")
[ "$state" = storage-full ] || [ "$state" = storage-error ] || fail "state '$state', expected storage-full or storage-error"
d=$(ls -d "$OUT"/mnt/runs/*/ | head -1)
if [ -s "$d/report.json" ]; then
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$d/report.json" || fail "report.json is not whole"
  report="report.json whole"
else
  [ ! -e "$d/report.json" ] || fail "report.json exists but is empty"
  grep -q "report written" "$d/dira.log" && fail "dira.log says report written, but there is no report.json"
  grep -q "cannot write report.json" "$d/dira.log" || fail "no report.json and dira.log does not say why"
  # The record dira analyze reads (not the log's words): the empty file report.json.unwritten.
  [ -f "$d/report.json.unwritten" ] || fail "no report.json and no report.json.unwritten"
  report="report.json absent (dira.log: cannot write it)"
fi
wait_for_watchdog "$d" || grep -q "run.h5 closed" "$d/dira.log" || true
timeout 30 h5dump -H "$d/run.h5" > /dev/null || fail "h5dump cannot open run.h5"
n=$(rows /trials "$d/run.h5")
live=$(sed -n 's/^  "trials_recorded": \([0-9]*\).*/\1/p' "$OUT/r.json" | head -1)
[ -n "$live" ] || fail "the live report gives no trials_recorded"
analyze_says "$d" "$OUT/a.json"
intact=$(sed -n 's/^  "trials_recorded": \([0-9]*\).*/\1/p' "$OUT/a.json" | head -1)
[ -n "$intact" ] || fail "dira analyze gives no trials_recorded: $(cat "$OUT/a.json.err")"
# Nothing the live run counted is lost: run.h5's intact trials are at least the live count. It may
# hold up to one append (65 536 rows) more: rows of the append that failed that reached the disk
# before the failure (the live count leaves the whole append out; no checksum covers them, so
# analyze checks them by order only). Rows past those (zeros where the failed write left space)
# are reported missing by analyze, never decided over.
[ "$intact" -ge "$live" ] || fail "the live report says $live trials, run.h5 holds $intact intact trials (of $n rows)"
[ "$intact" -le $((live + 65536)) ] || fail "run.h5 holds $intact intact trials, far more than the live $live"
extra=$((intact - live))
ledger=$(ledger_agrees "$d" "$OUT/stream.bin" "$OUT/a.json") || fail "$ledger"
echo "disk filled by another process at $(awk -v a="$filled" -v b="$(stat -c %.9Y "$d/config.yaml")" 'BEGIN { printf "%.2f", a - b }') s:" \
  "exit 1, $state, $live trials live, all in run.h5 (0 s lost; $extra more intact there, $n rows), $report, h5dump opens run.h5," \
  "analyze: $(sed -n 's/^  "decision": "\([a-z]*\)".*/\1/p' "$OUT/a.json"); $ledger"
