"""The client's page /c/<code> (issue 11 item 1): the link, the page, join, confirm, cancel, calendar, throttle."""

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from icalendar import Calendar

from practice.errors import ApplicationError
from practice.models import AuditEvent, Practice
from scheduling import services
from scheduling.models import Appointment, ClientLink, ConfirmedVia, Status
from telehealth.models import MeetingState
from tests.conftest import sydney
from tests.zoom_fixtures import zoom_meetings

START = sydney(2030, 3, 4, 10)
CODE = re.compile(r"/c/([a-z2-7]{13})$")


@pytest.fixture
def practice(practice):
    practice.phone = "02 9000 1234"
    practice.save()
    return practice


@pytest.fixture
def appointment(book, practitioner_a, practice):
    appointment = book(practitioner_a, START)
    appointment.notes = "Secret clinical note about the knee"
    appointment.save()
    return appointment


@pytest.fixture
def tele(front_desk, location, appointment_type, client_record, practice, alice_zoom, practitioner_a,
         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = services.appointment_book(
            actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
            appointment_type=appointment_type, starts_at=START, ends_at=START + timedelta(minutes=30),
            is_telehealth=True)
    return Appointment.objects.select_related("zoom_meeting").get(pk=result.appointment.pk)


def code_of(url: str) -> str:
    match = CODE.search(url)
    assert match, url
    return match.group(1)


def page(code: str, suffix: str = "") -> str:
    return f"/c/{code}{suffix}"


# The link ---------------------------------------------------------------------------------------------------------

def test_a_link_is_65_random_bits_short_and_only_its_hash_is_stored(appointment, settings):
    settings.PUBLIC_BASE_URL = "https://diary.example.com"
    urls = [services.client_link_mint(appointment) for _ in range(50)]
    codes = [code_of(url) for url in urls]
    assert all(url == f"https://diary.example.com/c/{code}" for url, code in zip(urls, codes, strict=True))
    assert len(set(codes)) == 50  # one code per message, all different
    assert len(services.CLIENT_LINK_ALPHABET) ** services.CLIENT_LINK_LENGTH >= 2 ** 64
    assert len(urls[0]) == len(services.client_link_sample_url())
    stored = {row.code_hash for row in ClientLink.objects.all()}
    assert stored == {hashlib.sha256(code.encode()).hexdigest() for code in codes}
    for row in ClientLink.objects.values():
        assert not any(code in str(value) for value in row.values() for code in codes)
    assert all(services.client_link_find(code) == appointment for code in codes)  # several valid at once


def test_unknown_malformed_and_expired_codes_find_nothing(appointment, front_desk, location, practitioner_a):
    code = code_of(services.client_link_mint(appointment))
    assert services.client_link_find(code.upper()) == appointment
    for wrong in ("a" * 13, code[:-1], code + "a", "", "é" * 13, "0" * 13):
        assert services.client_link_find(wrong) is None
    with time_machine.travel(appointment.ends_at + timedelta(days=1) - timedelta(minutes=1), tick=False):
        assert services.client_link_find(code) == appointment
    with time_machine.travel(appointment.ends_at + timedelta(days=1), tick=False):
        assert services.client_link_find(code) is None
    # The expiry follows the appointment: moved a week later, the same link works until a day after the new end.
    later = START + timedelta(days=7)
    services.appointment_move(actor=front_desk, appointment=appointment, starts_at=later,
                              ends_at=later + timedelta(minutes=30), practitioner=practitioner_a, location=location)
    with time_machine.travel(later + timedelta(days=1), tick=False):
        assert services.client_link_find(code) == appointment


# The page ---------------------------------------------------------------------------------------------------------

def test_the_page_shows_the_appointment_with_the_first_name_only(client, appointment, client_record):
    client_record.preferred_name = ""
    client_record.save()
    code = code_of(services.client_link_mint(appointment))
    response = client.get(page(code))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Hi Casey" in html
    assert "Client" not in html.replace("client-", "")  # the surname, anywhere
    assert "Secret clinical note" not in html
    assert "Test Practice" in html and "02 9000 1234" in html and 'href="tel:0290001234"' in html
    assert "Monday 4 March 2030, 10:00–10:30" in html  # Sydney time
    assert "Alice Allen" in html and "Standard" in html and "Clinic" in html and "1 Main St" in html
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert "Casey" not in title and "10:00" not in title
    assert "no-store" in response["Cache-Control"]


def test_a_telehealth_location_says_so_and_prints_no_address(client, appointment, telehealth_location):
    Appointment.objects.filter(pk=appointment.pk).update(location=telehealth_location)
    html = client.get(page(code_of(services.client_link_mint(appointment)))).content.decode()
    assert "Telehealth (online)" in html and "1 Main St" not in html


def test_a_telehealth_appointment_at_a_clinic_is_online_on_the_page_and_in_the_calendar(client, tele):
    code = code_of(services.client_link_mint(tele))
    html = client.get(page(code)).content.decode()
    assert "Telehealth (online)" in html and "1 Main St" not in html
    [event] = Calendar.from_ical(client.get(page(code, "/calendar.ics")).content).walk("VEVENT")
    assert str(event["location"]) == "Telehealth (online)"


@pytest.mark.parametrize("code", ["aaaaaaaaaaaaa", "short", "x" * 400, "%F0%9F%98%80", "AAAA-AAAA"])
def test_a_wrong_code_is_a_plain_404_with_the_phone(client, practice, code):
    response = client.get(f"/c/{code}")
    assert response.status_code == 404
    html = response.content.decode()
    assert "This link does not work" in html and "02 9000 1234" in html
    for suffix in ("/join", "/calendar.ics", "/cancel"):
        assert client.get(f"/c/aaaaaaaaaaaaa{suffix}").status_code in (404, 429)


def test_a_signed_in_user_without_a_role_may_open_a_link(client, appointment, db):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("norole", password="x" * 20))
    assert client.get(page(code_of(services.client_link_mint(appointment)))).status_code == 200


