"""A request the page makes in the background (htmx) that fails must not look like a click that did nothing: the
page says what happened, and whether something may have been saved (static/js/app.js)."""

from datetime import time

import pytest
from playwright.sync_api import expect

from scheduling.models import Appointment
from tests.e2e.conftest import diary_url, local, login, open_panel, panel, save_move, shot


def notice(page):
    return page.locator("#request-problem[role=alert] .msg")


def typed_a_move(page, live_server, front_desk, appointment, booking_day):
    """Logged in, the appointment open in the panel and 11:00 typed in its move form: the panel."""
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    side = open_panel(page, page.locator(f'.diary a.appt[href="/appointments/{appointment.pk}/"]'))
    side.locator("summary", has_text="Move or change time").click()
    side.locator("#id_start_time").fill("11:00")
    return side


def test_a_server_error_opening_the_panel_says_nothing_was_changed(page, live_server, front_desk, practitioner_a,
                                                                   book, booking_day):
    appointment = book(practitioner_a, local(booking_day, time(9)), minutes=30)
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    page.route(f"**/appointments/{appointment.pk}/", lambda route: route.fulfill(status=500, body="Server Error"))
    page.locator(f'.diary a.appt[href="/appointments/{appointment.pk}/"]').click()
    expect(notice(page)).to_contain_text("The server could not answer (error 500). Nothing was changed. "
                                         "Try again in a moment.")
    expect(page).to_have_url(diary_url(live_server, booking_day))
    shot(page, "request-problem")

    # Once the server answers again the panel opens, and the notice can be dismissed.
    page.unroute(f"**/appointments/{appointment.pk}/")
    open_panel(page, page.locator(f'.diary a.appt[href="/appointments/{appointment.pk}/"]'))
    expect(panel(page).locator(".facts")).to_contain_text("09:00–09:30")
    notice(page).get_by_role("button", name="Dismiss message").click()
    expect(notice(page)).to_have_count(0)


@pytest.mark.parametrize("size", [pytest.param((1366, 768), id="desktop"), pytest.param((390, 844), id="phone")])
def test_a_save_that_never_reached_the_server_says_to_check_what_was_saved(page, live_server, front_desk,
                                                                          practitioner_a, book, booking_day, size):
    appointment = book(practitioner_a, local(booking_day, time(9)), minutes=30)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    side = typed_a_move(page, live_server, front_desk, appointment, booking_day)
    page.route(f"**/appointments/{appointment.pk}/move/",
               lambda route: route.abort() if route.request.method == "POST" else route.continue_())
    save_move(side)
    # In the panel, where the user is working: on a phone the panel covers the page.
    problem = side.locator("#request-problem .msg")
    expect(problem).to_contain_text(
        "The app could not be reached: check the connection. It may or may not have been saved: reload the page to "
        "see, then try again if it is not there.")
    expect(problem).to_be_in_viewport()
    shot(page, f"save-problem-{size[0]}")
    expect(side.locator("#id_start_time")).to_have_value("11:00")  # what was typed is still there to try again
    appointment.refresh_from_db()
    assert appointment.starts_at == local(booking_day, time(9))
    assert Appointment.objects.count() == 1


def test_a_refusal_is_shown_in_place_without_the_notice(page, live_server, front_desk, practitioner_a, book,
                                                        booking_day):
    """A 4xx is the server explaining a refusal: its page is shown (base.html's responseHandling), no notice."""
    appointment = book(practitioner_a, local(booking_day, time(9)), minutes=30)
    side = typed_a_move(page, live_server, front_desk, appointment, booking_day)
    page.route(f"**/appointments/{appointment.pk}/move/",
               lambda route: route.fulfill(status=403, content_type="text/html",
                                           body="<p>You may not change this appointment.</p>")
               if route.request.method == "POST" else route.continue_())
    save_move(side)
    expect(side).to_contain_text("You may not change this appointment.")
    expect(notice(page)).to_have_count(0)


