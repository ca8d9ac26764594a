"""Fixtures of the softphone tests: the softphone attached to the test controller, served with a
minimal desk page, and Debian's headless Chromium with a fake microphone playing a tone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from hotline.sim.speech import tone_file
from hotline.softphone.resource import bundle_path
from tests.softphone import page
from tests.web.browser import Browser

#: The tone the browser's fake microphone plays, and the one the simulated citizen plays.
BROWSER_HZ = 700
CITIZEN_HZ = 500


@pytest_twisted.async_yield_fixture
async def softphone(controller):
    """The controller's own softphone (started with it); its HTTP side served with the test
    desk page."""
    if not (Path(bundle_path()) / "softphone.js").exists():
        pytest.fail("the softphone bundle is not built: `make softphone` (make test does it)")
    phone = controller.softphone
    port = page.serve(phone)
    try:
        yield phone, f"http://127.0.0.1:{port.getHost().port}"
    finally:
        await port.stopListening()
        # A controller stop leaves browsers registered; the next test starts from desk phones.
        await phone.service.revoke_all()


class FakeMicBrowser(Browser):
    """Chromium whose microphone is a WAV file of a steady tone, permissions granted."""

    def __init__(self, wav: Path) -> None:
        super().__init__()
        self.wav = wav

    async def start(self) -> None:
        def launch() -> None:
            from playwright.sync_api import sync_playwright

            self._pw = sync_playwright().start()
            self.browser = self._pw.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True,
                args=["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                      f"--use-file-for-fake-audio-capture={self.wav}",
                      "--autoplay-policy=no-user-gesture-required"])
        await self.run(launch)

    async def page(self, base_url: str) -> Any:
        """A page that obeys the page's own CSP (the console's policy is part of the test)."""
        def make() -> Any:
            return self.browser.new_context(base_url=base_url, locale="zh-CN").new_page()
        return await self.run(make)


@pytest_twisted.async_yield_fixture
async def browser(tmp_path_factory):
    chromium = FakeMicBrowser(tone_file(BROWSER_HZ, 60, tmp_path_factory.mktemp("mic"),
                                        rate=48000))
    await chromium.start()
    try:
        yield chromium
    finally:
        await chromium.stop()
