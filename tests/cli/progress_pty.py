#!/usr/bin/env python3
"""Runs `dira run` with stderr on a 100-column pseudo-terminal and checks what a screen shows.

Usage: progress_pty.py DIRA EXPERIMENT OUT_DIR
Independent of dira's code: the width is measured here, in code points of each screen line
after applying carriage returns and the erase-line sequence, as a terminal would draw them.
"""
import fcntl, os, pty, re, shutil, struct, subprocess, sys, termios, time

dira, experiment, out = sys.argv[1:4]
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
p = subprocess.Popen([dira, "run", experiment, "--out", out],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
os.close(slave)
raw = b""
deadline = time.time() + 300
while time.time() < deadline:
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    raw += chunk
p.wait(timeout=60)
text = raw.decode("utf-8", "replace")
screen = []
for line in text.replace("\r\n", "\n").split("\n"):
    # What remains visible: the text after the last carriage return / erase-line.
    visible = re.split(r"\r(?:\x1b\[K)?", line)[-1]
    screen.append(visible)
status_lines = [s for s in screen if "trials/s" in s or "%" in s]
if "\r" not in text:
    sys.exit("the status line is not rewritten in place on a terminal:\n" + text[:2000])
if not status_lines:
    sys.exit("no status line on the terminal:\n" + text[:2000])
for seg in re.split(r"[\r\n]", text):
    seg = seg.replace("\x1b[K", "")
    if "trials/s" not in seg and "%" not in seg:
        continue  # warnings and notes wrap as ordinary text; the status line must not
    if len(seg) > 100:
        sys.exit(f"a line is {len(seg)} columns wide on a 100-column terminal:\n{seg}")
# The last status line says what was decided (the done snapshot), never a stale projection.
expected = {0: "accept", 3: "abort"}.get(p.returncode)
if expected and "decision " + expected not in status_lines[-1]:
    sys.exit(f"exit {p.returncode} but the last status line does not say 'decision {expected}':\n{status_lines[-1]}")
print("screen at 100 columns:")
for s in screen:
    if s:
        print("  |" + s.ljust(100) + "|")
