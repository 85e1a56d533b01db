# SPDX-License-Identifier: LGPL-2.1-or-later
"""fake-firecracker.py's API: each request routed and checked against the
spec and the order rules (dispatch), then answered by a do_METHOD_PATH
handler where Firecracker does more than store the body: host files that
must exist, ids matching the body, one root drive, the vsock socket path,
the actions. Api is a mixin of fake-firecracker.py's Fake, whose state
(res, drives, ifaces, vsock, state) the handlers read and change."""

import os
import re
import socket

from fake_firecracker_spec import METHODS, Refused, op_text, post_boot_only, pre_boot_only


class Api:
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
