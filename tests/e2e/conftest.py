"""Browser journeys: Playwright (sync API) driving Debian's Chromium against pytest-django's live server.

Every test in this directory is marked ``e2e``, runs on a transactional database (the live server is
another thread) and belongs to the xdist group "browser", so that under ``-n 2 --dist loadgroup`` a
single worker drives Chromium.
"""

import os
import re
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by fixtures and
# assertions would otherwise be refused as "called from an async context".
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from tests.conftest import PASSWORD  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "e2e-screenshots"  # outside the repository
PRACTICE_ZONE = ZoneInfo("Australia/Sydney")
HERE = Path(__file__).resolve().parent
BROWSER_GROUP = "browser"


def _e2e_items(items):
    return [item for item in items if HERE in Path(item.fspath).resolve().parents]


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    # A wrapper: the markers must be on the items before pytest-xdist (xdist_group) and pytest-django
    # (transactional tests last) read them in their own implementations of this hook.
    for item in _e2e_items(items):
        item.add_marker(pytest.mark.e2e)
        item.add_marker(pytest.mark.xdist_group(BROWSER_GROUP))
        # serialized_rollback: the role groups come from a data migration, and the flush after each
        # transactional test would otherwise remove them for the tests that follow.
        item.add_marker(pytest.mark.django_db(transaction=True, serialized_rollback=True))
    result = yield
    _keep_browser_group(config, items)
    return result


def _keep_browser_group(config, items) -> None:
    """Make ``--dist loadgroup`` keep the browser tests on one worker with pytest 9.2 and pytest-xdist 3.8.

    xdist tells its scheduler about a group by appending "@group" to ``item._nodeid``, which pytest
    9.2 no longer reads (node ids are structured now), so the group is silently ignored and both
    workers start Chromium (pytest-dev/pytest-xdist#1386). Does nothing once xdist's own suffix is there.
    """
    if not getattr(config.option, "loadgroup", False):  # set on xdist workers only
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest, where xdist's own suffix works
        return
    for item in _e2e_items(items):
        if "@" not in item.nodeid.rpartition("::")[2] and hasattr(item, "_id"):
            item._id = NodeId.parse(f"{item.nodeid}@{BROWSER_GROUP}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _browser_unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        _browser_unavailable(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-AU",
                                  timezone_id="Australia/Sydney")
    context.set_default_timeout(10_000)
    page = context.new_page()
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


def login(page, live_server, user, password: str = PASSWORD) -> None:
    """Log in through the login form and land on the diary."""
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/diary/"))
    expect(page.locator("header.topbar .who-name")).to_be_visible()


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
    return page.locator("aside#panel")


def messages(page):
    return page.locator(".messages")

