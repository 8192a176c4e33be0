#!/bin/sh
# Fault campaign: a weak source that runs dry during acquisition (issue 12).
#   tests/faults/source_dry.sh DIRA EXPERIMENT OUTDIR
# The experiment's weak source is replaced by a 2 MB file (the `file` entropy driver): the
# run ends as a hardware fault (exit 4) naming the exhausted source, with every trial whose
# settings were drawn recorded; run.h5 is closed (h5dump opens it), the live count equals
# run.h5's, and dira analyze decides over those trials or says exactly why not.
DIRA=$1; CFG=$2; OUT=$3
. "$(dirname "$0")/lib.sh"
rm -rf "$OUT"; mkdir -p "$OUT"
head -c 2097152 /dev/urandom > "$OUT/bits.bin"
# The weak_source: block (up to the next top-level key) becomes a file source.
awk -v p="$OUT/bits.bin" '
  /^weak_source:/ { print "weak_source:"; print "  kind: file"; print "  path: " p; skip = 1; next }
  skip && /^[^ #]/ { skip = 0 }
  !skip { print }' "$CFG" > "$OUT/dry.yaml"
big_config "$OUT/dry.yaml" "$OUT/big.yaml" 100000000
timeout 120 "$DIRA" run "$OUT/big.yaml" --out "$OUT/runs" --json > "$OUT/r.json" 2> "$OUT/err"; rc=$?
[ "$rc" -eq 4 ] || fail "exit $rc, expected 4 (hardware fault): $(cat "$OUT/err")"
grep -q '"status": "hardware-fault"' "$OUT/r.json" || fail "status is not hardware-fault"
grep -q 'weak source exhausted' "$OUT/r.json" || fail "the fault does not name the exhausted source"
d=$(ls -d "$OUT"/runs/*/ | head -1)
timeout 30 h5dump -H "$d/run.h5" > /dev/null || fail "h5dump cannot open run.h5"
n=$(rows /trials "$d/run.h5")
live=$(sed -n 's/.*"trials_recorded": \([0-9]*\).*/\1/p' "$OUT/r.json" | head -1)
[ "$n" = "$live" ] || fail "the report says $live trials, run.h5 holds $n"
[ "$n" -gt 0 ] || fail "no trial recorded before the source ran dry"
analyze_says "$d" "$OUT/a.json"
echo "source dry after $n trials: exit 4, run.h5 closed, analyze: $(sed -n 's/.*"decision": "\([a-z]*\)".*/\1/p' "$OUT/a.json" | tail -1)"
