# What the operator sees (issue 13): run state apart from verdict, limits that are refused or
# explained, analyze refusing a changed config.yaml, the status line fitted to the terminal.
# sim-ks294.yaml fixes n = 200,000 trials (protocol.trials), so every limit below is judged
# against that number.
set(dira_op_out "${CMAKE_CURRENT_BINARY_DIR}/operator")

# --max-trials below n: the run ends "stopped", verdict "incomplete", exit 5, nothing certified;
# the statistics over the recorded trials are reported beside the verdict, labelled as such.
add_test(NAME cli.operator.max_trials_below_n_is_incomplete COMMAND ${DIRA_SH} -c [=[
out="$2"; rm -rf "$out"; mkdir -p "$out"
"$1" run "$3" --out "$out" --max-trials 20000 --json > "$out/r.json" 2> "$out/err"; rc=$?
[ "$rc" -eq 5 ] || { echo "exit $rc, expected 5"; cat "$out/err"; exit 1; }
grep -q '"state": "stopped"' "$out/r.json" && grep -q '"decision": "incomplete"' "$out/r.json" || { cat "$out/r.json"; exit 1; }
grep -q '"decision_over_recorded_trials"' "$out/r.json" || { echo "no statistics over the recorded trials"; exit 1; }
grep -q '"certified_bits": 0' "$out/r.json" || exit 1
grep -q "certify nothing" "$out/err" || { echo "no note before the run"; cat "$out/err"; exit 1; }
d=$(ls -d "$out"/*/ | head -1)
"$1" analyze "$d" > "$out/a.txt"; arc=$?
[ "$arc" -eq 5 ] || { echo "analyze exit $arc, expected 5"; cat "$out/a.txt"; exit 1; }
grep -q "decision incomplete over 20,000 trials" "$out/a.txt" || { cat "$out/a.txt"; exit 1; }
# run.h5 describes itself: labels, flag bits and units as attributes an h5dump user reads.
h5dump -a /trials/description "$d/run.h5" | grep -q "0-based labels" || { echo "no /trials description"; exit 1; }
h5dump -a /trials/units "$d/run.h5" | grep -q "time_ps: ps" || { echo "no /trials units"; exit 1; }
h5dump -a /ledger/description "$d/run.h5" | grep -q "1 = box choice" || { echo "no /ledger description"; exit 1; }
h5dump -a /statistics/description "$d/run.h5" | grep -q "E\[Z_k\]" || { echo "no /statistics description"; exit 1; }
# The report as an HDF5 string too (the root attribute report_json), written after the SWMR close.
h5dump -a /report_json "$d/run.h5" | grep -q "incomplete" || { echo "no report_json string attribute"; exit 1; }
]=] sh $<TARGET_FILE:dira> ${dira_op_out}/below_n ${PROJECT_SOURCE_DIR}/config/experiments/sim-ks294.yaml)

# Limits that cannot be honoured are refused before anything is created (exit 2).
add_test(NAME cli.operator.bad_limits_are_refused COMMAND ${DIRA_SH} -c [=[
out="$2"; rm -rf "$out"; mkdir -p "$out"
check() {
  msg="$1"; shift
  "$dira" run "$cfg" --out "$out" "$@" > /dev/null 2> "$out/err"; rc=$?
  [ "$rc" -eq 2 ] || { echo "$*: exit $rc, expected 2"; cat "$out/err"; exit 1; }
  grep -q -- "$msg" "$out/err" || { echo "$*: no '$msg' in:"; cat "$out/err"; exit 1; }
}
dira="$1"; cfg="$3"
check "exceeds the 200,000 trials the protocol fixes" --max-trials 1000000
check "must be a whole number of trials" --max-trials 0
check "must be a whole number of trials" --max-trials -3
check "must be a whole number of trials" --max-trials 2.5
check "must be a positive number of seconds" --duration -1
check "must be a positive number of seconds" --duration 0
[ -z "$(ls -A "$out" | grep -v '^err$')" ] || { echo "something was created:"; ls -la "$out"; exit 1; }
]=] sh $<TARGET_FILE:dira> ${dira_op_out}/limits ${PROJECT_SOURCE_DIR}/config/experiments/sim-ks294.yaml)

# dira analyze on a run whose config.yaml was edited afterwards: says so, exit 2.
add_test(NAME cli.operator.analyze_refuses_changed_config COMMAND ${DIRA_SH} -c [=[
out="$2"; rm -rf "$out"; mkdir -p "$out"
"$1" run "$3" --out "$out" --max-trials 5000 > /dev/null 2>&1
d=$(ls -d "$out"/*/ | head -1)
printf '\n# edited\n' >> "$d/config.yaml"
"$1" analyze "$d" > "$out/a.txt" 2> "$out/err"; rc=$?
[ "$rc" -eq 2 ] || { echo "exit $rc, expected 2"; cat "$out/a.txt" "$out/err"; exit 1; }
grep -q "config.yaml was changed after the run" "$out/err" || { cat "$out/err"; exit 1; }
]=] sh $<TARGET_FILE:dira> ${dira_op_out}/changed ${PROJECT_SOURCE_DIR}/config/experiments/sim-ks294.yaml)

list(APPEND dira_cli_tests cli.operator.max_trials_below_n_is_incomplete cli.operator.bad_limits_are_refused
     cli.operator.analyze_refuses_changed_config)

