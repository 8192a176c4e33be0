#!/usr/bin/env python3
"""Writes the seed corpus and the regression inputs of the fuzz targets (docs/reliability.md).

Independent of the C++ writer: the layouts are typed in from the PicoQuant and USBTMC documents
(docs/ptu.md, docs/usbtmc.md), so a bug in the C++ writer cannot hide in its own seeds. Rerun after
changing it: `python3 tests/fuzz/make_seeds.py` (from the repository root or anywhere).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(sub, name, data):
    path = os.path.join(HERE, sub, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- PTU -------------------------------------------------------------------------------------
EMPTY8, BOOL8, INT8, BITSET64, COLOR8 = 0xFFFF0008, 0x00000008, 0x10000008, 0x11000008, 0x12000008
FLOAT8, DATETIME, FLOAT8ARRAY, ANSI, WIDE, BLOB = 0x20000008, 0x21000008, 0x2001FFFF, 0x4001FFFF, 0x4002FFFF, 0xFFFFFFFF


def tag(ident, typ, value, index=-1, extra=b""):
    head = ident.encode().ljust(32, b"\0") + struct.pack("<iI", index, typ)
    if isinstance(value, float):
        head += struct.pack("<d", value)
    else:
        head += struct.pack("<Q", value & 0xFFFFFFFFFFFFFFFF)
    return head + extra


def header(rectype, records, glob, res, extra=b""):
    b = b"PQTTTR\0\0" + b"1.0.00\0\0"
    b += tag("TTResultFormat_TTTRRecType", INT8, rectype)
    b += tag("TTResultFormat_BitsPerRecord", INT8, 32)
    b += tag("MeasDesc_GlobalResolution", FLOAT8, glob)
    b += tag("MeasDesc_Resolution", FLOAT8, res)
    b += tag("TTResult_NumberOfRecords", INT8, records)
    b += extra
    b += tag("Header_End", EMPTY8, 0)
    return b


def words(ws):
    return b"".join(struct.pack("<I", w) for w in ws)


def ansi(ident, text):
    raw = text.encode() + b"\0"
    raw += b"\0" * (-len(raw) % 8)
    return tag(ident, ANSI, len(raw), extra=raw)


def wide(ident, text):
    raw = text.encode("utf-16-le") + b"\0\0"
    raw += b"\0" * (-len(raw) % 8)
    return tag(ident, WIDE, len(raw), extra=raw)


every_type = (ansi("CreatorSW_Name", "seed") + wide("Comment", "µs Ω") + tag("Flag", BOOL8, 1) +
              tag("Bits", BITSET64, 1 << 63) + tag("Colour", COLOR8, 0xFF0000) +
              tag("File_CreatingTime", DATETIME, 44197.5) + tag("Gain", FLOAT8, -0.125, index=2) +
              tag("Curve", FLOAT8ARRAY, 16, extra=struct.pack("<dd", 1.5, -2.25)) +
              tag("Blob", BLOB, 8, extra=bytes([1, 2, 3, 0, 255, 0, 0, 0])) + tag("Group", EMPTY8, 0))

# Header seeds: one per family, T2 and T3, with a few records.
generic_t2 = words([0x02000010, 0x80000000 | 5, 0xFE000001, 0x82000007, 0x04000020])
put("corpus/ptu_header", "generic_t2.ptu", header(0x00010207, 5, 1e-12, 0.0, every_type) + generic_t2)
put("corpus/ptu_header", "generic_t3.ptu", header(0x00010307, 3, 12.5e-9, 5e-12) +
    words([(1 << 25) | (9 << 10) | 3, 0xFE000002, 0x82000004]))
put("corpus/ptu_header", "picoharp_t2.ptu", header(0x00010203, 3, 4e-12, 4e-12) +
    words([0x10000010, 0xF0000000, 0xF0000013]))
put("corpus/ptu_header", "picoharp_t3.ptu", header(0x00010303, 2, 12.5e-9, 4e-12) +
    words([0x10050003, 0xF0000000]))
put("corpus/ptu_header", "hydraharp_v1_t2.ptu", header(0x00010204, 2, 1e-12, 1e-12) +
    words([0x02000010, 0xFE000000]))

# Header regressions (issue 12).
put("regressions/ptu_header", "datetime-1e300.ptu",
    header(0x00010207, 0, 1e-12, 0.0, tag("File_CreatingTime", DATETIME, 1e300)))
put("regressions/ptu_header", "ansi-string-length-0.ptu",
    header(0x00010207, 0, 1e-12, 0.0, tag("Comment", ANSI, 0) + tag("Other", INT8, 7)))
put("regressions/ptu_header", "string-length-2e56.ptu",
    header(0x00010207, 0, 1e-12, 0.0, tag("Comment", ANSI, 1 << 56)))
put("regressions/ptu_header", "picoharp-t3-sync-1000s.ptu", header(0x00010303, 1, 1e3, 1e-12) + words([0x10000001]))
put("regressions/ptu_header", "dev-zero-4k.ptu", bytes(4096))

# ---- PTU records: [record type index][resolution indices] + records ---------------------------
# Record type index into all_record_types(): 0 PicoHarp T3, 1 PicoHarp T2, 2/3 HydraHarp V1 T3/T2,
# 4/5 V2 T3/T2, 6/7 TimeHarp 260 N, 8/9 TimeHarp 260 P, 10/11 generic T3/T2. Resolutions (index):
# 0 1 fs, 1 0.1 ps, 2 1 ps, 3 4 ps, 4 25 ps, 5 1 ns, 6 12.5 ns, 7 1 us, 8 1 ms, 9 1 s, 10 1000 s.
put("corpus/ptu_records", "generic_t2.bin", bytes([11, 0x22]) + generic_t2)
put("corpus/ptu_records", "generic_t3.bin", bytes([10, 0x26]) + words([(1 << 25) | (9 << 10) | 3, 0xFE000002]))
put("corpus/ptu_records", "picoharp_t3.bin", bytes([0, 0x36]) + words([0x10050003, 0xF0000000, 0xF0010002]))
put("corpus/ptu_records", "picoharp_t2.bin", bytes([1, 0x33]) + words([0x10000010, 0xF0000000, 0xF0000013]))
put("corpus/ptu_records", "hydraharp_v1_t3.bin", bytes([2, 0x26]) + words([0x02000C01, 0xFE000000, 0x82000001]))
# Regressions: overflow records past 2^63 ps (issue 12), T2 with maximum counts and T3.
put("regressions/ptu_records", "t2-max-count-overflows.bin",
    bytes([11, 0x22]) + words([0xFFFFFFFF] * 9000 + [0x01FFFFFF]))
put("regressions/ptu_records", "t3-overflows-past-2e63.bin",
    bytes([10, 0x28]) + words([0x80000000 | (63 << 25) | 1023] * 8806 + [(0x7FFF << 10) | 1023]))
put("regressions/ptu_records", "t3-coarse-sync.bin", bytes([10, 0x2A]) + words([0xFE0003FF, (0x7FFF << 10) | 1023]))

# ---- USBTMC: [flags] then [kind][len][bytes]...; kind 0 Bulk-IN data, 1 control reply, 2 Interrupt-IN, 3 timeout


def script(flags, *items):
    b = bytes([flags])
    for kind, data in items:
        b += bytes([kind, len(data)]) + data
    return b


def dev_dep_msg_in(tag_, payload, eom=True):
    h = bytes([2, tag_, (~tag_) & 0xFF, 0]) + struct.pack("<I", len(payload)) + bytes([1 if eom else 0, 0, 0, 0])
    body = h + payload
    return body + b"\0" * (-len(body) % 4)


caps = bytes([1, 0, 0x00, 0x01, 0x04, 0x01] + [0] * 6 + [0x00, 0x01, 0x07, 0x0F] + [0] * 8)
idn = b"DIRA,FUZZ,0,1.0\n"
# write uses bTag 1, the request bTag 2: the reply carries 2.
put("corpus/usbtmc_frames", "idn.bin", script(1, (1, caps), (0, dev_dep_msg_in(2, idn))))
put("corpus/usbtmc_frames", "idn-split.bin",
    script(1, (1, caps), (0, dev_dep_msg_in(2, b"DIRA,", eom=False)), (0, dev_dep_msg_in(3, b"FUZZ\n"))))
put("corpus/usbtmc_frames", "wrong-tag-then-abort.bin",
    script(0, (0, dev_dep_msg_in(7, idn)), (1, bytes([1, 2])), (1, bytes([1, 0, 0, 0, 0, 0, 0, 0]))))
put("corpus/usbtmc_frames", "status-byte-usb488.bin", script(5, (1, caps), (1, bytes([1, 2, 0])), (2, bytes([0x82, 0x10]))))
put("corpus/usbtmc_frames", "timeout.bin", script(0, (3, b"")))

# ---- instrument profiles: the shipped ones plus the test profile -------------------------------
root = os.path.normpath(os.path.join(HERE, "..", ".."))
for name in ("awg-generic", "keysight-33500b-example"):
    with open(os.path.join(root, "config", "devices", name + ".yaml"), "rb") as f:
        put("corpus/instrument_profile", name + ".yaml", f.read())
put("corpus/instrument_profile", "two-channel.yaml", """name: test-awg
settings: 3
settling_time_ns: 12.5
segment_offset: 1
channels:
  - {number: 1, name: cell-a, min_volts: -5, max_volts: 5}
  - {number: 2, name: cell-b}
