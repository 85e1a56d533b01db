#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The web UI in a real browser (headless Chromium driven by Selenium),
against bangerd with the fake VMM on a private bus: without logging in the
page shows no data; the one-time login URL logs in; the VM is listed;
stopping it from the page changes its state on the page without a reload
(the same page, the event stream), and so does a start from the CLI; the
CPU and memory cells follow the stats sampler's samples without a reload;
delete asks first and Cancel keeps the VM; every control is labelled and
reachable by keyboard; an image pull started from the images page (from a
docker-registry the test runs on 127.0.0.1) shows its progress and then
the new image, and a failed one its error, as text; the browser logs no
error and no Content-Security-Policy violation.

--screenshots DIR saves the pages as PNGs (docs/images/ holds them).
Skipped (77) without chromium, chromedriver or python3-selenium.
Environment: BANGER_CLI, BANGERD."""

import json
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import web_harness as wh  # noqa: E402

if not __debug__:
    print("FAIL: test-web-chromium.py needs its asserts: run it without -O", flush=True)
    sys.exit(1)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    webdriver = None
if webdriver is None or CHROMIUM is None or DRIVER is None:
    wh.log("SKIP: needs chromium, chromium-driver and python3-selenium (scripts/install-deps.sh)")
    sys.exit(wh.SKIP)

wh.enter_own_netns(sys.argv)

shots = None
if "--screenshots" in sys.argv:
    shots = os.path.abspath(sys.argv[sys.argv.index("--screenshots") + 1])
    os.makedirs(shots, exist_ok=True)


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--user-data-dir=" + profile, "--window-size=1280,800", "--no-first-run",
                "--disable-extensions", "--disable-background-networking"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)


def shot(driver, name):
    if shots:
        time.sleep(0.2)  # let the last render settle before the picture
        driver.save_screenshot(os.path.join(shots, name))


def text_of(driver, selector):
    """The text of the first element @selector finds, or None; read in one
    go (the page replaces rows as events arrive)."""
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
        selector)


def row_state(driver, name):
    return text_of(driver, 'tr[data-vm="%s"] [data-field="state"]' % name)


# The guest is untrusted: its OS name (what the fake VM's agent reads from
# $BANGER_AGENT_OS_RELEASE) is markup that would run script if the page
# treated it as HTML.
HOSTILE = '<img src=x id=pwned onerror="document.title=1">&amp;<b>'


def sample_of(driver, name, field):
    """(text, data-sampled) of VM @name's CPU or memory cell in the list."""
    return driver.execute_script(
        "const r = [...document.querySelectorAll('#vm-table tbody tr')]"
        "  .find((r) => r.dataset.vm === arguments[0]);"
        "const c = r && r.querySelector('[data-field=\"' + arguments[1] + '\"]');"
        "return c ? [c.textContent, c.dataset.sampled] : [null, null];", name, field)


def stats_requests(driver):
    return driver.execute_script(
        "return performance.getEntriesByType('resource')"
        "  .filter((e) => /\\/api\\/v1\\/vms\\/[^/]+\\/stats$/.test(e.name)).length;")


def check_stats(driver, wait):
    """The sampler's samples (every second here) reach the open page as
    events: the cells change, and the page asked for no stats."""
    driver.execute_script("window.bangerStatsMarker = 7; performance.setResourceTimingBufferSize(100000);")
    first = wait.until(lambda _: (lambda t: t if re.fullmatch(r"\d+\.\d %", t[0] or "")
                                  and t[1] else None)(sample_of(driver, "web1", "cpu")))
    asked = stats_requests(driver)
    assert asked >= 1, "the page did not load the first stats"  # the counter counts
    memory = sample_of(driver, "web1", "memory")
    assert re.fullmatch(r"[\d.]+ \w+ / [\d.]+ \w+", memory[0]), memory
    for _ in range(2):
        first = wait.until(lambda _: (lambda t: t if t[1] and int(t[1]) > int(first[1]) else None)(
            sample_of(driver, "web1", "cpu")))
        assert re.fullmatch(r"\d+\.\d %", first[0]), first
        memory = sample_of(driver, "web1", "memory")
        assert memory[1] == first[1] and re.fullmatch(r"[\d.]+ \w+ / [\d.]+ \w+", memory[0])
    assert stats_requests(driver) == asked, "the page polled for stats"
    assert driver.execute_script("return window.bangerStatsMarker;") == 7, "page reloaded"
    wh.log("ok - CPU and memory follow the stats samples on the page live (events, no polling, "
           "no reload)")


def pull_lines(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#pulls li')].map((li) => "
        "  [li.dataset.op, li.className, li.querySelector('.text').textContent]);")


# A reference that does not parse, quoted back in the error: markup that
# would run script if the page treated it as HTML.
HOSTILE_REF = '<img src=x id=pwned2 onerror="document.title=2">'


