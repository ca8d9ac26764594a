"""Headless Chromium (Debian's) driven by Playwright, one per test worker, a fresh context per
test.

Starting Chromium costs a second or two; a context costs milliseconds and shares nothing (cookies,
storage, permissions) with the next one, so each test gets its own contexts from the session's
browser and they are closed when the test ends, even on failure. Every Playwright call runs on
one thread of its own (Playwright's sync objects belong to the thread that made them), so the
reactor keeps serving the console while the browser waits on it. The browser's fake microphone
plays a steady tone (the softphone tests listen for it). Screenshots go to
``var/test-artifacts/web/`` (ignored by git).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from hotline.sim.speech import tone_file
from tests.support.markers import require

__all__ = ["Browser", "BrowserSession", "ARTIFACTS", "CHROMIUM", "BROWSER_HZ", "chromium",
           "browser"]

T = TypeVar("T")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
#: The tone the browser's fake microphone plays.
BROWSER_HZ = 700


class Browser:
    """One Chromium; every Playwright call runs on the same worker thread."""

    def __init__(self, *, microphone: Path | None = None) -> None:
        self.microphone = microphone
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="playwright")
        self._pool.start()
        self._pw: Any = None
        self.browser: Any = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await deferToThreadPool(reactor, self._pool, fn, *args)

    async def start(self) -> None:
        require("browser", "Chromium")
        args = ["--autoplay-policy=no-user-gesture-required"]
        if self.microphone is not None:
            args += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                     f"--use-file-for-fake-audio-capture={self.microphone}"]

        def launch() -> None:
            from playwright.sync_api import sync_playwright

            self._pw = sync_playwright().start()
            self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                    args=args)
        await self.run(launch)

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


class BrowserSession:
    """One test's view of the worker's Chromium: the contexts it opens are closed at its end.

    ``obey_csp`` keeps the page's own Content-Security-Policy (the softphone tests check it);
    otherwise Playwright's waits, which evaluate strings, are allowed past it (escaping is what
    the console tests check, so no CSP safety net may help them)."""

    shot = staticmethod(Browser.shot)
    record = staticmethod(Browser.record)

    def __init__(self, chromium: Browser, *, obey_csp: bool = False) -> None:
        self.chromium = chromium
        self.obey_csp = obey_csp
        self.contexts: list[Any] = []

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.chromium.run(fn, *args)

    async def context(self, base_url: str, **options: Any) -> Any:
        """A new context (a fresh profile: no cookies, storage or permissions)."""
        settings: dict[str, Any] = {"base_url": base_url, "locale": "zh-CN"}
        if not self.obey_csp:
            settings.update(viewport={"width": 1366, "height": 768},
                            timezone_id="Asia/Shanghai", bypass_csp=True)
        settings.update(options)

        def make() -> Any:
            return self.chromium.browser.new_context(**settings)
        context = await self.run(make)
        self.contexts.append(context)
        return context

    async def page(self, base_url: str, **options: Any) -> Any:
        """A page in a new context of its own."""
        context = await self.context(base_url, **options)
        return await self.run(context.new_page)

    async def close(self) -> None:
        contexts, self.contexts = self.contexts, []

        def close_all() -> None:
            for context in contexts:
                try:
                    context.close()
                except Exception:  # noqa: BLE001 - a crashed page must not keep the others open
                    pass
        await self.run(close_all)


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """This worker's Chromium, started on first use and stopped at the end of the run."""
    mic = tone_file(BROWSER_HZ, 60, tmp_path_factory.mktemp("mic"), rate=48000)
    b = Browser(microphone=mic)
    pytest_twisted.blockon(defer.ensureDeferred(b.start()))
    try:
        yield b
    finally:
        pytest_twisted.blockon(defer.ensureDeferred(b.stop()))


@pytest_twisted.async_yield_fixture
async def browser(chromium: Browser):
    """The worker's Chromium for one test; its contexts are closed afterwards."""
    session = BrowserSession(chromium)
    try:
        yield session
    finally:
        await session.close()