levels:
  - [0, -1.25]
  - [2.5, 0]
  - [1.25, 1.25]
commands:
  reset: ["*RST"]
  setup: ["DISP:TEXT 'dira'"]
  segment: ["SEGM{ch}:DEF {segment},{level},{normalized_level}"]
  sequence: ["SEQ{ch}:LEN {length}", "SEQ{ch}:DATA {segments}", "ARB{ch} {normalized}", "SEQ:LABELS {settings}"]
  trigger: ["TRIG:SOUR EXT"]
  arm: ["VOLT{ch}:HIGH {high}", "VOLT{ch}:LOW {low}", "INIT:FIRST {first_trial}"]
readback: {mode: step_count, query: "SEQ:POS?"}
delivery: {mode: segment, segment_trials: 4, confirm: "SEQ:LEN?", confirm_reply: "{length}"}
""")
put("regressions/instrument_profile", "complex-key.yaml", "name: x\n? [a, b]\n: 1\n")
put("regressions/instrument_profile", "scalar-channels.yaml", "name: x\nsettings: 2\nchannels: 5\nlevels: 3\ncommands: 7\n")
put("regressions/instrument_profile", "anchors-and-tags.yaml",
    "name: &a x\nsettings: !!str 2\nchannels: [*a]\nlevels: [[0], [1]]\nsettling_time_ns: .nan\n")
# Deep nesting: yaml-cpp refuses it with a parser error (no stack overflow); kept to stay so.
put("regressions/instrument_profile", "deep-nesting.yaml", "name: " + "[" * 10000)

# ---- Trial CSV (app/src/trials_csv.cpp) -----------------------------------------------------
# Byte 0 picks the scenario: even = two parties (9 settings, 4 outcomes: ks294), odd = four
# parties (2, 2: guehne4). The rest is the file, typed in from docs/cli.md's column layout.
put("corpus/trials_csv", "ks294-valid.csv",
    b"\x00# Protocol B trials, ks294\ntrial,u0,u1,x0,x1\n0,8,0,2,3\n1,2,1,1,0\n5,0,1,3,3\n")
put("corpus/trials_csv", "ks294-device-crlf.csv", b"\x00trial,u0,u1,x0,x1,device\r\n0,1,2,0,1,0\r\n7,8,8,3,3,4\r\n")
put("corpus/trials_csv", "guehne4-valid.csv",
    b"\x01trial,x0,x1,x2,x3,u0,u1,u2,u3\n0,1,0,1,0,0,1,0,1\n1,0,0,0,0,1,1,1,1\n")
put("corpus/trials_csv", "ks294-bad-rows.csv",
    b"\x00trial,u0,u1,x0,x1\n0,9,0,0,0\n1,1,1,1\n2,-1,0,0,0\n1,0,0,0,0\n3,1,1,1,18446744073709551616\n")
# Issue 12: a binary file as a trial file was echoed raw in the error; /dev/zero (no newline)
# was read into memory whole.
put("regressions/trials_csv", "binary-header.csv", b"\x00\x7fELF\x02\x01\x01\x00\x1b[31m,\x07\x08\r\n0,0\n")
put("regressions/trials_csv", "zeros-no-newline.csv", b"\x00" + b"\x00" * 20000)
put("regressions/trials_csv", "long-row.csv", b"\x00trial,u0,u1,x0,x1\n" + b"1" * 5000 + b"\n")

# ---- SV-bit files driving Protocol A's box choice (fuzz_sv_bits.cpp) -------------------------
# Bytes 0-1: valid runs of devices 0-2 (1 + byte0, 1 + low 6 bits of byte1, 1 + its top 2 bits);
# the rest: bits, most significant first.
put("corpus/sv_bits", "small.bin", b"\x05\x43" + bytes(range(32)))
put("corpus/sv_bits", "powers-of-two.bin", b"\x3f\x3f" + b"\x5a" * 16)
put("corpus/sv_bits", "all-ones.bin", b"\xff\xff" + b"\xff" * 64)  # every draw rejected until the bits run out
put("corpus/sv_bits", "no-bits.bin", b"\x00\x00")
