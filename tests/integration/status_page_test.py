#!/usr/bin/python3
"""The manager's status page in a real browser, driven by 95_status_page.sh.

Headless Chromium through chromedriver and Selenium, against a running
manager: the page lists the pool's instances; a change without the token is
refused with a plain 401; with the token, scaling through the page shows the
new instances within 2 s; an instance killed with SIGKILL is seen replaced
(a new pid, one more restart); at 390 px the page does not overflow
sideways; the browser console holds no error but the API refusals this test
provoked itself. Prints one line per check; exits 1 at the first failure.
"""
import argparse
import json
import os
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


def log(msg):
    print(time.strftime("%H:%M:%S") + " [status_page_test] " + msg, file=sys.stderr, flush=True)


def fail(msg):
    log("FAIL: " + msg)
    sys.exit(1)


def wait_for(what, secs, cond, step=0.05):
    """cond() until it returns a true value, for at most secs; its value."""
    deadline = time.monotonic() + secs
    last = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except Exception as e:  # a row replaced while read: read again
            last = None
            if "stale element" not in str(e):
                raise
        if last:
            return last
        time.sleep(step)
    fail("%s: not seen within %s s" % (what, secs))


def api_status(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def api_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


class Page:
    def __init__(self, driver):
        self.d = driver

    def rows(self):
        """The instance table as the operator sees it: one dict per row."""
        return self.d.execute_script(
            """return Array.from(document.querySelectorAll('#instances tbody tr')).map(tr => ({
                 id: Number(tr.dataset.id), state: tr.dataset.state,
                 pid: tr.querySelector('td.pid').textContent,
                 restarts: Number(tr.querySelector('td.restarts').textContent),
                 exit: tr.querySelector('td.exit').textContent,
                 restarted: tr.classList.contains('restarted'),
                 latency: tr.querySelector('.lat-value').textContent}));""")

    def text(self, element_id):
        return self.d.find_element(By.ID, element_id).text

    def ready_rows(self, n):
        rows = self.rows()
        return len(rows) == n and all(r["state"] == "ready" for r in rows) and rows

    def fill(self, element_id, value):
        # Focused first: the page leaves a field alone while it has the focus.
        e = self.d.find_element(By.ID, element_id)
        e.click()
        e.send_keys(Keys.CONTROL, "a")
        e.send_keys(value)
        if e.get_attribute("value") != value:
            fail("field %s holds %r, not %r" % (element_id, e.get_attribute("value"), value))

    def click(self, element_id):
        self.d.find_element(By.ID, element_id).click()

    def overflow(self):
        """How far the page is wider than the window, and the widest row."""
        return self.d.execute_script(
            """const w = document.documentElement.clientWidth;
               let right = 0;
               document.querySelectorAll('#instances tbody tr, #instances td').forEach(e => {
                 right = Math.max(right, e.getBoundingClientRect().right); });
               return {width: w, scroll: document.documentElement.scrollWidth,
                       body: document.body.scrollWidth, right: right};""")


def start_browser(args, profile):
    opts = webdriver.ChromeOptions()
    opts.binary_location = args.chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--user-data-dir=" + profile, "--window-size=1280,900", "--no-first-run",
              "--disable-extensions", "--disable-background-networking"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingOptions", {"browser": "ALL"})
    service = Service(args.chromedriver, log_output=os.path.join(args.out, "chromedriver.log")) \
        if "log_output" in Service.__init__.__code__.co_varnames \
        else Service(args.chromedriver, log_path=os.path.join(args.out, "chromedriver.log"))
    d = webdriver.Chrome(service=service, options=opts)
    d.set_page_load_timeout(30)
    d.set_script_timeout(10)
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="the manager's API, http://127.0.0.1:PORT")
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--out", required=True, help="directory for screenshots and logs")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    ap.add_argument("--replicas", type=int, default=2, help="instances the pool starts with")
    ap.add_argument("--scale-to", type=int, default=4)
    ap.add_argument("--big", type=int, default=32, help="a last scale, for the compact view")
    args = ap.parse_args()
    url = args.url.rstrip("/")
    with open(args.token_file) as f:
        token = f.readline().strip()

    # Refusals this test provokes on purpose, which Chromium reports in the
    # console as failed loads: (path, status).
    expected_refusals = {("/v1/pool", 401)}
    autoscale_status = api_status(url + "/v1/autoscale")
    if autoscale_status == 404:
        expected_refusals.add(("/v1/autoscale", 404))

    profile = tempfile.mkdtemp(prefix="profile.", dir=args.out)
    d = start_browser(args, profile)
    console = []
    try:
        page = Page(d)
        d.get(url + "/")
        rows = wait_for("%d ready instances listed" % args.replicas, 10,
                        lambda: page.ready_rows(args.replicas))
        log("page lists %d instances: %s" % (len(rows), [(r["id"], r["state"], r["pid"]) for r in rows]))
        api = api_json(url + "/v1/pool")
        want = sorted(str(i["pid"]) for i in api["instances"])
        if sorted(r["pid"] for r in rows) != want:
            fail("pids on the page %s, in the API %s" % ([r["pid"] for r in rows], want))

        mode = api_json(url + "/v1/forwarding")["mode"]
        wait_for("forwarding mode %s shown" % mode, 5,
                 lambda: d.find_element(By.ID, "fwd").get_attribute("data-mode") == mode)
        log("forwarding mode shown: %s" % mode)

        as_text = wait_for("the autoscaler's state", 5,
                           lambda: (t := page.text("as-state")) != "autoscaling: not yet asked" and t)
        if autoscale_status == 404 and as_text != "autoscaling: not available":
            fail("GET /v1/autoscale is 404 but the page says %r" % as_text)
        if autoscale_status == 200 and not as_text.startswith("autoscaling: o"):
            fail("GET /v1/autoscale is 200 but the page says %r" % as_text)
        log("autoscaler shown as %r (GET /v1/autoscale: %d)" % (as_text, autoscale_status))

        # Balancer mode measures each instance's latency: a figure and its
        # sparkline, once traffic went through.
        if mode == "balancer":
            lat = wait_for("a latency figure for every instance", 15,
                           lambda: all(r["latency"].endswith("ms") or r["latency"].endswith(" s")
                                       for r in page.rows()) and page.rows())
            log("latency shown: %s" % [r["latency"] for r in lat])

        # Without the token: refused, and said plainly.
        page.click("token-forget")
        page.fill("replicas", str(args.scale_to))
        page.click("scale")
        msg = wait_for("the 401 shown", 10, lambda: "401" in page.text("result") and page.text("result"))
        log("without the token: %r" % msg)
        if len(page.rows()) != args.replicas or api_json(url + "/v1/pool")["replicas"] != args.replicas:
            fail("a refused scale changed the pool")

        # With the token: scale, and the new instances on the page within 2 s.
        page.fill("token", token)
        page.click("token-save")
        if d.execute_script("return sessionStorage.getItem('proxypool.token')") != token:
            fail("the token is not kept in sessionStorage")
        if page.d.find_element(By.ID, "token").get_attribute("value") != "":
            fail("the token field still shows the token")
        page.fill("replicas", str(args.scale_to))
        t0 = time.monotonic()
        page.click("scale")
        wait_for("%d instances listed" % args.scale_to, 2, lambda: len(page.rows()) == args.scale_to)
        seen = time.monotonic() - t0
        wait_for("%d ready instances" % args.scale_to, 10, lambda: page.ready_rows(args.scale_to))
        log("scaled to %d through the page: listed after %.2f s" % (args.scale_to, seen))
        wait_for("the scale reported done", 10, lambda: "done" in page.text("result"))
        if mode == "balancer":
            time.sleep(8)  # some history in the sparklines, for the screenshot
        d.save_screenshot(os.path.join(args.out, "status-page.png"))

        # kill -9 of an instance: seen gone (a restart more, another pid),
        # then ready again.
        victim = page.rows()[1]
        pid = int(victim["pid"])
        os.kill(pid, signal.SIGKILL)
        t0 = time.monotonic()
        states = set()

        def replaced():
            r = [x for x in page.rows() if x["id"] == victim["id"]]
            if not r:
                states.add("absent")
                return None
            states.add(r[0]["state"])
            ok = (r[0]["pid"] != str(pid) and r[0]["restarts"] == victim["restarts"] + 1
                  and r[0]["exit"].startswith("signal 9,") and r[0]["state"] == "ready"
                  and r[0]["restarted"])
            return ok and r[0]

        back = wait_for("instance %d replaced after kill -9" % victim["id"], 15, replaced, step=0.02)
        log("instance %d: pid %d killed; the page showed states %s, then pid %s, %d restarts, "
            "last exit %r, ready, after %.2f s" % (victim["id"], pid, sorted(states), back["pid"],
                                                   back["restarts"], back["exit"],
                                                   time.monotonic() - t0))
        d.save_screenshot(os.path.join(args.out, "status-page-restarted.png"))

        # Compact at 32 instances; no sideways scroll at 390 px.
        if args.big:
            page.fill("replicas", str(args.big))
            page.click("scale")
            wait_for("%d ready instances" % args.big, 60, lambda: page.ready_rows(args.big), step=0.2)
            o = page.overflow()
            if o["scroll"] > o["width"]:
                fail("at 1280 px and %d instances the page scrolls sideways: %s" % (args.big, o))
            d.save_screenshot(os.path.join(args.out, "status-page-%d.png" % args.big))
            log("%d instances at 1280 px: no sideways overflow (%s)" % (args.big, o))
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        time.sleep(1.5)  # a poll or more at the new width
        o = page.overflow()
        if o["width"] != 390:
            fail("the narrow window is %d px wide, not 390" % o["width"])
        if o["scroll"] > o["width"] or o["body"] > o["width"] or o["right"] > o["width"] + 0.5:
            fail("at 390 px the page overflows sideways: %s" % o)
        log("at 390 px: no sideways overflow (%s)" % o)
        d.save_screenshot(os.path.join(args.out, "status-page-390.png"))

        console = d.get_log("browser")
    finally:
        d.quit()

    with open(os.path.join(args.out, "console.json"), "w") as f:
        json.dump(console, f, indent=1)
    bad = []
    for e in console:
        if e.get("level") != "SEVERE":
            continue
        m = e.get("message", "")
        if e.get("source") == "network" and any(
                (url + p + " ") in m and ("status of %d" % s) in m for p, s in expected_refusals):
            continue
        bad.append(m)
    if bad:
        fail("browser console errors: %s" % bad)
    log("browser console: %d entries, no error but the refusals provoked (%s)"
        % (len(console), sorted(expected_refusals)))
    log("PASS")


if __name__ == "__main__":
    main()
