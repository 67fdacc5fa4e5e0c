"""The page as a user sees it, in Chromium: on a laptop (1280x800) and as an iPhone 13.

A sure and a not-sure reading must look different and say so in words; the answer must be in view
without scrolling; pictures are shown at their own size; Clear clears everything; an error is red.
Screenshots go to tests/artifacts/page-*.png; with MNISTLAB_SCREENSHOTS=DIR (`make screenshots`) the
README's are written into DIR as well.
"""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ARTIFACTS, REPO
from serving import launch_chromium, running_server

pytestmark = pytest.mark.skipif(
    not shutil.which("chromium"), reason="Debian's chromium is not installed (.ci/run installs it)"
)

SURE = "#1f7a45"
UNSURE = "#a35a00"
BAD = "#b3261e"


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[k : k + 2], 16) for k in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    from scenes import jpeg, on_table, sheet

    d = tmp_path_factory.mktemp("pictures")
    (d / "date.jpg").write_bytes(jpeg(on_table(sheet(["26/11/2026", "12.50"]))))
    # A number whose last digit runs off the picture's right edge: read, but not sure.
    Image.fromarray(sheet(["48638"], size=56)[:, 40:-80].astype(np.uint8)).save(d / "cut.png")
    (d / "notes.txt").write_text("not a picture\n")
    shutil.copy(REPO / "examples" / "two-lines.png", d / "two-lines.png")
    return d


@pytest.fixture(scope="module")
def server():
    import mnistlab as ml

    with running_server(ml.bundled_path()) as url:
        yield url


def _shot(page, name: str) -> None:
    """A screenshot of what is in view, into the artifacts (and the README's folder when asked)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if os.environ.get("MNISTLAB_SCREENSHOTS"):
        out = Path(os.environ["MNISTLAB_SCREENSHOTS"])
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(ARTIFACTS / f"{name}.png", out / f"{name}.png")


def _upload(page, path) -> None:
    page.set_input_files("#numupload", str(path))
    page.wait_for_function(
        "document.getElementById('numpad').dataset.busy === '0' && document.getElementById('answer').className !== ''",
        timeout=30000,
    )


def _in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] and box["height"] > 0


def _pad_is_blank(page) -> bool:
    return page.evaluate("""() => { const c = document.getElementById('numpad');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 0) return false; return true; }""")


def _write_a_one(page) -> None:
    box = page.locator("#numpad").bounding_box()
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    for k in range(1, 10):
        page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + (0.2 + 0.06 * k) * box["height"])
    page.mouse.up()


def test_on_a_laptop_a_sure_and_a_not_sure_reading_look_different_and_are_in_view(server, pictures):
    from playwright.sync_api import sync_playwright

    from mnistlab.reading.reasons import REASONS

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, bypass_csp=True)
        page.goto(server)
        page.wait_for_function("document.getElementById('modelinfo').textContent.startsWith('Model')")
        assert page.locator("#drophint").is_visible()  # a laptop can drop files

        _upload(page, pictures / "date.jpg")
        assert page.locator("#numstate").inner_text() == "read"
        assert page.locator("#number").inner_text().split() == ["26/11/2026", "12.50"]
        assert page.eval_on_selector("#number", "e => getComputedStyle(e).color") == _rgb("#1d2433")
        assert page.locator("#strip .cell.sure").count() == 12
        assert _in_view(page, "#answer") and _in_view(page, "#digit")  # both answers, no scrolling
        _shot(page, "page-laptop-read")

        _upload(page, pictures / "cut.png")
        assert page.locator("#answer").get_attribute("class") == "unsure"
        assert page.locator("#numstate").inner_text() == "not sure"
        assert page.locator("#numnote").inner_text() == REASONS["cut_off"]
        assert page.eval_on_selector("#number", "e => getComputedStyle(e).color") == _rgb(UNSURE)
        assert page.eval_on_selector("#numstate", "e => getComputedStyle(e).color") == _rgb(UNSURE)
        cells = page.locator("#strip .cell")
        assert cells.count() >= 4 and page.locator("#strip .cell.sure").count() == 0  # every digit marked
        assert _in_view(page, "#answer")
        _shot(page, "page-laptop-not-sure")

        # A small picture is shown at its own size, not stretched to the card.
        _upload(page, pictures / "two-lines.png")
        shown = page.locator("#photocanvas").bounding_box()
        assert (round(shown["width"]), round(shown["height"])) == (242, 324), shown

        # An error is red and says what is wrong.
        page.set_input_files("#numupload", str(pictures / "notes.txt"))
        page.wait_for_function("document.getElementById('answer').className === 'error'", timeout=30000)
        assert page.eval_on_selector("#numnote", "e => getComputedStyle(e).color") == _rgb(BAD)
        assert "image" in page.locator("#numnote").inner_text() and page.locator("#numnote").is_visible()
        assert not page.locator("#photo").is_visible()

        # Writing, then a photo: the photo's answer replaces the writing, which leaves the pad.
        page.click("#numclear")
        _write_a_one(page)
        page.wait_for_function("document.getElementById('numpad').dataset.busy === '0'", timeout=30000)
        assert not _pad_is_blank(page)
        _upload(page, pictures / "date.jpg")
        assert _pad_is_blank(page) and page.locator("#photo").is_visible()

        # Clear: pad, picture, file name, answer and strip all go.
        page.click("#numclear")
        assert page.eval_on_selector("#numupload", "e => e.value") == ""
        assert not page.locator("#photo").is_visible() and _pad_is_blank(page)
        assert page.locator("#number").inner_text() == "–" and page.locator("#numstate").inner_text() == "waiting"
        assert page.locator("#strip .cell").count() == 0
        browser.close()


def test_on_a_phone_the_pad_and_camera_button_are_large_and_the_answer_in_view(server, pictures):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        phone = {k: v for k, v in pw.devices["iPhone 13"].items() if k != "default_browser_type"}
        phone["device_scale_factor"] = 2  # screenshots of a sensible size
        page = browser.new_page(**phone, bypass_csp=True)
        page.goto(server)
        page.wait_for_function("document.getElementById('modelinfo').textContent.startsWith('Model')")
        pad = page.locator("#numpad").bounding_box()
        camera = page.locator("#numupload-label").bounding_box()
        assert pad["width"] >= 320 and pad["height"] >= 160, pad  # room for a finger to write a number
        assert camera["height"] >= 48 and camera["width"] >= 300, camera
        assert "Take a photo" in page.locator("#numupload-label").inner_text()
        assert not page.locator("#drophint").is_visible()  # nothing can be dropped on a phone
        assert page.locator("#numupload").get_attribute("capture") == "environment"

        _upload(page, pictures / "date.jpg")
        assert page.locator("#numstate").inner_text() == "read" and _in_view(page, "#answer")
        _shot(page, "page-phone-read")
        _upload(page, pictures / "cut.png")
        assert page.locator("#numstate").inner_text() == "not sure" and _in_view(page, "#numnote")
        _shot(page, "page-phone-not-sure")
        browser.close()