# The status line through a pseudo-terminal 100 columns wide (a "screenshot"): every line the
# terminal shows after the carriage returns is at most 100 columns, the line is rewritten in
# place (\r).
if(Python3_FOUND)
  add_test(NAME cli.operator.progress_line_fits_a_100_column_pty
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/progress_pty.py $<TARGET_FILE:dira>
                   ${PROJECT_SOURCE_DIR}/config/experiments/sim-ks294.yaml ${dira_op_out}/pty)
  list(APPEND dira_cli_tests cli.operator.progress_line_fits_a_100_column_pty)
endif()

# Plan → run (issue 13): every parameter the planner chooses is a key of the experiment file;
# `dira plan --write-experiment` writes a file `dira run` accepts (exit 5 = valid, stopped
# before n by --max-trials; a refused file would exit 2). Never overwrites; Protocol A's tower
# of trials is refused with the reason.
add_test(NAME cli.operator.plan_writes_a_runnable_experiment_b COMMAND ${DIRA_SH} -c [=[
out="$2"; rm -rf "$out"; mkdir -p "$out"
"$1" plan --protocol B --write-experiment "$out/b.yaml" > "$out/plan.txt" || { echo "plan failed"; exit 1; }
for k in "kind: B" "delta:" "mu1:" "kappa:" "delta_az:" "tau:" "trials:"; do
  grep -q "  $k" "$out/b.yaml" || { echo "no $k in:"; cat "$out/b.yaml"; exit 1; }
done
"$1" run "$out/b.yaml" --out "$out/runs" --max-trials 2000 --json > "$out/r.json" 2> "$out/err"; rc=$?
[ "$rc" -eq 5 ] || { echo "dira run exit $rc (expected 5: valid, stopped before n)"; cat "$out/err"; cat "$out/b.yaml"; exit 1; }
"$1" plan --protocol B --write-experiment "$out/b.yaml" > /dev/null 2> "$out/err2"; rc=$?
[ "$rc" -eq 2 ] && grep -q "does not overwrite" "$out/err2" || { echo "overwrote ($rc)"; cat "$out/err2"; exit 1; }
"$1" plan --protocol A --epsilon 0.01 --target 1e-3 --write-experiment "$out/a.yaml" > /dev/null 2> "$out/err3"; rc=$?
[ "$rc" -eq 2 ] && grep -q "cannot be written as an experiment file" "$out/err3" && [ ! -e "$out/a.yaml" ] || { echo "A: $rc"; cat "$out/err3"; exit 1; }
]=] sh $<TARGET_FILE:dira> ${dira_op_out}/plan_b)
add_test(NAME cli.operator.plan_writes_a_runnable_experiment_c COMMAND ${DIRA_SH} -c [=[
out="$2"; rm -rf "$out"; mkdir -p "$out"
"$1" plan --protocol C --epsilon 1e-3 --visibility 0.99 --efficiency 0.8 --write-experiment "$out/c.yaml" > /dev/null || exit 1
grep -q "state_theta:" "$out/c.yaml" && grep -q "kind: C" "$out/c.yaml" || { cat "$out/c.yaml"; exit 1; }
"$1" run "$out/c.yaml" --out "$out/runs" --max-trials 2000 > /dev/null 2> "$out/err"; rc=$?
[ "$rc" -eq 5 ] || { echo "dira run exit $rc (expected 5)"; cat "$out/err"; cat "$out/c.yaml"; exit 1; }
]=] sh $<TARGET_FILE:dira> ${dira_op_out}/plan_c)
# --json: errors are JSON too.
add_test(NAME cli.operator.json_errors_are_json COMMAND ${DIRA_SH} -c [=[
mkdir -p "$(dirname "$2")"
"$1" run /nonexistent.yaml --json > "$2.out" 2>/dev/null; rc=$?
[ "$rc" -eq 2 ] || { echo "exit $rc"; exit 1; }
"$3" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["exit_code"] == 2 and j["error"], j' "$2.out" || { cat "$2.out"; exit 1; }
"$1" plan --protocol B --epsilon 0.7 --json > "$2.out2" 2>/dev/null; rc=$?
[ "$rc" -eq 2 ] || { echo "plan exit $rc"; exit 1; }
"$3" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert "ε" in j["error"], j' "$2.out2" || { cat "$2.out2"; exit 1; }
# Every command, through main's generic path: a bad inequality for bounds, a missing PTU file,
# an unknown option.
for cmd in "bounds /nonexistent.yaml --json" "ptu-info /nonexistent.ptu --json" "analyze-trials --config /nonexistent.yaml --trials /x.csv --json" "run --json --no-such-option x.yaml"; do
  "$1" $cmd > "$2.out3" 2>/dev/null; rc=$?
  [ "$rc" -ne 0 ] || { echo "$cmd: exit 0"; exit 1; }
  "$3" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["error"] and j["exit_code"] == int(sys.argv[2]), j' "$2.out3" "$rc" || { echo "$cmd:"; cat "$2.out3"; exit 1; }
done
]=] sh $<TARGET_FILE:dira> ${dira_op_out}/json_errors ${Python3_EXECUTABLE})
list(APPEND dira_cli_tests cli.operator.plan_writes_a_runnable_experiment_b cli.operator.plan_writes_a_runnable_experiment_c
     cli.operator.json_errors_are_json)
