"""The playground page in a real browser: headless Chromium driven by Selenium.

Loads the page from a server in this process, presses play, watches the loss text fall and
the decision-region canvas change, then clicks a training point and reads the backward
partials in the teaching panel. Skipped when Selenium, Chromium or its driver is absent
(``apt-get install -y chromium chromium-driver``; ``pip install selenium``). Set
``PLAYGROUND_SCREENSHOTS=DIR`` to keep screenshots of the page in DIR.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import urllib.request
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                                reason="needs Chromium and chromedriver "
                                       "(apt-get install -y chromium chromium-driver)")
TIMEOUT = 120  # seconds any wait may take on a loaded machine; reached only on failure


@pytest.fixture(scope="module")
def page():
    from selenium.webdriver.chrome.service import Service

    from neuralab.playground import make_server
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1250", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.get(server.url)
        yield driver, server
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()


def _wait(driver, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, TIMEOUT, poll_frequency=0.05).until(lambda d: condition(d), message)


def _text(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def _canvas(driver) -> str:
    return driver.execute_script("return document.getElementById('region').toDataURL();")


def _screenshot(driver, name: str) -> None:
    folder = os.environ.get("PLAYGROUND_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / name))


def test_play_lowers_the_loss_and_redraws_the_decision_region(page):
    driver, _ = page
    _wait(driver, lambda d: _text(d, "train-loss") not in ("", "-"), "the first frame never came")
    assert _text(driver, "epoch") == "0"
    first_loss = float(_text(driver, "train-loss"))
    first_region = _canvas(driver)
    driver.find_element("id", "play").click()
    _wait(driver, lambda d: int(_text(d, "epoch")) >= 300, "training did not reach epoch 300")
    driver.find_element("id", "play").click()
    _wait(driver, lambda d: "Play" in _text(d, "play"), "pause did not stop the training")
    stopped_at = _text(driver, "epoch")
    assert float(_text(driver, "train-loss")) < first_loss
    assert _canvas(driver) != first_region
    assert not driver.find_element("id", "message").is_displayed()
    _screenshot(driver, "play19_training.png")
    assert _text(driver, "epoch") == stopped_at  # paused means paused


def test_clicking_a_point_shows_its_backward_partials(page):
    from selenium.webdriver.common.action_chains import ActionChains
    driver, server = page
    _wait(driver, lambda d: d.execute_script("return state.points !== null;"), "no points")
    region = driver.find_element("id", "region")
    # the pixel of training point 5, from the same mapping the page draws with
    offset = driver.execute_script("""
        const canvas = document.getElementById('region');
        const [px, py] = toPixel(samplePoint('train', 5), state.frame.bounds, canvas.width, canvas.height);
        const rect = canvas.getBoundingClientRect();
        return [px * rect.width / canvas.width - rect.width / 2,
                py * rect.height / canvas.height - rect.height / 2];""")
    click = ActionChains(driver).move_to_element_with_offset(region, round(offset[0]), round(offset[1]))
    click.click().perform()
    _wait(driver, lambda d: "∂E/∂W of output" in _text(d, "partials"), "the partials panel stayed empty")
    selected = driver.execute_script("return state.selected;")
    body = json.dumps(selected).encode()
    request = urllib.request.Request(server.url + "api/sample", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        expected = json.loads(response.read())
    shown = float(_text(driver, "sample-error"))
    assert shown == pytest.approx(expected["error"], rel=1e-3)
    assert float(_text(driver, "sample-dE-dy")) == pytest.approx(expected["dE_dy"][0], rel=1e-3)
    panel = _text(driver, "partials")
    for heading in ("hidden_1 (sigmoid): forward and backward", "∂E/∂z", "∂E/∂h", "∂E/∂b",
                    "∂E/∂W of hidden_1"):
        assert heading in panel
    _screenshot(driver, "play19_partials.png")


def test_a_bad_setting_shows_the_servers_message(page):
    driver, _ = page
    rate = driver.find_element("id", "learning_rate")
    rate.clear()
    rate.send_keys("-3")
    driver.execute_script("document.getElementById('learning_rate').dispatchEvent(new Event('change'));")
    _wait(driver, lambda d: d.find_element("id", "message").is_displayed(), "no message shown")
    assert "learning_rate: expected a number in (0.0, 10.0]" in _text(driver, "message")