# Throttling -------------------------------------------------------------------------------------------------------

def test_more_than_30_requests_a_minute_from_one_address_are_refused(client, appointment):
    code = code_of(services.client_link_mint(appointment))
    with time_machine.travel(sydney(2029, 1, 1, 10, 0, ), tick=False):
        statuses = [client.get(page(code)).status_code for _ in range(31)]
        assert statuses == [200] * 30 + [429]
        assert client.get(page(code), REMOTE_ADDR="10.0.0.9").status_code == 200  # another address
    with time_machine.travel(sydney(2029, 1, 1, 10, 1), tick=False):
        assert client.get(page(code)).status_code == 200  # the next minute


def test_wrong_codes_lock_the_address_out_of_every_code(client, appointment):
    code = code_of(services.client_link_mint(appointment))
    with time_machine.travel(sydney(2029, 1, 1, 10, 0), tick=False):
        for _ in range(10):
            assert client.get("/c/aaaaaaaaaaaaa").status_code == 404
        refused = client.get(page(code))
        assert refused.status_code == 429 and "02 9000 1234" in refused.content.decode()
        assert refused["Retry-After"]
        assert client.get(page(code), REMOTE_ADDR="10.0.0.9").status_code == 200


# Join -------------------------------------------------------------------------------------------------------------

def test_join_goes_to_the_current_meeting_after_an_r7_move(client, tele, front_desk, location, practitioner_a, zoom,
                                                          django_capture_on_commit_callbacks):
    code = code_of(services.client_link_mint(tele))  # sent before the move
    old_join = tele.zoom_meeting.join_url
    with time_machine.travel(START - timedelta(minutes=10), tick=False):
        response = client.get(page(code, "/join"))
    assert response.status_code == 302 and response["Location"] == old_join
    later = START + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_move(actor=front_desk, appointment=tele, starts_at=later,
                                  ends_at=later + timedelta(minutes=30), practitioner=practitioner_a,
                                  location=location)
    tele.refresh_from_db()
    new = tele.zoom_meeting
    assert new.state == MeetingState.ACTIVE and new.join_url != old_join
    assert list(zoom_meetings(zoom)) == [new.zoom_id]  # Zoom's old link is dead (R7 kept)
    with time_machine.travel(later - timedelta(minutes=15), tick=False):
        response = client.get(page(code, "/join"))
    assert response.status_code == 302 and response["Location"] == new.join_url


