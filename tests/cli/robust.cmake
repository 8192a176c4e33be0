# Issue 12, app side: damaged run files, report.json, run-directory names and modes, numeric
# options. Every test checks an exit code and a message; every path is a positional argument.
set(dira_robust_out "${CMAKE_CURRENT_BINARY_DIR}/robust")
set(dira_robust_cfg "${PROJECT_SOURCE_DIR}/config/experiments/sim-ks294.yaml")

# A byte of the superblock damaged, or run.h5 cut to 90 %: dira analyze answers within
# seconds (HDF5 1.10's SWMR reader used to retry a failed checksum forever), with HDF5's
# reason or the count of missing trials; never a decision over rows that were never written.
add_test(NAME cli.analyze.damaged_run_file COMMAND ${DIRA_SH} -c [=[
dira="$1"; out="$2"; rm -rf "$out"; mkdir -p "$out"
"$dira" run "$3" --out "$out/runs" > /dev/null 2>&1; rc=$?
[ "$rc" -eq 0 ] || { echo "dira run exited $rc"; exit 1; }
d=$(ls -d "$out"/runs/*/ | head -1)
# (a) bytes 12-13 of the superblock (its base address, under its checksum) overwritten.
cp -r "$d" "$out/a"
printf "\125\125" | dd of="$out/a/run.h5" bs=1 seek=12 conv=notrunc 2>/dev/null
timeout 20 "$dira" analyze "$out/a" > "$out/a.out" 2> "$out/a.err"; rc=$?
cat "$out/a.err"
[ "$rc" -ne 124 ] || { echo "dira analyze hangs on a damaged superblock"; exit 1; }
[ "$rc" -eq 2 ] || { echo "exit $rc, expected 2"; cat "$out/a.out"; exit 1; }
grep -q "cannot open .*run.h5 as an HDF5 run file" "$out/a.err" || exit 1
# (b) cut to 90 %.
cp -r "$d" "$out/b"
size=$(stat -c %s "$out/b/run.h5")
truncate -s $((size * 9 / 10)) "$out/b/run.h5"
timeout 20 "$dira" analyze "$out/b" --json > "$out/b.json" 2> "$out/b.err"; rc=$?
[ "$rc" -ne 124 ] || { echo "dira analyze hangs on a truncated file"; exit 1; }
if [ "$rc" -eq 2 ]; then
  grep -q "cannot open\|cannot be opened" "$out/b.err" || { cat "$out/b.err"; exit 1; }
else
  grep -q '"trials_damaged": [1-9]' "$out/b.json" || { echo "no damaged trials reported"; cat "$out/b.json"; exit 1; }
  grep -q 'trials missing or damaged, not used' "$out/b.json" || { cat "$out/b.json"; exit 1; }
fi
# Every 61st byte of the first 4 kB, one at a time: an answer within 20 s each.
i=0
while [ $i -lt 4096 ]; do
  rm -rf "$out/c"; cp -r "$d" "$out/c"
  printf '\125' | dd of="$out/c/run.h5" bs=1 seek=$i conv=notrunc 2>/dev/null
  timeout 20 "$dira" analyze "$out/c" > /dev/null 2>&1; rc=$?
  [ "$rc" -ne 124 ] || { echo "dira analyze hangs with byte $i damaged"; exit 1; }
  [ "$rc" -lt 128 ] || { echo "dira analyze crashed (exit $rc) with byte $i damaged"; exit 1; }
  i=$((i + 61))
done
exit 0
]=] sh $<TARGET_FILE:dira> ${dira_robust_out}/damaged ${dira_robust_cfg})

# report.json absent, not JSON, or with fields of the wrong type: said so, never a JSON
# library exception; the decision over run.h5 is still made (compared with run.h5's copy of the
# report when report.json is absent).
add_test(NAME cli.analyze.report_json_damaged COMMAND ${DIRA_SH} -c [=[
dira="$1"; out="$2"; rm -rf "$out"; mkdir -p "$out"
"$dira" run "$3" --out "$out/runs" > /dev/null 2>&1 || { echo "dira run failed"; exit 1; }
d=$(ls -d "$out"/runs/*/ | head -1)
[ ! -e "$d/report.json.tmp" ] || { echo "report.json.tmp left behind"; exit 1; }
printf '{"status": 5, "decision": ["accept"]}\n' > "$d/report.json"
"$dira" analyze "$d" > "$out/types.out" 2>&1; rc=$?
cat "$out/types.out"
[ "$rc" -eq 0 ] || { echo "exit $rc, expected 0 (the decision over run.h5)"; exit 1; }
grep -q 'report.json is damaged (field "status" is number, not a string)' "$out/types.out" || exit 1
printf '{"status": "acc' > "$d/report.json"
"$dira" analyze "$d" > "$out/cut.out" 2>&1; rc=$?
[ "$rc" -eq 0 ] || { echo "exit $rc"; exit 1; }
grep -q 'report.json is damaged (it is not valid JSON)' "$out/cut.out" || { cat "$out/cut.out"; exit 1; }
rm "$d/report.json"
"$dira" analyze "$d" > "$out/none.out" 2>&1; rc=$?
[ "$rc" -eq 0 ] || { echo "exit $rc"; exit 1; }
# The run wrote its report into run.h5 before report.json: that copy is the live report.
grep -q "the live report is run.h5's copy" "$out/none.out" || { cat "$out/none.out"; exit 1; }
grep -q 'reproduces the live decision: yes' "$out/none.out" || { cat "$out/none.out"; exit 1; }
# A run that ended but could not write report.json (a full disk) leaves the empty file
# report.json.unwritten (run_directory.cpp): analyze says so. Runs whose run.h5 lacks the report
# too: the [analyze] unit tests.
: > "$d/report.json.unwritten"
"$dira" analyze "$d" > "$out/unwritten.out" 2>&1 || exit 1
grep -q 'is missing (the run could not write it)' "$out/unwritten.out" || { cat "$out/unwritten.out"; exit 1; }
]=] sh $<TARGET_FILE:dira> ${dira_robust_out}/report ${dira_robust_cfg})

