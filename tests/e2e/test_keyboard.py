"""Keyboard first (issue 9 items 3–5): booking from the diary with the keyboard alone, focus that follows the
panel, the shortcuts' help, the booking's length on the grid and the current-time line."""

from datetime import datetime, time, timedelta

import pytest
from playwright.sync_api import expect

from practice.models import Practice
from scheduling.models import Appointment
from tests.e2e.conftest import (
    PRACTICE_ZONE,
    column,
    diary_url,
    expect_message,
    local,
    login,
    open_panel,
    panel,
    shot,
    slot,
)

SIZES = [pytest.param((1366, 768), id="desktop"), pytest.param((390, 844), id="phone")]
MAX_KEYSTROKES = 15


class Keyboard:
    """Presses keys on the page and counts them: a typed text counts one keystroke per character."""

    def __init__(self, page) -> None:
        self.page = page
        self.count = 0

    def press(self, key: str, times: int = 1) -> None:
        for _ in range(times):
            self.page.keyboard.press(key)
            self.count += 1

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)
        self.count += len(text)


def wait_for_panel(page, settled_before: int) -> None:
    page.wait_for_function(f"() => (window.e2eSwaps || 0) > {settled_before}")


def count_panel_swaps(page) -> None:
    page.evaluate("""() => {
        window.e2eSwaps = 0;
        document.addEventListener("htmx:afterSettle", (e) => { if (e.target.id === "panel") window.e2eSwaps++; });
    }""")


def swaps(page) -> int:
    return page.evaluate("() => window.e2eSwaps")


@pytest.mark.parametrize("size", SIZES)
def test_keyboard_only_booking_of_a_free_slot_in_at_most_15_keystrokes(
    page, live_server, front_desk, practitioner_a, practitioner_b, appointment_type, location, client_record,
    booking_day, size,
):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    page.wait_for_load_state()
    count_panel_swaps(page)
    keys = Keyboard(page)

    # The grid is one tab stop, reached through the first skip link.
    keys.press("Tab")
    expect(page.locator("a.skip[data-skip-to-grid]")).to_be_focused()
    keys.press("Enter")
    # The day opens an hour before Alice's 09:00 start; Page Down moves an hour.
    expect(slot(page, practitioner_a, booking_day, "08:00")).to_be_focused()
    keys.press("PageDown")
    expect(slot(page, practitioner_a, booking_day, "09:00")).to_be_focused()
    shot(page, f"keys-grid-focus-{size[0]}")
    before = swaps(page)
    keys.press("Enter")
    wait_for_panel(page, before)
    heading = panel(page).locator(".panel-head h2")
    expect(heading).to_have_text("New appointment")
    expect(heading).to_be_focused()  # not the first button or field
    # The booking's length is shown on the grid: the one type, 30 minutes, two rows from 09:00.
    preview = column(page, practitioner_a).locator(".booking-preview")
    expect(preview).to_have_count(1)
    expect(preview).not_to_have_class("booking-preview too-short")

    keys.press("Tab", 2)  # past the close button into the client search
    expect(panel(page).locator("#id_client_query")).to_be_focused()
    keys.type("Cas")
    expect(panel(page).locator("#client-matches input[name=client]")).to_have_count(1)
    keys.press("ArrowDown")  # picks the first match
    expect(panel(page).locator("#client-matches input[name=client]")).to_be_checked()
    shot(page, f"keys-booking-form-{size[0]}")
    keys.press("Enter")  # books

    expect_message(page, "Booked Casey Client with Alice Allen at 09:00.")
    appointment = Appointment.objects.get()
    assert appointment.starts_at == local(booking_day, time(9))
    assert appointment.ends_at == local(booking_day, time(9, 30))
    # The new appointment's panel opens, with focus on its heading.
    heading = panel(page).locator(".panel-head h2")
    expect(heading).to_have_text(f"Casey Client · {booking_day:%a %d %b} 09:00")
    expect(heading).to_be_focused()
    shot(page, f"keys-booked-{size[0]}")
    assert keys.count <= MAX_KEYSTROKES, f"{keys.count} keystrokes"

    # Escape closes it and focus goes to the appointment's block in the grid.
    page.keyboard.press("Escape")
    expect(panel(page)).to_be_empty()
    expect(column(page, practitioner_a).locator(f'a.appt[href="/appointments/{appointment.pk}/"]')).to_be_focused()


