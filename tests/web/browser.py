"""Headless Chromium (Debian's) driven by Playwright on one thread of its own, so the reactor
keeps serving the console while the browser waits on it. Screenshots go to
``var/test-artifacts/web/`` (ignored by git)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from twisted.internet import reactor
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

__all__ = ["Browser", "ARTIFACTS"]

T = TypeVar("T")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"


class Browser:
    """One browser; every Playwright call runs on the same worker thread (Playwright's sync
    objects belong to the thread that made them)."""

    def __init__(self) -> None:
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="playwright")
        self._pool.start()
        self._pw: Any = None
        self.browser: Any = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await deferToThreadPool(reactor, self._pool, fn, *args)

    async def start(self) -> None:
        def launch() -> None:
            from playwright.sync_api import sync_playwright

            self._pw = sync_playwright().start()
            self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        await self.run(launch)

    async def page(self, base_url: str) -> Any:
        def make() -> Any:
            context = self.browser.new_context(viewport={"width": 1366, "height": 768},
                                               base_url=base_url, locale="zh-CN",
                                               timezone_id="Asia/Shanghai",
                                               # Playwright's waits evaluate strings; the page's
                                               # own CSP would refuse them. Escaping is what the
                                               # tests check, so no CSP safety net helps them.
                                               bypass_csp=True)
            return context.new_page()
        return await self.run(make)

    async def phone(self, base_url: str, *, latitude: float, longitude: float) -> Any:
        """A page in a phone-sized context: 360x740, touch, Simplified Chinese, the
        geolocation permission granted at (latitude, longitude). The page's own CSP applies
        (tests wait on selectors, which need no evaluated strings)."""
        def make() -> Any:
            context = self.browser.new_context(
                viewport={"width": 360, "height": 740}, device_scale_factor=2,
                is_mobile=True, has_touch=True, base_url=base_url, locale="zh-CN",
                timezone_id="Asia/Shanghai", permissions=["geolocation"],
                geolocation={"latitude": latitude, "longitude": longitude, "accuracy": 10})
            return context.new_page()
        return await self.run(make)

    async def stop(self) -> None:
        def close() -> None:
            if self.browser is not None:
                self.browser.close()
            if self._pw is not None:
                self._pw.stop()
        try:
            await self.run(close)
        finally:
            self._pool.stop()

    @staticmethod
    def shot(page: Any, name: str) -> Path:
        """Save a screenshot of the page as a test artifact (call on the browser thread)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    @staticmethod
    def record(name: str, data: dict[str, Any]) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{name}.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
