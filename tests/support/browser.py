"""A real headless Chromium (Debian `chromium`) driven over the Chrome DevTools Protocol, and the
API served by uvicorn on a free 127.0.0.1 port, for browser tests. Nothing is downloaded: the
browser is the system one and the protocol is spoken over a websocket (`websocket-client`)."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.mjpeg import free_port
from tests.support.pipeline import wait_until

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


def chromium_missing() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"headless Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import websocket  # noqa: F401
    except ImportError:
        return "websocket-client is not installed (pip install -e '.[dev]')"
    return None


class BrowserError(AssertionError):
    pass


class Browser:
    """One headless Chromium with one page, at a fixed viewport (1280x800 by default)."""

    def __init__(
        self,
        work_dir: Path,
        width: int = 1280,
        height: int = 800,
        binary: Path = CHROMIUM,
        timeout: float = 30.0,
    ):
        import websocket

        self.timeout = timeout
        self.profile = work_dir / "chromium-profile"
        self.profile.mkdir(parents=True, exist_ok=True)
        self.log_path = work_dir / "chromium.log"
        self.exceptions: list[str] = []  # uncaught JavaScript errors
        self.console_errors: list[str] = []  # console.error(...) calls
        self.log_entries: list[str] = []  # browser log: failed loads, CSP violations, ...
        self._ids = itertools.count(1)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    str(binary),
                    *FLAGS,
                    f"--user-data-dir={self.profile}",
                    f"--window-size={width},{height}",
                    "about:blank",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "HOME": str(work_dir)},
            )
        try:
            port_file = self.profile / "DevToolsActivePort"
            wait_until(
                lambda: port_file.exists() and port_file.read_text().strip(),
                timeout,
                lambda: f"Chromium to start; its log:\n{self.log()}",
            )
            port = int(port_file.read_text().split()[0])
            page = wait_until(lambda: self._page_target(port), timeout, "a page target")
            self.ws = websocket.create_connection(
                page["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True
            )
            for domain in ("Page", "Runtime", "Log"):
                self.send(f"{domain}.enable")
            self.send(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
        except BaseException:
            self._kill()
            raise

    @staticmethod
    def _page_target(port: int) -> dict | None:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
            targets = json.load(resp)
        return next((t for t in targets if t.get("type") == "page"), None)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    # --- protocol ------------------------------------------------------------------------------

    def send(self, method: str, **params: Any) -> dict:
        message_id = next(self._ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error']}")
                return message.get("result", {})
            self._event(message)
        raise BrowserError(f"no answer to {method} within {self.timeout} s")

    def _event(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.exceptions.append(text)
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            args = params.get("args", [])
            self.console_errors.append(" ".join(str(a.get("value", a)) for a in args))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            self.log_entries.append(f"{entry.get('level')}: {entry.get('text')}")

    # --- page ----------------------------------------------------------------------------------

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            description = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"evaluating {expression!r}: {description}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, what: str, timeout: float | None = None) -> None:
        """Poll a JavaScript expression until it is truthy; on failure, say what the page shows."""

        def page_text() -> str:
            try:
                shown = self.evaluate("document.body ? document.body.innerText : ''")
            except Exception as error:  # noqa: BLE001 - the description is best effort
                shown = f"(page text unavailable: {error})"
            return (
                f"{what}; page {self.evaluate('location.href')!r} shows:\n{str(shown)[:1500]}\n"
                f"JS exceptions: {self.exceptions}\nbrowser log: {self.log_entries[-10:]}"
            )

        check = f"Boolean({expression})"
        wait_until(lambda: self.evaluate(check), timeout or self.timeout, page_text)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'", f"{url} to load")

    def _center(self, selector: str) -> tuple[float, float]:
        box = self.evaluate(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return null;
                el.scrollIntoView({{block: 'center', inline: 'center'}});
                const r = el.getBoundingClientRect();
                return [r.left + r.width / 2, r.top + r.height / 2, r.width, r.height];
            }})()"""
        )
        if not box or box[2] == 0 or box[3] == 0:
            raise BrowserError(f"no visible element {selector!r}")
        return box[0], box[1]

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the element's centre."""
        x, y = self._center(selector)
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def click_at(self, selector: str, fx: float, fy: float) -> None:
        """A real mouse click at a point of the element: (fx, fy) are fractions of its width
        and height from its top-left corner (drawing on an image)."""
        box = self.evaluate(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return null;
                el.scrollIntoView({{block: 'center', inline: 'center'}});
                const r = el.getBoundingClientRect();
                return [r.left, r.top, r.width, r.height];
            }})()"""
        )
        if not box or box[2] == 0 or box[3] == 0:
            raise BrowserError(f"no visible element {selector!r}")
        x, y = box[0] + fx * box[2], box[1] + fy * box[3]
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def type(self, selector: str, text: str, clear: bool = True) -> None:
        """Focus a field and type into it as a keyboard would."""
        self.click(selector)
        if clear:
            self.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
            self.send(
                "Input.dispatchKeyEvent",
                type="keyDown",
                key="Backspace",
                code="Backspace",
                windowsVirtualKeyCode=8,
            )
            self.send(
                "Input.dispatchKeyEvent",
                type="keyUp",
                key="Backspace",
                code="Backspace",
                windowsVirtualKeyCode=8,
            )
        self.send("Input.insertText", text=text)

    def press_enter(self) -> None:
        common = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
        self.send("Input.dispatchKeyEvent", type="keyDown", text="\r", **common)
        self.send("Input.dispatchKeyEvent", type="keyUp", **common)

    def text(self, selector: str) -> str:
        return self.evaluate(
            f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText || ''"
        )

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self._kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class ApiServer:
    """The FastAPI app served by uvicorn in a thread on a free 127.0.0.1 port."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> ApiServer:
        self.thread.start()
        wait_until(lambda: self.server.started, 20, f"uvicorn to listen on {self.url}")
        return self

    def __exit__(self, *_exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)
