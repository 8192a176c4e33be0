#!/usr/bin/env python3
"""The ledger agrees with the trials (issue 12's fault campaigns; docs/reliability.md).

    ledger_check.py RUN_DIR STREAM [--parties 2] [--settings 9] [--window 20000] [--analyze-json FILE]
                    [--ledger-dump FILE]

STREAM is every byte the run's weak source delivered, in order: the campaigns run dira with a
`command` weak source that copies its bytes to STREAM as it hands them over (`tee`), or a file
they wrote themselves. Everything here is derived from STREAM and the rule of
docs/protocol-b-security.md (each party draws b = ceil(log2 s) bits, most significant first, and
draws again while the value is >= s; party 0 first), not from dira's code, and run.h5 is read
with h5dump only (a standard tool; this machine has no h5py). Checks:

 1. /ledger covers the stream from bit 0 without a gap or overlap, setting bits first, box-choice
    and extractor bits only after them; the setting entries serve trials 0 .. L in order.
 2. The setting bits the ledger counts are exactly those the settings of trials 0 .. L consume
    (replayed from STREAM; the last trial's draws may be in progress: end(L-1) < bits <= end(L)),
    and STREAM holds at least every bit the ledger says was drawn.
 3. Every recorded trial's settings are in the ledger: the last row's index <= L, and rows <= L+1.
 4. The settings recorded in /trials (the first and last WINDOW rows) are the ones replayed from
    STREAM for their index; parties beyond the scenario's hold 0.
 5. sv_bits.bin holds exactly the ledger's box-choice and extractor bits (count, and the bits
    themselves: STREAM's bits at the ledger's positions).

--analyze-json FILE: `dira analyze --json` of the run; the trials checked are its trials_recorded
(the intact ones: rows past them, which a failed write left as zeros, are what analyze reports
missing and never decides over). Without it, every row of /trials.
--ledger-dump FILE takes the ledger from FILE (h5dump text of /ledger) instead of run.h5: the
self-test (faults.ledger_check) feeds damaged ledgers through it to show each check fails.
Exit 0 and one summary line when the ledger agrees; exit 1 naming the first disagreement.
"""
import argparse
import bisect
import json
import os
import re
import subprocess
import sys

SETTING, BOX_CHOICE, EXTRACTOR, OBSERVED, SKIPPED = 0, 1, 2, 3, 4


def fail(msg):
    print("the ledger disagrees: " + msg)
    sys.exit(1)


def h5dump(args, path):
    try:
        r = subprocess.run(["h5dump", "-A", "0", "-y"] + args + [path], capture_output=True, text=True,
                           timeout=120)
    except subprocess.TimeoutExpired:
        fail("h5dump %s timed out on %s" % (" ".join(args), path))
    if r.returncode != 0:
        fail("h5dump %s cannot read %s: %s" % (" ".join(args), path, r.stderr.strip()[:300]))
    return r.stdout


def data_numbers(text):
    """The integers inside the DATA { ... } block of an h5dump listing, in order."""
    at = text.find("DATA {")
    if at < 0:
        return []
    return [int(x) for x in re.findall(r"-?\d+", text[at:])]


def rows_of(path, dataset):
    m = re.search(r"DATASPACE\s+SIMPLE\s+\{\s*\(\s*(\d+)\s*\)", h5dump(["-H", "-d", dataset], path))
    if not m:
        fail("h5dump shows no %s in %s" % (dataset, path))
    return int(m.group(1))


def read_ledger(text):
    nums = data_numbers(text)
    if len(nums) % 5:
        fail("the ledger listing does not hold rows of 5 fields")
    return [tuple(nums[i:i + 5]) for i in range(0, len(nums), 5)]


