#!/bin/sh
# Fault campaign: SIGTERM and SIGINT during acquisition (issue 12).
#   tests/faults/signals.sh DIRA EXPERIMENT OUTDIR
# Each: exit 130, status interrupted, report.json whole (written atomically), run.h5 closed
# cleanly (h5dump opens it with no watchdog), the live trial count equals run.h5's, nothing
# lost, dira analyze reproduces the live decision over the same trials, and the ledger agrees with
# the trials (ledger_check.py).
DIRA=$1; CFG=$2; OUT=$3
. "$(dirname "$0")/lib.sh"
rm -rf "$OUT"; mkdir -p "$OUT"
tee_source "$CFG" "$OUT/big.yaml" "$OUT/stream.bin" 100000000
for sig in TERM INT; do
  run="$OUT/$sig"; mkdir -p "$run"
  rm -f "$OUT/stream.bin"
  "$DIRA" run "$OUT/big.yaml" --out "$run" --json > "$run/r.json" 2> /dev/null &
  pid=$!
  sleep 1.5
  kill -"$sig" "$pid"
  # Bounded: a run that does not stop within 60 s fails the campaign.
  i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1)); [ "$i" -lt 600 ] || { kill -9 "$pid"; fail "SIG$sig: dira did not stop within 60 s"; }
    sleep 0.1
  done
  wait "$pid"; rc=$?
  [ "$rc" -eq 130 ] || fail "SIG$sig: exit $rc, expected 130"
  grep -q '"state": "interrupted"' "$run/r.json" || fail "SIG$sig: state is not interrupted"
  d=$(ls -d "$run"/*/ | head -1)
  [ ! -e "$d/report.json.tmp" ] || fail "SIG$sig: report.json.tmp left behind"
  python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$d/report.json" || fail "SIG$sig: report.json is not whole"
  timeout 30 h5dump -H "$d/run.h5" > /dev/null || fail "SIG$sig: h5dump cannot open run.h5"
  n=$(rows /trials "$d/run.h5")
  live=$(sed -n 's/.*"trials_recorded": \([0-9]*\).*/\1/p' "$run/r.json" | head -1)
  [ "$n" = "$live" ] || fail "SIG$sig: the report says $live trials, run.h5 holds $n"
  analyze_says "$d" "$run/a.json"
  grep -q '"reproduces_live_decision": true' "$run/a.json" || fail "SIG$sig: analyze does not reproduce: $(cat "$run/a.json")"
  ledger=$(ledger_agrees "$d" "$OUT/stream.bin" "$run/a.json") || fail "SIG$sig: $ledger"
  echo "SIG$sig: exit 130 after $n trials; run.h5 closed, report.json whole, analyze reproduces the decision; $ledger"
  rm -rf "$run"
done
