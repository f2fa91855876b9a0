"""The web studio at /api/studio in headless Chromium (Playwright driving Debian's chromium) against the app on the
local host with keys checked: a run started from the form completes and its video plays, user text stays text,
problems are shown in words, delete removes the card. Screenshots land in each test's temp folder."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import FUNCTION_KEY
from tests.media import image_bytes

ENABLE_AUTH = True
# The gallery lists every run in the index: this module's own table and container, so runs other modules left in the
# worker's Azurite (some with outputs they deleted on purpose) are not on the page.
APP_ENV = {"RUN_INDEX_TABLE": "studioruns", "VIDEO_OUTPUT_CONTAINER": "studio-videos"}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
HAVE_ENOUGH_DATA = 4


def chromium_executable() -> str:
    """Debian's chromium; without it (or Playwright) the tests skip here, and fail under CI=true."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (requirements-dev.txt)")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        missing.append("the chromium executable (`./dev.sh setup` installs it as root: apt-get install chromium)")
    if missing:
        message = "the studio's browser tests need " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return executable


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    executable = chromium_executable()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=executable, args=CHROMIUM_FLAGS,
            headless=True, viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        context.set_default_timeout(60_000)
        yield context
        context.close()


class Studio:
    """One browser tab on the studio, with every console error and page error it logged."""

    def __init__(self, page, app_url: str):
        self.page, self.app_url = page, app_url
        self.console_errors: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        page.on("pageerror", lambda error: self.console_errors.append(f"page error: {error}"))
        # The console says only "Failed to load resource: 404": keep which one, for whoever reads a failure.
        self.failed_responses: list[str] = []
        page.on("response", lambda r: r.status >= 400 and self.failed_responses.append(f"{r.status} {r.url}"))

    def open(self, fragment: str = "") -> None:
        self.page.goto(f"{self.app_url}/api/studio?code={FUNCTION_KEY}{fragment}")
        self.page.wait_for_function("() => document.querySelectorAll('#model option').length > 0 || !!location.hash")

    def card(self, run_id: str):
        return self.page.locator(f'.card[data-id="{run_id}"]')


@pytest.fixture
def studio(browser, soraflow_app, tmp_path) -> Iterator[Studio]:
    page = browser.new_page()
    tab = Studio(page, soraflow_app.url)
    yield tab
    # What the tab showed last, for whoever reads a failure: the page, its alert and its console.
    page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
    shown = page.evaluate("() => document.getElementById('alert').textContent")
    (tmp_path / "last.txt").write_text(f"{page.url}\nalert: {shown}\nconsole: {tab.console_errors}\n")
    page.close()


def test_the_page_is_served_without_a_key_and_holds_none(soraflow_app):
    for path in ("studio", "studio/studio.js", "studio/studio.css"):
        response = httpx.get(f"{soraflow_app.url}/api/{path}", timeout=30)
        assert response.status_code == 200, path
        assert FUNCTION_KEY not in response.text
    assert httpx.get(f"{soraflow_app.url}/api/studio/function_app.py", timeout=30).status_code == 404
    page = httpx.get(f"{soraflow_app.url}/api/studio", timeout=30)
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"


def test_the_page_loads_with_no_console_errors_and_takes_the_key_out_of_the_address(studio, tmp_path):
    studio.open()

    models = studio.page.locator("#model option").all_text_contents()
    assert any(text.startswith("sora-2 ") for text in models)
    assert "code=" not in studio.page.url
    assert studio.page.evaluate("sessionStorage.getItem('soraflow-key')") == FUNCTION_KEY
    studio.page.wait_for_load_state("networkidle")
    assert studio.console_errors == [], studio.failed_responses


def test_the_form_offers_only_the_sizes_and_durations_of_the_chosen_model(studio, soraflow_app):
    studio.open()
    listed = soraflow_app.http.get(f"{soraflow_app.url}/api/models").json()
    sora2 = next(model for model in listed["data"] if model["model"] == "sora-2")

    studio.page.select_option("#model", "sora-2")

    assert studio.page.locator("#size option").all_text_contents() == sora2["sizes"]
    assert studio.page.locator("#seconds option").all_text_contents() == sora2["seconds"]


