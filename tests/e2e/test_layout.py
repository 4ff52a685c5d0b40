"""Issue 9 items 1 and 5 (messages): the top bar's menu on a phone, one practitioner's column at a time, the panel
as a full-screen sheet, and compact, dismissible messages that leave the diary grid in view at 1366×768.

Set E2E_SHOTS=/some/dir to keep screenshots.
"""

import re
from datetime import time

from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import (
    column,
    diary_url,
    expect_message,
    local,
    login,
    open_panel,
    panel,
    shot,
)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box is not None
    return box


def _fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_the_phone_menu_button_folds_the_top_bar(page, live_server, front_desk, practitioner_a, booking_day):
    page.set_viewport_size(PHONE)
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    button = page.get_by_role("button", name="Menu")
    nav = page.locator("nav.mainnav")
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(button).to_have_attribute("aria-controls", "topbar-menu")
    expect(nav).to_be_hidden()
    expect(page.locator(".who")).to_be_hidden()
    assert _box(button)["height"] >= 44

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    expect(page.locator(".who-name")).to_be_visible()
    for link in nav.get_by_role("link").all():
        assert _box(link)["height"] >= 44, link.inner_text()
    assert _fits(page)
    shot(page, "layout-menu-open-390")

    # Escape closes it and gives focus back to the button; the keyboard opens it again.
    page.keyboard.press("Escape")
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(nav).to_be_visible()
    nav.get_by_role("link", name="Clients").click()
    expect(page).to_have_url(f"{live_server.url}/clients/")

    # On a desktop the menu is in the bar and there is no button.
    page.set_viewport_size(DESKTOP)
    expect(button).to_be_hidden()
    expect(nav).to_be_visible()


def test_without_javascript_the_phone_menu_wraps_below_the_brand(browser, live_server, front_desk, practitioner_a):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="en-AU")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.locator("#id_username").fill(front_desk.username)
        page.locator("#id_password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/diary/"))
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()
        expect(page.locator("nav.mainnav").get_by_role("link", name="Clients")).to_be_visible()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        assert _fits(page)
        shot(page, "layout-no-js-390")
    finally:
        context.close()


def test_a_phone_shows_one_practitioner_with_a_switcher(page, live_server, front_desk, practitioner_a,
                                                         practitioner_b, book, booking_day):
    book(practitioner_b, local(booking_day, time(10)))
    page.set_viewport_size(PHONE)
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    alice, bob = column(page, practitioner_a), column(page, practitioner_b)
    switcher = page.get_by_label("Practitioner")
    expect(switcher).to_be_visible()
    expect(alice).to_be_visible()
    expect(bob).to_be_hidden()
    assert _fits(page)

    switcher.select_option(label="Bob Brown")  # applies at once (the toolbar's filters submit on change)
    expect(bob).to_be_visible()
    expect(alice).to_be_hidden()
    expect(bob.locator("a.appt")).to_contain_text("Casey Client")
    assert _box(bob)["width"] > 250  # the one column takes the width
    shot(page, "layout-switcher-bob-390")

    # The choice holds for the next day.
    page.get_by_role("link", name="Next day").click()
    expect(page.get_by_label("Practitioner")).to_have_value(str(practitioner_b.pk))
    expect(column(page, practitioner_b)).to_be_visible()

    # Every column and no switcher on a desktop.
    page.set_viewport_size(DESKTOP)
    expect(page.get_by_label("Practitioner")).to_be_hidden()
    expect(column(page, practitioner_a)).to_be_visible()
    expect(column(page, practitioner_b)).to_be_visible()


def test_a_practitioner_sees_their_own_column_first_on_a_phone(page, live_server, practitioner_a, practitioner_b,
                                                              booking_day):
    page.set_viewport_size(PHONE)
    login(page, live_server, practitioner_b.user)
    page.goto(diary_url(live_server, booking_day))
    expect(column(page, practitioner_b)).to_be_visible()
    expect(column(page, practitioner_a)).to_be_hidden()


def test_the_panel_is_a_full_screen_sheet_on_a_phone(page, live_server, front_desk, practitioner_a, book,
                                                    booking_day):
    book(practitioner_a, local(booking_day, time(10)))
    page.set_viewport_size(PHONE)
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    block = column(page, practitioner_a).locator("a.appt")
    sheet = open_panel(page, block)
    box = _box(sheet)
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, PHONE["width"], PHONE["height"])
    # A modal dialog for screen readers, named by its heading; beside the diary on a wider screen, a region.
    heading = sheet.locator(".panel-head h2").inner_text()
    expect(page.get_by_role("dialog", name=heading)).to_have_attribute("aria-modal", "true")
    expect(sheet).not_to_have_attribute("aria-live", "polite")  # a dialog: its heading takes focus instead
    page.set_viewport_size({"width": 1366, "height": 768})
    expect(page.get_by_role("region", name=heading)).to_be_visible()
    expect(sheet).not_to_have_attribute("aria-modal", "true")
    expect(sheet).to_have_attribute("aria-live", "polite")
    page.set_viewport_size(PHONE)
    expect(page.get_by_role("dialog", name=heading)).to_be_visible()
    close = sheet.get_by_role("link", name="Close")
    expect(close).to_be_visible()
    close_box = _box(close)
    assert close_box["width"] >= 44 and close_box["height"] >= 44
    assert _fits(page)
    shot(page, "layout-panel-390")

    # The close button stays in view while the sheet scrolls.
    sheet.evaluate("el => el.scrollTo(0, el.scrollHeight)")
    expect(close).to_be_in_viewport()
    close.click()
    expect(panel(page)).to_be_empty()

    open_panel(page, block)
    page.keyboard.press("Escape")
    expect(panel(page)).to_be_empty()


def test_messages_are_compact_dismissible_and_leave_the_grid_in_view(page, live_server, front_desk, practitioner_a,
                                                                     practitioner_b, book, booking_day):
    book(practitioner_a, local(booking_day, time(10)))
    login(page, live_server, front_desk)  # 1366×768
    page.goto(diary_url(live_server, booking_day))
    open_panel(page, column(page, practitioner_a).locator("a.appt")).get_by_role("button", name="Arrived").click()
    expect_message(page, "Status set to Arrived.")
    message = page.locator(".messages .msg")
    expect(message).to_have_count(1)
    assert _box(message)["height"] <= 40

    # The whole grid is on the screen, under the message; nothing below the fold.
    grid = _box(page.locator(".diary"))
    assert grid["y"] + grid["height"] <= DESKTOP["height"]
    assert grid["height"] >= 400
    assert page.evaluate("() => document.documentElement.scrollHeight <= window.innerHeight")
    shot(page, "layout-message-1366")

    dismiss = message.get_by_role("button", name="Dismiss message")
    dismiss.click()
    expect(page.locator(".messages")).to_have_count(0)
    expect(page.locator("main#main")).to_be_focused()
    assert _box(page.locator(".diary"))["height"] > grid["height"]  # the grid takes the room back
