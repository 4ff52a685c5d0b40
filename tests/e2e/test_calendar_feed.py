"""Issue 11 item 3 in the browser: a practitioner turns on their calendar feed from the top bar, the link serves
their diary, and the page fits a phone and a desktop and passes axe (both states: off and on)."""

import re
from datetime import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import local, login, shot
from tests.e2e.test_accessibility import _axe, _overflow, _small_targets, page_problems


@pytest.mark.parametrize("size", [pytest.param((1366, 768), id="desktop"), pytest.param((390, 844), id="phone")])
def test_a_practitioner_subscribes_to_their_own_diary(page, live_server, size, practitioner_a, book, booking_day,
                                                      client_record):
    width, height = size
    book(practitioner_a, local(booking_day, time(10)))
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server, practitioner_a.user)
    problems: list[str] = []

    def check(name: str) -> None:
        problems.extend(page_problems(page, name, width))

    if width <= 760:
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="My calendar feed").click()
    expect(page.get_by_role("heading", name="My calendar feed")).to_be_visible()
    check("calendar-feed-off")

    page.get_by_role("button", name="Turn on my calendar feed").click()
    link = page.get_by_label("Add this link to your calendar app")
    expect(link).to_have_value(re.compile(r"/feeds/[\w.-]+\.ics$"))
    url = link.input_value()
    assert url.startswith(f"{live_server.url}/feeds/") and url.endswith(".ics")
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    check("calendar-feed-on")

    feed = page.request.get(url)
    assert feed.status == 200 and feed.headers["content-type"].startswith("text/calendar")
    body = feed.text()
    assert "Standard — C.C." in body and "Client" not in body

    page.get_by_role("button", name="Reset link").click()
    expect(page.locator(".messages")).to_contain_text("has a new link")
    assert page.get_by_label("Add this link to your calendar app").input_value() != url
    assert page.request.get(url).status == 404
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("size", [pytest.param((1366, 768), id="desktop"), pytest.param((390, 844), id="phone")])
def test_an_admin_turns_a_practitioners_feed_off_in_options(page, live_server, size, admin_user, practitioner_a,
                                                             practitioner_b, credits):
    from scheduling.feeds import calendar_feed_enable

    width, height = size
    calendar_feed_enable(actor=practitioner_a.user, practitioner=practitioner_a)
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/options/")
    page.locator("nav.options-menu").get_by_role("link", name="Calendar feeds").click()
    row = page.locator("table.calendar-feed-list tr", has_text="Alice Allen")
    expect(row).to_contain_text("On")
    problems = [f"options-calendar-feeds: {each}" for each in _axe(page)]
    if (too_wide := _overflow(page)) is not None:
        problems.append(too_wide)
    if width <= 760:
        problems.extend(_small_targets(page))
    shot(page, f"options-calendar-feeds-{width}")
    row.get_by_role("button", name="Turn off the calendar feed of Alice Allen").click()
    expect(page.locator(".messages")).to_contain_text("The calendar feed of Alice Allen is off")
    expect(page.locator("table.calendar-feed-list tr", has_text="Alice Allen")).to_contain_text("Off")
    assert not problems, "\n".join(problems)
