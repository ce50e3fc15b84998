"""Headless Debian Chromium driven by selenium, for the UI tests and the benchmark."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from tests.util import peer_binary

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def make_driver(profile_dir: Path, width: int = 1600, height: int = 1000) -> webdriver.Chrome:
    opts = Options()
    opts.binary_location = peer_binary("chromium")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile_dir}",
                f"--window-size={width},{height}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(peer_binary("chromedriver")), options=opts)
    driver.set_page_load_timeout(60)
    return driver


def wait_until(fn: Callable[[], object], timeout: float = 20.0, interval: float = 0.1,
               message: str = "") -> object:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - the page may be mid-render; retry
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s: {message} {last or ''}")


def screenshot(driver: webdriver.Chrome, name: str, full: bool = True) -> Path:
    """A PNG in test-artifacts/; ``full`` captures the whole page (up to 8000 px)."""
    import base64
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if not full:
        driver.save_screenshot(str(path))
        return path
    # from the top: the sticky nav bar would otherwise be drawn where the page
    # happens to be scrolled to, over the content
    driver.execute_script("window.scrollTo(0, 0)")
    w = driver.execute_script("return document.documentElement.clientWidth")
    h = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 8000)")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


# JS: are all visible panels finished (no loading placeholders, every figure drawn)?
PANELS_DONE_JS = """
return {
  loading: document.querySelectorAll('.dash-grid .panel-body.loading').length,
  pending: document.querySelectorAll('.dash-grid .sg-plot:not([data-drawn])').length,
  panels: document.querySelectorAll('.dash-grid .panel').length,
  plots: document.querySelectorAll('.dash-grid .sg-plot[data-drawn]').length,
};
"""


def panels_done(driver: webdriver.Chrome) -> dict | None:
    s = driver.execute_script(PANELS_DONE_JS)
    if s["panels"] and not s["loading"] and not s["pending"]:
        return s
    return None
