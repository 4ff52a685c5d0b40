"""Reminder journeys: the front desk sends a telehealth appointment's Zoom details by SMS and email and sees
them logged and paid for; a practice admin edits the usual SMS template and sees what it will cost; the front
desk sends the usual reminders for a day in bulk, which never sends Zoom details.

SMS go to the in-memory outbox (tests/conftest.py's ``sms_outbox``), email to Django's ``mail.outbox``; both are
filled by the live server's thread in this process, where Celery runs the send tasks inline after the commit.
Zoom is the local emulator (devtools/zoom_emulator.py), as in test_telehealth.py.

Set REMINDERS_SHOTS=/some/dir (e.g. /tmp/reminders-shots) to keep screenshots of the key screens.
"""

import re
from datetime import time

import pytest
from playwright.sync_api import expect

from practice.models import Client
from reminders.models import Channel, CreditEntry, Kind, Message, MessageStatus, UsualTemplate
from reminders.services import credits_balance
from reminders.usual import DEFAULTS
from tests.e2e.conftest import column, diary_url, expect_message, local, login, open_panel, shot
from tests.zoom_fixtures import zoom_meetings

# > 160 characters once merged with the preview's sample values (236): two GSM-7 segments.
LONG_SMS = ("Hi {first_name}, this is a reminder of your appointment with {practitioner} on {date} at {time} at "
            "{location}, {location_address}. Please arrive 10 minutes early. To change it call {practice_phone}. "
            "{practice_name}")
PRACTICE_PHONE = "02 9000 1234"
CASEY_MOBILE = "0412 345 678"  # client_record's mobile, stored E.164, shown nationally everywhere on screen


def topbar_credits(page):
    return page.locator("header.topbar a.credits")


@pytest.fixture
def practice_phone(practice):
    practice.phone = PRACTICE_PHONE
    practice.save()
    return practice