def count_request_errors(page) -> None:
    page.evaluate("""() => {
        window.e2eErrors = 0;
        document.addEventListener("htmx:beforeRequest", (e) => e.target.addEventListener(
            "htmx:responseError", () => { window.e2eErrors++; }));
    }""")


def test_a_failing_background_poll_shows_one_notice_above_the_page(page, live_server, front_desk, practitioner_a):
    """The diary's live poll (every 10 s) failing again and again: one notice above the page, not re-announced each
    time."""
    page.clock.install()
    login(page, live_server, front_desk)
    page.route("**/diary/zoom-live/**", lambda route: route.fulfill(status=503, body="Unavailable"))
    page.goto(f"{live_server.url}/diary/")  # today: the page polls for Zoom's news
    expect(page.locator("#zoom-live")).to_be_attached()
    count_request_errors(page)
    page.clock.run_for(10_500)
    box = page.locator("#request-problem.messages")
    expect(box).to_contain_text("The server could not answer (error 503). Nothing was changed.")
    box.evaluate("el => { el.dataset.first = 'yes'; }")
    page.clock.run_for(10_500)
    page.wait_for_function("() => window.e2eErrors >= 2")
    expect(box).to_have_attribute("data-first", "yes")  # the same notice: not removed and announced again
    expect(page.locator("#request-problem")).to_have_count(1)


def test_a_failing_poll_does_not_replace_what_the_user_was_told(page, live_server, front_desk, practitioner_a):
    """The top bar's search failed (a search only reads: nothing was changed); the live poll failing afterwards
    leaves that notice in place."""
    page.clock.install()
    login(page, live_server, front_desk)
    page.route("**/diary/zoom-live/**", lambda route: route.fulfill(status=503, body="Unavailable"))
    page.route("**/clients/quick-search/", lambda route: route.fulfill(status=500, body="Server Error"))
    page.goto(f"{live_server.url}/diary/")
    count_request_errors(page)
    page.locator("#global-search").fill("cas")
    page.clock.run_for(300)  # the search waits 250 ms after typing
    box = page.locator("#request-problem.messages")
    expect(box).to_contain_text("The server could not answer (error 500). Nothing was changed.")
    page.clock.run_for(10_500)
    page.wait_for_function("() => window.e2eErrors >= 2")
    expect(box).to_contain_text("(error 500)")
    expect(page.locator("#request-problem")).to_have_count(1)


def test_a_failed_reopening_of_the_panel_is_said_above_the_page(page, live_server, front_desk, practitioner_a, book,
                                                               booking_day):
    """After a booking the diary reopens the appointment (?open=); the panel is the request's source, and the notice
    goes above the page, not beside the grid."""
    appointment = book(practitioner_a, local(booking_day, time(9)), minutes=30)
    login(page, live_server, front_desk)
    page.route(f"**/appointments/{appointment.pk}/", lambda route: route.fulfill(status=502, body="Bad Gateway"))
    page.goto(diary_url(live_server, booking_day) + f"&open={appointment.pk}")
    expect(page.locator("#request-problem.messages")).to_contain_text("The server could not answer (error 502).")
    expect(page.locator("main #request-problem")).to_have_count(0)


def test_a_save_failing_after_the_panel_was_closed_is_still_said(page, live_server, front_desk, practitioner_a,
                                                                book, booking_day):
    appointment = book(practitioner_a, local(booking_day, time(9)), minutes=30)
    side = typed_a_move(page, live_server, front_desk, appointment, booking_day)
    held = []
    page.route(f"**/appointments/{appointment.pk}/move/",
               lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    save_move(side)
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    side.get_by_role("link", name="Close").click()
    expect(panel(page)).to_be_empty()
    held[0].abort()
    expect(page.locator("#request-problem.messages")).to_contain_text(
        "The app could not be reached: check the connection. It may or may not have been saved")