def test_a_run_started_from_the_form_completes_with_its_progress_shown_and_its_video_plays(studio, tmp_path):
    studio.open()
    # Every status the run page shows, recorded as it changes (a run here takes about a second).
    studio.page.evaluate("""() => {
        window.shownStatuses = [];
        const status = document.getElementById('run-status');
        new MutationObserver(() => window.shownStatuses.push(status.textContent))
            .observe(status, {childList: true, characterData: true, subtree: true});
    }""")
    studio.page.fill("#prompt", "A paper kite over a windy beach")
    studio.page.select_option("#model", "sora-2")
    studio.page.select_option("#size", "1280x720")
    studio.page.select_option("#seconds", "4")
    studio.page.click("#generate")

    studio.page.wait_for_function("() => location.hash.startsWith('#run/')")
    studio.page.wait_for_function(
        "() => document.getElementById('run-status').textContent === 'completed'", timeout=90_000
    )
    shown = studio.page.evaluate("window.shownStatuses")
    assert shown[-1] == "completed"
    assert any(status in ("queued", "submitting", "generating", "downloading") for status in shown[:-1]), shown
    assert studio.page.locator("#run-progress").evaluate("p => p.value") == 100
    assert studio.page.locator("#run-percent").text_content() == "100%"

    video = studio.page.locator("#video")
    studio.page.wait_for_function(f"() => document.getElementById('video').readyState >= {HAVE_ENOUGH_DATA}")
    assert video.evaluate("v => v.duration") == pytest.approx(4, abs=0.3)
    video.evaluate("v => { v.muted = true; return v.play(); }")
    studio.page.wait_for_function("() => document.getElementById('video').currentTime > 0")
    studio.page.wait_for_function("() => document.getElementById('thumbnail').naturalWidth > 0")
    assert "A paper kite over a windy beach" in studio.page.locator("#run-request").text_content()
    studio.page.screenshot(path=str(tmp_path / "run-page.png"), full_page=True)
    assert (tmp_path / "run-page.png").stat().st_size > 0
    assert studio.console_errors == [], studio.failed_responses


def test_a_reference_image_and_a_chained_remix_from_the_form_reach_the_run_and_the_remix_plays(studio, tmp_path):
    image = tmp_path / "kite.png"
    image.write_bytes(image_bytes(1280, 720))
    studio.open()
    studio.page.fill("#prompt", "The kite climbs into the clouds")
    studio.page.select_option("#model", "sora-2")
    studio.page.select_option("#size", "1280x720")
    studio.page.set_input_files("#image", str(image))
    studio.page.fill("#remix", "the same kite at sunset")

    studio.page.click("#generate")

    studio.page.wait_for_function("() => location.hash.startsWith('#run/')")
    studio.page.wait_for_function("() => document.getElementById('run-status').textContent === 'completed'")
    request = json.loads(studio.page.locator("#run-request").text_content())
    assert request["input_reference"]["upload"].endswith("/upload.png")
    assert request["remix"] == {"prompt": "the same kite at sunset"}
    assert "source=remix" in studio.page.locator("#video").get_attribute("src")
    studio.page.wait_for_function(f"() => document.getElementById('video').readyState >= {HAVE_ENOUGH_DATA}")
    assert studio.console_errors == [], studio.failed_responses


def test_a_prompt_with_markup_shows_as_text_in_the_gallery_and_on_the_run_page(studio, soraflow_app):
    prompt = '<script>window.injected = 1</script><img src=x onerror="window.injected = 2"><b>bold</b> kite'
    run = soraflow_app.run(prompt=prompt)

    studio.open()
    card = studio.card(run["id"])
    assert card.locator(".prompt").text_content() == prompt
    assert card.locator("b, script, img[src=x]").count() == 0
    card.click()
    studio.page.wait_for_function("() => document.getElementById('run-prompt').textContent.length > 0")

    assert studio.page.locator("#run-prompt").text_content() == prompt
    assert studio.page.evaluate("window.injected") is None
    assert studio.page.locator("#run-view b, #run-view img[src=x]").count() == 0