# Experiment names that would put the run directory outside --out: exit 2, nothing created.
add_test(NAME cli.run.name_outside_out COMMAND ${DIRA_SH} -c [=[
dira="$1"; out="$2"; rm -rf "$out"; mkdir -p "$out/box"
long=$(printf 'n%.0s' $(seq 300))
for name in "../../escape" "/abs/path" "$long"; do
  sed -e "s|^name: .*|name: \"$name\"|" "$3" > "$out/cfg.yaml"
  "$dira" run "$out/cfg.yaml" --out "$out/box/runs" > /dev/null 2> "$out/err"; rc=$?
  cat "$out/err"
  [ "$rc" -eq 2 ] || { echo "name $name: exit $rc, expected 2"; exit 1; }
  grep -q "cannot name a run directory" "$out/err" || exit 1
done
[ -z "$(ls -A "$out/box/runs" 2>/dev/null)" ] || { echo "something was created under --out"; ls -laR "$out/box"; exit 1; }
[ ! -e "$out/escape" ] && [ ! -e "$out/box/escape" ] && [ ! -e /abs/path ] || { echo "written outside --out"; exit 1; }
]=] sh $<TARGET_FILE:dira> ${dira_robust_out}/names ${dira_robust_cfg})

# umask 000: the run directory is still 0700 and every file in it 0600.
add_test(NAME cli.run.private_under_umask_000 COMMAND ${DIRA_SH} -c [=[
dira="$1"; out="$2"; rm -rf "$out"; mkdir -p "$out"
( umask 000; "$dira" run "$3" --out "$out/runs" > /dev/null 2>&1 ) || { echo "dira run failed"; exit 1; }
d=$(ls -d "$out"/runs/*/ | head -1)
[ "$(stat -c %a "$d")" = 700 ] || { echo "run directory is $(stat -c %a "$d")"; exit 1; }
for f in "$d"/*; do
  m=$(stat -c %a "$f")
  [ "$m" = 600 ] || { echo "$f is $m"; exit 1; }
done
for f in run.h5 report.json config.yaml dira.log sv_bits.bin; do [ -e "$d/$f" ] || { echo "no $f"; exit 1; }; done
]=] sh $<TARGET_FILE:dira> ${dira_robust_out}/umask ${dira_robust_cfg})

# A file-size limit below what the config needs: a clear error before anything is
# written (SIGXFSZ ignored first), never a truncated config.yaml.
add_test(NAME cli.run.ulimit_f_tiny COMMAND ${DIRA_SH} -c [=[
dira="$1"; out="$2"; rm -rf "$out"; mkdir -p "$out"
( ulimit -f 1; "$dira" run "$3" --out "$out/runs" > /dev/null 2> "$out/err" ); rc=$?
cat "$out/err"
[ "$rc" -lt 128 ] || { echo "killed by signal $((rc - 128))"; exit 1; }
[ "$rc" -eq 2 ] || { echo "exit $rc, expected 2"; exit 1; }
grep -q "dira run needs at least 16 MB to start" "$out/err" || exit 1
[ -z "$(ls -A "$out/runs" 2>/dev/null)" ] || { echo "a run directory was left behind"; ls -lR "$out/runs"; exit 1; }
]=] sh $<TARGET_FILE:dira> ${dira_robust_out}/ulimit ${dira_robust_cfg})

# dira bounds --delta 1e309 used to reach GLPK as an infinite bound (assertion, SIGABRT).
add_test(NAME cli.bounds.delta_out_of_range COMMAND ${DIRA_SH} -c [=[
for d in 1e309 1000 -1 nan inf; do
  out=$("$1" bounds guehne4 --no-table -q --delta "$d" 2>&1); rc=$?
  printf '%s\n' "$out"
  [ "$rc" -eq 2 ] || { echo "--delta $d: exit $rc, expected 2"; exit 1; }
  printf '%s\n' "$out" | grep -q -e "--delta $d: " || { echo "--delta $d: no message naming the option"; exit 1; }
done
out=$("$1" bounds guehne4 --no-table -q --delta 1e309 2>&1)
printf '%s\n' "$out" | grep -q "out of range: B·P of guehne4 lies within" || exit 1
]=] sh $<TARGET_FILE:dira>)

list(APPEND dira_cli_tests cli.analyze.damaged_run_file cli.analyze.report_json_damaged cli.run.name_outside_out
     cli.run.private_under_umask_000 cli.run.ulimit_f_tiny cli.bounds.delta_out_of_range)

# Protocol A interrupted (SIGTERM) before every device had a valid run: the live run aborts
# without drawing box-choice bits, so sv_bits.bin is empty; dira analyze used to answer
# "undecided" (no bits given) against the live "abort". sv_bits.bin exists from the start
# (0600) and is replayed even when empty.
add_test(NAME cli.analyze.protocol_a_interrupted COMMAND ${DIRA_SH} -c [=[
dira="$1"; out="$2"; rm -rf "$out"; mkdir -p "$out"
sed -e 's/^  uses_per_device: 2000 /  uses_per_device: 2000000 /' "$3" > "$out/a.yaml"
"$dira" run "$out/a.yaml" --out "$out/runs" --json > "$out/r.json" 2> /dev/null &
pid=$!
sleep 1.5
kill -TERM $pid
wait $pid; rc=$?
[ "$rc" -eq 130 ] || { echo "exit $rc, expected 130"; exit 1; }
# Interrupted before n: the verdict is incomplete (issue 13); the statistics over the recorded
# trials say abort (devices without a valid run).
grep -q '"decision": "incomplete"' "$out/r.json" && grep -q '"decision_over_recorded_trials": "abort"' "$out/r.json" ||
  { echo "the live run is not incomplete with an abort over its trials"; exit 1; }
d=$(ls -d "$out"/runs/*/ | head -1)
[ -e "$d/sv_bits.bin" ] || { echo "no sv_bits.bin"; exit 1; }
[ "$(stat -c %a "$d/sv_bits.bin")" = 600 ] || { echo "sv_bits.bin is $(stat -c %a "$d/sv_bits.bin")"; exit 1; }
"$dira" analyze "$d" > "$out/a.out"; rc=$?
cat "$out/a.out"
[ "$rc" -eq 5 ] || { echo "analyze exit $rc, expected 5 (incomplete; abort over the recorded trials)"; exit 1; }
grep -q "the statistics over them say abort" "$out/a.out" || exit 1
grep -q "reproduces the live decision: yes" "$out/a.out" || exit 1
grep -q "has no valid run" "$out/a.out" || exit 1
]=] sh $<TARGET_FILE:dira> ${dira_robust_out}/protocol_a ${PROJECT_SOURCE_DIR}/config/experiments/sim-guehne4.yaml)
set_tests_properties(cli.analyze.protocol_a_interrupted PROPERTIES RUN_SERIAL TRUE)

