"""Moving appointments on the diary: drag, resize, keyboard; the R7/R8 consequences confirmed first; Undo.

Zoom is the local emulator (tests/zoom_fixtures.py); on the live server's transactional database the after-commit
Zoom calls run for real, during the request.
"""

import re
from datetime import time, timedelta

import pytest
from playwright.sync_api import expect

from scheduling.models import Appointment, Status
from scheduling.services import appointment_book
from tests.e2e.conftest import column, diary_url, expect_message, local, login, open_panel, shot

PHONE = {"width": 390, "height": 844}


def live_meetings(zoom) -> dict:
    with zoom.lock:
        return {meeting_id: dict(meeting) for meeting_id, meeting in zoom.state.meetings.items()}


@pytest.fixture
def plain_appointment(front_desk, practitioner_a, location, appointment_type, client_record, booking_day):
    """Casey's ordinary 30-minute appointment with Alice next Monday at 10:00."""
    return appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
                            appointment_type=appointment_type, starts_at=local(booking_day, time(10))).appointment


def row_height(page) -> float:
    return page.locator(".diary .slot").first.bounding_box()["height"]


def drag(page, block, *, rows: int = 0, to_column=None, edge: bool = False) -> None:
    """Drag a block (or, with ``edge``, its bottom edge) ``rows`` rows down and, optionally, into another column."""
    box = block.bounding_box()
    x = box["x"] + box["width"] / 2
    y = box["y"] + (box["height"] - 3 if edge else min(12, box["height"] / 2))
    target_x = x
    if to_column is not None:
        target = to_column.bounding_box()
        target_x = target["x"] + target["width"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y + 10, steps=2)
    page.mouse.move(target_x, y + rows * row_height(page), steps=8)
    page.mouse.up()


def dialog(page):
    return page.locator("dialog#move-dialog")