def test_a_refused_request_shows_the_problems_detail(studio, soraflow_app):
    studio.open()
    studio.page.fill("#prompt", "a kite")
    studio.page.select_option("#model", "sora-2")
    # A form out of date with the model (seconds it does not take): the API's answer is what the page must show.
    studio.page.evaluate("document.querySelector('#seconds option').value = '5'")
    body = {"prompt": "a kite", "model": "sora-2", "size": studio.page.input_value("#size"), "seconds": "5"}
    detail = soraflow_app.post_video(body).json()["detail"]

    studio.page.click("#generate")

    alert = studio.page.locator("#alert")
    alert.wait_for(state="visible")
    assert alert.text_content() == detail
    assert "seconds" in detail
    assert "#run/" not in studio.page.url


def test_delete_removes_the_card_and_the_run(studio, soraflow_app, tmp_path):
    run = soraflow_app.run(prompt="A lighthouse in a storm, to be deleted")
    studio.open()
    card = studio.card(run["id"])
    card.wait_for()
    studio.page.wait_for_function(
        f"() => document.querySelector('.card[data-id=\"{run['id']}\"] .thumb').naturalWidth > 0"
    )
    studio.page.screenshot(path=str(tmp_path / "gallery.png"), full_page=True)
    card.click()
    studio.page.wait_for_function("() => !document.getElementById('delete').disabled")
    studio.page.once("dialog", lambda dialog: dialog.accept())
    loads = int(studio.page.locator("#runs").get_attribute("data-loads"))

    studio.page.click("#delete")

    studio.page.wait_for_function(f"() => Number(document.getElementById('runs').dataset.loads) > {loads}")
    assert studio.page.evaluate("location.hash") == ""
    assert card.count() == 0
    assert soraflow_app.get(run["id"]).status_code == 404
    assert (tmp_path / "gallery.png").stat().st_size > 0


@pytest.fixture
def real_time_sora(soraflow_app) -> Iterator[None]:
    """The Sora emulator renders in real time, so a run stays generating while the page is used."""
    soraflow_app.sora_admin("POST", "reset", {"time_scale": 1})
    yield
    soraflow_app.sora_admin("POST", "reset", {})


def test_cancel_on_the_run_page_cancels_the_run_and_its_provider_job(studio, soraflow_app, real_time_sora):
    run = soraflow_app.start(prompt="A glacier calving, slowly", seconds="12")
    soraflow_app.wait(run["id"], statuses={"generating"}, timeout=60)
    studio.open(f"#run/{run['id']}")
    studio.page.wait_for_function("() => !document.getElementById('cancel').disabled")

    studio.page.click("#cancel")

    ended = soraflow_app.wait(run["id"], timeout=60)
    assert ended["status"] == "cancelled"
    studio.page.wait_for_function("() => document.getElementById('run-status').textContent.includes('cancelled')")
    assert studio.page.evaluate("document.getElementById('cancel').disabled")
    assert soraflow_app.sora_requests(operation="delete"), "the provider job was left rendering"
    assert studio.console_errors == [], studio.failed_responses


def test_remix_on_the_run_page_starts_a_remix_run_and_shows_it(studio, soraflow_app):
    run = soraflow_app.run(prompt="A paper boat on a pond")
    studio.open(f"#run/{run['id']}")
    studio.page.wait_for_function("() => !document.getElementById('remix-button').disabled")
    studio.page.fill("#remix-prompt", "the same boat at night")

    studio.page.click("#remix-button")

    studio.page.wait_for_function(f"() => location.hash.startsWith('#run/') && !location.hash.includes('{run['id']}')")
    remix_id = studio.page.evaluate("decodeURIComponent(location.hash.slice(5))")
    remix = soraflow_app.wait(remix_id)
    assert remix["status"] == "completed"
    assert remix["request"]["prompt"] == "the same boat at night"
    studio.page.wait_for_function("() => document.getElementById('run-status').textContent.includes('completed')")
    assert studio.console_errors == [], studio.failed_responses
