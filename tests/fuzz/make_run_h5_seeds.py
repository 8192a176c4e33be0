#!/usr/bin/env python3
"""Seeds for fuzz_run_h5 (tests/fuzz/fuzz_run_h5.cpp): damage patterns, not files.

    DIRA_FUZZ_RUN_H5_TEMPLATE=/tmp/t.h5 build/bin/fuzz_run_h5_replay tests/fuzz/corpus/run_h5
    tests/fuzz/make_run_h5_seeds.py /tmp/t.h5 tests/fuzz/corpus/run_h5

An input is a 4-byte little-endian offset (bit 31: cut the file there) and bytes XORed into the
target's small run file from that offset. Each seed is an all-zero (intact) patch of 512 bytes at
an offset where the file holds something (1 kB blocks that are not all zero: the superblock,
object headers, chunk indexes and B-trees at the start, the small datasets' chunks, the end), and
a cut at the start of each such region, so the fuzzer starts from every HDF5 structure of the file.
The offsets follow the layout HDF5 1.10 gives RunFileWriter's file; when it changes, rerun this.
"""
import os
import struct
import sys

tpl, out = sys.argv[1], sys.argv[2]
data = open(tpl, "rb").read()
os.makedirs(out, exist_ok=True)
regions, start = [], None
for at in range(0, len(data), 1024):
    busy = any(data[at:at + 1024])
    if busy and start is None:
        start = at
    if not busy and start is not None:
        regions.append((start, at))
        start = None
if start is not None:
    regions.append((start, len(data)))
seeds = 0
for lo, hi in regions:
    for at in range(lo, hi, 512):
        open(os.path.join(out, "xor-%07d" % at), "wb").write(struct.pack("<I", at) + bytes(512))
        seeds += 1
    open(os.path.join(out, "cut-%07d" % lo), "wb").write(struct.pack("<I", lo | 0x80000000))
    seeds += 1
print("%d seeds for %d regions of %s (%d bytes): %s" % (seeds, len(regions), tpl, len(data), regions))
