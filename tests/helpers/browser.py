"""A headless Chromium with no network, driven over the DevTools protocol (tests only).

``open_page(url, ...)`` starts Debian's ``chromium`` with ``--headless=new``, an empty
profile, a dead proxy and the DevTools network emulation set to offline, loads ``url``,
polls ``ready_js`` until it returns true, optionally runs ``actions`` (JavaScript snippets,
e.g. clicks, for pages such as Neo4j Browser), and returns what the page did: console
errors, uncaught exceptions, every URL it requested, and a PNG screenshot. The same
harness serves the offline graph pages of ``saegraph view`` and, where a local Neo4j
serves it, Neo4j Browser.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageResult:
    ready: bool
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    values: list = field(default_factory=list)


class _Cdp:
    def __init__(self, ws_url: str):
        from websockets.sync.client import connect

        self._conn = connect(ws_url, max_size=64 << 20, open_timeout=20, proxy=None)
        self.ws = self._conn.__enter__()
        self.n = 0
        self.events: list[dict] = []

    def call(self, method: str, timeout: float = 30.0, **params):
        self.n += 1
        my_id = self.n
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def evaluate(self, js: str):
        res = self.call("Runtime.evaluate", expression=js, returnByValue=True, awaitPromise=True)
        return res.get("result", {}).get("value")

    def close(self):
        self._conn.__exit__(None, None, None)


def _devtools_ws(profile: Path, proc: subprocess.Popen, timeout: float = 30.0) -> str:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"chromium did not start (exit {proc.poll()})")
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        try:
            targets = json.loads(opener.open(f"http://127.0.0.1:{port}/json/list", timeout=5).read())
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("chromium exposed no page target")
        time.sleep(0.2)


def open_page(
    url: str,
    screenshot: str | Path | None = None,
    *,
    ready_js: str = "document.readyState === 'complete'",
    actions: tuple[str, ...] = (),
    timeout: float = 60.0,
    settle: float = 1.0,
    size: tuple[int, int] = (1280, 800),
    offline: bool = True,
    loopback: bool = False,
    chromium: str | None = None,
) -> PageResult:
    """Load ``url`` in headless Chromium (see the module docstring).

    ``loopback=True`` (with ``offline=False``) lets the page reach servers on this machine
    (127.0.0.1, e.g. a local Neo4j Browser and its Bolt socket) while every other address
    still goes to the dead proxy."""
    exe = chromium or find_chromium()
    if exe is None:
        raise RuntimeError("no chromium: apt-get install -y chromium")
    # Chromium's helper processes can still be writing the profile while it is removed:
    # they are stopped as one process group below, and a late file never fails the test.
    with tempfile.TemporaryDirectory(prefix="saegraph-chromium-", ignore_cleanup_errors=True) as tmp:
        profile = Path(tmp)
        args = [
            exe,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
            "--proxy-server=127.0.0.1:9",  # any real request fails
            "--proxy-bypass-list=" + ("127.0.0.1;localhost;[::1]" if loopback else "<-loopback>"),
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            f"--window-size={size[0]},{size[1]}",
            "about:blank",
        ]
        proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        cdp = None
        try:
            cdp = _Cdp(_devtools_ws(profile, proc))
            for domain in ("Runtime", "Log", "Page", "Network"):
                cdp.call(f"{domain}.enable")
            if offline:
                cdp.call(
                    "Network.emulateNetworkConditions",
                    offline=True,
                    latency=0,
                    downloadThroughput=-1,
                    uploadThroughput=-1,
                )
            cdp.call(
                "Emulation.setDeviceMetricsOverride",
                width=size[0],
                height=size[1],
                deviceScaleFactor=1,
                mobile=False,
            )
            cdp.call("Page.navigate", url=url)
            ready = False
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    if cdp.evaluate(f"Boolean({ready_js})"):
                        ready = True
                        break
                except RuntimeError:
                    pass
                time.sleep(0.25)
            values = []
            if ready:
                time.sleep(settle)  # let a force layout settle before the picture
                for js in actions:
                    values.append(cdp.evaluate(js))
                    time.sleep(settle)
            shot = None
            if screenshot is not None:
                data = cdp.call("Page.captureScreenshot", format="png")["data"]
                shot = Path(screenshot)
                shot.parent.mkdir(parents=True, exist_ok=True)
                shot.write_bytes(base64.b64decode(data))
            return _result(cdp.events, ready, shot, values)
        finally:
            if cdp is not None:
                cdp.close()
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop Chromium and its helper processes (one process group), waiting for the group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)  # anyone left in the group?
            except ProcessLookupError:
                proc.wait(timeout=1)
                return
            proc.poll()  # reap the leader so it does not linger as a zombie
            time.sleep(0.1)


def _result(events: list[dict], ready: bool, shot: Path | None, values: list) -> PageResult:
    out = PageResult(ready=ready, screenshot=shot, values=values)
    for ev in events:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.console_errors.append(
                " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
            )
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.console_errors.append(p["entry"].get("text", ""))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.exceptions.append(d.get("exception", {}).get("description") or d.get("text", ""))
        elif method == "Network.requestWillBeSent":
            out.requests.append(p.get("request", {}).get("url", ""))
    return out


def coloured_pixels(png: Path, colours: list[str], tolerance: int = 12) -> dict[str, int]:
    """How many pixels of the screenshot are (within ``tolerance``) each of ``colours``."""
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    out = {}
    for c in colours:
        rgb = np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)])
        out[c] = int((np.abs(img - rgb).max(axis=2) <= tolerance).sum())
    return out
