#!/bin/sh
# The folder boundaries of DESIGN.md and HACKING.md, checked on the sources (CTest build.layering):
# - app/ reaches the simulator only through its registration call (issue 10 item 4: the
#   simulator is an ordinary driver): app/src/devices.cpp includes dira/sim/register.hpp, and no
#   other app/ file includes a dira/sim/ header;
# - protocol/ is pure: no threads, files, streams or clocks, and nothing from hal/, app/, sim/,
#   drivers/ or station/;
# - hal/ knows no application, simulator, driver or station code;
# - Qt only in app/gui (and its tests);
# - a driver's or library's internal header lives beside its sources, not in its include/ folder.
# Each violation is printed as file:line: include; the exit status is the number of rules broken.
root="$1"
cd "$root" || exit 99
broken=0
fail() { echo "layering: $1"; echo "$2" | sed 's/^/  /'; broken=$((broken + 1)); }

hits=$(grep -rn --include='*.cpp' --include='*.hpp' '#include "dira/sim/' app | grep -v '^app/src/devices.cpp:[0-9]*:#include "dira/sim/register.hpp"$')
[ -z "$hits" ] || fail "app/ includes simulator headers beyond the registration call" "$hits"
[ "$(grep -c '#include "dira/sim/register.hpp"' app/src/devices.cpp)" -eq 1 ] || fail "app/src/devices.cpp no longer registers the simulator" ""

hits=$(grep -rnE --include='*.cpp' --include='*.hpp' '#include <(thread|mutex|shared_mutex|condition_variable|future|atomic|fstream|iostream|filesystem|chrono)>|#include "dira/(hal|app|sim|drivers|station|conf)/' protocol)
[ -z "$hits" ] || fail "protocol/ is not pure (threads, I/O, clocks or another layer)" "$hits"

hits=$(grep -rnE --include='*.cpp' --include='*.hpp' '#include "dira/(app|sim|drivers|station)/' hal)
[ -z "$hits" ] || fail "hal/ includes application, simulator, driver or station code" "$hits"

hits=$(grep -rnE --include='*.cpp' --include='*.hpp' '#include <Q[A-Za-z]*>' app hal sim drivers station protocol conf bench tests | grep -vE '^(app/gui|tests/gui)/')
[ -z "$hits" ] || fail "Qt outside app/gui" "$hits"

# Drivers' internal headers live beside their sources (issue 10 item 6): a header under
# <lib>/include/ must be included from outside its own driver (drivers/) or library (sim/,
# station/); one only its own sources include belongs beside them.
hits=""
for h in $(find drivers/include/dira/drivers sim/include/dira/sim station/include/dira/station -name '*.hpp' | sort); do
  name=${h#*/include/}
  case "$h" in
    drivers/include/dira/drivers/*/*)
      sub=${h#drivers/include/dira/drivers/}
      sub=${sub%%/*}
      own="^(drivers/$sub/|drivers/include/dira/drivers/$sub/)" ;;
    drivers/*) own="^drivers/src/" ;;
    *) own="^${h%%/*}/" ;;
  esac
  users=$(grep -rl --include='*.cpp' --include='*.hpp' "#include \"$name\"" app hal sim drivers station protocol conf tests bench 2>/dev/null | grep -vE "$own" | head -1)
  [ -n "$users" ] || hits="$hits$h (only its own sources include it)
"
done
[ -z "$hits" ] || fail "internal headers in a public include folder" "$hits"

[ "$broken" -eq 0 ] && echo "layering: ok"
exit "$broken"
