"""A real browser (Debian's Chromium driven by Playwright) draws a digit on the page and reads the answer."""

import math
import shutil

import pytest

from conftest import ARTIFACTS
from scenes import PAD_123
from serving import CHROMIUM, launch_chromium, running_server


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_draw_a_digit_in_chromium(real_run):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_server(real_run.path) as url, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(bypass_csp=True, viewport={"width": 900, "height": 700})
        page.goto(url)
        page.wait_for_function("document.getElementById('modelinfo').textContent.startsWith('Model')")
        box = page.locator("#pad").bounding_box()
        x0, y0 = box["x"], box["y"]
        # A "7": the top bar, then the diagonal down.
        page.mouse.move(x0 + 70, y0 + 60)
        page.mouse.down()
        for i in range(1, 11):
            page.mouse.move(x0 + 70 + 14 * i, y0 + 60)
        for i in range(1, 16):
            page.mouse.move(x0 + 210 - 7 * i, y0 + 60 + 12 * i)
        page.mouse.up()
        page.wait_for_function("document.getElementById('digit').textContent !== '–'", timeout=20000)
        page.wait_for_timeout(500)
        digit = page.locator("#digit").text_content()
        bars = page.locator(".bar").count()
        page.screenshot(path=str(ARTIFACTS / "serve-draw.png"), full_page=True)
        assert digit in [str(d) for d in range(10)]
        assert bars == 10
        assert page.locator(".bar.top").count() == 1
        page.click("#clear")
        assert page.locator("#digit").text_content() == "–"
        browser.close()
    print(f"screenshot: {ARTIFACTS / 'serve-draw.png'} (predicted {digit})")


