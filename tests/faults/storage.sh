#!/bin/sh
# Fault campaign: the file-size limit (ulimit -f) standing in for a full disk (issue 12).
#   tests/faults/storage.sh DIRA EXPERIMENT OUTDIR
# (a) a limit far below what dira needs to start: a clear error (exit 2) before anything is
#     written, never SIGXFSZ and a truncated config.yaml;
# (b) 20 MB: the run stops cleanly before the limit (status storage-full, exit 1), run.h5
#     closed, report.json whole, the live count equal to run.h5's (nothing lost), analyze
#     reproduces, the ledger agrees with the trials (ledger_check.py).
DIRA=$1; CFG=$2; OUT=$3
. "$(dirname "$0")/lib.sh"
rm -rf "$OUT"; mkdir -p "$OUT"
for blocks in 1 8 64; do
  ( ulimit -f "$blocks"; "$DIRA" run "$CFG" --out "$OUT/tiny" > /dev/null 2> "$OUT/tiny.err" ); rc=$?
  [ "$rc" -lt 128 ] || fail "ulimit -f $blocks: killed by signal $((rc - 128))"
  [ "$rc" -eq 2 ] || fail "ulimit -f $blocks: exit $rc, expected 2"
  grep -q "needs at least 16 MB to start" "$OUT/tiny.err" || fail "ulimit -f $blocks: $(cat "$OUT/tiny.err")"
  [ -z "$(ls -A "$OUT/tiny" 2>/dev/null)" ] || fail "ulimit -f $blocks: a run directory was left behind"
done
echo "ulimit -f 1, 8, 64: refused before anything was written (exit 2)"
tee_source "$CFG" "$OUT/big.yaml" "$OUT/stream.bin" 5000000
( ulimit -f 40000; "$DIRA" run "$OUT/big.yaml" --out "$OUT/full" --json > "$OUT/r.json" 2> "$OUT/err" ); rc=$?
[ "$rc" -eq 1 ] || fail "ulimit -f 40000: exit $rc, expected 1: $(cat "$OUT/err")"
grep -q '"state": "storage-full"' "$OUT/r.json" || fail "state is not storage-full"
d=$(ls -d "$OUT"/full/*/ | head -1)
timeout 30 h5dump -H "$d/run.h5" > /dev/null || fail "h5dump cannot open run.h5"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$d/report.json" || fail "report.json is not whole"
n=$(rows /trials "$d/run.h5")
live=$(sed -n 's/.*"trials_recorded": \([0-9]*\).*/\1/p' "$OUT/r.json" | head -1)
[ "$n" = "$live" ] || fail "the report says $live trials, run.h5 holds $n"
analyze_says "$d" "$OUT/a.json"
grep -q '"reproduces_live_decision": true' "$OUT/a.json" || fail "analyze does not reproduce: $(cat "$OUT/a.json")"
# tee's copy of the weak source is under the same limit: the settings of 40000 blocks' worth of
# trials take far less (14 bits a trial against 32 bytes a row).
ledger=$(ledger_agrees "$d" "$OUT/stream.bin" "$OUT/a.json") || fail "$ledger"
echo "ulimit -f 40000 (20 MB): storage-full after $n trials; run.h5 closed, analyze reproduces; $ledger"
