"""Browser journeys: Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

Every test in this directory is marked ``e2e`` and runs on a transactional database (the live server
is another thread). Under ``-n 2 --dist loadfile`` each module runs on one worker with one Chromium.

Nothing here may leak into the rest of the suite, which can run on the same worker after these tests:
Playwright, and DJANGO_ALLOW_ASYNC_UNSAFE with it, only runs while a module of browser tests does.
"""

import os
import re
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "e2e-screenshots"  # outside the repository
PRACTICE_ZONE = ZoneInfo("Australia/Sydney")
HERE = Path(__file__).resolve().parent


def _e2e_items(items):
    return [item for item in items if HERE in Path(item.fspath).resolve().parents]


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    # A wrapper: the markers must be on the items before pytest-django (transactional tests last)
    # reads them in its own implementation of this hook.
    for item in _e2e_items(items):
        item.add_marker(pytest.mark.e2e)
        # The live server answers from another thread, so the data must be committed. (The flush after
        # each test also removes the role groups; tests/conftest.py's make_user() puts them back.)
        item.add_marker(pytest.mark.django_db(transaction=True))
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _browser_unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """Chromium, started once per module of browser tests.

    Not once per session, because Playwright's sync API leaves an event loop running in the test
    thread for as long as it is started, and that changes Django for everything else on this worker:

    - the ORM refuses to run ("async context") unless DJANGO_ALLOW_ASYNC_UNSAFE is set, and that
      variable would then also reach subprocesses such as ``manage.py check --deploy``, which warns;
    - django.db.connections is an asgiref Local, which keeps a separate set of connections while a
      loop is running. They are closed here, before the loop stops, so none is left open (on
      PostgreSQL an open one would hold up dropping the test database).
    """
    if not CHROMIUM.exists():
        _browser_unavailable(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("playwright is not installed")
    from django.db import connections

    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture
def page(browser, request):
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-AU",
                                  timezone_id="Australia/Sydney")
    context.set_default_timeout(10_000)
    page = context.new_page()
    # RELIABILITY.md 29: the Content-Security-Policy must not break a page. Chromium reports each refusal on the
    # console ("Refused to execute inline script…", "…violates the following Content Security Policy…"), and a
    # script error from htmx or our own scripts as a page error.
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if message.type == "error" and ("Content Security Policy" in message.text or "Refused to" in message.text)
            else None)
    page.on("pageerror", lambda error: refused.append(f"script error: {error}"))
    yield page
    failed = any(getattr(getattr(request.node, f"report_{when}", None), "failed", False)
                 for when in ("setup", "call"))
    if failed:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        path = SCREENSHOT_DIR / f"{name}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            print(f"\nScreenshot of the failing page: {path} (URL {page.url})")
        except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the real failure
            print(f"\nCould not save a screenshot: {exc}")
    context.close()
    assert not refused, f"The browser refused or failed a script or style: {refused}"


def login(page, live_server, user, password: str = PASSWORD) -> None:
    """Log in through the login form and land on the diary (an admin of a practice not fully set up lands on
    the first-run checklist)."""
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/diary/|/options/setup/"))
    # Attached rather than visible: on a phone the who-block is folded behind the menu button.
    expect(page.locator("header.topbar .who-name")).to_be_attached()


def next_monday() -> date:
    """The next Monday in the practice's zone: always in the future, never a daylight-saving change day."""
    today = datetime.now(PRACTICE_ZONE).date()
    return today + timedelta(days=7 - today.weekday())


@pytest.fixture
def booking_day() -> date:
    return next_monday()


def local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=PRACTICE_ZONE)


def diary_url(live_server, day: date) -> str:
    return f"{live_server.url}/diary/?date={day.isoformat()}"


def column(page, practitioner):
    """The diary column of one practitioner (day view)."""
    return page.locator(f'.diary .col[aria-label="{practitioner.display_name}"]')


def slot(page, practitioner, day: date, hhmm: str):
    return column(page, practitioner).locator(f'a.slot[href$="start={day.isoformat()}T{hhmm}"]')


def panel(page):
    return page.locator("#panel")


def messages(page):
    return page.locator(".messages")


def open_panel(page, link):
    """Click a diary link that htmx loads into the side panel, and wait until htmx has settled it.

    Settled means the new content is wired up (search-as-you-type, boosted forms); typing into it any
    earlier loses the keystrokes' events. Times out if the click became a full page load instead.
    """
    page.evaluate("""() => {
        window.e2ePanelSettled = false;
        document.addEventListener("htmx:afterSettle", () => { window.e2ePanelSettled = true; }, {once: true});
    }""")
    link.click()
    page.wait_for_function("() => window.e2ePanelSettled === true")
    return panel(page)


def expect_message(page, text: str) -> None:
    """A message on the page a successful form led to (htmx's HX-Redirect is a full page load)."""
    from playwright.sync_api import expect

    expect(messages(page)).to_contain_text(text)
    page.wait_for_load_state()  # htmx has boosted the new page's links before the next click


def save_move(scope) -> None:
    """Click the move form's Save once its preview has answered the last change. The preview sits above the button:
    an answer landing under the click moves the button away, and the click lands on the preview instead."""
    from playwright.sync_api import expect

    expect(scope.locator(".move-preview.htmx-request")).to_have_count(0)
    scope.get_by_role("button", name="Save move").click()


def shot(page, name: str, variable: str = "E2E_SHOTS") -> None:
    """A screenshot of a key screen, only when asked for (the environment variable names the directory)."""
    directory = os.environ.get(variable)
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)


@pytest.fixture
def telehealth_appointment(alice_zoom, front_desk, practitioner_a, telehealth_location, appointment_type,
                           client_record, booking_day):
    """Casey's telehealth appointment with Alice next Monday at 10:00, its Zoom meeting made in the emulator.

    Overrides tests/reminders' fixture of the same name: next Monday, at the Telehealth location.
    """
    from scheduling.services import appointment_book
    from telehealth.models import MeetingState

    assert alice_zoom.is_connected, alice_zoom.status_reason
    appointment = appointment_book(
        actor=front_desk, client=client_record, practitioner=practitioner_a, location=telehealth_location,
        appointment_type=appointment_type, starts_at=local(booking_day, time(10)), ends_at=None,
        is_telehealth=True,
    ).appointment
    appointment.refresh_from_db()
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE, appointment.zoom_meeting.last_error
    return appointment