def test_front_desk_sends_zoom_details_by_sms_and_email(
    page, live_server, zoom, credits, practice_phone, telehealth_appointment, front_desk, practitioner_a,
    booking_day, sms_outbox, mailoutbox,
):
    meeting = telehealth_appointment.zoom_meeting
    in_zoom = zoom_meetings(zoom)[meeting.zoom_id]
    join_url, passcode = in_zoom["join_url"], in_zoom["password"]
    assert (meeting.join_url, meeting.passcode) == (join_url, passcode)

    login(page, live_server, front_desk)
    expect(topbar_credits(page)).to_have_text("100 SMS credits")
    page.goto(diary_url(live_server, booking_day))
    block = column(page, practitioner_a).locator("a.appt")
    expect(block.locator(".badges .badge")).to_have_text("Zoom")

    # 1. From the diary's side panel: the Zoom details by SMS, for the fixed 2 credits.
    box = open_panel(page, block).locator("section.messages-box")
    expect(box.locator("h3")).to_have_text("Messages")
    expect(box).to_contain_text("No messages yet.")
    sms_button = box.get_by_role("button", name="Send Zoom details by SMS")
    expect(sms_button).to_have_text(re.compile(r"Send Zoom details by SMS\s*\(2 credits\)"))
    expect(box.get_by_role("button", name="Send Zoom details by email")).to_be_visible()
    shot(page, "01-front-desk-panel-send-buttons", "REMINDERS_SHOTS")
    sms_button.click()

    # htmx follows HX-Redirect back to the day, where the message says what was sent and what it cost.
    expect_message(page, "Zoom details SMS (2 credits) to ")
    expect(page.locator(".messages .msg-success")).to_have_text(
        re.compile(rf"Zoom details SMS \(2 credits\) to {CASEY_MOBILE}: Sent\."))
    expect(page).to_have_url(re.compile(rf"/diary/\?date={booking_day.isoformat()}&open={telehealth_appointment.pk}$"))
    expect(page.locator(".messages .msg-error")).to_have_count(0)
    expect(topbar_credits(page)).to_have_text("98 SMS credits")
    shot(page, "02-front-desk-sms-sent-98-credits", "REMINDERS_SHOTS")

    # The panel the send came from opens again by itself, with the log.
    box = page.locator("#panel section.messages-box")
    rows = box.locator("table.messages-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Telehealth details · SMS · 2 credits")
    expect(rows.first.locator("td").nth(2)).to_have_text("0412 345 678")  # the national format on screen
    expect(rows.first.locator(".status")).to_have_text("Sent")
    shot(page, "03-front-desk-panel-log-sms", "REMINDERS_SHOTS")

    [sms] = sms_outbox
    assert sms.to == "+61412345678"
    assert join_url in sms.body
    assert f"Passcode: {passcode}" in sms.body
    assert f"Meeting ID: {meeting.formatted_id}" in sms.body
    assert "Hi Casey," in sms.body and "Client" not in sms.body  # the first name only
    assert mailoutbox == []

    # 2. From the appointment's own page (no htmx): the Zoom details by email, free.
    page.goto(f"{live_server.url}/appointments/{telehealth_appointment.pk}/")
    box = page.locator("section.messages-box")
    expect(box.locator("table.messages-table tbody tr")).to_have_count(1)
    box.get_by_role("button", name="Send Zoom details by email").click()

    expect_message(page, "Zoom details email to casey@example.com: Sent.")
    expect(page).to_have_url(f"{live_server.url}/appointments/{telehealth_appointment.pk}/")
    expect(topbar_credits(page)).to_have_text("98 SMS credits")  # email costs no credits
    rows = page.locator("section.messages-box table.messages-table tbody tr")
    expect(rows).to_have_count(2)
    email_row = rows.filter(has_text="Telehealth details · Email")
    expect(email_row).to_have_count(1)
    expect(email_row).not_to_contain_text("credit")
    expect(email_row).to_contain_text("casey@example.com")
    expect(email_row.locator(".status")).to_have_text("Sent")
    sms_row = rows.filter(has_text="Telehealth details · SMS · 2 credits")
    expect(sms_row.locator(".status")).to_have_text("Sent")
    shot(page, "04-front-desk-appointment-log-sms-and-email", "REMINDERS_SHOTS")

    assert len(sms_outbox) == 1  # the email sent no second SMS
    [email] = mailoutbox
    assert email.to == ["casey@example.com"]
    assert join_url in email.body and passcode in email.body
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html" and join_url in html
    assert [attachment[0] for attachment in email.attachments] == ["telehealth-appointment.ics"]

    # 3. The Messages page lists both, newest first, sent by the front desk.
    page.locator("nav.mainnav").get_by_role("link", name="Messages", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/messages/")
    expect(page.locator("h1")).to_have_text("Messages")
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Telehealth details · Email")
    expect(rows.nth(1)).to_contain_text("Telehealth details · SMS")
    for row in (rows.nth(0), rows.nth(1)):
        expect(row).to_contain_text("Casey Client")
        expect(row.locator(".status")).to_have_text("Sent")
        expect(row).to_contain_text("Frontdesk")
    expect(rows.nth(0).locator("td").nth(3)).to_have_text("casey@example.com")
    expect(rows.nth(1).locator("td").nth(3)).to_have_text("0412 345 678")
    expect(rows.nth(1).locator("td").nth(4)).to_have_text("2")  # credits
    expect(rows.nth(0).locator("td").nth(4)).to_have_text("")
    shot(page, "05-front-desk-messages-page", "REMINDERS_SHOTS")

    sent = Message.objects.order_by("pk")
    assert [(m.kind, m.channel, m.credits, m.status) for m in sent] == [
        (Kind.TELEHEALTH, Channel.SMS, 2, MessageStatus.SENT),
        (Kind.TELEHEALTH, Channel.EMAIL, 0, MessageStatus.SENT),
    ]
    assert credits_balance() == 98
    assert list(CreditEntry.objects.filter(reason=CreditEntry.Reason.DEBIT).values_list("amount", "message")) == [
        (-2, sent[0].pk)]


def test_admin_edits_the_usual_sms_template_and_sees_the_credit_count(page, live_server, credits, admin_user):
    login(page, live_server, admin_user)
    expect(topbar_credits(page)).to_have_text("100 SMS credits")
    page.locator("nav.mainnav").get_by_role("link", name="Options", exact=True).click()
    page.get_by_role("navigation", name="Options").get_by_role("link", name="Reminder templates").click()

    expect(page).to_have_url(f"{live_server.url}/reminders/templates/")
    expect(page.locator("h1")).to_have_text("Reminder templates")
    expect(page.locator("main")).to_contain_text("fixed and cannot be edited")
    expect(page.locator("main")).not_to_contain_text("Join on Zoom")  # the telehealth text itself is not offered
    body = page.locator("#id_sms-body")
    expect(body).to_have_value(DEFAULTS["sms"][1])
    preview = page.locator("#sms-preview")
    expect(preview.locator(".credit-count")).to_have_text("1 credit")
    expect(preview.locator(".sms-text")).to_contain_text("Hi Olivia,")  # sample values
    shot(page, "06-admin-templates-1-credit", "REMINDERS_SHOTS")

    # A mistyped merge field: the live preview says so instead of counting.
    body.fill("Hi {firstname}, see you soon")
    expect(preview.locator(".error")).to_contain_text("Unknown merge field: {firstname}")
    expect(preview.locator(".credit-count")).to_have_count(0)

    # A long text: the live preview counts 2 credits.
    body.fill(LONG_SMS)
    expect(preview.locator(".credit-count")).to_have_text("2 credits")
    expect(preview).to_contain_text("2 segments (GSM-7)")
    expect(preview.locator(".sms-text")).to_contain_text("Please arrive 10 minutes early.")
    shot(page, "07-admin-templates-2-credits", "REMINDERS_SHOTS")

    # Back to short and long again: the count follows the typing both ways.
    body.fill("Hi {first_name}, see you on {date} at {time}.")
    expect(preview.locator(".credit-count")).to_have_text("1 credit")
    body.fill(LONG_SMS)
    expect(preview.locator(".credit-count")).to_have_text("2 credits")

    page.get_by_role("button", name="Save templates").click()
    expect_message(page, "Reminder templates saved.")
    expect(page).to_have_url(f"{live_server.url}/reminders/templates/")
    expect(page.locator("#id_sms-body")).to_have_value(LONG_SMS)
    expect(page.locator("#sms-preview .credit-count")).to_have_text("2 credits")
    shot(page, "08-admin-templates-saved", "REMINDERS_SHOTS")

    page.reload()
    expect(page.locator("#id_sms-body")).to_have_value(LONG_SMS)
    sms_template = UsualTemplate.objects.get(channel=Channel.SMS)
    assert sms_template.body == LONG_SMS
    assert sms_template.updated_by == admin_user
    email_template = UsualTemplate.objects.get(channel=Channel.EMAIL)
    assert (email_template.subject, email_template.body) == DEFAULTS["email"]  # untouched, line breaks included


def test_front_desk_sends_the_usual_reminders_for_a_day_by_sms_only(
    page, live_server, credits, practice_phone, telehealth_appointment, book, front_desk, practitioner_b,
    booking_day, sms_outbox, mailoutbox,
):
    jordan = Client.objects.create(first_name="Jordan", last_name="Lee", mobile="+61400111222",
                                   email="jordan@example.com")
    clinic_appointment = book(practitioner_b, local(booking_day, time(11)), client=jordan)
    join_url = telehealth_appointment.zoom_meeting.join_url

    login(page, live_server, front_desk)
    page.locator("nav.mainnav").get_by_role("link", name="Reminders", exact=True).click()
    expect(page.locator("h1")).to_have_text("Reminders")
    page.goto(f"{live_server.url}/reminders/?day={booking_day.isoformat()}")
    expect(page.locator("main")).to_contain_text(f"The usual reminders for {booking_day:%A} {booking_day.day} "
                                                 f"{booking_day:%B %Y}.")
    expect(page.locator("main")).to_contain_text("Telehealth Zoom details are sent from each appointment, never "
                                                 "from here.")
    rows = page.locator("table.reminders-table tbody tr")
    expect(rows).to_have_count(2)
    casey, jordan_row = rows.filter(has_text="Casey Client"), rows.filter(has_text="Jordan Lee")
    expect(casey).to_contain_text("10:00")
    expect(casey.locator(".badge")).to_have_text("Zoom")
    expect(casey).to_contain_text("0412 345 678 · casey@example.com")
    expect(jordan_row).to_contain_text("11:00")
    for row in (casey, jordan_row):
        expect(row).to_contain_text("SMS · Email")  # what the client prefers
        expect(row.locator("td").last).to_have_text("—")  # nothing sent yet
        expect(row.locator("input[name=appointments]")).not_to_be_checked()

    # Select all with the header box; send by SMS only.
    page.get_by_role("checkbox", name="Select all").check()
    for row in (casey, jordan_row):
        expect(row.locator("input[name=appointments]")).to_be_checked()
    channels = page.locator(".bulk-actions")
    expect(channels.get_by_role("checkbox", name="SMS", exact=True)).to_be_checked()
    expect(channels.get_by_role("checkbox", name="Email", exact=True)).to_be_checked()
    channels.get_by_role("checkbox", name="Email", exact=True).uncheck()
    expect(page.get_by_role("checkbox", name="Send again to those already reminded")).not_to_be_checked()
    shot(page, "09-front-desk-reminders-selected", "REMINDERS_SHOTS")
    page.get_by_role("button", name="Send usual reminders to selected").click()

    expect_message(page, "2 reminder(s) queued; 0 already sent for that time were skipped.")
    expect(page).to_have_url(f"{live_server.url}/reminders/?day={booking_day.isoformat()}")
    expect(page.locator(".messages .msg-warning")).to_have_count(0)
    for row in (casey, jordan_row):
        expect(row.locator("td").last).to_have_text("Usual reminder SMS: Sent")
    expect(page.locator("table.reminders-table")).not_to_contain_text("Telehealth details")
    expect(topbar_credits(page)).to_have_text("98 SMS credits")  # two 1-segment SMS
    shot(page, "10-front-desk-reminders-sent", "REMINDERS_SHOTS")

    # Only usual reminders, only by SMS: no Zoom details from this screen (R13).
    messages = Message.objects.order_by("appointment__starts_at")
    assert [(m.appointment_id, m.kind, m.channel, m.status, m.credits) for m in messages] == [
        (telehealth_appointment.pk, Kind.USUAL, Channel.SMS, MessageStatus.SENT, 1),
        (clinic_appointment.pk, Kind.USUAL, Channel.SMS, MessageStatus.SENT, 1),
    ]
    assert not Message.objects.filter(kind=Kind.TELEHEALTH).exists()
    assert mailoutbox == []
    by_number = {sms.to: sms.body for sms in sms_outbox}
    assert sorted(by_number) == ["+61400111222", "+61412345678"]
    # The telehealth client's usual reminder names no street address and carries no Zoom details (R15).
    assert by_number["+61412345678"] == (
        f"Hi Casey, a reminder of your appointment with Alice Allen on {booking_day:%a} {booking_day.day} "
        f"{booking_day:%b} at 10:00, Telehealth (online). To change it call {PRACTICE_PHONE}. Test Practice")
    assert join_url not in by_number["+61412345678"]
    assert "Clinic" in by_number["+61400111222"]

    # Sending again without "Send again" skips both: each appointment time is reminded once.
    page.get_by_role("checkbox", name="Select all").check()
    page.locator(".bulk-actions").get_by_role("checkbox", name="Email", exact=True).uncheck()
    page.get_by_role("button", name="Send usual reminders to selected").click()
    expect_message(page, "0 reminder(s) queued; 2 already sent for that time were skipped.")
    expect(topbar_credits(page)).to_have_text("98 SMS credits")
    assert Message.objects.count() == 2 and len(sms_outbox) == 2



# 160 characters with the preview's sample values when its 3 line breaks are LF: exactly 1 segment.
MULTILINE_SMS = ("Hi {first_name},\nYour appointment with {practitioner} is on {date} at {time}.\n"
                 "Please call {practice_phone} if you need to change it. Thank you\n{practice_name}")


def test_admin_saves_a_multiline_sms_template_at_the_credit_count_the_preview_showed(page, live_server, admin_user):
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/reminders/templates/")
    preview = page.locator("#sms-preview")
    page.locator("#id_sms-body").fill(MULTILINE_SMS)
    expect(preview).to_contain_text("160 characters")
    expect(preview.locator(".credit-count")).to_have_text("1 credit")

    page.get_by_role("button", name="Save templates").click()
    expect_message(page, "Reminder templates saved.")
    shot(page, "11-admin-multiline-template-saved", "REMINDERS_SHOTS")
    stored = {template.channel: template.body for template in UsualTemplate.objects.all()}
    assert "\r" not in stored[Channel.SMS] and "\r" not in stored[Channel.EMAIL]
    expect(page.locator("#sms-preview .credit-count")).to_have_text("1 credit", timeout=2_000)
