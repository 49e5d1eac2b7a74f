"""Headless Chromium driven over the Chrome DevTools Protocol, with aiohttp's websocket client.

No browser-automation dependency: the test starts Debian's ``chromium`` with
``--remote-debugging-port=0``, reads the port it picked from ``DevToolsActivePort`` in its
profile folder, opens one page target and attaches to it in flat mode (one websocket, commands
routed by ``sessionId``). What a test needs: ``goto``, ``evaluate``, ``wait_for`` (a JS
expression until truthy), ``click`` (``element.click()`` on a CSS selector), ``screenshot``, and
the page's JavaScript errors and console errors (``errors``).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """``$CHROMIUM`` if set, else the first Chromium on PATH."""
    if path := os.environ.get("CHROMIUM"):
        return path
    for name in CANDIDATES:
        if found := shutil.which(name):
            return found
    return None


class BrowserError(Exception):
    pass


class Page:
    """One tab, attached over the browser's websocket."""

    def __init__(self, browser: Browser, session_id: str) -> None:
        self.browser = browser
        self.session_id = session_id
        self.errors: list[str] = []  # uncaught exceptions, console.error, CSP violations
        self._load = asyncio.Event()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.browser.send(method, params, session_id=self.session_id)

    def on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Page.loadEventFired":
            self._load.set()
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text")
            self.errors.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            args = [a.get("value", a.get("description")) for a in params.get("args", [])]
            self.errors.append(f"console.error: {args}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                self.errors.append(f"log: {entry.get('text')} ({entry.get('url', '')})")

    async def goto(self, url: str, timeout: float = 10.0) -> None:
        self._load.clear()
        result = await self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"navigating to {url}: {result['errorText']}")
        await asyncio.wait_for(self._load.wait(), timeout)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JS expression (promises awaited), as JSON."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression!r} threw: {text}")
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, timeout: float = 10.0, every: float = 0.05) -> Any:
        """Re-evaluate ``expression`` until it is truthy; its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                value = await self.evaluate(expression)
            except BrowserError:  # e.g. while the page navigates
                value = None
            if value:
                return value
            if loop.time() > deadline:
                raise TimeoutError(f"not true within {timeout} s: {expression}")
            await asyncio.sleep(every)

    async def click(self, selector: str, timeout: float = 10.0) -> None:
        """Wait for the element (enabled), scroll it into view and click it."""
        js = json.dumps(selector)
        await self.wait_for(
            f"(() => {{ const e = document.querySelector({js}); return !!e && !e.disabled; }})()",
            timeout,
        )
        await self.evaluate(
            f"(() => {{ const e = document.querySelector({js}); "
            "e.scrollIntoView({block: 'center'}); e.click(); return true; })()"
        )

    async def set_value(self, selector: str, value: str) -> None:
        """Set an input's or select's value as typing would (with input/change events)."""
        await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
            f"e.value = {json.dumps(value)}; "
            "e.dispatchEvent(new Event('input', {bubbles: true})); "
            "e.dispatchEvent(new Event('change', {bubbles: true})); return e.value; })()"
        )

    async def text(self, selector: str) -> str | None:
        return await self.evaluate(
            f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText ?? null"
        )

    async def screenshot(self, path: Path) -> Path:
        result = await self.send("Page.captureScreenshot", format="png")
        data = base64.b64decode(result["data"])

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        await asyncio.to_thread(write)
        return path


class Browser:
    def __init__(self, process: subprocess.Popen[bytes], ws: aiohttp.ClientWebSocketResponse):
        self.process = process
        self.ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, session_id: str | None = None
    ) -> dict[str, Any]:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[message_id] = future
        await self.ws.send_str(json.dumps(message))
        return await asyncio.wait_for(future, 30)

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future is None or future.done():
                    continue
                if "error" in data:
                    future.set_exception(BrowserError(str(data["error"])))
                else:
                    future.set_result(data.get("result", {}))
            elif (page := self._pages.get(data.get("sessionId", ""))) is not None:
                page.on_event(data.get("method", ""), data.get("params", {}))
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(BrowserError("the browser closed the connection"))

    async def new_page(self, width: int = 1440, height: int = 900) -> Page:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self, attached["sessionId"])
        self._pages[page.session_id] = page
        for domain in ("Page", "Runtime", "Log"):
            await page.send(f"{domain}.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        return page

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.send("Browser.close"), 3)
        except (BrowserError, TimeoutError, ConnectionError):
            pass
        await self.ws.close()
        self._reader.cancel()


async def _devtools_url(profile: Path, process: subprocess.Popen[bytes], within: float) -> str:
    port_file = profile / "DevToolsActivePort"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if process.poll() is not None:
            raise BrowserError(f"chromium exited with {process.returncode}")
        if port_file.exists():
            lines = port_file.read_text().split()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        await asyncio.sleep(0.05)
    raise BrowserError(f"chromium did not open its DevTools port within {within} s")


@asynccontextmanager
async def launch(executable: str, *, start_within: float = 20.0) -> AsyncIterator[Browser]:
    """A headless Chromium for the duration of the block (its own throw-away profile)."""
    profile = Path(tempfile.mkdtemp(prefix="okrate-chromium-"))
    args = [
        executable,
        "--headless",
        "--no-sandbox",  # root in CI containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--mute-audio",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "about:blank",
    ]
    process = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    session = aiohttp.ClientSession()
    browser: Browser | None = None
    try:
        url = await _devtools_url(profile, process, start_within)
        ws = await session.ws_connect(url, max_msg_size=0)
        browser = Browser(process, ws)
        yield browser
    finally:
        if browser is not None:
            await browser.close()
        await session.close()
        try:
            await asyncio.to_thread(process.wait, 5)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        shutil.rmtree(profile, ignore_errors=True)
