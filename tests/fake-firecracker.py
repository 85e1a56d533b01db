#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stand-in for the `firecracker` binary, for tests on hosts without KVM.

It takes the real binary's `--api-sock PATH` and `--id ID` (and refuses any
other option, as the real one refuses options it does not know), serves
HTTP/1.1 on the API socket and checks every request against Firecracker's
published API description (the Swagger 2.0 file in shared/spec, found
through $BANGER_SPEC_DIR): the path template, the method, and the body
against the body parameter's schema ($ref, type, required, properties,
enum, minimum/maximum, items; unknown properties are refused, as
Firecracker's deserializer refuses them). On top of the schema it enforces
the rules the spec states in words: "Pre-boot only" and "Post-boot only"
operations, InstanceStart needing a boot source, metrics set up only once,
files that must exist (logger, metrics, kernel, initrd, drives), ids in the
path matching the body, one root drive, vsock socket path not in use.

A refused request gets HTTP 400 with {"fault_message": "..."}, like
Firecracker. Every request is appended as one JSON line to
$BANGER_FAKE_FC_LOG when that is set: method, path, body, status, verdict
("ok", "violation" or "unsupported"), rule ("http", "path", "method", "spec", "order",
"host", "unsupported") and reason.

There is no guest. InstanceStart prints a few console lines to stdout (where
Firecracker writes the guest's serial console). The hybrid vsock socket
answers "CONNECT 1024\n" with "OK <host port>\n" and then runs
`$BANGER_AGENT --fd 3` on that connection when $BANGER_AGENT is set (the
guest agent in its host test mode), or holds the connection open. Other
ports are refused the way Firecracker does when nothing listens in the
guest: the connection is closed. FlushMetrics appends a metrics line with
fixed amounts per flush (BLOCK_* and NET_* below, per device).
SendCtrlAltDel stands for a guest that reboots, which makes Firecracker
exit: the process removes its sockets and exits 0. So does SIGTERM.
"""

import json
import os
import re
import selectors
import signal
import socket
import sys
import time

# The helper modules next to this file; no __pycache__ in the source tree.
sys.dont_write_bytecode = True

from fake_firecracker_api import Api  # noqa: E402
from fake_firecracker_spec import Refused, Spec  # noqa: E402

MAX_PAYLOAD = 51200  # Firecracker's default --http-api-max-payload-size
HOST_PORT_BASE = 1 << 30  # Firecracker numbers host-side vsock ports from here
AGENT_PORT = 1024
EXIT_ARG_PARSING = 153  # Firecracker's exit code for a bad command line
EXIT_GENERIC = 1

# What each FlushMetrics adds, per device.
BLOCK_READ_BYTES = 4096
BLOCK_WRITE_BYTES = 512
NET_RX_BYTES = 1500
NET_TX_BYTES = 700


class Connection:
    def __init__(self, sock, kind):
        self.sock = sock
        self.kind = kind  # "api", "vsock-handshake", "vsock-open"
        self.buf = b""


class Fake(Api):
    def __init__(self, spec, api_sock, instance_id):
        self.spec = spec
        self.api_sock = api_sock
        self.id = instance_id
        self.state = "Not started"
        self.res = {}  # "boot-source", "machine-config", "logger", ... -> body
        self.drives = {}
        self.ifaces = {}
        self.pmem = {}
        self.vsock = None
        self.vsock_listener = None
        self.mmds = None
        self.record_path = os.environ.get("BANGER_FAKE_FC_LOG")
        self.agent = os.environ.get("BANGER_AGENT") or None
        self.children = []
        self.held = []
        self.next_host_port = HOST_PORT_BASE
        self.exiting = False
        self.last_flush = time.monotonic()
        self.sel = selectors.DefaultSelector()
        self.listener = None

    # -- plumbing --

    def listen(self):
        if os.path.lexists(self.api_sock):
            sys.stderr.write(
                f"Failed to open the API socket at: {self.api_sock}: address in use "
                "(remove it or use another path)\n")
            sys.exit(EXIT_GENERIC)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.api_sock)
        self.listener.listen(16)
        self.sel.register(self.listener, selectors.EVENT_READ, "api-listener")
        sys.stderr.write(f"fake-firecracker {self.spec.version}: API on {self.api_sock}\n")
        sys.stderr.flush()

    def cleanup(self):
        for path, sock in ((self.api_sock, self.listener),
                           (self.vsock and self.vsock.get("uds_path"), self.vsock_listener)):
            if sock is not None:
                sock.close()
                try:
                    os.unlink(path)
                except OSError:
                    pass
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass

    def record(self, method, path, body, status, rule, reason):
        if not self.record_path:
            return
        entry = {
            "method": method,
            "path": path,
            "body": body,
            "status": status,
            "verdict": "ok" if rule is None else rule if rule == "unsupported" else "violation",
            "rule": rule,
            "reason": reason,
        }
        with open(self.record_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def log(self, message):
        path = self.res.get("logger", {}).get("log_path")
        if path:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            with open(path, "a", encoding="utf-8") as f:
                f.write(f"{stamp} [{self.id}:fc_api] {message}\n")

    def console(self, lines):
        for line in lines:
            sys.stdout.write(f"[    0.000000] {line}\n")
        sys.stdout.flush()

    @staticmethod
    def send(sock, status, payload=None, close=False):
        reasons = {200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found",
                   500: "Internal Server Error"}
        head = f"HTTP/1.1 {status} {reasons.get(status, '')}\r\nServer: Firecracker API\r\n"
        head += "Connection: close\r\n" if close else "Connection: keep-alive\r\n"
        data = b""
        if payload is not None:
            data = json.dumps(payload).encode()
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        try:
            sock.sendall(head.encode() + b"\r\n" + data)
        except OSError:
            pass

    # -- the main loop --

    def run(self):
        while not self.exiting:
            for key, _ in self.sel.select(timeout=1.0):
                if key.data == "api-listener":
                    sock, _ = self.listener.accept()
                    self.sel.register(sock, selectors.EVENT_READ, Connection(sock, "api"))
                elif key.data == "vsock-listener":
                    sock, _ = self.vsock_listener.accept()
                    self.sel.register(sock, selectors.EVENT_READ,
                                      Connection(sock, "vsock-handshake"))
                else:
                    self.readable(key.data)
                if self.exiting:
                    break
            self.reap()
            if "metrics" in self.res and time.monotonic() - self.last_flush >= 60:
                self.flush_metrics()

    def drop(self, conn):
        self.sel.unregister(conn.sock)
        conn.sock.close()

    def readable(self, conn):
        try:
            data = conn.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.drop(conn)
            if conn in self.held:
                self.held.remove(conn)
            return
        conn.buf += data
        if conn.kind == "api":
            self.api_input(conn)
        elif conn.kind == "vsock-handshake":
            self.vsock_input(conn)
        # "vsock-open": no guest to deliver to; the bytes are dropped.

    # -- HTTP --

    def api_input(self, conn):
        while not self.exiting:
            end = conn.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(conn.buf) > 16384:
                    self.bad_http(conn, "", "", "request head too long")
                return
            head = conn.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self.bad_http(conn, "", "", f"malformed request line {lines[0]!r}")
                return
            method, target, version = parts
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    self.bad_http(conn, method, target, f"malformed header {line!r}")
                    return
                headers[name.strip().lower()] = value.strip()
            if "transfer-encoding" in headers:
                self.bad_http(conn, method, target, "Transfer-Encoding is not supported")
                return
            try:
                length = int(headers.get("content-length", "0"))
                if length < 0:
                    raise ValueError
            except ValueError:
                self.bad_http(conn, method, target, "bad Content-Length")
                return
            if length > MAX_PAYLOAD:
                self.bad_http(conn, method, target,
                              f"Request payload with size {length} is larger than "
                              f"the limit of {MAX_PAYLOAD} allowed by server.")
                return
            if len(conn.buf) < end + 4 + length:
                return
            body = conn.buf[end + 4:end + 4 + length]
            conn.buf = conn.buf[end + 4 + length:]
            close = (headers.get("connection", "").lower() == "close"
                     or version == "HTTP/1.0")
            self.request(conn, method, target, headers, body, close)
            if close:
                self.drop(conn)
                return

    def bad_http(self, conn, method, path, reason):
        self.record(method, path, None, 400, "http", reason)
        self.send(conn.sock, 400, {"fault_message": reason}, close=True)
        self.drop(conn)

    def request(self, conn, method, target, headers, raw, close):
        path = target.split("?", 1)[0]
        body = None
        status, payload, rule, reason = 204, None, None, None
        try:
            if raw:
                try:
                    body = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as e:
                    body = raw.decode("utf-8", "replace")
                    raise Refused("spec", f"the body is not JSON: {e}")
            status, payload = self.dispatch(method, path, headers, body, raw)
        except Refused as e:
            status, payload, rule, reason = 400, {"fault_message": e.reason}, e.rule, e.reason
        self.record(method, path, body, status, rule, reason)
        self.log(f"The API server received a {method} request on \"{path}\": {status}")
        self.send(conn.sock, status, payload, close=close)


    def start(self):
        mc = self.machine_config()
        boot = self.res["boot-source"]
        lines = [
            f"Linux version 0.0.0-fake (fake-firecracker {self.spec.version})",
            f"Command line: {boot.get('boot_args', '')}",
            f"fake-firecracker: instance {self.id}: {mc['vcpu_count']} vCPUs, "
            f"{mc['mem_size_mib']} MiB, kernel {boot['kernel_image_path']}",
        ]
        for d in self.drives.values():
            lines.append(f"fake-firecracker: drive {d['drive_id']}: "
                         f"{d.get('path_on_host', d.get('socket'))}"
                         f"{' (root)' if d['is_root_device'] else ''}"
                         f"{' (read-only)' if d.get('is_read_only') else ''}")
        for i in self.ifaces.values():
            lines.append(f"fake-firecracker: net {i['iface_id']}: tap {i['host_dev_name']} "
                         f"mac {i.get('guest_mac', '-')}")
        if self.vsock is not None:
            lines.append(f"fake-firecracker: vsock cid {self.vsock['guest_cid']} on "
                         f"{self.vsock['uds_path']}, port {AGENT_PORT}: "
                         f"{self.agent or 'held open'}")
            self.sel.register(self.vsock_listener, selectors.EVENT_READ, "vsock-listener")
        self.console(lines)
        self.state = "Running"
        self.log("Successfully started microvm")

    def flush_metrics(self):
        self.last_flush = time.monotonic()
        line = {"utc_timestamp_ms": int(time.time() * 1000),
                "api_server": {"process_startup_time_us": 0, "process_startup_time_cpu_us": 0}}
        agg = {"read_bytes": 0, "write_bytes": 0, "read_count": 0, "write_count": 0}
        for drive_id in sorted(self.drives):
            dev = {"read_bytes": BLOCK_READ_BYTES, "write_bytes": BLOCK_WRITE_BYTES,
                   "read_count": 1, "write_count": 1}
            line[f"block_{drive_id}"] = dev
            for k in agg:
                agg[k] += dev[k]
        line["block"] = agg
        agg = {"rx_bytes_count": 0, "tx_bytes_count": 0, "rx_count": 0, "tx_count": 0}
        for iface_id in sorted(self.ifaces):
            dev = {"rx_bytes_count": NET_RX_BYTES, "tx_bytes_count": NET_TX_BYTES,
                   "rx_count": 1, "tx_count": 1}
            line[f"net_{iface_id}"] = dev
            for k in agg:
                agg[k] += dev[k]
        line["net"] = agg
        with open(self.res["metrics"]["metrics_path"], "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    def vsock_input(self, conn):
        if b"\n" not in conn.buf:
            if len(conn.buf) > 32:
                self.drop(conn)
            return
        line, _, rest = conn.buf.partition(b"\n")
        m = re.fullmatch(rb"CONNECT (\d{1,10})", line)
        if m is None or int(m.group(1)) != AGENT_PORT:
            # Nothing listens on that port in the guest: Firecracker closes.
            self.drop(conn)
            return
        port = self.next_host_port
        self.next_host_port += 1
        try:
            conn.sock.sendall(f"OK {port}\n".encode())
        except OSError:
            self.drop(conn)
            return
        conn.buf = rest
        if self.agent is None:
            conn.kind = "vsock-open"
            self.held.append(conn)
            return
        self.sel.unregister(conn.sock)
        pid = os.fork()
        if pid == 0:
            try:
                fd = conn.sock.fileno()
                if fd != 3:
                    os.dup2(fd, 3)
                os.set_inheritable(3, True)
                os.execv(self.agent, [self.agent, "--fd", "3"])
            finally:
                os._exit(127)
        self.children.append(pid)
        conn.sock.close()

    def reap(self):
        for pid in list(self.children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.children.remove(pid)


def usage():
    return ("usage: firecracker [--api-sock PATH] [--id ID] [--version] [--help]\n"
            "(fake-firecracker: a stand-in for tests; other options of the real "
            "binary are not emulated)\n")


def parse_args(argv):
    values = {"--api-sock": "/run/firecracker.socket", "--id": "anonymous-instance"}
    seen = set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--help", "-h"):
            sys.stdout.write(usage())
            sys.exit(0)
        if arg == "--version":
            return None
        if arg not in values:
            sys.stderr.write(f"Arguments parsing error: Found argument '{arg}' which wasn't "
                             "expected, or isn't valid in this context.\n\n" + usage())
            sys.exit(EXIT_ARG_PARSING)
        if arg in seen:
            sys.stderr.write(f"Arguments parsing error: The argument '{arg}' was provided "
                             "more than once.\n")
            sys.exit(EXIT_ARG_PARSING)
        if i + 1 >= len(argv):
            sys.stderr.write(f"Arguments parsing error: The argument '{arg}' requires a "
                             "value but none was supplied\n")
            sys.exit(EXIT_ARG_PARSING)
        seen.add(arg)
        values[arg] = argv[i + 1]
        i += 2
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", values["--id"]):
        sys.stderr.write(f"Invalid instance ID: {values['--id']!r} (1 to 64 letters, digits "
                         "and hyphens)\n")
        sys.exit(EXIT_GENERIC)
    return values


def main():
    args = parse_args(sys.argv[1:])
    spec_dir = os.environ.get("BANGER_SPEC_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "spec")
    spec = Spec(os.path.join(spec_dir, "firecracker-api.yaml"))
    if args is None:
        sys.stdout.write(f"Firecracker v{spec.version} (fake-firecracker)\n")
        return 0
    fake = Fake(spec, args["--api-sock"], args["--id"])

    def on_term(signum, frame):
        fake.cleanup()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    fake.listen()
    try:
        fake.run()
    finally:
        fake.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
