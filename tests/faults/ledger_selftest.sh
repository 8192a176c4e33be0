#!/bin/sh
# The ledger check of the fault campaigns fails when the property it checks breaks.
#   tests/faults/ledger_selftest.sh DIRA EXPERIMENT OUTDIR
# One short run (stopped by --max-trials, run.h5 closed), which ledger_check.py accepts; then the
# same run with one thing broken at a time, each of which it must refuse naming the fault:
#   a ledger cut short (its last trials' bits gone: the ledger dump with a smaller bit count and
#   last trial), a gap in the ledger, a setting bit of the weak source changed, the source's
#   copy cut short, a byte appended to sv_bits.bin, and a ledger claiming box-choice bits that
#   sv_bits.bin does not hold.
DIRA=$1; CFG=$2; OUT=$3
. "$(dirname "$0")/lib.sh"
CHECK="$(dirname "$0")/ledger_check.py"
rm -rf "$OUT"; mkdir -p "$OUT"
tee_source "$CFG" "$OUT/big.yaml" "$OUT/stream.bin" 100000000
timeout 60 "$DIRA" run "$OUT/big.yaml" --out "$OUT/runs" --max-trials 300000 > /dev/null 2> "$OUT/err"; rc=$?
[ "$rc" -lt 128 ] || fail "dira run: signal $((rc - 128)): $(cat "$OUT/err")"
d=$(ls -d "$OUT"/runs/*/ | head -1)
[ -n "$d" ] || fail "no run directory: $(cat "$OUT/err")"
analyze_says "$d" "$OUT/a.json"
ledger_agrees "$d" "$OUT/stream.bin" "$OUT/a.json" > "$OUT/good" || fail "the intact run is refused: $(cat "$OUT/good")"
echo "intact run: $(cat "$OUT/good")"

timeout 30 h5dump -A 0 -y -d /ledger "$d/run.h5" > "$OUT/ledger.txt" || fail "h5dump /ledger"
# The rows as one line of numbers each: purpose first_bit bit_count first_item last_item.
rows_txt=$(python3 -c '
import re, sys
t = open(sys.argv[1]).read(); n = [int(x) for x in re.findall(r"-?\d+", t[t.find("DATA {"):])]
for i in range(0, len(n), 5): print(*n[i:i + 5])' "$OUT/ledger.txt")
set -- $(echo "$rows_txt" | head -1)
[ "$1" = 0 ] && [ "$2" = 0 ] || fail "unexpected first ledger row: $rows_txt"
bits=$3; last=$5
# dump ROWS...: an h5dump-like listing of ledger rows (what ledger_check.py parses).
dump() { printf 'DATASET "/ledger" {\n   DATA {\n'; for r in "$@"; do echo "      { $r }"; done; printf '   }\n}\n'; }
refused() {  # refused NAME EXPECTED-WORDS [ledger_check args...]
  name=$1; want=$2; shift 2
  if python3 "$CHECK" "$d" --analyze-json "$OUT/a.json" "$@" > "$OUT/out" 2>&1; then
    fail "$name: accepted: $(cat "$OUT/out")"
  fi
  grep -q "$want" "$OUT/out" || fail "$name: refused for another reason: $(cat "$OUT/out")"
  echo "$name: refused ($(cat "$OUT/out"))"
}
# A ledger cut short: the bits of its last 100 000 trials gone (the count exactly what trials
# 0 .. last-100000 consume, so only the trials past it are at fault).
cut_last=$((last - 100000))
cut_bits=$(python3 -c '
import sys; sys.path.insert(0, sys.argv[1]); import ledger_check as L
r = L.Replay(open(sys.argv[2], "rb").read(), 2, 9); print(r.end_bit(int(sys.argv[3])))' \
  "$(dirname "$CHECK")" "$OUT/stream.bin" "$cut_last")
dump "0 0 $cut_bits 0 $cut_last" > "$OUT/cut.txt"
refused "ledger cut short" "the ledger's setting bits end at trial" "$OUT/stream.bin" --ledger-dump "$OUT/cut.txt"
# The same row count but fewer bits: the count no longer matches what the trials consume.
dump "0 0 $((bits - 64)) 0 $last" > "$OUT/short.txt"
refused "bit count too small" "but their settings consume" "$OUT/stream.bin" --ledger-dump "$OUT/short.txt"
# Two rows with a gap of 8 bits between them.
dump "0 0 1000 0 50" "0 1008 $((bits - 1008)) 51 $last" > "$OUT/gap.txt"
refused "gap in the ledger" "gap or overlap" "$OUT/stream.bin" --ledger-dump "$OUT/gap.txt"
# The weak source's first byte changed to one that gives trial 0 other settings (the first that
# does among 0x00, 0x11, …, 0x88: both nibbles accepted, so the bits consumed stay in step).
python3 -c '
import sys; sys.path.insert(0, sys.argv[1]); import ledger_check as L
b = bytearray(open(sys.argv[2], "rb").read())
was = L.Replay(bytes(b[:64]), 2, 9).settings(0)
for v in range(9):
    b[0] = v * 0x11
    if L.Replay(bytes(b[:64]), 2, 9).settings(0) != was:
        break
open(sys.argv[3], "wb").write(b)' "$(dirname "$CHECK")" "$OUT/stream.bin" "$OUT/flipped.bin"
refused "one source byte changed" "the ledger disagrees" "$OUT/flipped.bin"
# The source's copy cut to half the bits the ledger counts.
head -c $((bits / 16)) "$OUT/stream.bin" > "$OUT/half.bin"
refused "source cut short" "the weak source delivered only" "$OUT/half.bin"
# sv_bits.bin with a byte the ledger does not account for.
cp -r "$d" "$OUT/extra"; printf 'x' >> "$OUT/extra/sv_bits.bin"
d_saved=$d; d="$OUT/extra"
refused "sv_bits.bin with an extra byte" "sv_bits.bin holds 1 bytes" "$OUT/stream.bin"
d=$d_saved
# A ledger that says 16 box-choice bits were drawn after the settings, which sv_bits.bin lacks.
dump "0 0 $bits 0 $last" "1 $bits 16 0 0" > "$OUT/box.txt"
refused "box-choice bits missing from sv_bits.bin" "sv_bits.bin holds 0 bytes" "$OUT/stream.bin" --ledger-dump "$OUT/box.txt"
echo "ledger check self-test: the intact run passes, 7 broken ones are refused"