def _stroke(page, canvas_box, points, scale):
    """Draw one mouse stroke through `points` given in the canvas's own pixel coordinates."""
    x0, y0 = canvas_box["x"], canvas_box["y"]
    page.mouse.move(x0 + points[0][0] * scale, y0 + points[0][1] * scale)
    page.mouse.down()
    for (ax, ay), (bx, by) in zip(points, points[1:]):
        for t in range(1, 7):  # intermediate moves, as a real hand sends them
            page.mouse.move(x0 + (ax + (bx - ax) * t / 6) * scale, y0 + (ay + (by - ay) * t / 6) * scale)
    page.mouse.up()


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_write_a_number_and_a_star_in_chromium(reader_run):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_server(reader_run.path) as url, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(bypass_csp=True, viewport={"width": 1000, "height": 1400})
        page.goto(url)
        page.wait_for_function("document.getElementById('modelinfo').textContent.startsWith('Model')")
        box = page.locator("#numpad").bounding_box()
        scale = box["width"] / 840
        # "1", "2", "3" written with separate strokes, about 130 canvas pixels tall.
        for points in PAD_123:
            _stroke(page, box, points, scale)
        settled = "document.getElementById('numpad').dataset.busy === '0'"
        page.wait_for_function(settled, timeout=30000)
        number = page.locator("#number").text_content()
        page.screenshot(path=str(ARTIFACTS / "serve-number.png"), full_page=True)
        assert number == "123", number
        assert page.locator("#numstate").text_content() == "read"
        assert page.locator("#strip canvas").count() == 3

        page.click("#numclear")
        assert page.locator("#number").text_content() == "–"
        box = page.locator("#numpad").bounding_box()  # clicking may have scrolled the page
        star = [
            (420 + 80 * math.cos(math.radians(-90 + 144 * k)), 110 + 80 * math.sin(math.radians(-90 + 144 * k)))
            for k in range(6)
        ]
        _stroke(page, box, star, scale)
        page.wait_for_function(settled, timeout=30000)
        page.screenshot(path=str(ARTIFACTS / "serve-star.png"), full_page=True)
        said = page.locator("#number").text_content()
        assert said == "?", said
        assert page.locator("#numstate").text_content() == "not sure"
        assert page.locator("#numnote").text_content().startswith("this does not look like a digit")
        browser.close()
    print(f"screenshots: {ARTIFACTS / 'serve-number.png'}, {ARTIFACTS / 'serve-star.png'}")


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_renders_offline_in_chromium(real_run):
    from playwright.sync_api import sync_playwright

    from mnistlab.training.report import write_report

    report = write_report(real_run)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    requested = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        page = browser.new_page(bypass_csp=True, viewport={"width": 1200, "height": 900})

        def block_network(route):
            if route.request.url.startswith(("file:", "data:")):
                route.continue_()
            else:
                requested.append(route.request.url)
                route.abort()

        page.route("**/*", block_network)
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        headings = page.locator("h2").all_text_contents()
        browser.close()
    assert requested == []
    assert len(images) == 5 and all(images)
    assert {
        "Recipe",
        "Data",
        "Training curves",
        "Confusion matrix",
        "Most confident mistakes",
        "Confidence and rejection",
    } <= set(headings)


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_upload_a_photo_and_see_what_was_read_on_it(tmp_path):
    from playwright.sync_api import sync_playwright

    import mnistlab as ml
    from scenes import jpeg, on_table, sheet

    photo = tmp_path / "date.jpg"
    photo.write_bytes(jpeg(on_table(sheet(["26/11/2026", "12.50"])), orientation=6))  # stored sideways
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_server(ml.bundled_path()) as url, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(bypass_csp=True, viewport={"width": 1000, "height": 1400})
        page.goto(url)
        assert page.locator("h1").text_content() == "Read a number"
        assert page.locator("h2").first.text_content() == "Draw a single digit"
        assert page.locator("#numupload").get_attribute("capture") == "environment"
        page.set_input_files("#numupload", str(photo))
        page.wait_for_function("document.getElementById('photo').style.display === 'block'", timeout=30000)
        number = page.locator("#number").inner_text()
        shown = page.locator("#photocanvas").bounding_box()
        natural = page.eval_on_selector("#photocanvas", "c => c.width")
        room = page.eval_on_selector("#photo", "e => e.clientWidth")
        page.screenshot(path=str(ARTIFACTS / "serve-photo.png"), full_page=True)
        browser.close()
    assert number.split() == ["26/11/2026", "12.50"], number
    assert abs(shown["width"] - min(natural, room)) <= 1  # its own size, or the card's where it is wider
    print(f"screenshot: {ARTIFACTS / 'serve-photo.png'}")


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_api_docs_render_their_operations_offline():
    """Swagger UI and ReDoc, as a browser shows them under the page's CSP: every operation listed,
    no request leaves the server, no console error."""
    from playwright.sync_api import sync_playwright

    import mnistlab as ml

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with running_server(ml.bundled_path()) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        outside, errors = [], []
        local = (url, f"blob:{url}", "data:")  # the server itself, and what its pages make in memory
        page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{url}/docs")
        page.wait_for_selector(".opblock", timeout=20000)
        shown = page.locator(".opblock-summary-path").all_text_contents()
        page.screenshot(path=str(ARTIFACTS / "docs-swagger.png"))
        assert not page.locator("text=Unable to render this definition").count()
        assert {"/api/read", "/api/predict", "/api/predict/batch", "/api/model", "/api/health"} <= {
            s.replace("\u200b", "") for s in shown
        }, shown
        page.goto(f"{url}/redoc")
        page.get_by_text("/api/read").first.wait_for(timeout=20000)
        assert "mnistlab (1)" not in page.title() and page.locator("h1").first.text_content().startswith("mnistlab")
        page.get_by_text("/api/model").first.click()
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "docs-redoc.png"))
        samples = " ".join(page.locator("[class*='redoc-json']").all_text_contents())
        assert '"preset"' in samples and '"classes"' in samples, samples[:300]
        browser.close()
    assert not outside, outside
    assert not errors, errors
