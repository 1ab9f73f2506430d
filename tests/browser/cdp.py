"""A minimal Chrome DevTools Protocol client: start headless Chromium, drive one page, collect its errors.

Only what the report's browser test needs: navigate, evaluate (awaiting
promises), screenshot, and the console errors, uncaught exceptions and network
requests the page produced. Talks to the browser over ``websocket-client``;
installs nothing and downloads nothing.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import websocket

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-allow-origins=*", "--remote-debugging-port=0"]


class Chromium:
    """``with Chromium(exe, profile_dir) as page: page.open(url); page.evaluate(js)``."""

    def __init__(self, exe: str, profile: Path, width: int = 1280, height: int = 900, timeout: float = 30.0):
        self.exe, self.profile, self.size, self.timeout = exe, Path(profile), (width, height), timeout
        self.errors: list[str] = []  # console errors, uncaught exceptions, error log entries
        self.requests: list[str] = []  # every URL the page asked for
        self._id = 0
        self._events: list[dict] = []

    def __enter__(self) -> Chromium:
        self.profile.mkdir(parents=True, exist_ok=True)
        w, h = self.size
        self.proc = subprocess.Popen([self.exe, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={w},{h}",
                                      "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.ws = websocket.create_connection(self._page_url(), timeout=self.timeout, suppress_origin=True)
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable")
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.ws.close()
        finally:
            self._stop()

    def _stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _page_url(self) -> str:
        """The browser writes its DevTools port to the profile folder (port 0 = pick a free one)."""
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with code {self.proc.returncode}")
            if port_file.is_file() and port_file.read_text().strip():
                port = int(port_file.read_text().split()[0])
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
                        targets = json.load(resp)
                except OSError:
                    targets = []
                pages = [t for t in targets if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.1)
        raise RuntimeError("chromium did not open its DevTools port in time")

    # --- protocol ------------------------------------------------------------------------------

    def call(self, method: str, params: dict | None = None) -> dict:
        self._id += 1
        me = self._id
        self.ws.send(json.dumps({"id": me, "method": method, "params": params or {}}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == me:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg: dict) -> None:
        method, p = msg.get("method"), msg.get("params", {})
        self._events.append(msg)
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append("exception: " + str(d.get("exception", {}).get("description") or d.get("text")))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            self.errors.append("log: " + str(p["entry"].get("text")))
        elif method == "Network.requestWillBeSent":
            self.requests.append(p.get("request", {}).get("url", ""))

    def wait_for(self, method: str) -> dict:
        """Wait for the next event ``method`` (or take one already received)."""
        for i, msg in enumerate(self._events):
            if msg.get("method") == method:
                return self._events.pop(i)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            self._event(msg)
            if msg.get("method") == method:
                self._events.remove(msg)
                return msg
        raise TimeoutError(method)

    # --- page ----------------------------------------------------------------------------------

    def open(self, url: str) -> None:
        self._events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        """Value of a JS expression; a promise is awaited. A JS exception raises."""
        res = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"JS error: {res['exceptionDetails']}")
        return res.get("result", {}).get("value")

    def screenshot(self, path: Path, full_page: bool = False, clip: dict | None = None, scale: float = 1) -> Path:
        """The viewport, the whole page, or ``clip`` ({x, y, width, height} in page pixels) as PNG."""
        params: dict = {"format": "png"}
        if clip:
            params.update(captureBeyondViewport=True, clip={**clip, "scale": scale})
        elif full_page:
            w = self.evaluate("document.documentElement.scrollWidth")
            h = self.evaluate("document.documentElement.scrollHeight")
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": w, "height": h, "scale": 1})
        data = self.call("Page.captureScreenshot", params)["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)
