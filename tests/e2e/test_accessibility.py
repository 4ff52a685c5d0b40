"""Issue 9 items 1 and 9: every main page fits the screen (no sideways scrolling) at 390, 768 and 1366 px, and
axe-core finds no critical or serious violation on it at desktop and phone sizes.

One browser context per size: the pages are visited in a loop and every problem is collected, so one run
reports all of them. Set E2E_SHOTS=/some/dir to keep a screenshot of each page at each size.
"""

from datetime import time

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from playwright.sync_api import expect

from reminders.services import telehealth_details_send
from scheduling.services import client_link_mint
from tests.e2e.conftest import column, diary_url, local, login, open_panel, shot, slot

SIZES = [
    pytest.param((1366, 768, True), id="desktop"),
    pytest.param((768, 1024, False), id="tablet"),
    pytest.param((390, 844, True), id="phone"),
]
SERIOUS = {"critical", "serious"}


@pytest.fixture
def busy_day(telehealth_appointment, book, practitioner_a, practitioner_b, booking_day, front_desk, credits,
             sms_outbox):
    """A day with a telehealth and an ordinary appointment, and a Zoom SMS in the message log."""
    book(practitioner_b, local(booking_day, time(11)))
    telehealth_details_send(actor=front_desk, appointment=telehealth_appointment, channel="sms")
    return telehealth_appointment


def _pages(live_server, day, appointment) -> list[tuple[str, str]]:
    on = day.isoformat()
    return [
        ("diary-day", diary_url(live_server, day)),
        ("diary-week", f"{live_server.url}/diary/week/?date={on}"),
        ("day-sheet", f"{live_server.url}/diary/sheet/?date={on}"),
        ("booking-form", f"{live_server.url}/appointments/new/?start={on}T09:00"),
        ("appointment", f"{live_server.url}/appointments/{appointment.pk}/"),
        ("clients", f"{live_server.url}/clients/"),
        ("client", f"{live_server.url}/clients/{appointment.client_id}/"),
        ("reminders", f"{live_server.url}/reminders/?date={on}"),
        ("messages", f"{live_server.url}/messages/"),
        ("credits", f"{live_server.url}/credits/"),
        ("needs-attention", f"{live_server.url}/attention/"),
        ("inbox", f"{live_server.url}/inbox/"),
        ("options", f"{live_server.url}/options/"),
        ("options-setup", f"{live_server.url}/options/setup/"),
        ("client-page", client_link_mint(appointment).replace(settings.DEV_BASE_URL, live_server.url)),
    ]


def _overflow(page) -> str | None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    if widths[0] > widths[1]:
        return f"page is {widths[0]} px wide in a {widths[1]} px window"
    return None


TARGETS = ("button, .btn, select, input:not([type=checkbox]):not([type=radio]):not([type=hidden]), .mainnav a, "
           ".options-menu a, .toolbar a, .pager a, .close")


def _small_targets(page) -> list[str]:
    """Buttons, links styled as buttons, form controls and menu links under 44 px tall (phones only)."""
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector)]
        .filter(el => el.getClientRects().length && el.getBoundingClientRect().height < 43.5)
        .map(el => `${el.tagName.toLowerCase()}.${el.className}`
                   + ` "${(el.innerText || el.name || "").trim().slice(0, 30)}"`
                   + ` ${Math.round(el.getBoundingClientRect().height)}px`)""", TARGETS)


def _axe(page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [f"{v['impact']} {v['id']}: {[node['target'] for node in v['nodes']][:6]}"
            for v in violations if v["impact"] in SERIOUS]


def page_problems(page, name: str, width: int, *, run_axe: bool = True) -> list[str]:
    """What is wrong with the page as shown: sideways scrolling, axe's serious findings and, on phones, small touch
    targets, each prefixed with ``name``; and a screenshot named after it."""
    page.wait_for_load_state()
    problems: list[str] = []
    if (too_wide := _overflow(page)) is not None:
        problems.append(f"{name}: {too_wide}")
    if run_axe:
        problems.extend(f"{name}: {each}" for each in _axe(page))
    if width <= 760:
        problems.extend(f"{name}: touch target {each}" for each in _small_targets(page))
    shot(page, f"{name}-{width}")
    return problems


@pytest.mark.parametrize("size", SIZES)
def test_every_main_page_fits_the_screen_and_passes_axe(
    page, live_server, size, busy_day, admin_user, practitioner_a, booking_day,
):
    width, height, run_axe = size
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server, admin_user)
    problems: list[str] = []

    def check(name: str) -> None:
        problems.extend(page_problems(page, name, width, run_axe=run_axe))

    pages = _pages(live_server, booking_day, busy_day)
    page.goto(f"{live_server.url}/options/")
    sections = page.locator("nav.options-menu a").evaluate_all("links => links.map(a => a.href)")
    pages += [(f"options{href.removeprefix(live_server.url).replace('/', '-').rstrip('-')}", href)
              for href in sections if href.rstrip("/") != f"{live_server.url}/options"]
    pages.append(("options-zoom-alice", f"{live_server.url}/options/zoom/{practitioner_a.pk}/"))
    for name, url in pages:
        response = page.goto(url)
        assert response is not None
        if not response.ok:
            problems.append(f"{name}: HTTP {response.status} from {url}")
        check(name)

    # The diary with the appointment panel open, and with the booking form in the panel.
    page.goto(diary_url(live_server, booking_day))
    open_panel(page, column(page, practitioner_a).locator("a.appt"))
    expect(page.locator("#panel .panel-head h2")).to_be_visible()
    check("panel-appointment")
    page.goto(diary_url(live_server, booking_day))
    open_panel(page, slot(page, practitioner_a, booking_day, "14:00"))
    expect(page.locator("#panel form.booking-form")).to_be_visible()
    check("panel-booking")

    if width <= 760:  # the phone's top bar with its menu open (the panel, a full-screen sheet, closed first)
        page.keyboard.press("Escape")
        page.get_by_role("button", name="Menu").click()
        expect(page.locator("nav.mainnav")).to_be_visible()
        check("menu-open")

    assert not problems, "\n".join(problems)