def test_arrows_move_between_slots_and_blocks_and_focus_follows_the_panel(
    page, live_server, front_desk, practitioner_a, practitioner_b, appointment_type, location, client_record,
    booking_day,
):
    from scheduling.services import appointment_book

    appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_b, location=location,
                     appointment_type=appointment_type, starts_at=local(booking_day, time(8, 30)), ends_at=None)
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    page.wait_for_load_state()
    count_panel_swaps(page)

    # Only one cell of the grid is in the tab order.
    assert page.locator('.diary .col > [tabindex="0"]').count() == 1
    assert page.locator('.diary .col > a:not([tabindex="-1"])').count() == 1
    page.locator("a.skip[data-skip-to-grid]").focus()
    page.keyboard.press("Enter")
    # The day opens an hour before its first appointment (08:30): the grid's tab stop is Alice's 07:30.
    expect(slot(page, practitioner_a, booking_day, "07:30")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(slot(page, practitioner_a, booking_day, "07:45")).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowRight")
    expect(slot(page, practitioner_b, booking_day, "07:30")).to_be_focused()
    page.keyboard.press("PageDown")  # an hour later is Bob's appointment: the block takes focus
    block = column(page, practitioner_b).locator("a.appt")
    expect(block).to_be_focused()
    page.keyboard.press("ArrowDown")  # past the block's two rows
    expect(slot(page, practitioner_b, booking_day, "09:00")).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(block).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(slot(page, practitioner_a, booking_day, "08:30")).to_be_focused()
    page.keyboard.press("Home")
    expect(slot(page, practitioner_a, booking_day, "07:00")).to_be_focused()
    page.keyboard.press("End")
    expect(slot(page, practitioner_a, booking_day, "18:45")).to_be_focused()
    shot(page, "keys-grid-end")
    # The cell last moved to is the grid's tab stop.
    assert page.locator('.diary .col > [tabindex="0"]').count() == 1
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    expect(slot(page, practitioner_a, booking_day, "18:45")).to_be_focused()

    # Enter on a block opens it; focus lands on the heading, not on "Arrived".
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("PageDown")
    page.keyboard.press("PageDown")  # Bob's 07:00 → 09:00, then back up onto the block
    page.keyboard.press("ArrowUp")
    expect(block).to_be_focused()
    before = swaps(page)
    page.keyboard.press("Enter")
    wait_for_panel(page, before)
    heading = panel(page).locator(".panel-head h2")
    expect(heading).to_have_text(f"Casey Client · {booking_day:%a %d %b} 08:30")
    expect(heading).to_be_focused()
    shot(page, "keys-panel-heading-focus")
    page.keyboard.press("Escape")
    expect(panel(page)).to_be_empty()
    expect(block).to_be_focused()

    # The close button returns focus too, here to the slot whose booking form it was.
    page.keyboard.press("ArrowDown")
    bob_0900 = slot(page, practitioner_b, booking_day, "09:00")
    expect(bob_0900).to_be_focused()
    before = swaps(page)
    page.keyboard.press("Enter")
    wait_for_panel(page, before)
    expect(panel(page).locator(".panel-head h2")).to_be_focused()
    panel(page).get_by_role("link", name="Close").click()
    expect(panel(page)).to_be_empty()
    expect(bob_0900).to_be_focused()

    # Booking errors are focused and in view: a clash refused by the server.
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # Bob's 08:15: 30 minutes would run into the 08:30 block
    expect(slot(page, practitioner_b, booking_day, "08:15")).to_be_focused()
    before = swaps(page)
    page.keyboard.press("Enter")
    wait_for_panel(page, before)
    form = panel(page).locator("form.booking-form")
    expect(form.locator("#duration-warning")).to_contain_text("Too short")
    # Enter in the search picks the first match (not "Find"); Enter again books.
    form.locator("#id_client_query").focus()
    page.keyboard.type("Cas")
    match = form.locator("#client-matches input[name=client]")
    expect(match).to_have_count(1)
    page.keyboard.press("Enter")
    expect(match).to_be_focused()
    expect(match).to_be_checked()
    before = swaps(page)
    page.keyboard.press("Enter")
    wait_for_panel(page, before)
    errors = panel(page).locator(".form-errors")
    expect(errors).to_contain_text("Bob Brown already has an appointment")
    expect(errors).to_be_focused()
    expect(errors).to_be_in_viewport()
    assert Appointment.objects.count() == 1


def test_the_shortcuts_and_their_help(page, live_server, front_desk, practitioner_a, appointment_type, location,
                                      booking_day):
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    page.wait_for_load_state()
    count_panel_swaps(page)

    page.keyboard.press("?")
    dialog = page.locator("dialog#shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Keyboard shortcuts")
    expect(dialog).to_contain_text("New appointment")
    shot(page, "keys-help")
    page.keyboard.press("n")  # nothing fires behind the help
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(panel(page)).to_be_empty()

    # N books at the grid's tab stop.
    before = swaps(page)
    page.keyboard.press("n")
    wait_for_panel(page, before)
    form = panel(page).locator("form.booking-form")
    expect(form.locator("#id_start_time")).to_have_value("08:00")
    # Letters typed into a field are text, not shortcuts.
    form.locator("#id_client_query").focus()
    page.keyboard.type("Tn?/")
    expect(form.locator("#id_client_query")).to_have_value("Tn?/")
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(diary_url(live_server, booking_day))
    page.keyboard.press("Escape")
    expect(panel(page)).to_be_empty()

    # → and ← change the day when focus is outside the grid; T goes to today.
    page.locator("h1.day-title").click()
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(diary_url(live_server, booking_day + timedelta(days=1)))
    page.wait_for_load_state()
    page.keyboard.press("ArrowLeft")
    expect(page).to_have_url(diary_url(live_server, booking_day))
    page.wait_for_load_state()
    page.keyboard.press("t")
    today = datetime.now(PRACTICE_ZONE).date()
    expect(page).to_have_url(diary_url(live_server, today))
    # / searches: the top bar's search box when there is one, else the Clients page.
    page.wait_for_load_state()
    page.keyboard.press("/")
    search = page.locator("#global-search")
    if search.count():
        expect(search).to_be_focused()
    else:
        expect(page).to_have_url(f"{live_server.url}/clients/")


def test_the_booking_length_is_previewed_and_a_gap_too_short_is_flagged(
    page, live_server, front_desk, practitioner_a, appointment_type, location, client_record, booking_day,
):
    from scheduling.services import appointment_book

    appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
                     appointment_type=appointment_type, starts_at=local(booking_day, time(10, 15)), ends_at=None)
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    alice = column(page, practitioner_a)

    # 10:00 is free for 15 minutes only; the type takes 30.
    form = open_panel(page, slot(page, practitioner_a, booking_day, "10:00")).locator("form.booking-form")
    expect(form.locator("#id_appointment_type option:checked")).to_have_text("Standard")
    warning = form.locator("#duration-warning")
    expect(warning).to_have_text("Too short: the next appointment starts at 10:15, only 15 minutes free.")
    expect(form.locator("#id_duration")).to_have_attribute("aria-describedby", "duration-warning")
    preview = alice.locator(".booking-preview")
    expect(preview).to_have_class("booking-preview too-short")
    slot_height = slot(page, practitioner_a, booking_day, "10:00").bounding_box()["height"]
    assert preview.bounding_box()["height"] == pytest.approx(2 * slot_height, abs=1)
    shot(page, "keys-too-short")

    # 15 minutes fits: the warning goes and the preview shrinks.
    form.locator("#id_duration").fill("15")
    expect(warning).to_have_count(0)
    expect(preview).to_have_class("booking-preview")
    assert preview.bounding_box()["height"] == pytest.approx(slot_height, abs=1)

    # A later start that runs past the working day is flagged too, and the preview follows the start.
    form.locator("#id_duration").fill("60")
    form.locator("#id_start_time").fill("16:30")
    expect(warning).to_have_text("Too short: working hours end at 17:00.")
    slot_1630 = slot(page, practitioner_a, booking_day, "16:30").bounding_box()
    assert preview.bounding_box()["y"] == pytest.approx(slot_1630["y"], abs=2)

    form.locator("#id_start_time").fill("10:30")
    expect(warning).to_have_text("This time is already booked (10:15–10:45).")

    # Closing the panel removes the preview.
    page.keyboard.press("Escape")
    expect(alice.locator(".booking-preview")).to_have_count(0)


