# Shared by the fault campaigns (sourced). Everything runs on this machine, on the simulator;
# every wait is bounded.

fail() { echo "FAIL: $*"; exit 1; }

# rows DATASET FILE: the extent of a 1-D dataset, as h5dump (a standard tool) reads it.
rows() {
  timeout 30 h5dump -H -d "$1" "$2" 2>/dev/null | sed -n 's/.*DATASPACE *SIMPLE { ( \([0-9]*\) ).*/\1/p' | head -1
}

# last_flush_s FILE: elapsed_s of the last statistics row (the last flush before the end).
last_flush_s() {
  timeout 30 h5dump -d /statistics -m %.6f "$1" 2>/dev/null |
    awk '/^ *\([0-9]+\): *\{/ { getline; v = $1 } END { gsub(",", "", v); print v }'
}

# big_config SRC DST TRIALS: the experiment with its trial count raised (n of Protocol B).
big_config() {
  sed -e "s/^  trials: [0-9]* /  trials: $3 /" "$1" > "$2"
}

# wait_for_watchdog DIR: after a kill the watchdog runs h5clear -s (≤ 10 s).
wait_for_watchdog() {
  i=0
  until grep -q "h5clear -s applied" "$1/dira.log" 2>/dev/null; do
    i=$((i + 1)); [ "$i" -lt 100 ] || return 1
    sleep 0.1
  done
}

# analyze_says DIR OUTJSON: dira analyze decides (0 accept, 3 abort; 5 incomplete for a run that
# ended before the protocol's n, with the statistics over its trials) or names why not (exit 2
# with a message); anything else (a signal, a hang, an exception) fails the campaign.
analyze_says() {
  timeout 60 "$DIRA" analyze "$1" --json > "$2" 2> "$2.err"; arc=$?
  case $arc in
    0|3) grep -q '"decision": "\(accept\|abort\)"' "$2" || fail "analyze exit $arc without a decision: $(cat "$2")" ;;
    5) grep -q '"decision": "incomplete"' "$2" && grep -q '"decision_over_recorded_trials"' "$2" ||
         fail "analyze exit 5 without an incomplete verdict: $(cat "$2")" ;;
    2) [ -s "$2.err" ] || fail "analyze exit 2 without a message" ;;
    124) fail "dira analyze hangs on $1" ;;
    *) fail "dira analyze exit $arc on $1: $(cat "$2.err")" ;;
  esac
}

# tee_source CFG DST STREAM TRIALS: the experiment with its trial count raised and its weak source
# replaced by a `command` source that hands out /dev/urandom and copies every byte it hands out
# to STREAM (tee writes a block to dira's pipe, then to STREAM, before reading the next), so
# ledger_agrees can replay the settings from the bits dira drew. STREAM must not be on a
# filesystem the campaign fills.
tee_source() {
  awk -v block="  driver: command
  settings: {command: \"head -c 2000000000 /dev/urandom | tee $3\", epsilon: 0.01}" '
    /^weak_source:/ { print "weak_source:"; print block; skip = 1; next }
    skip && /^[^ #]/ { skip = 0 }
    !skip { print }' "$1" > "$2.src"
  big_config "$2.src" "$2" "$4"
  rm -f "$2.src"
}

# ledger_agrees DIR STREAM ANALYZE_JSON: run.h5's ledger, its trials, sv_bits.bin and the weak source's bytes
# agree (ledger_check.py: replayed settings, counts, positions). The experiments here are ks294:
# 2 parties, 9 settings. The trials checked are the intact ones, `dira analyze --json`'s
# trials_recorded (ANALYZE_JSON). Prints its summary, or why not and returns 1.
ledger_agrees() {
  timeout 120 python3 "$(dirname "$0")/ledger_check.py" "$1" "$2" --parties 2 --settings 9 --window 20000 \
    --analyze-json "$3"
}

# loss_s DIR WHEN: seconds of trials lost by a run stopped at epoch WHEN: WHEN less the run's
# start (config.yaml's modification time, written as the run directory is created) less the
# last flush's elapsed_s (what run.h5 holds).
loss_s() {
  started=$(stat -c %.9Y "$1/config.yaml")
  flushed=$(last_flush_s "$1/run.h5")
  awk -v b="$2" -v s="$started" -v f="${flushed:-0}" 'BEGIN { printf "%.2f", b - s - f }'
}
