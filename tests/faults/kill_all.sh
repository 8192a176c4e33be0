#!/bin/sh
# Fault campaign: dira and its watchdog both killed (-9), then run.h5 cut to 90 % (issue 12's
# "silent zero-filled trials": analyze used to accept over rows read back as zeros).
#   tests/faults/kill_all.sh DIRA EXPERIMENT OUTDIR
# With nobody to clear HDF5's SWMR mark, dira analyze still reads the file (as a SWMR reader,
# bounded retries) and decides over every flushed trial; cut to 90 %, it answers within seconds
# with the trials missing counted and not decided over, or refuses the file naming HDF5's reason;
# after `h5clear -s` by hand (docs/run-file.md) h5dump opens the uncut file, at most the last
# second of trials is lost, and the ledger agrees with the trials (ledger_check.py).
DIRA=$1; CFG=$2; OUT=$3
. "$(dirname "$0")/lib.sh"
rm -rf "$OUT"; mkdir -p "$OUT"
tee_source "$CFG" "$OUT/big.yaml" "$OUT/stream.bin" 100000000
"$DIRA" run "$OUT/big.yaml" --out "$OUT/runs" > /dev/null 2>&1 &
pid=$!
# Killed once a chunk of trials is on disk (run.h5 past 3 MB), whatever the start-up took.
i=0
until [ "$(stat -c %s "$OUT"/runs/*/run.h5 2>/dev/null || echo 0)" -gt 3000000 ]; do
  i=$((i + 1)); [ "$i" -lt 600 ] || { kill -9 "$pid"; fail "no trials written within 60 s"; }
  sleep 0.1
done
sleep 1.2
# The watchdog is dira's child (posix_spawn, in its own session): killed first, by its pid.
for w in $(ps -o pid= --ppid "$pid"); do kill -9 "$w"; done
kill -9 "$pid"; killed=$(date +%s.%N); wait "$pid" 2>/dev/null
d=$(ls -d "$OUT"/runs/*/ | head -1)
sleep 0.5
grep -q "h5clear -s applied" "$d/dira.log" && fail "the watchdog acted: it was not killed"
analyze_says "$d" "$OUT/whole.json"
grep -q '"trials_damaged"' "$OUT/whole.json" && fail "damage reported in an uncut file: $(cat "$OUT/whole.json")"
n=$(sed -n 's/.*"trials_recorded": \([0-9]*\).*/\1/p' "$OUT/whole.json" | head -1)
[ "$n" -gt 0 ] || fail "no trial read from the killed run"
# 90 % may cut only space HDF5 allocated past the last chunk (then every trial is intact and
# must all be decided over); 50 % always cuts trials (rows are 32 bytes, about 70 % of the file).
size=$(stat -c %s "$d/run.h5")
for pct in 90 50; do
  rm -rf "$OUT/cut"; cp -r "$d" "$OUT/cut"
  truncate -s $((size * pct / 100)) "$OUT/cut/run.h5"
  start=$(date +%s)
  analyze_says "$OUT/cut" "$OUT/cut.json"
  secs=$(( $(date +%s) - start ))
  [ "$secs" -le 10 ] || fail "analyze took $secs s on the file cut to $pct %"
  if [ -s "$OUT/cut.json" ]; then
    m=$(sed -n 's/.*"trials_recorded": \([0-9]*\).*/\1/p' "$OUT/cut.json" | head -1)
    lost=$(sed -n 's/.*"trials_damaged": \([0-9]*\).*/\1/p' "$OUT/cut.json" | head -1)
    lost=${lost:-0}
    [ $((m + lost)) -eq "$n" ] || fail "cut to $pct %: $m decided over + $lost missing is not the $n rows"
    [ "$pct" -eq 90 ] || [ "$lost" -gt 0 ] || fail "cut to $pct %: no missing trials reported: $(cat "$OUT/cut.json")"
    echo "both killed, $n trials; cut to $pct %: $lost reported missing, $m decided over"
  else
    echo "both killed, $n trials; cut to $pct %: refused ($(cat "$OUT/cut.json.err"))"
  fi
done
timeout 30 h5clear -s "$d/run.h5" || fail "h5clear -s failed"
timeout 30 h5dump -H "$d/run.h5" > /dev/null || fail "h5dump cannot open run.h5 after h5clear -s"
[ "$(rows /trials "$d/run.h5")" = "$n" ] || fail "h5dump and dira analyze disagree on the trial count"
lost=$(loss_s "$d" "$killed")
awk -v l="$lost" 'BEGIN { exit !(l <= 1.0) }' || fail "$lost s of trials lost (more than 1 s)"
ledger=$(ledger_agrees "$d" "$OUT/stream.bin" "$OUT/whole.json") || fail "$ledger"
echo "both killed: $lost s lost; $ledger"
