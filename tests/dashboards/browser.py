"""Headless Debian Chromium driven by selenium, for the UI tests and the benchmark."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

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
        except Exception as e:  # the page may be mid-render; retry
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s: {message} {last or ''}")


def screenshot(driver: webdriver.Chrome, name: str, full: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if full:
        h = driver.execute_script("return Math.min(document.body.scrollHeight, 6000)")
        w = driver.get_window_size()["width"]
        driver.set_window_size(w, max(h + 40, 600))
        driver.save_screenshot(str(path))
    else:
        driver.save_screenshot(str(path))
    return path


# JS: are all visible panels finished (no loading placeholders, graphs drawn)?
PANELS_DONE_JS = """
const loading = document.querySelectorAll('.panel-body.loading').length;
const graphs = document.querySelectorAll('.ts-graph, .dash-grid .js-plotly-plot');
let pending = 0;
document.querySelectorAll('.dash-grid .dash-graph').forEach(g => {
  if (!g.querySelector('.main-svg')) pending++;
});
const panels = document.querySelectorAll('.dash-grid .panel').length;
return {loading: loading, pending: pending, panels: panels};
"""


def panels_done(driver: webdriver.Chrome) -> dict | None:
    s = driver.execute_script(PANELS_DONE_JS)
    if s["panels"] and not s["loading"] and not s["pending"]:
        return s
    return None
