#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The web UI's security and API, against a real bangerd (fake VMM, private
bus): no token -> 401 and no data on every route; a foreign Host is refused;
a cross-origin or CSRF-less change is refused and changes nothing; no CORS
header is ever sent; bad JSON, oversized and chunked bodies, unknown routes
and wrong methods get 4xx JSON errors and the daemon lives on; the one-time
login URL works once and sets an HttpOnly SameSite=Strict cookie; the token
file is private; a stop, a start, a create and a delete through the API
work and are seen on the event stream; the stats sampler's samples come as
"stats" events (and as the VM object's StatsSampled D-Bus signal), at most
one per VM per stats_poll_interval; an image pull through the API (from a
docker-registry the test runs on 127.0.0.1) reports its progress and
outcome as operations, and a bad reference or a missing image fails with a
clear error; the pull route refuses what the other changes refuse (no
token, a foreign Origin, no CSRF header, bad JSON); a taken port or an empty
web_listen_addr leaves bangerd running without the UI; `banger doctor`
warns about a non-loopback address. Environment: BANGER_CLI, BANGERD."""

import os
import socket
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import web_harness as wh  # noqa: E402

if not __debug__:
    print("FAIL: test-web.py needs its asserts: run it without -O", flush=True)
    sys.exit(1)

wh.enter_own_netns(sys.argv)

# Every route, with a method it takes.
ROUTES = [
    ("GET", "/"), ("GET", "/index.html"), ("GET", "/app.js"), ("GET", "/style.css"),
    ("GET", "/api/v1/session"), ("GET", "/api/v1/events"), ("GET", "/api/v1/vms"),
    ("GET", "/api/v1/vms/web1"), ("GET", "/api/v1/vms/web1/stats"),
    ("GET", "/api/v1/vms/web1/ports"), ("GET", "/api/v1/vms/web1/logs"),
    ("GET", "/api/v1/vms/web1/console"),
    ("GET", "/api/v1/images"), ("GET", "/api/v1/images/img"), ("GET", "/api/v1/kernels"),
    ("GET", "/api/v1/cache"), ("GET", "/api/v1/operations/1"), ("GET", "/api/v1/nope"),
    ("POST", "/api/v1/vms"), ("POST", "/api/v1/vms/web1/stop"),
    ("POST", "/api/v1/vms/web1/start"), ("POST", "/api/v1/vms/web1/kill"),
    ("DELETE", "/api/v1/vms/web1"), ("POST", "/api/v1/operations/1/cancel"),
    ("POST", "/api/v1/images/pull"),
]

# The sampler's period here (the default is 10 s).
STATS_CONFIG = 'stats_poll_interval = "1s"\n'


def vm_state(d, name):
    status, vm = d.json("GET", "/api/v1/vms/" + name)
    assert status == 200, (status, vm)
    return vm["state"]


def assert_running(d, name):
    state = vm_state(d, name)
    assert state == "running", "%s is %s" % (name, state)


def check_token_file(d):
    path = d.work + "/run/banger/web-token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, oct(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert len(d.token) == 64 and int(d.token, 16) >= 0
    wh.log("ok - token file is 0600 in a 0700 directory")


def check_no_token(d):
    for method, path in ROUTES:
        for auth in ({}, {"Authorization": "Bearer " + "0" * 64},
                     {"Cookie": "banger_session=" + "0" * 64}):
            status, hdrs, body = d.request(method, path, headers=auth, auth=False, body=b"{}"
                                           if method == "POST" else None)
            assert status == 401, (method, path, auth, status)
            assert b"web1" not in body and b"img" not in body and b"<html" not in body.lower()
            assert b'"Unauthorized"' in body, body
    assert_running(d, "web1")
    wh.log("ok - no or a wrong token: 401 and no data on every route")


def check_foreign_host(d):
    for host in ("evil.example:%d" % d.port, "evil.example", "127.0.0.1", "localhost",
                 "127.0.0.1:%d" % (d.port + 1), ""):
        for method, path in (("GET", "/api/v1/vms"), ("GET", "/"),
                             ("POST", "/api/v1/vms/web1/stop")):
            status, hdrs, body = d.request(method, path, host=host,
                                           headers={"Origin": "http://" + host})
            assert status in (421, 403), (host, path, status)
            assert b"web1" not in body
    status, _, _ = d.request("GET", "/api/v1/vms", host="localhost:%d" % d.port)
    assert status == 200
    assert_running(d, "web1")
    wh.log("ok - a foreign Host header is refused (421); localhost:PORT is accepted")


def login(d):
    r = d.cli("--json", "web")
    assert r.returncode == 0, r.stderr
    import json
    urls = json.loads(r.stdout)
    assert urls["url"] == d.url and urls["login_url"].startswith(d.url + "login?code="), urls
    path = urls["login_url"][len(d.url) - 1:]
    status, hdrs, _ = d.request("GET", path, auth=False)
    assert status == 303 and hdrs["location"][0] in ("/", d.url), (status, hdrs)
    cookie = hdrs["set-cookie"][0]
    attrs = [a.strip().lower() for a in cookie.split(";")]
    assert "httponly" in attrs and "samesite=strict" in attrs, cookie
    # One time only.
    status, hdrs, _ = d.request("GET", path, auth=False)
    assert status == 401 and "set-cookie" not in hdrs, status
    status, _, _ = d.request("GET", "/login?code=" + "0" * 64, auth=False)
    assert status == 401
    status, _, _ = d.request("GET", "/login", auth=False)
    assert status == 401
    status, _, _ = d.request("POST", "/login?code=" + "0" * 64, auth=False, body=b"x" * 100000)
    assert status == 405, status
    wh.log("ok - the login URL sets an HttpOnly SameSite=Strict cookie, once")
    return cookie.split(";")[0]


def check_cookie_and_csrf(d, cookie):
    status, session = d.json("GET", "/api/v1/session", auth=False, cookie=cookie)
    assert status == 200 and len(session["csrf_token"]) == 64, session
    csrf = session["csrf_token"]
    stop = "/api/v1/vms/web1/stop"
    refused = [
        {"Origin": d.origin},                                        # no CSRF header
        {"Origin": d.origin, "X-Banger-CSRF": "0" * 64},             # wrong one
        {"Origin": "http://evil.example", "X-Banger-CSRF": csrf},    # cross-origin
        {"Origin": "null", "X-Banger-CSRF": csrf},
        {"X-Banger-CSRF": csrf},                                     # no Origin
    ]
    for headers in refused:
        status, _, body = d.request("POST", stop, auth=False, cookie=cookie, headers=headers)
        assert status == 403, (headers, status, body)
    # The Bearer token does not excuse a foreign Origin either.
    status, _, _ = d.request("POST", stop, headers={"Origin": "http://evil.example"})
    assert status == 403
    # Reading with a state-changing method, changing with GET: refused.
    for method in ("PUT", "PATCH", "OPTIONS"):
        status, _, _ = d.request(method, stop, headers={"Origin": d.origin})
        assert status == 405, (method, status)
    status, _, _ = d.request("GET", stop)
    assert status == 405
    assert_running(d, "web1")
    wh.log("ok - cross-origin, Origin-less and CSRF-less changes are refused; nothing changed")
    return csrf


def check_headers(d, cookie):
    for method, path in ROUTES + [("OPTIONS", "/api/v1/vms")]:
        if path in ("/api/v1/events", "/api/v1/vms/web1/console"):  # streams
            continue
        # Changes with our own Origin are made on a VM that does not exist.
        if method in ("POST", "DELETE"):
            path = path.replace("web1", "nosuchvm")
        for extra in ({"Origin": "http://evil.example",
                       "Access-Control-Request-Method": "POST"}, {"Origin": d.origin}):
            status, hdrs, _ = d.request(method, path, headers=extra,
                                        body=b"{}" if method == "POST" else None)
            cors = [k for k in hdrs if k.startswith("access-control-")]
            assert not cors, (method, path, cors)
            csp = hdrs["content-security-policy"][0]
            assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, csp
            assert "script-src 'self'" in csp
            assert hdrs["x-content-type-options"] == ["nosniff"]
            assert hdrs["referrer-policy"] == ["no-referrer"]
    status, hdrs, body = d.request("GET", "/", auth=False, cookie=cookie)
    assert status == 200 and hdrs["content-type"][0].startswith("text/html")
    assert b"<script>" not in body and b"onclick" not in body, "inline script in index.html"
    assert_running(d, "web1")
    wh.log("ok - no CORS headers; CSP (no inline script, frame-ancestors 'none'), nosniff, "
           "no-referrer on every answer")


def check_bad_requests(d):
    import json
    cases = [
        ("POST", "/api/v1/vms", b"{bad json", 400),
        ("POST", "/api/v1/vms", b"", 400),
        ("POST", "/api/v1/vms", b"[1, 2]", 400),
        ("POST", "/api/v1/vms", b'{"name": 5}', 400),
        ("POST", "/api/v1/vms", b'{"name": "x", "vcpus": "many"}', 400),
        ("POST", "/api/v1/vms", b'{"name": "x", "evil": 1}', 400),
        ("POST", "/api/v1/vms", b"{" * 70000, 413),
        ("GET", "/api/v1/nope", None, 404),
        ("GET", "/api/v1/vms/web1/nope", None, 404),
        ("GET", "/api/v1/vms/nosuchvm", None, 404),
        ("GET", "/api/v1/vms/web1/logs?max_bytes=lots", None, 400),
        ("GET", "/nope.html", None, 404),
        ("GET", "/../../etc/passwd.html", None, 404),
        ("DELETE", "/api/v1/vms", None, 405),
        ("POST", "/api/v1/images", b"{}", 405),
    ]
    for method, path, body, want in cases:
        status, hdrs, data = d.request(method, path, body=body)
        assert status == want, (method, path, status, data[:200])
        err = json.loads(data)["error"]
        assert err["code"] and err["message"], err
    # A chunked body (no length to check first) is refused.
    import http.client
    conn = http.client.HTTPConnection(d.host, d.port, timeout=30)
    conn.request("POST", "/api/v1/vms", body=iter([b'{"name": "chunk"}']),
                 headers={"Authorization": "Bearer " + d.token}, encode_chunked=True)
    r = conn.getresponse()
    assert r.status == 411, r.status
    conn.close()
    assert d.daemon.poll() is None, "bangerd died"
    assert_running(d, "web1")
    wh.log("ok - bad JSON, oversized and chunked bodies, unknown routes: 4xx JSON errors; "
           "bangerd lives on")


def check_actions(d, cookie, csrf):
    events = wh.Events(d)
    names = [k.lower() for k, _ in events.response.getheaders()]
    assert "content-security-policy" in names and "x-content-type-options" in names, names
    assert not [n for n in names if n.startswith("access-control-")], names
    change = {"Origin": d.origin, "X-Banger-CSRF": csrf}
    # Stop, as the page does: cookie, Origin, CSRF.
    status, hdrs, body = d.request("POST", "/api/v1/vms/web1/stop", auth=False, cookie=cookie,
                                   headers=change)
    assert status == 200, (status, body)
    events.wait("web1 stopped", lambda k, e: k == "change" and e["name"] == "web1"
                and e["object"] and e["object"]["state"] == "stopped")
    assert vm_state(d, "web1") == "stopped"
    r = d.cli("--json", "vm", "show", "web1")
    assert '"stopped"' in r.stdout, r.stdout
    wh.log("ok - a stop through the API stops the VM; the event stream says so")

    # The console stream: the tail first, then what the VM writes.
    console = wh.Events(d, "/api/v1/vms/web1/console")
    first = console.wait("the console tail", lambda k, e: k == "console")
    assert first["reset"] and first["text"].count("booting VM web1") == 1, first

    # Start: a long action answered with an operation.
    status, op = d.json("POST", "/api/v1/vms/web1/start")
    assert status == 202 and op["action"] == "start" and op["state"] in ("running", "done"), op
    done = events.wait("the start finished", lambda k, e: k == "operation" and e["id"] == op["id"]
                       and e["state"] != "running")
    assert done["state"] == "done" and done["result"]["state"] == "running", done
    status, again = d.json("GET", "/api/v1/operations/%d" % op["id"])
    assert status == 200 and again["state"] == "done"
    more = console.wait("the console's new output", lambda k, e: k == "console"
                        and "booting VM web1" in e["text"])
    assert not more["reset"], more
    console.close()

    # Create from an image, then delete.
    status, op = d.json("POST", "/api/v1/vms", body=b'{"name": "web2", "image": "img"}')
    assert status == 202, op
    done = events.wait("the create finished", lambda k, e: k == "operation"
                       and e["id"] == op["id"] and e["state"] != "running")
    assert done["state"] == "done", done
    status, vms = d.json("GET", "/api/v1/vms")
    assert sorted(v["name"] for v in vms) == ["web1", "web2"], vms
    status, op = d.json("POST", "/api/v1/vms", body=b'{"name": "web3", "image": "noimage"}')
    assert status == 202
    failed = events.wait("the bad create failed", lambda k, e: k == "operation"
                         and e["id"] == op["id"] and e["state"] != "running")
    assert failed["state"] == "failed" and "noimage" in failed["error"]["message"], failed
    status, body = d.json("DELETE", "/api/v1/vms/web2?force=true")
    assert status == 200, body
    events.wait("web2 deleted", lambda k, e: k == "change" and e["name"] == "web2"
                and e["object"] is None)
    status, _ = d.json("GET", "/api/v1/vms/web2")
    assert status == 404
    events.close()
    wh.log("ok - start and create report progress as operations; delete works; all seen live; "
           "the console stream follows the log")


def check_stats(d):
    """Samples of the running web1 arrive on the event stream and as D-Bus
    signals, without anything asking for them."""
    events = wh.Events(d)
    monitor = wh.subprocess.Popen(
        ["gdbus", "monitor", "--session", "--dest", "org.banger.Banger1",
         "--object-path", "/org/banger/Banger1/vm/web1"],
        env=d.env, stdout=wh.subprocess.PIPE)
    try:
        samples = []
        while len(samples) < 3:
            samples.append(events.wait("a stats sample of web1", lambda k, e: k == "stats"
                                       and e["name"] == "web1"))
        for st in samples:
            assert st["mem_total"] > 0 and 0 <= st["mem_available"] <= st["mem_total"], st
        times = [st["sampled_at"] for st in samples]
        # One sample per VM per stats_poll_interval (1 s), no more.
        assert all(b - a >= 500 for a, b in zip(times, times[1:])), times
        # From the second one on, the guest's CPU use between two samples.
        assert 0 <= samples[-1]["cpu_busy_permille"] <= 1000, samples[-1]
        status, latest = d.json("GET", "/api/v1/vms/web1/stats")
        assert status == 200 and latest["sampled_at"] >= times[-1], (latest, times)
        wh.read_until(monitor, "a StatsSampled signal of web1", lambda text:
                      "org.banger.Banger1.Vm.StatsSampled" in text and "'mem_total'" in text)
    finally:
        monitor.kill()
        monitor.wait()
        events.close()
    wh.log("ok - stats samples come live: \"stats\" events (one per VM per interval) and the "
           "VM object's StatsSampled D-Bus signal")


def check_pull_refused(d, cookie, csrf):
    pull = "/api/v1/images/pull"
    body = b'{"reference": "127.0.0.1:1/x/y:z"}'
    refused = [
        (dict(auth=False, cookie=cookie, headers={"Origin": d.origin}), 403),
        (dict(auth=False, cookie=cookie, headers={"Origin": "http://evil.example",
                                                  "X-Banger-CSRF": csrf}), 403),
        (dict(headers={"Origin": "http://evil.example"}), 403),
        (dict(auth=False), 401),
    ]
    for kw, want in refused:
        status, _, data = d.request("POST", pull, body=body, **kw)
        assert status == want, (kw, status, data)
    import json
    for bad, words in ((b"{bad json", "not JSON"), (b"[]", "not a JSON object"),
                       (b"{}", '"reference"'), (b'{"reference": 7}', "must be a string"),
                       (b'{"reference": "a/b:c", "evil": 1}', 'unknown member "evil"'),
                       (b'{"reference": "a/b:c", "name": ["x"]}', "must be a string")):
        status, _, data = d.request("POST", pull, body=bad)
        err = json.loads(data)["error"]
        assert status == 400 and err["code"] == "InvalidArgument", (bad, status, err)
        assert words in err["message"], (bad, err)
    status, _, _ = d.request("PUT", pull)
    assert status == 405
    status, images = d.json("GET", "/api/v1/images")
    assert [i["name"] for i in images] == ["img"], images
    wh.log("ok - the pull route refuses a foreign Origin, no CSRF header, no token, bad JSON; "
           "nothing is pulled")


def finished(events, op):
    return events.wait("operation %d finished" % op["id"], lambda k, e: k == "operation"
                       and e["id"] == op["id"] and e["state"] != "running")


def check_pull(d, cookie, csrf):
    events = wh.Events(d)
    # A reference that does not parse: the operation fails and says why.
    status, op = d.json("POST", "/api/v1/images/pull", body=b'{"reference": "Not A Ref!"}')
    assert status == 202 and op["action"] == "pull" and op["reference"] == "Not A Ref!", op
    failed = finished(events, op)
    assert failed["state"] == "failed" and failed["error"]["code"] == "InvalidArgument", failed
    assert "invalid image reference 'Not A Ref!'" in failed["error"]["message"], failed
    status, again = d.json("GET", "/api/v1/operations/%d" % op["id"])
    assert status == 200 and again["error"] == failed["error"], again
    wh.log("ok - a pull of a bad reference fails with a clear error")

    registry = wh.Registry(d.work)
    try:
        r = d.cli("kernel", "import", "k", "--vmlinux", d.work + "/vmlinux")
        assert r.returncode == 0, r.stderr
        payload = os.urandom(2 << 20)  # incompressible: the layer is 2 MiB
        ref = registry.push("web/tiny", "v1", {"etc/motd": b"pulled\n", "data/blob": payload})
        # As the page does it: cookie, Origin, CSRF.
        status, _, data = d.request(
            "POST", "/api/v1/images/pull", auth=False, cookie=cookie,
            headers={"Origin": d.origin, "X-Banger-CSRF": csrf},
            body=('{"reference": "%s", "name": "tiny"}' % ref).encode())
        import json
        op = json.loads(data)
        assert status == 202 and op["image"] == "tiny" and op["state"] == "running", op
        progress = []
        while True:
            kind, e = events.next()
            if kind == "operation" and e["id"] == op["id"]:
                progress.append(e)
                if e["state"] != "running":
                    break
        done = progress[-1]
        assert done["state"] == "done" and done["result"]["name"] == "tiny", done
        assert done["result"]["source"] == "pulled" and done["result"]["oci_reference"] == ref
        pulling = [e for e in progress if e["phase"] == "pulling"]
        assert pulling and pulling[-1]["done"] == pulling[-1]["total"] > len(payload), pulling
        assert all(a["done"] <= b["done"] for a, b in zip(pulling, pulling[1:])), pulling
        status, image = d.json("GET", "/api/v1/images/tiny")
        assert status == 200 and image["kernel_ref"] == "k", image
        # A tag the registry does not have: failed, with the registry's answer.
        status, op = d.json("POST", "/api/v1/images/pull",
                            body=('{"reference": "%s/web/tiny:nope"}' % registry.host).encode())
        assert status == 202, op
        failed = finished(events, op)
        assert failed["state"] == "failed" and "nope" in failed["error"]["message"], failed
        status, images = d.json("GET", "/api/v1/images")
        assert sorted(i["name"] for i in images) == ["img", "tiny"], images
    finally:
        registry.close()
        events.close()
    wh.log("ok - a pull through the API reports its progress and outcome as operations; "
           "a missing tag fails with the registry's error")


def check_cli(d):
    r = d.cli("daemon", "status")
    assert r.returncode == 0 and ("web UI:     " + d.url) in r.stdout, r.stdout
    r = d.cli("web")  # no DISPLAY: prints the login URL
    assert r.returncode == 0 and r.stdout.startswith(d.url + "login?code="), r.stdout
    # With a display: xdg-open gets the login URL (a stand-in here).
    bindir = d.work + "/bin"
    os.makedirs(bindir)
    with open(bindir + "/xdg-open", "w") as f:
        f.write('#!/bin/sh\nprintf "%%s\\n" "$1" > "%s/opened"\n' % d.work)
    os.chmod(bindir + "/xdg-open", 0o755)
    env = dict(d.env, DISPLAY=":99", PATH=bindir + ":" + os.environ.get("PATH", ""))
    r = d.cli("web", env=env)
    assert r.returncode == 0 and ("opened " + d.url) in r.stdout, (r.stdout, r.stderr)
    with open(d.work + "/opened") as f:
        opened = f.read().strip()
    assert opened.startswith(d.url + "login?code="), opened
    status, _, _ = d.request("GET", opened[len(d.url) - 1:], auth=False)
    assert status == 303, status
    with open(bindir + "/xdg-open", "w") as f:  # a failing one: the URL is printed instead
        f.write("#!/bin/sh\nexit 3\n")
    r = d.cli("web", env=env)
    assert r.returncode == 0 and r.stdout.startswith(d.url + "login?code="), r.stdout
    assert "cannot open a browser" in r.stderr, r.stderr
    r = d.cli("--local", "web")
    assert r.returncode != 0 and "only bangerd serves" in r.stderr, r.stderr
    wh.log("ok - daemon status shows the URL; banger web opens a login URL with xdg-open, or "
           "prints it without a display or when xdg-open fails")


def check_port_taken():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    d = wh.Daemon("127.0.0.1:%d" % port, wait_web=False)
    try:
        assert d.url == "", d.url
        r = d.cli("daemon", "status")
        assert "web UI:     not served" in r.stdout, r.stdout
        r = d.cli("web")
        assert r.returncode == 8 and "no web UI" in r.stderr, (r.returncode, r.stderr)
        assert "web UI not served" in d.log_text()
        r = d.cli("vm", "list")
        assert r.returncode == 0
    finally:
        s.close()
        status = d.close()
        d.cleanup()
    assert status == 0, "bangerd exited %s" % status
    d = wh.Daemon("", wait_web=False)
    try:
        assert d.url == ""
        assert not os.path.exists(d.work + "/run/banger/web-token")
    finally:
        status = d.close()
        d.cleanup()
    assert status == 0
    wh.log("ok - a taken port or web_listen_addr = \"\": bangerd runs on without the UI")
    if os.environ.get("BANGER_TEST_NETNS") != "1":
        wh.log("ok - a non-loopback address is logged # SKIP only in the test's own network "
               "namespace (root)")
        return
    d = wh.Daemon("0.0.0.0:0", wait_web=False)
    try:
        assert d.url.startswith("http://0.0.0.0:"), d.url
        assert "which is not a loopback address" in d.log_text()
    finally:
        status = d.close()
        d.cleanup()
    assert status == 0
    wh.log("ok - a non-loopback address is served with a warning in bangerd's log")


def check_doctor():
    import json
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=tmp, XDG_STATE_HOME=tmp,
                   XDG_CACHE_HOME=tmp, BANGER_CONFIG=tmp + "/c.toml")
        for addr, want in (("0.0.0.0:7777", "WARN"), ("127.0.0.1:7777", "PASS"),
                           ("[::1]:7777", "PASS"), ("", "PASS")):
            with open(tmp + "/c.toml", "w") as f:
                f.write('web_listen_addr = "%s"\nstate_dir = "%s/s"\ncache_dir = "%s/c"\n'
                        % (addr, tmp, tmp))
            r = wh.subprocess.run([os.environ["BANGER_CLI"], "--local", "--json", "doctor"],
                                  env=env, capture_output=True, text=True)
            checks = [c for c in json.loads(r.stdout)["checks"] if c["name"] == "web"]
            assert len(checks) == 1 and checks[0]["status"] == want, (addr, checks)
    wh.log("ok - banger doctor warns when the web UI listens beyond loopback")


def main():
    d = wh.Daemon(config=STATS_CONFIG)
    ok = False
    try:
        d.make_vm("web1")
        check_token_file(d)
        check_no_token(d)
        check_foreign_host(d)
        cookie = login(d)
        csrf = check_cookie_and_csrf(d, cookie)
        check_headers(d, cookie)
        check_bad_requests(d)
        check_actions(d, cookie, csrf)
        check_stats(d)
        check_pull_refused(d, cookie, csrf)
        check_pull(d, cookie, csrf)
        check_cli(d)
        ok = True
    finally:
        status = d.close()
        if not ok or status != 0:
            wh.log("--- bangerd.log (exit %s)" % status)
            wh.log(d.log_text()[-6000:])
        d.cleanup()
    assert status == 0, "bangerd exited %s" % status
    check_port_taken()
    check_doctor()
    wh.log("ok")


main()
