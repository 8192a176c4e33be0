#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_station_wire (docs/wire.md, docs/reliability.md).

Independent of the C++ encoder: the header layout is typed in from docs/wire.md and the checksum
is zlib's CRC-32, so a bug in station/src/wire.cpp cannot hide in its own seeds. Rerun after
changing the format: `python3 tests/fuzz/make_station_wire_seeds.py`.
"""
import json
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "station_wire")


def frame(kind, seq, position, payload, version=1):
    head = struct.pack("<IBBHQQII", 0x41524944, version, kind, 0, seq, position, len(payload), 0)
    crc = zlib.crc32(head + payload) & 0xFFFFFFFF
    return head[:28] + struct.pack("<I", crc) + payload


def tag(typ, channel, time_ps, missed=0):
    return struct.pack("<BBHiq", typ, 0, missed, channel, time_ps)


def put(name, data):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


put("control-hello", frame(1, 0, 0, json.dumps({"type": "hello", "v": 1, "station": "alice"}).encode()))
put("control-heartbeat", frame(1, 7, 0, b'{"type":"heartbeat","tags":1000}'))
put("tags-empty", frame(2, 0, 0, b""))
put("tags-trial", frame(2, 3, 4096, tag(0, 1, 0) + tag(0, 2, 5000) + tag(0, 6, 9000) + tag(5, 0, 10000)))
put("tags-rare", frame(2, 1, 0, tag(1, 0, 5) + tag(2, 0, 6) + tag(3, 0, 7) + tag(4, 3, 8, missed=9)))
put("settings", frame(3, 2, 65536, bytes([1]) + bytes([0, 1, 2, 8, 3])))
put("settings-no-party", frame(3, 2, 0, b""))
put("bad-version", frame(2, 0, 0, tag(0, 1, 0), version=2))
put("bad-crc", frame(2, 0, 0, tag(0, 1, 0))[:-1] + b"\x01")
put("short", b"DIRA\x01\x02")