def assert_accessible(page, selector: str) -> None:
    """axe-core finds no critical or serious problem in what this module adds (the rest of the page is not ours)."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page, context=selector).response["violations"]
    serious = [(v["id"], v["impact"], [n["html"][:120] for n in v["nodes"]]) for v in violations
               if v["impact"] in ("critical", "serious")]
    assert serious == [], serious


def test_drag_a_telehealth_appointment_confirm_r7_then_undo(
    page, live_server, zoom, telehealth_appointment, front_desk, practitioner_a, booking_day,
):
    first_meeting = telehealth_appointment.zoom_meeting.zoom_id
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    alice = column(page, practitioner_a)
    block = alice.locator("a.appt")
    expect(block.locator(".t")).to_have_text("10:00–10:30")

    drag(page, block, rows=4)

    box = dialog(page)
    expect(box).to_be_visible()
    expect(box.locator("h2")).to_have_text("Move Casey Client?")
    expect(box).to_contain_text(f"To {booking_day:%a} {booking_day.day} {booking_day:%b}, 11:00–11:30 with Alice Allen")
    expect(box.locator(".move-consequence")).to_have_text(
        "The Zoom meeting will be re-created; the old link, meeting ID and passcode stop working.")
    expect(alice.locator(".move-ghost")).to_contain_text("11:00–11:30")
    expect(page.locator(".panel")).to_be_hidden()  # the drag's click did not open the appointment
    shot(page, "move-01-drag-r7-confirm")
    assert_accessible(page, "#move-dialog")
    box.get_by_role("button", name="Save move").click()

    expect_message(page, "Appointment moved. Undo moves it back to")
    moved = page.locator(".messages .msg", has_text="Appointment moved.")
    expect(moved).to_contain_text("and creates another new Zoom meeting; this one stops working.")
    expect(page.locator(".messages")).to_contain_text("The Zoom meeting was re-created for the new time.")
    expect(alice.locator("a.appt .t")).to_have_text("11:00–11:30")
    undo = moved.get_by_role("button", name=re.compile(r"^Undo \(\d+ s\)$"))
    expect(undo).to_be_visible()
    shot(page, "move-02-moved-with-undo")
    assert_accessible(page, ".messages")
    appointment = Appointment.objects.select_related("zoom_meeting").get(pk=telehealth_appointment.pk)
    assert appointment.starts_at == local(booking_day, time(11))
    second_meeting = appointment.zoom_meeting.zoom_id
    assert list(live_meetings(zoom)) == [second_meeting] and second_meeting != first_meeting

    undo.click()

    expect_message(page, "Undone: the appointment is back where it was.")
    expect(alice.locator("a.appt .t")).to_have_text("10:00–10:30")
    expect(page.locator(".undo-form")).to_have_count(0)
    appointment = Appointment.objects.select_related("zoom_meeting").get(pk=telehealth_appointment.pk)
    assert appointment.starts_at == local(booking_day, time(10))
    assert appointment.is_telehealth
    assert list(live_meetings(zoom)) == [appointment.zoom_meeting.zoom_id]  # a third meeting, at 10:00 again
    assert appointment.zoom_meeting.zoom_id not in (first_meeting, second_meeting)


def test_drag_to_another_practitioner_warns_r8_and_cancel_changes_nothing(
    page, live_server, zoom, telehealth_appointment, front_desk, practitioner_a, practitioner_b, booking_day,
):
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    alice, bob = column(page, practitioner_a), column(page, practitioner_b)

    drag(page, alice.locator("a.appt"), to_column=bob)

    box = dialog(page)
    expect(box.locator(".move-consequence li")).to_have_text([
        "Telehealth will be removed: the Zoom meeting is deleted and Telehealth unticked. The client is not notified.",
        "The location changes from Telehealth to Clinic.",
    ])
    expect(bob.locator(".move-ghost")).to_contain_text("10:00–10:30, Bob Brown")
    shot(page, "move-03-drag-r8-confirm")
    box.get_by_role("button", name="Don’t move").click()

    expect(box).to_be_hidden()
    expect(page.locator(".move-ghost")).to_have_count(0)
    expect(alice.locator("a.appt .t")).to_have_text("10:00–10:30")
    expect(bob.locator("a.appt")).to_have_count(0)
    appointment = Appointment.objects.get(pk=telehealth_appointment.pk)
    assert appointment.practitioner == practitioner_a and appointment.is_telehealth
    assert len(live_meetings(zoom)) == 1

    # The panel's move form says the same before its Save (the issue: R8 used to come as a surprise after it).
    panel = open_panel(page, alice.locator("a.appt"))
    panel.locator("details.section > summary", has_text="Move or change time").click()
    panel.locator("#id_practitioner").select_option(label="Bob Brown")
    expect(panel.locator(".move-preview")).to_contain_text(
        "Telehealth will be removed: the Zoom meeting is deleted and Telehealth unticked.")
    expect(panel.locator(".move-preview")).to_contain_text("The location changes from Telehealth to Clinic.")
    panel.get_by_role("button", name="Save move").scroll_into_view_if_needed()
    shot(page, "move-08-panel-r8-preview")


def test_resize_by_the_bottom_edge_and_a_click_still_opens_the_appointment(
    page, live_server, plain_appointment, front_desk, practitioner_a, booking_day,
):
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    alice = column(page, practitioner_a)
    block = alice.locator("a.appt")

    drag(page, block, rows=2, edge=True)

    box = dialog(page)
    expect(box).to_contain_text(f"To {booking_day:%a} {booking_day.day} {booking_day:%b}, 10:00–11:00 with Alice Allen")
    expect(box.locator(".move-consequence")).to_have_count(0)
    box.get_by_role("button", name="Save move").click()

    expect_message(page, "Appointment moved. Undo moves it back to")
    expect(alice.locator("a.appt .t")).to_have_text("10:00–11:00")
    plain_appointment.refresh_from_db()
    assert plain_appointment.ends_at == local(booking_day, time(11))

    # A plain click is still a click: the appointment opens in the panel.
    panel = open_panel(page, alice.locator("a.appt"))
    expect(panel.locator(".panel-head h2")).to_contain_text("Casey Client")


def test_drag_to_another_day_in_the_week_view(page, live_server, plain_appointment, front_desk, practitioner_a,
                                              booking_day):
    login(page, live_server, front_desk)
    page.goto(f"{live_server.url}/diary/week/?date={booking_day.isoformat()}&practitioner={practitioner_a.pk}")
    tuesday = booking_day + timedelta(days=1)
    tuesday_column = page.locator(f'.diary .col[data-date="{tuesday.isoformat()}"]')

    drag(page, page.locator("a.appt"), rows=-2, to_column=tuesday_column)

    box = dialog(page)
    expect(box).to_contain_text(f"To {tuesday:%a} {tuesday.day} {tuesday:%b}, 09:30–10:00 with Alice Allen")
    box.get_by_role("button", name="Save move").click()

    expect_message(page, "Appointment moved.")
    expect(page).to_have_url(re.compile(r"/diary/week/\?date="))  # back on the week it was dragged in
    expect(tuesday_column.locator("a.appt .t")).to_have_text("09:30–10:00")
    plain_appointment.refresh_from_db()
    assert plain_appointment.starts_at == local(tuesday, time(9, 30))


def test_keyboard_move_on_a_phone(page, live_server, plain_appointment, front_desk, practitioner_a,
                                  practitioner_b, booking_day):
    page.set_viewport_size(PHONE)
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    alice, bob = column(page, practitioner_a), column(page, practitioner_b)
    block = alice.locator("a.appt")
    block.focus()

    page.keyboard.press("m")
    expect(page.locator("#move-status")).to_contain_text("Moving to 10:00–10:30, Alice Allen.")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("ArrowRight")  # a phone shows one practitioner: there is no column to the right
    expect(page.locator("#move-status")).to_contain_text("Moving to 10:30–11:15, Alice Allen.")
    expect(alice.locator(".move-ghost")).to_be_visible()
    expect(bob).to_be_hidden()
    page.keyboard.press("Escape")  # changes its mind
    expect(page.locator(".move-ghost")).to_have_count(0)
    expect(block).to_be_focused()

    page.keyboard.press("m")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    box = dialog(page)
    expect(box).to_contain_text("10:15–10:45 with Alice Allen")
    expect(box.get_by_role("button", name="Save move")).to_be_focused()
    shot(page, "move-04-phone-keyboard-confirm")
    assert_accessible(page, "#move-dialog")
    page.keyboard.press("Enter")

    expect_message(page, "Appointment moved.")
    expect(alice.locator("a.appt .t")).to_have_text("10:15–10:45")
    expect(alice.locator("a.appt")).to_be_focused()  # where the keyboard left it
    shot(page, "move-05-phone-moved")
    plain_appointment.refresh_from_db()
    assert plain_appointment.starts_at == local(booking_day, time(10, 15))

    # Ctrl+Z while Undo is offered.
    page.keyboard.press("Control+z")
    expect_message(page, "Undone: the appointment is back where it was.")
    expect(alice.locator("a.appt .t")).to_have_text("10:00–10:30")


def test_move_from_the_panel_and_undo_a_cancel(page, live_server, plain_appointment, front_desk, practitioner_a,
                                               booking_day):
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    alice = column(page, practitioner_a)

    panel = open_panel(page, alice.locator("a.appt"))
    shot(page, "move-06-panel-move-button")
    panel.get_by_role("button", name="Move on the diary").click()
    expect(panel).to_be_hidden()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    dialog(page).get_by_role("button", name="Save move").click()
    expect_message(page, "Appointment moved.")
    expect(alice.locator("a.appt .t")).to_have_text("09:45–10:15")

    # The panel's own move form says what a change would do before Save.
    panel = open_panel(page, alice.locator("a.appt"))
    panel.locator("details.section > summary", has_text="Move or change time").click()
    panel.locator("#id_start_time").fill("18:00")
    panel.locator("#id_start_time").dispatch_event("change")
    expect(panel.locator(".move-preview")).to_contain_text("This is outside Alice Allen's working hours.")
    shot(page, "move-07-panel-preview")

    panel.locator("details.section > summary", has_text="Cancel appointment").click()
    panel.get_by_role("button", name="Cancel appointment").click()
    expect_message(page, "Appointment cancelled. The time is free to book again. Undo reinstates it.")
    expect(alice.locator("a.appt")).to_have_count(0)
    page.locator(".messages").get_by_role("button", name=re.compile("^Undo")).click()

    expect_message(page, "Undone: the appointment is booked again.")
    expect(alice.locator("a.appt .t")).to_have_text("09:45–10:15")
    plain_appointment.refresh_from_db()
    assert plain_appointment.status == Status.BOOKED


def touch_drag(page, block, *, rows: int, hold_ms: int = 500) -> None:
    """A finger on a phone: press and hold on the block, then drag it ``rows`` rows down."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})
    box = block.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + min(12, box["height"] / 2)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    page.wait_for_timeout(hold_ms)
    height = row_height(page)
    for step in range(1, 9):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove",
                                              "touchPoints": [{"x": x, "y": y + rows * height * step / 8}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_touch_drag_on_a_phone_after_press_and_hold(page, live_server, plain_appointment, front_desk,
                                                    practitioner_a, booking_day):
    page.set_viewport_size(PHONE)
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    alice = column(page, practitioner_a)
    # A quick swipe over the block is not a drag (it scrolls the page, as a swipe does).
    touch_drag(page, alice.locator("a.appt"), rows=3, hold_ms=0)
    page.wait_for_timeout(600)
    expect(dialog(page)).to_be_hidden()
    expect(page.locator(".move-ghost")).to_have_count(0)
    # The block in the middle of the grid, away from the edges where a drag scrolls the grid.
    alice.locator("a.appt").evaluate("block => block.scrollIntoView({block: 'center'})")
    scrolled = page.locator(".diary").evaluate("grid => grid.scrollTop")

    touch_drag(page, alice.locator("a.appt"), rows=3)

    box = dialog(page)
    expect(box).to_contain_text(f"To {booking_day:%a} {booking_day.day} {booking_day:%b}, 10:45–11:15")
    assert page.locator(".diary").evaluate("grid => grid.scrollTop") == scrolled  # the finger moved the block
    shot(page, "move-06-phone-touch-confirm")
    box.get_by_role("button", name="Save move").click()
    expect_message(page, "Appointment moved.")
    expect(alice.locator("a.appt .t")).to_have_text("10:45–11:15")


def test_keyboard_move_of_a_telehealth_appointment_on_a_phone_confirms_r7_and_undoes(
    page, live_server, zoom, telehealth_appointment, front_desk, practitioner_a, booking_day,
):
    page.set_viewport_size(PHONE)
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    alice = column(page, practitioner_a)
    alice.locator("a.appt").focus()

    page.keyboard.press("m")
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")

    box = dialog(page)
    expect(box.locator(".move-consequence")).to_have_text(
        "The Zoom meeting will be re-created; the old link, meeting ID and passcode stop working.")
    shot(page, "move-09-phone-keyboard-r7")
    box.get_by_role("button", name="Save move").click()

    expect_message(page, "and creates another new Zoom meeting; this one stops working.")
    expect(alice.locator("a.appt .t")).to_have_text("11:00–11:30")
    page.locator(".messages").get_by_role("button", name=re.compile("^Undo")).click()

    expect_message(page, "Undone: the appointment is back where it was.")
    expect(alice.locator("a.appt .t")).to_have_text("10:00–10:30")
    appointment = Appointment.objects.select_related("zoom_meeting").get(pk=telehealth_appointment.pk)
    assert appointment.starts_at == local(booking_day, time(10)) and appointment.is_telehealth
    assert list(live_meetings(zoom)) == [appointment.zoom_meeting.zoom_id]


def test_the_move_form_answers_a_change_made_the_moment_it_appears(
    page, live_server, telehealth_appointment, front_desk, practitioner_a, practitioner_b, booking_day,
):
    """The panel asks for its move form when the section opens. The form must be wired up as it appears: a change
    made at once (by a script here, the fastest hand there is) still gets its preview, R8 said before Save."""
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    panel = open_panel(page, column(page, practitioner_a).locator("a.appt"))
    page.evaluate("""(name) => {
        new MutationObserver((changes, observer) => {
            const select = document.querySelector("#panel #id_practitioner");
            if (!select) return;
            observer.disconnect();
            select.value = [...select.options].find((option) => option.text === name).value;
            select.dispatchEvent(new Event("change", { bubbles: true }));
        }).observe(document.getElementById("panel"), { childList: true, subtree: true });
    }""", "Bob Brown")
    panel.locator("details.section > summary", has_text="Move or change time").click()
    expect(panel.locator(".move-preview")).to_contain_text(
        "Telehealth will be removed: the Zoom meeting is deleted and Telehealth unticked.")
