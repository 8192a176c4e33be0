#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_station_wire (docs/wire.md, docs/reliability.md).

Independent of the C++ encoder: the header layout is typed in from docs/wire.md and the checksum
is zlib's CRC-32 (versions 1 and 2) or the bitwise CRC-32C below (version 3), so a bug in
station/src/wire.cpp cannot hide in its own seeds. Rerun after
changing the format: `python3 tests/fuzz/make_station_wire_seeds.py`.
"""
import json
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "station_wire")


def crc32c(data):
    """CRC-32C (Castagnoli) bit by bit from its definition: reflected polynomial 0x82F63B78."""
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    return c ^ 0xFFFFFFFF


def frame(kind, seq, position, payload, version=3):
    head = struct.pack("<IBBHQQII", 0x41524944, version, kind, 0, seq, position, len(payload), 0)
    crc = (crc32c(head + payload) if version >= 3 else zlib.crc32(head + payload)) & 0xFFFFFFFF
    return head[:28] + struct.pack("<I", crc) + payload


def tag(typ, channel, time_ps, missed=0):
    return struct.pack("<BBHiq", typ, 0, missed, channel, time_ps)


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def packed(tags):
    """Version 2 packed tags (docs/wire.md, "Packed tags"), written from the table, not the C++."""
    out = bytearray(struct.pack("<I", len(tags)))
    prev = 0
    for typ, channel, time_ps, missed in tags:
        if typ == 0 and missed == 0 and 0 <= channel < 0x80:
            out.append(channel)
        else:
            out += bytes([0x80, typ, 0]) + struct.pack("<Hi", missed, channel)
        d = (time_ps - prev) % (1 << 64)
        prev = time_ps
        signed = d - (1 << 64) if d >= (1 << 63) else d
        out += varint(((signed << 1) ^ (signed >> 63)) % (1 << 64))
    return bytes(out)


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
put("tags-version1", frame(2, 5, 0, tag(0, 1, 0) + tag(0, 2, 5000), version=1))
put("control-version1", frame(1, 0, 0, b'{"type":"hello","v":1}', version=1))
put("packed-trial", frame(4, 3, 4096, packed([(0, 1, 0, 0), (0, 2, 5000, 0), (5, 0, 10000, 0), (0, 3, 9999, 0)])))
put("packed-stream", frame(4, 0, 0, packed([(0, 1 + i % 2, (i // 2) * 1000000 + 9000 * (i % 2), 0) for i in range(64)])))
put("packed-extremes", frame(4, 1, 0, packed([(0, 5, 2**63 - 1, 0), (0, 5, -2**63, 0), (4, -7, 0, 65535), (1, 300, 3, 0)])))
put("packed-empty", frame(4, 0, 0, packed([])))
put("packed-not-minimal", frame(4, 0, 0, struct.pack("<I", 1) + bytes([1, 0x80, 0x00])))
put("packed-extended-needless", frame(4, 0, 0, struct.pack("<I", 1) + bytes([0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0])))
put("packed-in-version1", frame(4, 0, 0, packed([(0, 1, 0, 0)]), version=1))
put("bad-version", frame(2, 0, 0, tag(0, 1, 0), version=4))
put("packed-trial-version2", frame(4, 3, 4096, packed([(0, 1, 0, 0), (0, 2, 5000, 0), (0, 3, 9999, 0)]), version=2))
put("tags-trial-version2", frame(2, 3, 0, tag(0, 1, 0) + tag(0, 2, 5000), version=2))
put("control-version2", frame(1, 0, 0, b'{"type":"credit","tag":1048576}', version=2))
put("version2-with-crc32c", frame(2, 0, 0, tag(0, 1, 0), version=2)[:28] +
    struct.pack("<I", crc32c(frame(2, 0, 0, tag(0, 1, 0), version=2)[:28] + b"\0\0\0\0" + tag(0, 1, 0))) +
    tag(0, 1, 0))
put("bad-crc", frame(2, 0, 0, tag(0, 1, 0))[:-1] + b"\x01")
put("short", b"DIRA\x01\x02")