def test_the_now_line_is_on_today_only(page, live_server, front_desk, practitioner_a, practitioner_b, booking_day):
    # Open all day, so the line is on the grid whenever the test runs.
    practice = Practice.load()
    practice.opens_at, practice.closes_at = time(0), time(23, 59)
    practice.save()
    login(page, live_server, front_desk)
    today = datetime.now(PRACTICE_ZONE).date()
    page.goto(diary_url(live_server, today))
    lines = page.locator(".diary .col .now-line")
    expect(lines).to_have_count(2)
    expect(lines.first).to_be_visible()
    now = datetime.now(PRACTICE_ZONE)
    label = page.locator(".diary .axis .now-label").text_content()
    assert label in {f"{now - timedelta(minutes=1):%H:%M}", f"{now:%H:%M}"}  # the page may have loaded a minute ago
    # The line sits at the current time: minutes since midnight in rows of 15 minutes.
    col_top = column(page, practitioner_a).bounding_box()["y"]
    slot_height = slot(page, practitioner_a, today, "00:00").bounding_box()["height"]
    minutes = now.hour * 60 + now.minute
    assert lines.first.bounding_box()["y"] - col_top == pytest.approx(minutes / 15 * slot_height, abs=4)
    # The day opens scrolled to now (an hour before it, when there is room above).
    scroll_top = page.locator(".diary").evaluate("el => el.scrollTop")
    if minutes >= 120:
        assert scroll_top > 0
    shot(page, "keys-now-line")

    page.goto(diary_url(live_server, booking_day))
    expect(page.locator(".diary .now-line")).to_have_count(0)
    # The week: only today's column.
    page.goto(f"{live_server.url}/diary/week/?date={today.isoformat()}")
    expect(page.locator(".diary .now-line")).to_have_count(1)
    expect(page.locator(".diary .col.today .now-line")).to_be_visible()
    shot(page, "keys-now-line-week")