def test_join_before_it_opens_says_when(client, tele):
    code = code_of(services.client_link_mint(tele))
    with time_machine.travel(START - timedelta(minutes=16), tick=False):
        response = client.get(page(code, "/join"))
        html = response.content.decode()
    assert response.status_code == 200
    assert "The video call opens at 09:45 on Monday 4 March" in html
    assert tele.zoom_meeting.join_url not in html  # only our link is ever shown
    with time_machine.travel(START + timedelta(minutes=30), tick=False):
        assert client.get(page(code, "/join")).status_code == 200  # over: no redirect


@pytest.mark.parametrize(("moment", "state"), [
    (START - timedelta(minutes=15, seconds=1), "early"),
    (START - timedelta(minutes=15), "live"),  # opens a quarter of an hour before the start
    (START + timedelta(minutes=30) - timedelta(seconds=1), "live"),
    (START + timedelta(minutes=30), "over"),  # closes at the end
])
def test_the_join_window_runs_from_15_minutes_before_the_start_to_the_end(tele, moment, state):
    join = services.client_join_state(tele, now=moment)
    assert join.state == state
    assert join.opens_at == (None if state == "over" else START - timedelta(minutes=15))


@pytest.mark.parametrize("status", [Status.COMPLETED, Status.DID_NOT_ATTEND, Status.CANCELLED])
def test_there_is_nothing_to_join_once_the_appointment_is_done_or_cancelled(tele, status):
    Appointment.objects.filter(pk=tele.pk).update(status=status)
    tele.refresh_from_db()
    assert services.client_join_state(tele, now=START).state == "none"


