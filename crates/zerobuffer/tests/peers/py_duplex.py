#!/usr/bin/env python3
"""Python duplex peer for the zerobuffer-rs interop tests (PyPI ``zerobuffer-ipc`` only).

Usage:
  py_duplex.py server CHANNEL [--timeout-s T] [--max-s S]
      Echo server (response = request bytes) with request buffer (4096, 1 MiB). Prints READY
      once CHANNEL_request exists, serves until the client leaves (or S seconds pass), then
      prints {"handled": N} and exits 0.
  py_duplex.py client CHANNEL --requests N [--timeout-s T]
      Sends N requests; request i (1-based) has size 1 + (i * 7919) % 20000 and byte j equal to
      (j + i) % 256. Every response must carry the request's sequence and equal the request.
      Prints {"requests": N, "errors": [...]} and exits 1 on any error.
"""

import argparse
import json
import os
import sys
import time

from zerobuffer import BufferConfig
from zerobuffer.duplex import DuplexChannelFactory, ProcessingMode

# The peer scripts sit side by side; the read/write peer owns the semaphore workaround.
from py_peer import unlink_leftover_semaphores

SHM = "/dev/shm"


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def exists(name):
    return all(os.path.exists(os.path.join(SHM, p)) for p in (name, "sem.sem-w-" + name, "sem.sem-r-" + name))


def request_data(i):
    size = 1 + (i * 7919) % 20000
    return bytes(bytearray((j + i) & 0xFF for j in range(size)))


def cmd_server(args):
    handled = [0]

    def echo(frame, writer):
        writer.write_frame(bytes(frame.data))
        handled[0] += 1

    server = DuplexChannelFactory().create_immutable_server(
        args.channel, BufferConfig(4096, 1024 * 1024), timeout=args.timeout_s
    )
    server.start(echo, mode=ProcessingMode.SINGLE_THREAD)
    deadline = time.monotonic() + args.max_s
    while not exists(args.channel + "_request"):
        if time.monotonic() > deadline or not server.is_running:
            sys.stderr.write("py_duplex: request buffer never appeared\n")
            return 1
        time.sleep(0.02)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    while server.is_running and time.monotonic() < deadline:
        time.sleep(0.05)
    server.stop()
    unlink_leftover_semaphores(args.channel + "_request")
    emit({"handled": handled[0]})
    return 0


def cmd_client(args):
    deadline = time.monotonic() + args.timeout_s
    while not exists(args.channel + "_request"):
        if time.monotonic() > deadline:
            sys.stderr.write("py_duplex: no server for %r\n" % args.channel)
            return 1
        time.sleep(0.02)
    errors = []
    client = DuplexChannelFactory().create_client(args.channel)
    try:
        for i in range(1, args.requests + 1):
            data = request_data(i)
            seq = client.send_request(data)
            response = client.receive_response(int(args.timeout_s * 1000))
            if not response.is_valid:
                errors.append("request %d: no response" % i)
                break
            with response:
                if response.sequence != seq:
                    errors.append("request %d: response sequence %d, expected %d" % (i, response.sequence, seq))
                if response.to_bytes() != data:
                    errors.append("request %d: response differs from the request (%d bytes vs %d)" % (i, len(response.to_bytes()), len(data)))
            if len(errors) >= 10:
                break
    finally:
        client.close()
        unlink_leftover_semaphores(args.channel + "_response")
    emit({"requests": args.requests, "errors": errors})
    return 1 if errors else 0


def main():
    p = argparse.ArgumentParser(description="ZeroBuffer Python duplex interop peer")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("channel")
    s.add_argument("--timeout-s", type=float, default=30.0)
    s.add_argument("--max-s", type=float, default=120.0)
    c = sub.add_parser("client")
    c.add_argument("channel")
    c.add_argument("--requests", type=int, required=True)
    c.add_argument("--timeout-s", type=float, default=10.0)
    args = p.parse_args()
    return cmd_server(args) if args.cmd == "server" else cmd_client(args)


if __name__ == "__main__":
    sys.exit(main())