class Replay:
    """The setting rule replayed on STREAM: symbols of b bits, most significant first; a party
    keeps the first symbol < s; trial t's settings are accepted symbols parties*t ... +parties-1.
    Byte-wide operations only (translate, extended slices), so 40 MB of stream take well under a
    second."""

    BLOCK = 1 << 16  # symbols per block of the prefix count

    def __init__(self, stream, parties, settings):
        b = max(0, (settings - 1).bit_length())
        if b not in (1, 2, 4, 8):
            fail("the replay handles b = 1, 2, 4 or 8 bits per attempt, not %d (s = %d)" % (b, settings))
        self.b, self.per_byte, self.p, self.s = b, 8 // b, parties, settings
        mask = (1 << b) - 1
        raw = bytearray(len(stream) * self.per_byte)  # one byte per b-bit symbol, in stream order
        for j in range(self.per_byte):
            shift = 8 - b * (j + 1)
            raw[j::self.per_byte] = stream.translate(bytes((v >> shift) & mask for v in range(256)))
        self.raw = bytes(raw)
        self.rejected = bytes(range(settings, 256))
        self.accepted = self.raw.translate(None, self.rejected)
        self.prefix = [0]  # accepted symbols in raw[0 : i*BLOCK]
        for at in range(0, len(self.raw), self.BLOCK):
            self.prefix.append(self.prefix[-1] + len(self.raw[at:at + self.BLOCK].translate(None, self.rejected)))

    def settings(self, trial):
        k = self.p * trial
        if k + self.p > len(self.accepted):
            fail("the weak source's bytes end before trial %d's settings" % trial)
        return list(self.accepted[k:k + self.p])

    def end_bit(self, trial):
        """Bits consumed once trial `trial`'s settings are all drawn (0 for trial -1); None if
        the stream ends before."""
        if trial < 0:
            return 0
        k = self.p * (trial + 1)  # accepted symbols needed
        if k > len(self.accepted):
            return None
        blk = bisect.bisect_left(self.prefix, k) - 1  # prefix[blk] < k <= prefix[blk + 1]
        have = self.prefix[blk]
        for i in range(blk * self.BLOCK, len(self.raw)):
            if self.raw[i] < self.s:
                have += 1
                if have == k:
                    return (i + 1) * self.b
        fail("internal: replay position")


def window_rows(path, start, count):
    """(index, settings[4]) of rows start .. start+count-1 of /trials, via h5dump."""
    nums = data_numbers(h5dump(["-d", "/trials", "-s", str(start), "-c", str(count)], path))
    if len(nums) != 12 * count:  # index, settings[4], outcomes[4], flags, device, time_ps
        fail("h5dump of /trials rows %d..%d gave %d fields, not %d" % (start, start + count - 1, len(nums),
                                                                      12 * count))
    return [(nums[i], nums[i + 1:i + 5]) for i in range(0, len(nums), 12)]


