#!/usr/bin/env python3
"""Python interop peer for the zerobuffer-rs integration tests.

Uses only the standard library and the PyPI package ``zerobuffer-ipc`` (module
``zerobuffer``), installed by ``scripts/install-peers.sh`` into ``<repo>/.venv``.

Usage:
  py_peer.py write NAME --frames N --sizes MIN..MAX [--size-step S]
                        [--metadata-len K] [--timeout-s T] [--zero-copy]
  py_peer.py read  NAME --frames N --sizes MIN..MAX [--size-step S]
                        --metadata-size M --payload-size P [--metadata-len K]
                        [--timeout-s T]

Test data (shared with the Rust side):
  frame i (1-based) has size  MIN + S*((i-1) % ((MAX-MIN)//S + 1))   (S=1 by default)
  byte j of frame i is        (j + i) % 256
  metadata (K bytes) byte i   i % 256

``write`` prints {"frames":N,"bytes":total} on success; on any error it prints a
message (and traceback) to stderr and exits 1.
``read`` prints READY once the buffer exists, then
{"frames":..,"bytes":..,"errors":[..]} and exits 1 if there was any error.
"""

import argparse
import json
import os
import signal
import sys
import time
import traceback
from datetime import timedelta

import zerobuffer
from zerobuffer import BufferConfig, Reader, Writer
from zerobuffer.exceptions import WriterAlreadyConnectedException, ZeroBufferException

MAX_REPORTED_ERRORS = 10
SHM_DIR = "/dev/shm"


def log(msg):
    sys.stderr.write("py_peer: %s\n" % msg)
    sys.stderr.flush()


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def parse_sizes(text):
    try:
        lo, hi = text.split("..", 1)
        lo, hi = int(lo), int(hi)
    except ValueError:
        raise argparse.ArgumentTypeError("expected MIN..MAX, got %r" % text)
    if lo < 1 or hi < lo:
        raise argparse.ArgumentTypeError("need 1 <= MIN <= MAX, got %r" % text)
    return lo, hi


