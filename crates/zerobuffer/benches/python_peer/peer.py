#!/usr/bin/env python3
"""The Python side of the python_peer bench: one endpoint of one buffer per process.

Uses only the standard library and the PyPI package ``zerobuffer-ipc`` (module
``zerobuffer``), installed by ``scripts/install-peers.sh`` into ``<repo>/.venv``.

Usage (the bench starts it):
  peer.py read  NAME METADATA_SIZE PAYLOAD_SIZE LEN   # create the buffer, then read jobs
  peer.py write NAME LEN                              # connect to it, then write jobs

Line protocol, the same as the bench's own Rust endpoints (roles.rs):
  both print "ready" once set up (the reader once the buffer exists, the writer once
  connected); then, for each stdin line,
  reader: "read N" -> take N frames (each: check its length, add its first and last byte,
          release it), then print "done N SUM";
  writer: "go N"   -> write N frames with write_frame from one prepared source, then print
          "sent N".
  stdin EOF: close (the reader removes the buffer) and exit 0. Any error: message and
  traceback on stderr, exit 1.

Frame contents (shared with the Rust side): byte i of every frame is ((i * 31) >> 3) % 256.
"""

import os
import signal
import sys
import traceback
from datetime import timedelta

from zerobuffer import BufferConfig, Reader

# The interop tests' peer holds the workarounds for the library's own defects (a failed
# Writer() leaves its writer_pid claim; Reader.close() leaves its semaphores, protocol.md
# 12.8): one copy of them, shared.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "peers"))
from py_peer import connect_writer, unlink_leftover_semaphores  # noqa: E402

# Bound of every wait, seconds: a stuck peer fails the bench instead of hanging it.
TIMEOUT_S = 10.0


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def jobs(word):
    """The frame counts of the stdin lines `word N`, until EOF."""
    for line in sys.stdin:
        parts = line.split()
        if len(parts) != 2 or parts[0] != word:
            raise ValueError("expected '%s N', got %r" % (word, line))
        yield int(parts[1])


def source_data(length):
    return bytes(((i * 31) >> 3) & 0xFF for i in range(length))


def read_frames(reader, frames, length):
    """The timed loop: take, touch (first and last byte) and release each frame."""
    total = 0
    for i in range(frames):
        frame = reader.read_frame(TIMEOUT_S)
        if frame is None:
            raise TimeoutError("frame %d of %d: nothing within %s s" % (i, frames, TIMEOUT_S))
        if frame.size != length:
            raise ValueError("frame of %d bytes, expected %d" % (frame.size, length))
        data = frame.data
        total += data[0] + data[-1]
        del data
        reader.release_frame(frame)
    return total


def cmd_read(name, metadata_size, payload_size, length):
    reader = Reader(name, BufferConfig(metadata_size, payload_size))
    try:
        say("ready")
        for frames in jobs("read"):
            total = read_frames(reader, frames, length)
            say("done %d %d" % (frames, total))
    finally:
        reader.close()
        unlink_leftover_semaphores(name)


def cmd_write(name, length):
    writer = connect_writer(name, TIMEOUT_S)
    try:
        writer.write_timeout = timedelta(seconds=TIMEOUT_S)
        source = source_data(length)
        write_frame = writer.write_frame
        say("ready")
        for frames in jobs("go"):
            for _ in range(frames):
                write_frame(source)
            say("sent %d" % frames)
    finally:
        writer.close()


def _sigterm(signum, _frame):
    # Turn SIGTERM into SystemExit so the `finally` blocks close the buffer.
    raise SystemExit(128 + signum)


def main(argv):
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        if len(argv) == 6 and argv[1] == "read":
            cmd_read(argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
        elif len(argv) == 4 and argv[1] == "write":
            cmd_write(argv[2], int(argv[3]))
        else:
            sys.stderr.write(__doc__)
            return 2
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        sys.stderr.write("peer.py %s: %s: %s\n" % (" ".join(argv[1:3]), type(e).__name__, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