def bits_of(data, first, count):
    """Bits first .. first+count-1 of `data` (most significant first) as an integer."""
    if count == 0:
        return 0
    lo, hi = first // 8, (first + count + 7) // 8
    v = int.from_bytes(data[lo:hi], "big")
    return (v >> (hi * 8 - first - count)) & ((1 << count) - 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("stream")
    ap.add_argument("--parties", type=int, default=2)
    ap.add_argument("--settings", type=int, default=9)
    ap.add_argument("--window", type=int, default=20000)
    ap.add_argument("--analyze-json")
    ap.add_argument("--ledger-dump")
    a = ap.parse_args()
    h5 = os.path.join(a.run_dir, "run.h5")
    with open(a.stream, "rb") as f:
        stream = f.read()

    if a.ledger_dump:
        with open(a.ledger_dump) as f:
            ledger = read_ledger(f.read())
    else:
        ledger = read_ledger(h5dump(["-d", "/ledger"], h5))
    n = rows_of(h5, "/trials")
    if a.analyze_json:
        with open(a.analyze_json) as f:
            intact = json.load(f).get("trials_recorded")
        if not isinstance(intact, int) or intact > n:
            fail("%s: trials_recorded %r is not a count of at most the %d rows" % (a.analyze_json, intact, n))
        n = intact

    # 1. One stream, no gap, settings first.
    pos, seen_after_settings = 0, False
    setting_bits, last_item, next_item = 0, -1, 0
    post_bits = []  # (first_bit, count) of box-choice and extractor entries
    for i, (purpose, first, count, first_item, last_item_i) in enumerate(ledger):
        if purpose == OBSERVED:
            fail("row %d: observed (hardware-chosen) setting bits in a run whose settings dira draws" % i)
        if purpose not in (SETTING, BOX_CHOICE, EXTRACTOR, SKIPPED):
            fail("row %d: unknown purpose %d" % (i, purpose))
        if first != pos:
            fail("row %d starts at bit %d, the rows before end at bit %d (gap or overlap)" % (i, first, pos))
        pos += count
        if purpose == SETTING:
            if seen_after_settings:
                fail("row %d: setting bits after box-choice or extractor bits" % i)
            if first_item < next_item or last_item_i < first_item:
                fail("row %d: setting bits for trials %d..%d, after trial %d" % (i, first_item, last_item_i,
                                                                               next_item - 1))
            if i == 0 and first_item != 0:
                fail("the first setting bits serve trial %d, not trial 0" % first_item)
            setting_bits += count
            last_item, next_item = last_item_i, last_item_i + 1
        else:
            seen_after_settings = True
            if purpose != SKIPPED:  # passed over before recording started: not in sv_bits.bin
                post_bits.append((first, count))
    if n > 0 and setting_bits == 0:
        fail("%d trials recorded but the ledger holds no setting bits" % n)
    if len(stream) * 8 < pos:
        fail("the ledger says %d bits were drawn, the weak source delivered only %d" % (pos, len(stream) * 8))

    # 2. The ledger's setting bits are those trials 0..L consume.
    replay = Replay(stream, a.parties, a.settings)
    dry = False
    if last_item >= 0:
        lo, hi = replay.end_bit(last_item - 1), replay.end_bit(last_item)
        if lo is None:
            fail("the weak source's bytes end before trial %d's settings, the ledger has bits for trial %d" %
                 (last_item - 1, last_item))
        if hi is None:
            # The source ran dry during trial L's draws: the ledger then holds every bit it had.
            dry = True
            if pos != len(stream) * 8:
                fail("the source ran dry during trial %d's settings, but the ledger holds %d of its %d bits" %
                     (last_item, pos, len(stream) * 8))
            if not lo < setting_bits:
                fail("%d setting bits for trials 0..%d, but trials 0..%d alone consume %d" %
                     (setting_bits, last_item, last_item - 1, lo))
        elif not lo < setting_bits <= hi:
            fail("%d setting bits for trials 0..%d, but their settings consume %d (%d before trial %d)" %
                 (setting_bits, last_item, hi, lo, last_item))

    # 3. Every recorded trial's settings were drawn and are in the ledger.
    checked = 0
    if n > 0:
        last_row = window_rows(h5, n - 1, 1)[0]
        if last_row[0] > last_item or (dry and last_row[0] == last_item):
            fail("the last recorded trial is #%d but the ledger's setting bits end at trial %d" %
                 (last_row[0], last_item))
        if n > last_item + 1:
            fail("%d trials recorded, more than the %d whose settings the ledger holds" % (n, last_item + 1))
        # 4. Recorded settings = replayed settings, first and last rows.
        w = min(a.window, n)
        spans = [(0, w)] + ([(max(w, n - w), n - max(w, n - w))] if n > w else [])
        for start, count in spans:
            for row, (index, settings) in enumerate(window_rows(h5, start, count), start):
                want = replay.settings(index) + [0] * (4 - a.parties)
                if settings != want:
                    fail("row %d (trial %d) has settings %s, the ledger's bits give %s" % (row, index, settings, want))
            checked += count

    # 5. sv_bits.bin = the ledger's box-choice and extractor bits.
    post = sum(c for _, c in post_bits)
    sv_path = os.path.join(a.run_dir, "sv_bits.bin")
    sv = open(sv_path, "rb").read() if os.path.exists(sv_path) else None
    if sv is None:
        if post:
            fail("the ledger holds %d box-choice/extractor bits but there is no sv_bits.bin" % post)
    else:
        if len(sv) != (post + 7) // 8:
            fail("sv_bits.bin holds %d bytes, the ledger's %d box-choice/extractor bits need %d" %
                 (len(sv), post, (post + 7) // 8))
        at = 0
        for first, count in post_bits:
            if bits_of(sv, at, count) != bits_of(stream, first, count):
                fail("sv_bits.bin bits %d..%d are not the weak source's bits %d..%d" % (at, at + count - 1, first,
                                                                                       first + count - 1))
            at += count

    print("ledger agrees: %d setting bits for trials 0..%d (replayed from the source: %s), %d trials recorded, "
          "%d rows' settings checked, %d box-choice/extractor bits = sv_bits.bin" %
          (setting_bits, last_item, "the source ran dry in trial %d's draws" % last_item if dry else "exact"
           if last_item < 0 or setting_bits == replay.end_bit(last_item) else "last trial's draw in progress", n,
           checked, post))


if __name__ == "__main__":
    main()
