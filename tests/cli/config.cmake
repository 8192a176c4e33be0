# Bad input to `dira run` and `dira bounds` (config toolkit conf/, issue 10 item 6; issues 12 and 13
# "Bad input"): each case exits 2, names file:line:column and key, and creates nothing. Each case
# edits the shipped config/experiments/sim-ks294.yaml with one sed expression; the line and
# column in the expected message are those of that file (cat -n shows them).
set(dira_config_out "${CMAKE_CURRENT_BINARY_DIR}/config-errors")
set(dira_config_script [=[
dira="$1"; src="$2"; expr="$3"; want="$4"; out="$5"
rm -rf "$out"; mkdir -p "$out"
sed -e "$expr" "$src" > "$out/e.yaml"
"$dira" run "$out/e.yaml" --out "$out/runs" > "$out/stdout" 2> "$out/err"; rc=$?
cat "$out/err"
[ "$rc" -eq 2 ] || { echo "exit $rc, expected 2"; exit 1; }
grep -q -F -e "$want" "$out/err" || { echo "missing: $want"; exit 1; }
[ ! -e "$out/runs" ] || { echo "a run directory was created"; exit 1; }
exit 0
]=])
function(dira_cli_config_error name expr want)
  add_test(NAME cli.config.${name} COMMAND ${DIRA_SH} -c "${dira_config_script}" sh $<TARGET_FILE:dira>
           ${PROJECT_SOURCE_DIR}/config/experiments/sim-ks294.yaml "${expr}" "${want}" ${dira_config_out}/${name})
  list(APPEND dira_cli_tests cli.config.${name})
  set(dira_cli_tests ${dira_cli_tests} PARENT_SCOPE)
endfunction()
dira_cli_config_error(duplicate_key "s/^  seed: 1$/  seed: 1\\n  seed: 2/"
                      "e.yaml:21:3: weak_source.seed: duplicate key (first at line 20:3)")
dira_cli_config_error(misspelt_section "s/^protocol:/Protocol:/"
                      "e.yaml:8:1: protocol: missing; the file has `Protocol` here: did you mean `protocol`?")
dira_cli_config_error(unknown_key_did_you_mean "s/^  trials: 200000/  trails: 200000/"
                      "e.yaml:12:3: protocol.trails: unknown key; did you mean `trials`?")
dira_cli_config_error(missing_weak_source "s/^weak_source:/weak_sauce:/"
                      "e.yaml:17:1: weak_source: missing; the file has `weak_sauce` here")
dira_cli_config_error(scalar_for_map "s/^outputs:$/outputs: runs\\nold_outputs:/"
                      "e.yaml:25:10: outputs: expected a map (directory:, raw_tags:), found the scalar 'runs'")
dira_cli_config_error(complex_key "s/^simulator: .*/? [a, b]\\n: 1\\nsimulator:/"
                      "e.yaml:21:3: (key): expected a plain key, found a sequence (a complex key)")
dira_cli_config_error(seed_inf "s/^  seed: 1$/  seed: .inf/"
                      "e.yaml:20:9: weak_source.seed: expected a finite number, got '.inf'")
dira_cli_config_error(visibility_nan "s/^  visibility: 1.0/  visibility: .nan/"
                      "e.yaml:23:15: simulator.visibility: expected a finite number, got '.nan'")
# Not YAML at all: a directory, an empty file, /dev/zero (bounded: refused in its first block).
add_test(NAME cli.config.not_yaml COMMAND ${DIRA_SH} -c [=[
dira="$1"; out="$2"; rm -rf "$out"; mkdir -p "$out/dir"; : > "$out/empty.yaml"
check() {  # file, expected message
  "$dira" run "$1" --out "$out/runs" 2> "$out/err"; rc=$?
  cat "$out/err"
  [ "$rc" -eq 2 ] || { echo "$1: exit $rc, expected 2"; exit 1; }
  grep -q -F -e "$1: $2" "$out/err" || { echo "missing: $1: $2"; exit 1; }
  [ ! -e "$out/runs" ] || { echo "a run directory was created"; exit 1; }
}
check "$out/dir" "is a directory, not a YAML file (Is a directory)"
check "$out/empty.yaml" "is empty: expected a YAML document"
check /dev/zero "is a binary file (a NUL byte at offset 0), not YAML text"
check "$out/absent.yaml" "cannot open: No such file or directory"
]=] sh $<TARGET_FILE:dira> ${dira_config_out}/not_yaml)
# NaN in an inequality's quantum vectors: refused (before: "quantum value nan", exit 0).
add_test(NAME cli.config.inequality_nan_vector COMMAND ${DIRA_SH} -c [=[
out="$3"; rm -rf "$out"; mkdir -p "$out"
sed -e 's/^    "0": \[1, 0\]/    "0": [.nan, 0]/' "$2" > "$out/chsh-nan.yaml"
"$1" bounds "$out/chsh-nan.yaml" --no-table -q 2> "$out/err"; rc=$?
cat "$out/err"
[ "$rc" -eq 2 ] || { echo "exit $rc, expected 2"; exit 1; }
grep -q -F 'chsh-nan.yaml:43:11: quantum.vectors.0[0]: expected a finite number, got '"'"'.nan'"'" "$out/err" || exit 1
]=] sh $<TARGET_FILE:dira> ${PROJECT_SOURCE_DIR}/config/inequalities/chsh.yaml ${dira_config_out}/nan_vector)
list(APPEND dira_cli_tests cli.config.not_yaml cli.config.inequality_nan_vector)
# A directory or an empty file given as a PTU file: said to be that (before: "truncated header").
add_test(NAME cli.config.not_ptu COMMAND ${DIRA_SH} -c [=[
out="$2"; rm -rf "$out"; mkdir -p "$out/dir"; : > "$out/empty.ptu"
"$1" ptu-info "$out/dir" 2> "$out/err"; rc=$?; cat "$out/err"
[ "$rc" -eq 2 ] || { echo "exit $rc, expected 2"; exit 1; }
grep -q -F "$out/dir: is a directory, not a PTU file (Is a directory)" "$out/err" || exit 1
"$1" ptu-info "$out/empty.ptu" 2> "$out/err"; rc=$?; cat "$out/err"
[ "$rc" -eq 2 ] || { echo "exit $rc, expected 2"; exit 1; }
grep -q -F "$out/empty.ptu: is empty: expected a PicoQuant PTU (TTTR) file" "$out/err" || exit 1
]=] sh $<TARGET_FILE:dira> ${dira_config_out}/not_ptu)
list(APPEND dira_cli_tests cli.config.not_ptu)