def frame_size(i, lo, hi, step=1):
    return lo + step * ((i - 1) % ((hi - lo) // step + 1))


def make_pattern(max_size):
    # pattern[k] == k % 256, so pattern[i % 256 + j] == (i + j) % 256
    return bytes(bytearray(k & 0xFF for k in range(256 + max_size)))


def metadata_bytes(k):
    return bytes(bytearray(i & 0xFF for i in range(k)))


def _sigterm(signum, _frame):
    # Turn SIGTERM into SystemExit so `finally` blocks close the buffer.
    raise SystemExit(128 + signum)


def _buffer_visible(name):
    """True once the shm segment and both semaphores of NAME exist (Linux)."""
    if not os.path.isdir(SHM_DIR):
        return True  # cannot tell; let Writer() decide
    return all(
        os.path.exists(os.path.join(SHM_DIR, p))
        for p in (name, "sem.sem-w-" + name, "sem.sem-r-" + name)
    )


def _drop_own_writer_claim(name):
    """Undo a writer_pid claim left by our own failed Writer() (upstream bug:
    Python's Writer stores writer_pid before opening the semaphores and does not
    clear it on failure, so a retry would hit WriterAlreadyConnectedException)."""
    try:
        from zerobuffer.oieb_view import OIEBView
        from zerobuffer.shared_memory import SharedMemoryFactory

        shm = SharedMemoryFactory.open(name)
        try:
            view = shm.get_memoryview(0, OIEBView.SIZE)
            oieb = OIEBView(view)
            if oieb.writer_pid == os.getpid():
                oieb.writer_pid = 0
            oieb.dispose()
            view.release()
        finally:
            shm.close()
    except Exception:
        pass


def connect_writer(name, timeout_s):
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        if _buffer_visible(name):
            try:
                return Writer(name)
            except WriterAlreadyConnectedException:
                raise
            except ZeroBufferException as e:
                last = e
                _drop_own_writer_claim(name)
        else:
            last = "buffer %r (shm + sem-w/sem-r) not present yet" % name
        if time.monotonic() >= deadline:
            raise ZeroBufferException(
                "could not connect writer to %r within %.3f s: %s" % (name, timeout_s, last)
            )
        time.sleep(0.05)


def cmd_write(args):
    lo, hi = args.sizes
    pattern = make_pattern(hi)
    pat = memoryview(pattern)
    frames = 0
    total = 0
    writer = None
    try:
        writer = connect_writer(args.name, args.timeout_s)
        writer.write_timeout = timedelta(seconds=args.timeout_s)
        if args.metadata_len > 0:
            writer.set_metadata(metadata_bytes(args.metadata_len))
        for i in range(1, args.frames + 1):
            size = frame_size(i, lo, hi, args.size_step)
            off = i & 0xFF
            src = pat[off : off + size]
            if args.zero_copy:
                buf = writer.get_frame_buffer(size)
                try:
                    buf[:] = src
                finally:
                    buf.release()
                writer.commit_frame()
            else:
                writer.write_frame(src)
            frames += 1
            total += size
        writer.close()
        writer = None
    except BaseException as e:
        traceback.print_exc(file=sys.stderr)
        log(
            "write %s failed after %d frames (%d bytes): %s: %s"
            % (args.name, frames, total, type(e).__name__, e)
        )
        if writer is not None:
            try:
                writer.close()
            except Exception:
                pass
        return 1
    emit({"frames": frames, "bytes": total})
    return 0


def unlink_leftover_semaphores(name):
    # Upstream bug (protocol.md 12.8): Reader.close() never unlinks its semaphores.
    for sem in ("sem.sem-w-" + name, "sem.sem-r-" + name):
        try:
            os.unlink(os.path.join(SHM_DIR, sem))
        except OSError:
            pass


def cmd_read(args):
    lo, hi = args.sizes
    pattern = make_pattern(hi)
    expected_meta = metadata_bytes(args.metadata_len)
    errors = []
    error_count = 0
    frames = 0
    total = 0

    def err(msg):
        nonlocal error_count
        error_count += 1
        if len(errors) < MAX_REPORTED_ERRORS:
            errors.append(msg)

    try:
        reader = Reader(args.name, BufferConfig(args.metadata_size, args.payload_size))
    except BaseException as e:
        traceback.print_exc(file=sys.stderr)
        log("read %s: cannot create reader: %s: %s" % (args.name, type(e).__name__, e))
        return 1

    try:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        for i in range(1, args.frames + 1):
            try:
                frame = reader.read_frame(timeout=args.timeout_s)
            except BaseException as e:
                if not isinstance(e, Exception):
                    raise
                traceback.print_exc(file=sys.stderr)
                err("frame %d: read_frame raised %s: %s" % (i, type(e).__name__, e))
                break
            if frame is None:
                err("frame %d: timeout after %s s" % (i, args.timeout_s))
                break
            with frame:
                size = frame.size
                frames += 1
                total += size
                if frame.sequence != i:
                    err("frame %d: sequence %d, expected %d" % (i, frame.sequence, i))
                want = frame_size(i, lo, hi, args.size_step)
                if size != want:
                    err("frame %d: size %d, expected %d" % (i, size, want))
                else:
                    off = i & 0xFF
                    got = bytes(frame.data)
                    exp = pattern[off : off + size]
                    if got != exp:
                        j = next(k for k in range(size) if got[k] != exp[k])
                        err(
                            "frame %d: data mismatch at byte %d: got %d, expected %d"
                            % (i, j, got[j], exp[j])
                        )
            if i == 1 and args.metadata_len > 0:
                meta = reader.get_metadata()
                if meta is None:
                    err("metadata: none written, expected %d bytes" % args.metadata_len)
                else:
                    try:
                        got = bytes(meta)
                    finally:
                        meta.release()
                    if got != expected_meta:
                        err(
                            "metadata: got %d bytes %r..., expected %d bytes of i %% 256"
                            % (len(got), got[:16], args.metadata_len)
                        )
    except BaseException as e:
        traceback.print_exc(file=sys.stderr)
        err("aborted: %s: %s" % (type(e).__name__, e))
    finally:
        try:
            reader.close()
        except Exception as e:
            err("close: %s: %s" % (type(e).__name__, e))
        unlink_leftover_semaphores(args.name)

    if error_count > len(errors):
        errors.append("... and %d more errors" % (error_count - len(errors)))
    emit({"frames": frames, "bytes": total, "errors": errors})
    if error_count:
        log("read %s: %d error(s), first: %s" % (args.name, error_count, errors[0]))
        return 1
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description="ZeroBuffer Python interop peer")
    sub = p.add_subparsers(dest="cmd", required=True)

    w = sub.add_parser("write", help="connect a Writer to an existing buffer and write frames")
    w.add_argument("name")
    w.add_argument("--frames", type=int, required=True)
    w.add_argument("--sizes", type=parse_sizes, required=True, metavar="MIN..MAX")
    w.add_argument("--metadata-len", type=int, default=0)
    w.add_argument("--size-step", type=int, default=1,
                   help="sizes cycle MIN, MIN+S, ... <= MAX (default 1)")
    w.add_argument("--timeout-s", type=float, default=10.0,
                   help="connect deadline and write timeout, seconds (default 10)")
    w.add_argument("--zero-copy", action="store_true", help="use get_frame_buffer/commit_frame")

    r = sub.add_parser("read", help="create a Reader (buffer owner) and read/verify frames")
    r.add_argument("name")
    r.add_argument("--frames", type=int, required=True)
    r.add_argument("--sizes", type=parse_sizes, required=True, metavar="MIN..MAX")
    r.add_argument("--metadata-size", type=int, required=True)
    r.add_argument("--payload-size", type=int, required=True)
    r.add_argument("--metadata-len", type=int, default=0)
    r.add_argument("--size-step", type=int, default=1,
                   help="sizes cycle MIN, MIN+S, ... <= MAX (default 1)")
    r.add_argument("--timeout-s", type=float, default=10.0,
                   help="per-frame read timeout, seconds (default 10)")

    args = p.parse_args(argv)
    if args.frames < 0 or args.metadata_len < 0 or args.timeout_s <= 0 or args.size_step < 1:
        p.error("--frames/--metadata-len must be >= 0, --timeout-s > 0, --size-step >= 1")
    signal.signal(signal.SIGTERM, _sigterm)
    return cmd_write(args) if args.cmd == "write" else cmd_read(args)


if __name__ == "__main__":
    sys.exit(main())
