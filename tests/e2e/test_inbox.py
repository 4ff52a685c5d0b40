"""Issue 11 item 2: the Inbox at phone and desktop sizes: unread messages stand out, a reply shows its credits as
it is typed and goes out, and the page passes axe and fits the screen."""

import re
from datetime import time

import pytest
from playwright.sync_api import expect

from reminders.inbound import inbound_sms_receive
from reminders.models import Kind, Message
from tests.e2e.conftest import local, login, shot
from tests.e2e.test_accessibility import _axe, _overflow, _small_targets

SIZES = [pytest.param((1366, 768), id="desktop"), pytest.param((390, 844), id="phone")]


@pytest.fixture
def inbox(book, practitioner_a, booking_day, front_desk, credits, client_record):
    from reminders.services import usual_reminder_queue

    appointment = book(practitioner_a, local(booking_day, time(10)))
    usual_reminder_queue(actor=front_desk, appointment=appointment, channel="sms")
    inbound_sms_receive(provider_id="SM" + "1" * 32, from_number=client_record.mobile, body="Y")
    inbound_sms_receive(provider_id="SM" + "2" * 32, from_number="+61498765432", body="Who is this?")
    return inbound_sms_receive(provider_id="SM" + "3" * 32, from_number=client_record.mobile,
                               body="Running ten minutes late, sorry")


@pytest.mark.parametrize("size", SIZES)
def test_the_inbox_reads_and_replies(page, live_server, size, inbox, front_desk, sms_outbox):
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server, front_desk)
    page.goto(f"{live_server.url}/inbox/")
    unread = page.locator(".inbox-item.unread")
    expect(unread).to_have_count(2)
    expect(unread.first).to_contain_text("Running ten minutes late, sorry")
    expect(page.locator(".inbox-item").filter(has_text="Confirmed the appointment")).to_have_count(1)
    problems = [f"inbox: {each}" for each in _axe(page)]
    if (too_wide := _overflow(page)) is not None:
        problems.append(f"inbox: {too_wide}")
    if width <= 760:
        problems.extend(f"inbox: touch target {each}" for each in _small_targets(page))
        page.get_by_role("button", name="Menu").click()
    expect(page.locator(".inbox-link .count")).to_have_text("2")
    shot(page, f"inbox-{width}")

    page.goto(f"{live_server.url}/inbox/{inbox.pk}/")
    page.get_by_label(re.compile("Reply to")).fill("x" * 161)
    expect(page.locator("#reply-preview")).to_contain_text("2 credits")
    problems.extend(f"inbox message: {each}" for each in _axe(page))
    if (too_wide := _overflow(page)) is not None:
        problems.append(f"inbox message: {too_wide}")
    shot(page, f"inbox-message-{width}")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator(".messages")).to_contain_text("The reply was sent (2 credits).")
    expect(page.locator(".inbox-item.unread")).to_have_count(1)
    assert Message.objects.filter(kind=Kind.REPLY, credits=2).count() == 1
    assert not problems, "\n".join(problems)


def test_reply_as_a_client_on_the_development_page(page, live_server, settings, book, practitioner_a, booking_day,
                                                   front_desk, credits, client_record):
    """`make run`'s way to try two-way SMS: the page signs the reply like Twilio and posts it to the real webhook."""
    from reminders.services import usual_reminder_queue

    settings.SMS_BACKEND = "console"  # development: the page is there
    settings.TWILIO_AUTH_TOKEN = "development-token"
    appointment = book(practitioner_a, local(booking_day, time(10)))
    usual_reminder_queue(actor=front_desk, appointment=appointment, channel="sms")
    login(page, live_server, front_desk)
    page.goto(f"{live_server.url}/inbox/")
    page.get_by_role("link", name="Reply as a client (development)").click()
    page.get_by_label("Answer this SMS").select_option(index=1)
    page.get_by_label("Reply", exact=True).fill("yes")
    page.get_by_role("button", name="Send as the client").click()
    expect(page.locator(".messages")).to_contain_text("Reply received: confirmed the appointment")
    appointment.refresh_from_db()
    assert appointment.confirmed_via == "sms"
