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

import yaml

VERSION_FALLBACK = "0.0.0"
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

METHODS = ("get", "put", "patch", "post", "delete", "head", "options")


class SpecLoader(yaml.SafeLoader):
    """YAML 1.1 would read the enum value `Off` (Logger.level) as false:
    only true/false are booleans here."""


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


class Refused(Exception):
    def __init__(self, rule, reason):
        super().__init__(reason)
        self.rule = rule
        self.reason = reason


class Spec:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.load(f, Loader=SpecLoader)
        if self.doc.get("swagger") != "2.0":
            raise SystemExit(f"{path}: not a Swagger 2.0 document")
        self.definitions = self.doc.get("definitions", {})
        self.version = str(self.doc.get("info", {}).get("version", VERSION_FALLBACK))
        self.routes = []
        for template, item in self.doc["paths"].items():
            rx = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            self.routes.append((template, re.compile(rx), item))

    def route(self, path):
        for template, rx, item in self.routes:
            m = rx.match(path)
            if m:
                return template, m.groupdict(), item
        return None, None, None

    def resolve(self, schema):
        seen = 0
        while "$ref" in schema:
            ref = schema["$ref"]
            if not ref.startswith("#/definitions/"):
                raise SystemExit(f"unsupported $ref {ref}")
            schema = self.definitions[ref[len("#/definitions/"):]]
            seen += 1
            if seen > 32:
                raise SystemExit(f"$ref loop at {ref}")
        return schema

    def validate(self, schema, value, where, errors, partial=False):
        schema = self.resolve(schema)
        kind = schema.get("type")
        if kind is None and "properties" in schema:
            kind = "object"
        if kind == "object":
            if not isinstance(value, dict):
                errors.append(f"{where}: expected an object, got {describe(value)}")
                return
            if not partial:
                for name in schema.get("required", []):
                    if name not in value:
                        errors.append(f"{where}: missing required field '{name}'")
            props = schema.get("properties", {})
            extra = schema.get("additionalProperties", False)
            for name, sub in value.items():
                if name in props:
                    self.validate(props[name], sub, f"{where}.{name}", errors)
                elif extra is True:
                    pass
                elif isinstance(extra, dict):
                    self.validate(extra, sub, f"{where}.{name}", errors)
                else:
                    errors.append(f"{where}: unknown field '{name}'")
            return
        if kind == "array":
            if not isinstance(value, list):
                errors.append(f"{where}: expected an array, got {describe(value)}")
                return
            for i, sub in enumerate(value):
                self.validate(schema.get("items", {}), sub, f"{where}[{i}]", errors)
            return
        if kind == "string":
            if not isinstance(value, str):
                errors.append(f"{where}: expected a string, got {describe(value)}")
                return
        elif kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                errors.append(f"{where}: expected an integer, got {describe(value)}")
                return
            bits = {"int32": 31, "int64": 63}.get(schema.get("format"))
            if bits is not None and not -(1 << bits) <= value < (1 << bits):
                errors.append(f"{where}: {value} does not fit {schema['format']}")
        elif kind == "number":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                errors.append(f"{where}: expected a number, got {describe(value)}")
                return
        elif kind == "boolean":
            if not isinstance(value, bool):
                errors.append(f"{where}: expected a boolean, got {describe(value)}")
                return
        elif kind is not None:
            raise SystemExit(f"unsupported schema type {kind} at {where}")
        if "enum" in schema:
            allowed = [str(e) if not isinstance(e, (bool, int)) else e for e in schema["enum"]]
            if "case-insensitive" in str(schema.get("description", "")) and isinstance(value, str):
                ok = value.lower() in [str(a).lower() for a in allowed]
            else:
                ok = value in allowed
            if not ok:
                errors.append(f"{where}: {json.dumps(value)} is not one of {allowed}")
        if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
            errors.append(f"{where}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and isinstance(value, (int, float)) and value > schema["maximum"]:
            errors.append(f"{where}: {value} is above the maximum {schema['maximum']}")


def describe(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def op_text(op):
    return (str(op.get("summary", "")) + " " + str(op.get("description", ""))).lower()


def pre_boot_only(op):
    text = op_text(op)
    return "pre-boot only" in text or "fail after machine startup" in text


def post_boot_only(op):
    return "post-boot only" in op_text(op)


class Connection:
    def __init__(self, sock, kind):
        self.sock = sock
        self.kind = kind  # "api", "vsock-handshake", "vsock-open"
        self.buf = b""


class Fake:
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

    def dispatch(self, method, path, headers, body, raw):
        template, params, item = self.spec.route(path)
        if template is None:
            raise Refused("path", f"Invalid request method and/or path: {method} {path}.")
        op = item.get(method.lower())
        if op is None or method.lower() not in METHODS:
            allowed = ", ".join(m.upper() for m in item if m in METHODS)
            raise Refused("method", f"Invalid request method and/or path: {method} {path}. "
                                    f"{template} allows {allowed}.")
        body_param = next((p for p in op.get("parameters", []) if p.get("in") == "body"), None)
        if body_param is None:
            if raw:
                raise Refused("spec", f"{method} {template} takes no body")
        elif not raw:
            if body_param.get("required"):
                raise Refused("spec", f"{method} {template} needs a body")
        else:
            ctype = headers.get("content-type", "")
            if ctype.split(";")[0].strip().lower() != "application/json":
                raise Refused("spec", f"the body must be application/json, not {ctype!r}")
            errors = []
            partial = method == "PATCH" and "partially" in op_text(op)
            self.spec.validate(body_param["schema"], body, "body", errors, partial=partial)
            if errors:
                raise Refused("spec", "; ".join(errors))
        if self.state != "Not started" and pre_boot_only(op):
            raise Refused("order", f"{method} {template} is pre-boot only; "
                                   "the microVM is already running.")
        if self.state == "Not started" and post_boot_only(op):
            raise Refused("order", f"{method} {template} is post-boot only; "
                                   "the microVM is not running yet.")
        name = re.sub(r"\W+", "_", template).strip("_")
        handler = getattr(self, f"do_{method.lower()}" + (f"_{name}" if name else ""), None)
        if handler is None:
            if method == "GET":
                raise Refused("unsupported", f"the stand-in does not answer GET {template}")
            if method == "PATCH":
                # Updates of a device (balloon, hotplug memory) need the device.
                device = template.strip("/").split("/")[0]
                if device not in self.res and template.strip("/") not in self.res:
                    raise Refused("order", f"{method} {template}: {device} is not configured.")
                return 204, None
            self.res[template.strip("/")] = body
            return 204, None
        result = handler(params, body)
        if method == "GET":
            self.check_response(op, template, result)
            return 200, result
        return 204, None

    def check_response(self, op, template, result):
        schema = op.get("responses", {}).get(200, {}).get("schema")
        if schema is not None:
            errors = []
            self.spec.validate(schema, result, "response", errors)
            if errors:
                raise SystemExit(f"fake-firecracker bug: GET {template} answer: {errors}")

    # -- host checks --

    @staticmethod
    def need_file(path, what):
        if not os.path.exists(path):
            raise Refused("host", f"{what} {path}: No such file or directory (os error 2)")

    # -- handlers (only where Firecracker does more than store the body) --

    def do_get(self, params, body):
        return {"app_name": "Firecracker", "id": self.id, "state": self.state,
                "vmm_version": self.spec.version}

    def do_get_version(self, params, body):
        return {"firecracker_version": self.spec.version}

    def machine_config(self):
        mc = {"vcpu_count": 1, "mem_size_mib": 128, "smt": False, "track_dirty_pages": False,
              "huge_pages": "None"}
        mc.update(self.res.get("machine-config", {}))
        return mc

    def do_get_machine_config(self, params, body):
        return self.machine_config()

    def do_get_vm_config(self, params, body):
        out = {"machine-config": self.machine_config(),
               "drives": list(self.drives.values()),
               "network-interfaces": list(self.ifaces.values()),
               "pmem": list(self.pmem.values())}
        for key in ("boot-source", "logger", "metrics", "balloon", "entropy", "cpu-config",
                    "mmds-config"):
            if key in self.res:
                out[key] = self.res[key]
        if self.vsock is not None:
            out["vsock"] = self.vsock
        return out

    def do_get_mmds(self, params, body):
        if self.mmds is None:
            raise Refused("order", "The MMDS data store is not initialized.")
        return self.mmds

    def do_put_mmds(self, params, body):
        self.mmds = body if body is not None else {}

    def do_patch_mmds(self, params, body):
        if self.mmds is None:
            raise Refused("order", "The MMDS data store is not initialized.")
        self.mmds.update(body or {})

    def do_get_balloon(self, params, body):
        if "balloon" not in self.res:
            raise Refused("order", "Balloon device not configured.")
        return self.res["balloon"]

    def do_put_logger(self, params, body):
        if "log_path" in body:
            self.need_file(body["log_path"], "Failed to open target file")
        self.res["logger"] = body

    def do_put_metrics(self, params, body):
        if "metrics" in self.res:
            raise Refused("order", "Reinitialization of metrics not allowed.")
        self.need_file(body["metrics_path"], "Failed to open target file")
        self.res["metrics"] = body

    def do_put_machine_config(self, params, body):
        self.check_machine_config(body)
        self.res["machine-config"] = body

    def do_patch_machine_config(self, params, body):
        merged = self.machine_config()
        merged.update(body)
        self.check_machine_config(merged)
        self.res["machine-config"] = merged

    @staticmethod
    def check_machine_config(mc):
        # Both rules are in the description of PUT /machine-config.
        vcpus = mc.get("vcpu_count", 1)
        if mc.get("smt") and vcpus != 1 and vcpus % 2:
            raise Refused("spec", "With SMT enabled the vCPU count must be 1 or even.")
        if mc.get("huge_pages") == "2M" and mc.get("mem_size_mib", 128) % 2:
            raise Refused("spec", "With 2M huge pages mem_size_mib must be a multiple of 2.")

    def do_put_boot_source(self, params, body):
        self.need_file(body["kernel_image_path"], "Cannot open kernel image")
        if "initrd_path" in body:
            self.need_file(body["initrd_path"], "Cannot open initrd image")
        self.res["boot-source"] = body

    def do_put_drives_drive_id(self, params, body):
        if body["drive_id"] != params["drive_id"]:
            raise Refused("spec", "The id from the path does not match the id from the body!")
        if "socket" in body:
            for field in ("path_on_host", "is_read_only", "io_engine", "rate_limiter"):
                if field in body:
                    raise Refused("spec", f"{field} must be omitted for a vhost-user-block drive")
        else:
            for field in ("path_on_host", "is_read_only"):
                if field not in body:
                    raise Refused("spec", f"{field} is required for a virtio-block drive")
            self.need_file(body["path_on_host"], "Unable to open the block device backing file")
        if body["is_root_device"]:
            for other in self.drives.values():
                if other["is_root_device"] and other["drive_id"] != body["drive_id"]:
                    raise Refused("spec", "A root block device already exists!")
        self.drives[body["drive_id"]] = body

    def do_patch_drives_drive_id(self, params, body):
        if body["drive_id"] != params["drive_id"]:
            raise Refused("spec", "The id from the path does not match the id from the body!")
        if body["drive_id"] not in self.drives:
            raise Refused("order", f"Drive {body['drive_id']} does not exist.")
        if "path_on_host" in body:
            self.need_file(body["path_on_host"], "Unable to open the block device backing file")
        self.drives[body["drive_id"]].update(body)

    def do_put_pmem_id(self, params, body):
        if body["id"] != params["id"]:
            raise Refused("spec", "The id from the path does not match the id from the body!")
        self.need_file(body["path_on_host"], "Unable to open the pmem backing file")
        if body.get("root_device"):
            if any(p.get("root_device") for k, p in self.pmem.items() if k != body["id"]) or \
               any(d["is_root_device"] for d in self.drives.values()):
                raise Refused("spec", "A root device is already configured.")
        self.pmem[body["id"]] = body

    def do_put_network_interfaces_iface_id(self, params, body):
        if body["iface_id"] != params["iface_id"]:
            raise Refused("spec", "The id from the path does not match the id from the body!")
        mac = body.get("guest_mac")
        if mac is not None and not re.fullmatch(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}", mac):
            raise Refused("spec", f"Invalid MAC address: {mac}")
        for other in self.ifaces.values():
            if other["iface_id"] != body["iface_id"]:
                if other["host_dev_name"] == body["host_dev_name"]:
                    raise Refused("host", f"The host device {body['host_dev_name']} is in use.")
                if mac is not None and other.get("guest_mac") == mac:
                    raise Refused("spec", f"The MAC address {mac} is already in use.")
        self.ifaces[body["iface_id"]] = body

    def do_patch_network_interfaces_iface_id(self, params, body):
        if body["iface_id"] != params["iface_id"]:
            raise Refused("spec", "The id from the path does not match the id from the body!")
        if body["iface_id"] not in self.ifaces:
            raise Refused("order", f"Network interface {body['iface_id']} does not exist.")

    def do_put_mmds_config(self, params, body):
        for iface in body["network_interfaces"]:
            if iface not in self.ifaces:
                raise Refused("order", f"The network interface {iface} is not configured.")
        self.res["mmds-config"] = body

    def do_put_vsock(self, params, body):
        path = body["uds_path"]
        if self.vsock_listener is not None:
            self.vsock_listener.close()
            self.vsock_listener = None
            try:
                os.unlink(self.vsock["uds_path"])
            except OSError:
                pass
        if os.path.lexists(path):
            raise Refused("host", f"Cannot create backend for vsock device: "
                                  f"Error binding to the host-side Unix socket {path}: "
                                  "Address in use (os error 98)")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
        except OSError as e:
            sock.close()
            raise Refused("host", f"Error binding to the host-side Unix socket {path}: {e}")
        sock.listen(16)
        self.vsock_listener = sock
        self.vsock = body

    def do_put_snapshot_load(self, params, body):
        if set(self.res) - {"logger", "metrics"} or self.drives or self.ifaces or self.vsock:
            raise Refused("order", "Loading a microVM snapshot not allowed after configuring "
                                   "boot-specific resources.")
        raise Refused("unsupported", "the stand-in cannot load snapshots")

    def do_put_snapshot_create(self, params, body):
        if self.state != "Paused":
            raise Refused("order", "Cannot create a snapshot: the microVM is not paused.")
        raise Refused("unsupported", "the stand-in cannot create snapshots")

    def do_patch_vm(self, params, body):
        if self.state == "Not started":
            raise Refused("order", "The microVM is not running yet.")
        self.state = "Paused" if body["state"] == "Paused" else "Running"

    def do_put_actions(self, params, body):
        action = body["action_type"]
        if action == "InstanceStart":
            if self.state != "Not started":
                raise Refused("order", "The requested operation is not supported after "
                                       "starting the microVM.")
            if "boot-source" not in self.res:
                raise Refused("order", "Cannot start microvm without kernel configuration.")
            self.start()
        elif action == "FlushMetrics":
            if "metrics" not in self.res:
                raise Refused("order", "The metrics system is not initialized.")
            self.flush_metrics()
        elif action == "SendCtrlAltDel":
            if self.state == "Not started":
                raise Refused("order", "SendCtrlAltDel is not supported before starting "
                                       "the microVM.")
            self.console(["fake-firecracker: Ctrl-Alt-Del: the guest reboots, "
                          "and Firecracker exits"])
            self.exiting = True

    # -- the "guest" --

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