def check_pull(d, driver, wait):
    registry = wh.Registry(d.work)
    try:
        r = d.cli("kernel", "import", "k", "--vmlinux", d.work + "/vmlinux")
        assert r.returncode == 0, r.stderr
        ref = registry.push("web/tiny", "v1", {"etc/motd": b"pulled\n",
                                               "data/blob": os.urandom(4 << 20)})
        driver.get(d.url + "#/images")
        wait.until(lambda _: "img" in (text_of(driver, "#image-table tbody") or ""))
        # Every text the pull's line shows, as it shows it.
        driver.execute_script("""
          window.bangerPullTexts = [];
          new MutationObserver(() => {
            for (const li of document.querySelectorAll('#pulls li'))
              window.bangerPullTexts.push(li.querySelector('.text').textContent);
          }).observe(document.getElementById('pulls'),
                     { subtree: true, childList: true, characterData: true });""")
        form = driver.find_element(By.ID, "pull")
        form.find_element(By.NAME, "reference").send_keys(ref)
        form.find_element(By.NAME, "name").send_keys("tiny")
        form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
        line = wait.until(lambda _: next((l for l in pull_lines(driver) if l[1] != "running"),
                                         None))
        assert line[1] == "done" and line[2] == "pull %s as tiny: done" % ref, line
        wait.until(lambda _: "tiny" in text_of(driver, "#image-table tbody"))
        texts = driver.execute_script("return window.bangerPullTexts;")
        assert any("pulling" in t and " of " in t for t in texts), texts
        assert '"pulled"' in d.cli("--json", "image", "show", "tiny").stdout
        shot(driver, "web-images.png")
        wh.log("ok - a pull started from the page shows its progress, then the new image")

        for reference, want in ((HOSTILE_REF, "invalid image reference '%s'" % HOSTILE_REF),
                                (registry.host + "/web/tiny:nope", "nope")):
            before = len(pull_lines(driver))
            field = form.find_element(By.NAME, "reference")
            field.clear()
            field.send_keys(reference)
            form.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
            line = wait.until(lambda _: (lambda ls: ls[0] if len(ls) > before
                                         and ls[0][1] != "running" else None)(pull_lines(driver)))
            assert line[1] == "failed" and want in line[2], line
            assert line[2].startswith("pull %s failed: " % reference), line
        assert driver.execute_script("return document.getElementById('pwned2');") is None
        assert not driver.find_elements(By.CSS_SELECTOR, "#pulls img")
        wh.log("ok - a failed pull shows its error on the page, as text")
    finally:
        registry.close()


