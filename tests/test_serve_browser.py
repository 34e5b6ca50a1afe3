"""`avdetect serve` in a real browser: headless Chromium drops files on the page and reads the verdicts.

Needs Debian's ``chromium`` and ``chromium-driver`` (`.ci/run` installs them) and selenium; skips with a
message when any is absent. The server scores with the shipped model. Set AVDETECT_SERVE_SCREENSHOT=FILE
to save the page as a PNG (docs/serve.png is made so).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from media import load_face_images, make_video

from avdetect.serve.config import ServeConfig
from avdetect.serve.server import BackgroundServer

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 50  # the first clip waits for the worker to load the model


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    binary = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip("headless Chromium not found: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,640"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("browser")
    try:
        faces = load_face_images(1)
    except FileNotFoundError:
        faces = []
    clip = make_video(folder / "interview.mp4", width=240, height=180, fps=10, duration_s=2.0, faces=faces,
                      speech=True)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("meeting notes, not a video\n" * 20)
    return [clip, folder / "empty.mp4", folder / "notes.mp4"]


@pytest.mark.slow
def test_dropped_clip_shows_verdict_and_report(browser, inputs: list[Path], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with BackgroundServer(ServeConfig(port=0, temp_dir=str(tmp_path))) as server:
        browser.get(server.url + "/")
        browser.find_element(By.ID, "files").send_keys("\n".join(str(p) for p in inputs))
        rows = WebDriverWait(browser, TIMEOUT_S).until(lambda d: _finished_rows(d, len(inputs)))
        clip, empty, notes = (_texts(row) for row in rows)
        assert clip[0] == "interview.mp4" and clip[2].split()[0] in ("fake", "real", "inconclusive"), clip
        assert "P(fake) = 0." in clip[2] or "P(fake) = 1." in clip[2]
        assert "visual" in clip[3] and "audio" in clip[3]
        assert empty[2] == "empty_upload" and "0 bytes" in empty[3]
        assert notes[2] == "decode_error" and notes[3].startswith("notes.mp4:")
        assert not [entry for entry in browser.get_log("browser") if entry["source"] == "javascript"]
        if shot := os.environ.get("AVDETECT_SERVE_SCREENSHOT"):
            browser.save_screenshot(shot)
        browser.get(rows[0].find_element(By.CSS_SELECTOR, "a.report").get_attribute("href"))
        assert browser.title == "interview.mp4"
        assert "P(fake) =" in browser.find_element(By.TAG_NAME, "body").text
        assert browser.find_elements(By.CSS_SELECTOR, 'svg[aria-label="P(fake) over time"]')
        assert browser.find_elements(By.XPATH, "//h2[text()='Lip-sync']")


def _finished_rows(driver, n: int) -> list | bool:
    """The table's rows once there are `n` and none is still uploading, queued or scoring."""
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")
    states = [row.get_attribute("data-state") for row in rows]
    return rows if len(rows) == n and all(s in ("done", "failed") for s in states) else False


def _texts(row) -> list[str]:
    from selenium.webdriver.common.by import By

    return [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