# A binary file or /dev/zero as the trial CSV or the SV-bit file of analyze-trials: exit 2 with
# the file named, no raw control bytes echoed, memory bounded (ulimit -v, outside ASan).
add_test(NAME cli.analyze_trials.binary_and_endless_inputs COMMAND ${DIRA_SH} -c [=[
dira="$1"; out="$2"; cfg="$3"; rm -rf "$out"; mkdir -p "$out"
# A memory limit (ulimit -v) where dira can start under it: not under ASan, whose shadow memory
# needs terabytes of address space (there the bound shows as the quick exit 2 alone).
vlimit() { if ( ulimit -v 4000000; "$dira" --help > /dev/null 2>&1 ); then ulimit -v "$1"; fi; }
printf '\177ELF\002\001\033[31m,\007\010\r\n0,0\n' > "$out/binary.csv"
"$dira" analyze-trials --config "$cfg" --trials "$out/binary.csv" > /dev/null 2> "$out/err"; rc=$?
cat "$out/err"
[ "$rc" -eq 2 ] || { echo "binary CSV: exit $rc, expected 2"; exit 1; }
grep -q 'binary.csv:1:1: \\x7fELF\\x02\\x01\\x1b\[31m: unknown column' "$out/err" || { echo "binary CSV: message"; exit 1; }
if LC_ALL=C grep -q "$(printf '\033')" "$out/err"; then echo "a raw escape byte was echoed"; exit 1; fi
( vlimit 1000000; "$dira" analyze-trials --config "$cfg" --trials /dev/zero > /dev/null 2> "$out/zero" ); rc=$?
cat "$out/zero"
[ "$rc" -eq 2 ] || { echo "/dev/zero as trials: exit $rc, expected 2"; exit 1; }
grep -q '/dev/zero:1:0: line longer than 4096 bytes' "$out/zero" || exit 1
printf 'trial,u0,u1,x0,x1\n0,1,1,0,0\n' > "$out/ok.csv"
( vlimit 4000000; "$dira" analyze-trials --config "$cfg" --trials "$out/ok.csv" --sv-bits /dev/zero > /dev/null 2> "$out/svzero" ); rc=$?
cat "$out/svzero"
[ "$rc" -eq 2 ] || { echo "/dev/zero as sv bits: exit $rc, expected 2"; exit 1; }
grep -q -e '--sv-bits /dev/zero.*more than 1073741824 bytes of weak-source bits' "$out/svzero" || exit 1
]=] sh $<TARGET_FILE:dira> ${dira_robust_out}/csv ${dira_robust_cfg})
list(APPEND dira_cli_tests cli.analyze.protocol_a_interrupted cli.analyze_trials.binary_and_endless_inputs)