def test_a_practitioner_lands_on_their_own_column(page, live_server, practitioner_a, practitioner_b, client_record,
                                                  appointment_type, location, booking_day):
    """Alice's column comes first but is not bookable for Bob: the grid's tab stop is in Bob's column."""
    login(page, live_server, practitioner_b.user)
    page.goto(diary_url(live_server, booking_day))
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(slot(page, practitioner_b, booking_day, "08:00")).to_be_focused()
    page.keyboard.press("ArrowLeft")  # Alice's column has nothing to focus at 08:00
    expect(slot(page, practitioner_b, booking_day, "08:00")).to_be_focused()


def test_after_booking_telehealth_the_panel_offers_the_zoom_details(
    page, live_server, zoom, alice_zoom, front_desk, practitioner_a, telehealth_location, appointment_type,
    client_record, booking_day,
):
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    form = open_panel(page, slot(page, practitioner_a, booking_day, "10:00")).locator("form.booking-form")
    form.locator("#id_client_query").fill("Casey")
    form.locator("#client-matches").get_by_role("radio", name="Casey Client").check()
    form.locator("#id_is_telehealth").check()
    form.get_by_role("button", name="Book appointment").click()

    expect_message(page, "Booked Casey Client with Alice Allen at 10:00.")
    appointment = Appointment.objects.get()
    expect(page).to_have_url(f"{diary_url(live_server, booking_day)}&open={appointment.pk}")
    heading = panel(page).locator(".panel-head h2")
    expect(heading).to_have_text(f"Casey Client · {booking_day:%a %d %b} 10:00")
    expect(heading).to_be_focused()
    expect(panel(page).get_by_role("button", name="Send Zoom details by SMS")).to_be_visible()
    expect(panel(page).get_by_role("button", name="Send Zoom details by email")).to_be_visible()
    shot(page, "keys-booked-telehealth")


