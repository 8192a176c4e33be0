# CLI tests of `dira ptu-info` (docs/ptu.md), label "cli". Included from tests/cli/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/ptu.cmake)
#
# The PTU files are written here by a few lines of Python with struct.pack, from PicoQuant's
# published layout (doc/apx_tagtypes.html, doc/apx_tttrrecords.html), independently of dira's
# own writer; the expected counts and times are worked out by hand in the comments.

if(NOT Python3_Interpreter_FOUND)
  find_package(Python3 3.6 COMPONENTS Interpreter)
endif()
if(NOT Python3_Interpreter_FOUND)
  message(STATUS "tests/cli/ptu.cmake: Python 3 not found; the ptu-info tests are not registered")
  return()
endif()

# A MultiHarp/generic T3 file (0x00010307): sync period 12.5 ns, dtime unit 5 ps. Records
# (special 1 | channel 6 | dtime 15 | nsync 10):
#   (100<<10)|7                detector 1, nsync 7       → sync 87500 ps, photon 88000 ps
#   (1<<25)|(200<<10)|7        detector 2, nsync 7       → photon 88500 ps
#   (1<<31)|(1<<25)|9          marker 1 at nsync 9       → sync 112500 ps, marker 112500 ps
#   (1<<31)|(63<<25)|2         overflow, 2 periods of 1024 syncs
#   5                          detector 1, nsync 2048+5  → sync and photon at 25662500 ps
# So: 5 records, 3 photons, 1 marker record, 1 overflow record (2 periods), syncs 3,
# counts_per_channel {sync: 3, 1: 2, 2: 1}, first 87500 ps, last 25662500 ps.
set(dira_ptu_writer [=[
import struct, sys
def tag(ident, typ, value, idx=-1):
    fmt = '<iId' if isinstance(value, float) else '<iIq'
    return ident.encode().ljust(32, b'\0') + struct.pack(fmt, idx, typ, value)
def ansi(ident, text):
    data = text.encode() + b'\0'
    data += b'\0' * (-len(data) % 8)
    return tag(ident, 0x4001FFFF, len(data)) + data
records = [(100 << 10) | 7, (1 << 25) | (200 << 10) | 7, (1 << 31) | (1 << 25) | 9, (1 << 31) | (63 << 25) | 2, 5]
head = b'PQTTTR\0\0' + b'1.0.00\0\0'
head += ansi('CreatorSW_Name', 'tests/cli/ptu.cmake')
head += tag('TTResultFormat_TTTRRecType', 0x10000008, 0x00010307)
head += tag('TTResultFormat_BitsPerRecord', 0x10000008, 32)
head += tag('MeasDesc_GlobalResolution', 0x20000008, 12.5e-9)
head += tag('MeasDesc_Resolution', 0x20000008, 5e-12)
head += tag('TTResult_SyncRate', 0x10000008, 80000000)
head += tag('TTResult_NumberOfRecords', 0x10000008, len(records))
head += tag('Header_End', 0xFFFF0008, 0)
body = b''.join(struct.pack('<I', r) for r in records)
data = head + body
open(sys.argv[1] + '/good.ptu', 'wb').write(data)
open(sys.argv[1] + '/truncated.ptu', 'wb').write(data[:-3])   # last record cut: the file ends at len-3
open(sys.argv[1] + '/magic.ptu', 'wb').write(b'PQHISTO\0' + data[8:])
print(len(head), len(data))
]=])

set(dira_ptu_check [=[
import json, subprocess, sys
dira, out = sys.argv[1], sys.argv[2]
head_len, size = map(int, subprocess.check_output([sys.executable, '-c', sys.argv[3], out]).split())
def check(cond, *what):
    if not cond:
        sys.exit('FAILED: ' + ' '.join(str(w) for w in what))
p = subprocess.run([dira, 'ptu-info', out + '/good.ptu', '--json'], capture_output=True, text=True)
print(p.stdout, p.stderr)
check(p.returncode == 0, 'ptu-info --json exited', p.returncode)
j = json.loads(p.stdout)
expect = {'record_type': 'MultiHarp/generic T3', 'records': 5, 'photons': 3, 'markers': 1, 'overflows': 1,
          'overflow_periods': 2, 'syncs': 3, 'first_time_ps': 87500, 'last_time_ps': 25662500,
          'counts_per_channel': {'sync': 3, '1': 2, '2': 1}, 'counts_per_marker': {'1': 1}}
for k, v in expect.items():
    check(j.get(k) == v, k, '=', j.get(k), 'expected', v)
check(any(t['ident'] == 'CreatorSW_Name' and t['value'] == 'tests/cli/ptu.cmake' for t in j['header_tags']), 'header_tags')
p = subprocess.run([dira, 'ptu-info', out + '/good.ptu'], capture_output=True, text=True)
check(p.returncode == 0 and 'MultiHarp/generic T3' in p.stdout and 'marker 1' in p.stdout, 'text output', p.stdout)
p = subprocess.run([dira, 'ptu-info', out + '/truncated.ptu'], capture_output=True, text=True)
print(p.stderr)
check(p.returncode == 2, 'truncated: exit', p.returncode)
check('byte offset %d' % (size - 3) in p.stderr, 'truncated: no byte offset', size - 3, 'in', p.stderr)
p = subprocess.run([dira, 'ptu-info', out + '/magic.ptu', '--json'], capture_output=True, text=True)
check(p.returncode == 2, 'wrong magic: exit', p.returncode)
check('byte offset 0' in p.stderr and json.loads(p.stdout)['offset'] == 0, 'wrong magic:', p.stderr, p.stdout)
p = subprocess.run([dira, 'ptu-info', out + '/missing.ptu'], capture_output=True, text=True)
check(p.returncode == 2, 'missing file: exit', p.returncode)
print('ptu-info ok')
]=])

add_test(NAME cli.ptu_info COMMAND ${Python3_EXECUTABLE} -c "${dira_ptu_check}" $<TARGET_FILE:dira>
                                   "${CMAKE_CURRENT_BINARY_DIR}" "${dira_ptu_writer}")
set_tests_properties(cli.ptu_info PROPERTIES LABELS cli TIMEOUT 120)
