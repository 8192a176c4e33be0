#!/bin/sh
# Fault campaign: kill -9 at random instants during acquisition (issue 12).
#   tests/faults/kill9.sh DIRA EXPERIMENT OUTDIR [KILLS]
# For every kill: the watchdog clears HDF5's SWMR flag, h5dump opens run.h5, every row is
# intact (no damage reported), dira analyze decides over the recorded trials, and the trials
# lost are at most the last second (the recorder flushes at least once a second). The time lost
# is the kill's time less the last flush's: `elapsed_s` of the last /statistics row counted from
# the run's start, taken as config.yaml's modification time (written when the run directory is
# created, just after the devices are opened, so this slightly under-counts by the time the
# simulator takes to open). The time from launch is printed too (an upper bound: it includes the
# process start-up). After every kill the ledger agrees with the trials (ledger_check.py: the
# weak source's bytes, copied as dira drew them, replay the recorded settings and the ledger's
# counts). Prints one line per kill and a summary.
DIRA=$1; CFG=$2; OUT=$3; KILLS=${4:-5}
. "$(dirname "$0")/lib.sh"
rm -rf "$OUT"; mkdir -p "$OUT"
tee_source "$CFG" "$OUT/big.yaml" "$OUT/stream.bin" 100000000
worst=0
k=0
while [ "$k" -lt "$KILLS" ]; do
  k=$((k + 1))
  # A random instant in [0.6, 3.0] s.
  r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
  t=$(awk -v r="$r" 'BEGIN { printf "%.2f", 0.6 + 2.4 * r / 65535 }')
  run="$OUT/k$k"; mkdir -p "$run"
  rm -f "$OUT/stream.bin"
  launched=$(date +%s.%N)
  "$DIRA" run "$OUT/big.yaml" --out "$run" > /dev/null 2>&1 &
  pid=$!
  sleep "$t"
  kill -9 "$pid"
  killed=$(date +%s.%N)
  d=$(ls -d "$run"/*/ 2>/dev/null | head -1)
  wait "$pid" 2>/dev/null
  if [ -z "$d" ] || [ ! -e "$d/run.h5" ]; then
    echo "kill $k at $t s: during start-up (no run.h5 yet)"
    rm -rf "$run"; continue
  fi
  [ ! -e "$d/report.json" ] || fail "kill $k: report.json exists (the run ended before the kill)"
  wait_for_watchdog "$d" || fail "kill $k: the watchdog did not clear the SWMR flag"
  timeout 30 h5dump -H "$d/run.h5" > /dev/null || fail "kill $k: h5dump cannot open run.h5"
  n=$(rows /trials "$d/run.h5")
  [ -n "$n" ] || fail "kill $k: h5dump shows no /trials"
  analyze_says "$d" "$run/a.json"
  grep -q '"trials_damaged"' "$run/a.json" && fail "kill $k: rows damaged after a kill -9: $(cat "$run/a.json")"
  rec=$(sed -n 's/.*"trials_recorded": \([0-9]*\).*/\1/p' "$run/a.json" | head -1)
  [ "$rec" = "$n" ] || fail "kill $k: analyze read $rec trials, h5dump shows $n"
  ledger=$(ledger_agrees "$d" "$OUT/stream.bin" "$run/a.json") || fail "kill $k: $ledger"
  flushed=$(last_flush_s "$d/run.h5")
  [ -n "$flushed" ] || flushed=0
  lost=$(loss_s "$d" "$killed")
  upper=$(awk -v b="$killed" -v s="$launched" -v f="$flushed" 'BEGIN { printf "%.2f", b - s - f }')
  echo "kill $k at $t s: $n trials in run.h5, last flush at $flushed s, $lost s lost ($upper s counted from launch); $ledger"
  worst=$(awk -v a="$worst" -v b="$lost" 'BEGIN { print (b > a ? b : a) }')
  rm -rf "$run"
done
echo "kill -9 campaign: $KILLS kills, every run.h5 opened by h5dump and decided over, its ledger agreeing with its trials, worst loss $worst s"
awk -v w="$worst" 'BEGIN { exit !(w <= 1.0) }' || fail "more than 1 s of trials lost ($worst s)"