def test_join_without_a_meeting_says_to_contact_the_practice(client, tele, front_desk,
                                                             django_capture_on_commit_callbacks):
    code = code_of(services.client_link_mint(tele))
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_telehealth_remove(actor=front_desk, appointment=tele)  # R9
    with time_machine.travel(START - timedelta(minutes=5), tick=False):
        response = client.get(page(code, "/join"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "contact the practice" in html and "02 9000 1234" in html


# Confirm ----------------------------------------------------------------------------------------------------------

def test_confirming_marks_the_appointment_and_the_diary_block(client, appointment, front_desk):
    code = code_of(services.client_link_mint(appointment))
    assert client.get(page(code)).content.decode().count("Confirm I will attend") == 1
    response = client.post(page(code, "/confirm"))
    assert response.status_code == 302 and response["Location"] == page(code)
    appointment.refresh_from_db()
    assert appointment.confirmed_at is not None and appointment.confirmed_via == ConfirmedVia.CLIENT_LINK
    assert AuditEvent.objects.get(action="appointment.confirmed").actor_name == "client (link)"
    assert "You have confirmed this appointment" in client.get(page(code)).content.decode()
    client.force_login(front_desk)
    diary = client.get(reverse("diary"), {"date": "2030-03-04"}).content.decode()
    block = re.search(rf'<a class="appt[^>]*/{appointment.pk}/".*?</a>', diary, re.S).group(0)
    assert 'class="cf" title="Confirmed"' in block and ">Confirmed<" in block
    panel = client.get(reverse("appointment-detail", args=[appointment.pk])).content.decode()
    assert "✓ Confirmed" in panel and "by client (link)" in panel


def test_the_client_confirms_only_a_booked_appointment_page_and_service_alike(client, appointment):
    """The page offers Confirm by the same rule the service keeps: a form posted by hand for an appointment already
    marked Arrived is refused, and the page says so."""
    code = code_of(services.client_link_mint(appointment))
    appointment.status = Status.ARRIVED
    appointment.save(update_fields=["status"])
    assert "Confirm I will attend" not in client.get(page(code)).content.decode()
    response = client.post(page(code, "/confirm"))
    assert response.status_code == 409
    appointment.refresh_from_db()
    assert appointment.confirmed_at is None
    with pytest.raises(ApplicationError) as refused:
        services.appointment_confirm(appointment=appointment, via=ConfirmedVia.CLIENT_SMS)
    assert refused.value.code == "not_booked" and "Arrived" in refused.value.message
    # The desk may still mark it confirmed for the client.
    assert services.appointment_confirm(appointment=appointment, via=ConfirmedVia.STAFF).confirmed_at is not None


def test_a_confirm_needs_the_csrf_token(appointment):
    from django.test import Client as HttpClient

    code = code_of(services.client_link_mint(appointment))
    assert HttpClient(enforce_csrf_checks=True).post(page(code, "/confirm")).status_code == 403


def test_the_desk_can_mark_confirmed_from_the_panel(client, appointment, front_desk):
    client.force_login(front_desk)
    assert "Mark confirmed" in client.get(reverse("appointment-detail", args=[appointment.pk])).content.decode()
    client.post(reverse("appointment-confirm", args=[appointment.pk]))
    appointment.refresh_from_db()
    assert appointment.confirmed_via == ConfirmedVia.STAFF
    assert AuditEvent.objects.get(action="appointment.confirmed").actor == front_desk


# Cancel -----------------------------------------------------------------------------------------------------------

def test_cancelling_outside_the_window_deletes_the_meeting_and_frees_the_slot(client, tele, front_desk, zoom, book,
                                                                              practitioner_a,
                                                                              django_capture_on_commit_callbacks):
    code = code_of(services.client_link_mint(tele))
    with time_machine.travel(START - timedelta(hours=25), tick=False):
        asked = client.get(page(code, "/cancel")).content.decode()
        assert "Cancel this appointment?" in asked and "Yes, cancel the appointment" in asked
        assert tele.appointment_type.name in asked
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(page(code, "/cancel"))
        assert response.status_code == 302
        html = client.get(page(code)).content.decode()
    assert "This appointment is cancelled" in html
    tele.refresh_from_db()
    assert tele.status == Status.CANCELLED and tele.client_cancel_unseen_since is not None
    assert zoom_meetings(zoom) == {}  # R10
    event = AuditEvent.objects.get(action="appointment.cancelled")
    assert event.actor is None and event.actor_name == "client (link)"
    assert book(practitioner_a, START).status == Status.BOOKED  # the slot is free
    # The desk sees it in Needs attention until it marks it seen.
    client.force_login(front_desk)
    attention = client.get(reverse("needs-attention")).content.decode()
    assert "Cancelled by the client (link)" in attention
    client.post(reverse("attention-appointment", args=[tele.pk, "seen"]))
    assert "Cancelled by the client (link)" not in client.get(reverse("needs-attention")).content.decode()
    assert AuditEvent.objects.filter(action="appointment.client_cancel_seen", actor=front_desk).exists()


def test_a_client_cancel_ages_out_of_needs_attention_once_the_time_passes(appointment):
    from attention.selectors import attention_count

    with time_machine.travel(START - timedelta(days=3), tick=False):
        services.appointment_cancel_by_client(appointment=appointment)
        assert attention_count() == 1
    with time_machine.travel(START + timedelta(minutes=1), tick=False):
        assert attention_count() == 0


def test_inside_the_window_cancel_is_refused_with_the_phone(client, appointment):
    code = code_of(services.client_link_mint(appointment))
    with time_machine.travel(START - timedelta(hours=23), tick=False):
        html = client.get(page(code)).content.decode()
        assert "Cancel appointment" not in html
        assert "To cancel or change this appointment, please call us on" in html and "02 9000 1234" in html
        response = client.post(page(code, "/cancel"))
    assert response.status_code == 409 and "too late to cancel online" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_the_notice_window_is_an_option_of_the_practice(client, admin_user, appointment, practice):
    client.force_login(admin_user)
    form = client.get(reverse("options-practice")).content.decode()
    assert 'name="client_cancel_notice_hours"' in form and 'value="24"' in form
    client.post(reverse("options-practice"), {
        "name": practice.name, "phone": practice.phone, "email": "", "address": "", "time_zone": practice.time_zone,
        "opens_at": "07:00", "closes_at": "19:00", "client_cancel_notice_hours": "48"})
    assert Practice.load().client_cancel_notice_hours == 48
    event = AuditEvent.objects.get(action="practice.changed")
    assert "client_cancel_notice_hours" in event.changes
    client.logout()
    code = code_of(services.client_link_mint(appointment))
    with time_machine.travel(START - timedelta(hours=30), tick=False):
        assert client.post(page(code, "/cancel")).status_code == 409


# Add to calendar --------------------------------------------------------------------------------------------------

def _event(client, code):
    response = client.get(page(code, "/calendar.ics"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    [event] = calendar.walk("VEVENT")
    return calendar, event, response.content.decode()


def test_the_calendar_file_keeps_its_uid_and_raises_its_sequence(client, appointment, front_desk, location,
                                                                 practitioner_a):
    code = code_of(services.client_link_mint(appointment))
    calendar, event, text = _event(client, code)
    uid = str(event["uid"])
    assert uid == appointment.calendar_uid and int(event["sequence"]) == 0
    assert str(calendar["method"]) == "PUBLISH"
    assert "Casey" not in text and "Secret" not in text
    later = START + timedelta(hours=2)
    services.appointment_move(actor=front_desk, appointment=appointment, starts_at=later,
                              ends_at=later + timedelta(minutes=30), practitioner=practitioner_a, location=location)
    calendar, event, _ = _event(client, code)
    assert str(event["uid"]) == uid and int(event["sequence"]) == 1
    assert event.decoded("dtstart") == later
    services.appointment_cancel(actor=front_desk, appointment=appointment)
    calendar, event, _ = _event(client, code)
    assert str(event["uid"]) == uid and int(event["sequence"]) == 2
    assert str(calendar["method"]) == "CANCEL" and str(event["status"]) == "CANCELLED"


def test_the_telehealth_email_invitation_is_the_same_event(tele, front_desk, location, practitioner_a,
                                                           django_capture_on_commit_callbacks):
    from reminders import fixed
    from reminders.services import _telehealth_details

    later = START + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_move(actor=front_desk, appointment=tele, starts_at=later,
                                  ends_at=later + timedelta(minutes=30), practitioner=practitioner_a,
                                  location=location)
    tele = Appointment.objects.select_related("zoom_meeting", "client", "practitioner").get(pk=tele.pk)
    [event] = Calendar.from_ical(fixed.telehealth_ics(_telehealth_details(tele))).walk("VEVENT")
    assert str(event["uid"]) == tele.calendar_uid and int(event["sequence"]) == 1


# {client_link} in the usual reminders -----------------------------------------------------------------------------

def test_the_client_link_merge_field_is_counted_at_its_real_length(client, admin_user, appointment, settings,
                                                                   credits, django_capture_on_commit_callbacks):
    from reminders import services as reminders
    from reminders.models import Channel, Message
    from reminders.segments import sms_segments

    settings.PUBLIC_BASE_URL = "https://diary.example-practice.com.au"
    # 138 characters before the link: with the link's real length (50) it needs a second segment.
    body = "Hi {first_name}, see you {date} {time}. Confirm or cancel: {client_link} " + "x" * 100
    reminders.usual_templates_update(actor=admin_user, sms_body=body, email_subject="Reminder",
                                     email_body="Your appointment: {client_link}")
    client.force_login(admin_user)
    preview = client.post(reverse("reminder-template-preview"), {"sms-body": body}).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        reminders.usual_reminder_queue(actor=admin_user, appointment=appointment, channel=Channel.SMS)
    message = Message.objects.get()
    url = re.search(r"https://\S+", message.body).group(0)
    assert services.client_link_find(code_of(url)) == appointment
    assert len(url) == len(services.client_link_sample_url())
    segments = sms_segments(message.body).segments
    assert segments == 2 and message.credits == 2
    assert services.client_link_sample_url() in preview
    assert '<strong class="credit-count">2 credits</strong>' in preview


def test_a_template_without_the_field_makes_no_link(admin_user, appointment, credits,
                                                    django_capture_on_commit_callbacks):
    from reminders import services as reminders
    from reminders.models import Channel

    with django_capture_on_commit_callbacks(execute=True):
        reminders.usual_reminder_queue(actor=admin_user, appointment=appointment, channel=Channel.SMS)
    assert not ClientLink.objects.exists()


def test_the_console_sms_backend_prints_the_client_link(appointment, capsys):
    from reminders.sms import ConsoleBackend

    url = services.client_link_mint(appointment)
    ConsoleBackend().send(to="+61412345678", body=f"Your appointment: {url}")
    assert url in capsys.readouterr().out


def test_no_client_data_reaches_the_logs(client, appointment, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    code = code_of(services.client_link_mint(appointment))
    client.get(page(code))
    client.post(page(code, "/confirm"))
    client.get(page(code, "/calendar.ics"))
    client.get("/c/aaaaaaaaaaaaa")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Casey" not in logged and "Client" not in logged and "Secret" not in logged
