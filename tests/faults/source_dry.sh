#!/bin/sh
# Fault campaign: a weak source that is too small, or runs dry during acquisition (issues 12, 13).
#   tests/faults/source_dry.sh DIRA EXPERIMENT OUTDIR
# 1. A 2 MB file (the `file` entropy driver) for 10^8 trials: refused before anything is
#    created (exit 2), with the bits it holds and the bits the settings need.
# 2. The same bytes through a command (`cat`, size unknown in advance): the run ends in state
#    source-exhausted, verdict incomplete (exit 5), naming the exhausted source, with every trial
#    whose settings were drawn recorded; run.h5 is closed (h5dump opens it), the live count
#    equals run.h5's, dira analyze gives the same verdict or says exactly why not, and the ledger
#    agrees with the trials and with the 2 MB the source held (ledger_check.py).
DIRA=$1; CFG=$2; OUT=$3
. "$(dirname "$0")/lib.sh"
rm -rf "$OUT"; mkdir -p "$OUT"
head -c 2097152 /dev/urandom > "$OUT/bits.bin"
# The weak_source: block (up to the next top-level key) becomes a file, then a command, source.
source_as() {
  awk -v block="$1" '
    /^weak_source:/ { print "weak_source:"; print block; skip = 1; next }
    skip && /^[^ #]/ { skip = 0 }
    !skip { print }' "$CFG" > "$OUT/src.yaml"
  big_config "$OUT/src.yaml" "$2" 100000000
}
source_as "  driver: file
  settings: {path: $OUT/bits.bin, epsilon: 0.01}" "$OUT/file.yaml"
timeout 60 "$DIRA" run "$OUT/file.yaml" --out "$OUT/refused" > /dev/null 2> "$OUT/err0"; rc=$?
[ "$rc" -eq 2 ] || fail "a too small file source: exit $rc, expected 2: $(cat "$OUT/err0")"
grep -q "the weak source holds 16,777,216 bits" "$OUT/err0" || fail "the refusal does not give the numbers: $(cat "$OUT/err0")"
[ ! -e "$OUT/refused" ] || [ -z "$(ls -A "$OUT/refused")" ] || fail "a refused run left files behind"
source_as "  driver: command
  settings: {command: \"cat $OUT/bits.bin\", epsilon: 0.01}" "$OUT/big.yaml"
timeout 120 "$DIRA" run "$OUT/big.yaml" --out "$OUT/runs" --json > "$OUT/r.json" 2> "$OUT/err"; rc=$?
[ "$rc" -eq 5 ] || fail "exit $rc, expected 5 (incomplete): $(cat "$OUT/err")"
grep -q '"state": "source-exhausted"' "$OUT/r.json" || fail "state is not source-exhausted"
grep -q '"decision": "incomplete"' "$OUT/r.json" || fail "verdict is not incomplete"
grep -q 'weak source exhausted' "$OUT/r.json" || fail "the report does not name the exhausted source"
d=$(ls -d "$OUT"/runs/*/ | head -1)
timeout 30 h5dump -H "$d/run.h5" > /dev/null || fail "h5dump cannot open run.h5"
n=$(rows /trials "$d/run.h5")
live=$(sed -n 's/.*"trials_recorded": \([0-9]*\).*/\1/p' "$OUT/r.json" | head -1)
[ "$n" = "$live" ] || fail "the report says $live trials, run.h5 holds $n"
[ "$n" -gt 0 ] || fail "no trial recorded before the source ran dry"
analyze_says "$d" "$OUT/a.json"
ledger=$(ledger_agrees "$d" "$OUT/bits.bin" "$OUT/a.json") || fail "$ledger"
echo "$ledger"
echo "too small a file refused (exit 2); source dry after $n trials: exit 5, run.h5 closed, analyze: $(sed -n 's/.*"decision": "\([a-z]*\)".*/\1/p' "$OUT/a.json" | tail -1)"