def test_the_tab_stop_leaves_a_hidden_column(page, live_server, front_desk, practitioner_a, practitioner_b,
                                             booking_day):
    """A phone shows one practitioner at a time: the grid's tab stop and arrows stay on the columns shown."""
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    expect(slot(page, practitioner_a, booking_day, "08:00")).to_have_attribute("tabindex", "0")
    column(page, practitioner_a).evaluate("col => { col.style.display = 'none'; }")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(slot(page, practitioner_b, booking_day, "08:00")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(slot(page, practitioner_b, booking_day, "08:00")).to_be_focused()


def _focus_in_panel(page) -> bool:
    return page.evaluate("() => document.getElementById('panel').contains(document.activeElement)")


def _open_block_from_the_keyboard(page, live_server, front_desk, practitioner_a, book, booking_day, size):
    book(practitioner_a, local(booking_day, time(10)))
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    page.wait_for_load_state()
    count_panel_swaps(page)
    block = column(page, practitioner_a).locator("a.appt")
    block.focus()
    before = swaps(page)
    page.keyboard.press("Enter")
    wait_for_panel(page, before)
    expect(panel(page).locator(".panel-head h2")).to_be_focused()
    return block


def test_on_a_phone_the_panel_sheet_keeps_tab_inside_and_escape_closes_it(
        page, live_server, front_desk, practitioner_a, book, booking_day):
    block = _open_block_from_the_keyboard(page, live_server, front_desk, practitioner_a, book, booking_day,
                                          (390, 844))
    close = panel(page).get_by_role("link", name="Close")
    page.keyboard.press("Tab")  # from the heading to the sheet's first stop
    expect(close).to_be_focused()
    # Tab all the way round: focus never leaves the sheet for the diary hidden behind it, and after the last stop
    # comes the first again. The last one reached is marked, to come back to it with Shift+Tab.
    for _ in range(80):
        page.evaluate("""() => {
            document.querySelectorAll("[data-e2e-last]").forEach((el) => el.removeAttribute("data-e2e-last"));
            document.activeElement.setAttribute("data-e2e-last", "");
        }""")
        page.keyboard.press("Tab")
        assert _focus_in_panel(page)
        if close.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("Tab never came back round to the sheet's close button")
    last = panel(page).locator("[data-e2e-last]")
    assert last.evaluate("el => el !== document.querySelector('#panel .close')")
    page.keyboard.press("Shift+Tab")  # from the first stop back to the last
    expect(last).to_be_focused()
    page.keyboard.press("Tab")
    expect(close).to_be_focused()
    shot(page, "keys-phone-sheet-trap")

    page.keyboard.press("Escape")
    expect(panel(page)).to_be_empty()
    expect(block).to_be_focused()  # back to what opened it


def test_on_a_desktop_the_panel_is_not_modal(page, live_server, front_desk, practitioner_a, book, booking_day):
    _open_block_from_the_keyboard(page, live_server, front_desk, practitioner_a, book, booking_day, (1366, 768))
    page.keyboard.press("Tab")
    expect(panel(page).get_by_role("link", name="Close")).to_be_focused()
    page.keyboard.press("Shift+Tab")  # out of the panel: the diary beside it is still there
    assert not _focus_in_panel(page)