def main():
    os_release = wh.tempfile.NamedTemporaryFile("w", suffix=".os-release", delete=False)
    os_release.write('ID=evil\nPRETTY_NAME="%s"\n' % HOSTILE)
    os_release.close()
    d = wh.Daemon(daemon_env={"BANGER_AGENT_OS_RELEASE": os_release.name},
                  config='stats_poll_interval = "1s"\n')
    driver = None
    ok = False
    try:
        d.make_vm("web1")
        d.make_vm("web2")
        driver = browser(d.work + "/chromium")
        wait = WebDriverWait(driver, 30, poll_frequency=0.05)

        # Not logged in: no data.
        driver.get(d.url)
        assert "web1" not in driver.page_source and "Unauthorized" in driver.page_source
        wh.log("ok - without logging in the page shows no data")

        login = json.loads(d.cli("--json", "web").stdout)["login_url"]
        driver.get(login)
        wait.until(lambda _: row_state(driver, "web1") == "running")
        assert driver.current_url == d.url + "#/vms" or driver.current_url.startswith(d.url)
        assert "login" not in driver.current_url
        wh.log("ok - the one-time login URL logs in; web1 is listed as running")
        wait.until(lambda _: driver.find_element(By.ID, "live").text == "live")
        # Logged in: from now on the browser logs no error at all.
        driver.get_log("browser")
        check_stats(driver, wait)
        shot(driver, "web-vms.png")

        # The same page, to the end: a reload would lose this marker.
        driver.execute_script("window.bangerTestMarker = 42;")
        stop = driver.find_element(By.CSS_SELECTOR, 'tr[data-vm="web1"] [data-action="stop"]')
        assert stop.get_attribute("aria-label") == "stop web1"
        stop.click()
        wait.until(lambda _: row_state(driver, "web1") == "stopped")
        assert driver.execute_script("return window.bangerTestMarker;") == 42, "page reloaded"
        assert '"stopped"' in d.cli("--json", "vm", "show", "web1").stdout
        wh.log("ok - stop from the page: the VM stops and the page shows it without a reload")

        # A change made elsewhere shows up too.
        r = d.cli("vm", "start", "web1")
        assert r.returncode == 0, r.stderr
        wait.until(lambda _: row_state(driver, "web1") == "running")
        assert driver.execute_script("return window.bangerTestMarker;") == 42, "page reloaded"
        wh.log("ok - a start from the CLI shows on the page live")

        # Delete asks first; Cancel keeps the VM.
        driver.find_element(By.CSS_SELECTOR, 'tr[data-vm="web2"] [data-action="delete"]').click()
        dialog = driver.find_element(By.ID, "confirm")
        wait.until(lambda _: dialog.get_attribute("open") is not None)
        assert "web2" in driver.find_element(By.ID, "confirm-text").text
        shot(driver, "web-delete.png")
        dialog.find_element(By.CSS_SELECTOR, 'button[value="cancel"]').click()
        wait.until(lambda _: dialog.get_attribute("open") is None)
        assert d.cli("vm", "show", "web2").returncode == 0, "Cancel deleted the VM"
        driver.find_element(By.CSS_SELECTOR, 'tr[data-vm="web2"] [data-action="delete"]').click()
        wait.until(lambda _: dialog.get_attribute("open") is not None)
        driver.find_element(By.ID, "confirm-ok").click()
        wait.until(lambda _: row_state(driver, "web2") is None)
        assert d.cli("vm", "show", "web2").returncode != 0, "web2 still exists"
        wh.log("ok - delete asks for confirmation; Cancel keeps the VM, Delete deletes it")

        # Keyboard: Tab reaches the VM link and its buttons; Enter follows the link.
        # Keys go to whatever has the focus, and the focused element is read in
        # one script: the page replaces the rows as events arrive (keeping the
        # focus), which leaves any element reference held across it stale.
        def press(key):
            webdriver.ActionChains(driver).send_keys(key).perform()
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)  # never replaced
        seen = []
        for _ in range(40):
            tag, label = driver.execute_script(
                "const a = document.activeElement;"
                "return [a.tagName, a.getAttribute('aria-label') || a.textContent.trim()];")
            seen.append(label)
            if tag == "A" and label == "web1":
                break
            press(Keys.TAB)
        else:
            raise AssertionError("Tab never reached the web1 link: %s" % seen)
        press(Keys.ENTER)
        wait.until(lambda _: text_of(driver, "#vm-title") == "VM web1")
        wait.until(lambda _: "booting VM web1" in text_of(driver, "#console"))
        unlabelled = driver.execute_script("""
          return [...document.querySelectorAll('input, select, button')].filter((e) =>
            !(e.labels && e.labels.length) && !e.getAttribute('aria-label') &&
            !e.textContent.trim()).map((e) => e.outerHTML);""")
        assert not unlabelled, unlabelled
        assert text_of(driver, '#vm-details [data-field="guest"]') == HOSTILE
        assert driver.execute_script("return document.getElementById('pwned');") is None
        assert not driver.find_elements(By.CSS_SELECTOR, "#vm-details img, #vm-details b")
        wh.log("ok - keyboard reaches the VM page; every control is labelled; console log shown; "
               "the guest's OS name shows as text, its markup inert")
        if shots:
            driver.set_window_size(1280, 1100)
            shot(driver, "web-vm.png")
            driver.set_window_size(1280, 800)

        # The VM page follows the VM: its state, and its console's new output.
        r = d.cli("vm", "stop", "web1")
        assert r.returncode == 0, r.stderr
        wait.until(lambda _: (text_of(driver, '#vm-details [data-field="state"]') or "")
                   .startswith("stopped"))
        boots = text_of(driver, "#console").count("booting VM web1")
        r = d.cli("vm", "start", "web1")
        assert r.returncode == 0, r.stderr
        wait.until(lambda _: text_of(driver, "#console").count("booting VM web1") == boots + 1)
        r = d.cli("vm", "stop", "web1")
        assert r.returncode == 0, r.stderr
        wait.until(lambda _: (text_of(driver, '#vm-details [data-field="state"]') or "")
                   .startswith("stopped"))
        assert driver.execute_script("return window.bangerTestMarker;") == 42, "page reloaded"
        wh.log("ok - the VM page follows the VM's state and console output live")

        check_pull(d, driver, wait)
        for section in ("images", "kernels", "cache"):
            driver.get(d.url + "#/" + section)
            wait.until(lambda _: not driver.find_element(By.ID, section).get_attribute("hidden"))
        driver.set_window_size(420, 800)
        driver.get(d.url + "#/vms")
        wait.until(lambda _: row_state(driver, "web1") == "stopped")
        width = driver.execute_script("return document.documentElement.scrollWidth;")
        inner = driver.execute_script("return window.innerWidth;")
        assert width <= inner + 1, "a narrow window scrolls sideways (%d > %d)" % (width, inner)
        shot(driver, "web-narrow.png")
        wh.log("ok - readable on a narrow window (no sideways scrolling)")

        logged = driver.get_log("browser")
        csp = [e for e in logged if "Content Security Policy" in e["message"]
               or "Refused to" in e["message"]]
        assert not csp, csp
        # The one error allowed: reading the ports or stats of a VM that
        # stopped between the event that said it runs and the request.
        errors = [e for e in logged if e["level"] == "SEVERE" and not (
            e["source"] == "network" and re.search(r"/api/v1/vms/[^/]+/(ports|stats) - Failed "
                                                   r"to load resource: .* (400|409) ", e["message"]))]
        assert not errors, errors
        wh.log("ok - no Content-Security-Policy violation, no error in the browser's console")
        ok = True
    finally:
        if driver is not None:
            driver.quit()
        status = d.close()
        if not ok or status != 0:
            wh.log("--- bangerd.log (exit %s)" % status)
            wh.log(d.log_text()[-6000:])
        d.cleanup()
        os.unlink(os_release.name)
    assert status == 0, "bangerd exited %s" % status
    wh.log("ok")


main()
