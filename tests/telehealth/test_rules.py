"""One test (or more) per rule R1–R10, R16, R17 of DESIGN.md, through the services and the views,
against the Zoom emulator."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection as db
from django.urls import reverse
from django.utils import timezone

from practice.errors import ApplicationError
from practice.models import AuditEvent
from reminders.models import Message
from scheduling.models import Appointment, Status
from scheduling.services import (
    TelehealthChange,
    appointment_book,
    appointment_cancel,
    appointment_move,
    appointment_reinstate,
    appointment_telehealth_add,
    appointment_telehealth_remove,
)
from telehealth.models import ConnectionStatus, MeetingState, ZoomMeeting
from tests.telehealth.conftest import START
from tests.zoom_fixtures import zoom_meetings

# R1, R2 ------------------------------------------------------------------------------------------------------

def test_r1_each_practitioner_uses_their_own_zoom_user_with_shared_app_credentials(
        connect, practitioner_a, practitioner_b, tele_book, zoom):
    connect(practitioner_a, "alice@example.com")
    connect(practitioner_b, "bob@example.com")
    tele_book(practitioner_a)
    tele_book(practitioner_b)
    posts = [call["path"] for call in zoom.calls("POST", "/meetings")]
    assert posts == ["/v2/users/alice@example.com/meetings", "/v2/users/bob@example.com/meetings"]


def test_r2_test_connection_shows_user_plan_and_status(connect, practitioner_a):
    connection = connect(practitioner_a, "alice@example.com", plan=1)
    assert connection.status == ConnectionStatus.CONNECTED
    assert (connection.zoom_user_name, connection.zoom_user_email) == ("Alice Allen", "alice@example.com")
    assert connection.plan == "Basic" and connection.missing_scopes == []
    assert AuditEvent.objects.filter(action="zoom.connection_tested", object_id=str(connection.pk)).exists()


def test_r2_a_wrong_secret_says_exactly_why(connect, practitioner_a):
    connection = connect(practitioner_a, "alice@example.com", secret="not-the-secret")
    assert connection.status == ConnectionStatus.FAILING
    assert "Invalid client_id or client_secret" in connection.status_reason
    assert connection.status_since is not None


def test_r2_an_unknown_zoom_user_is_named(connect, practitioner_a, zoom):
    connection = connect(practitioner_a, "alice@example.com")
    with zoom.lock:
        zoom.state.users.pop(zoom.state.find_user("alice@example.com")["id"])
    from telehealth.services import connection_test

    connection = connection_test(actor=None, connection=connection)
    assert connection.status == ConnectionStatus.FAILING
    assert "alice@example.com" in connection.status_reason


def test_r2_without_a_working_connection_telehealth_cannot_be_ticked(practitioner_a, front_desk, location,
                                                                     appointment_type, client_record, zoom):
    with pytest.raises(ApplicationError, match="has no Zoom connection yet"):
        appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
                         appointment_type=appointment_type, starts_at=START, is_telehealth=True)
    assert not Appointment.objects.exists()
    assert zoom.calls() == []


# R3 -------------------------------------------------------------------------------------------------------------

def test_r3_a_basic_zoom_user_shared_by_two_practitioners_runs_one_meeting_at_a_time(
        connect, practitioner_a, practitioner_b, tele_book):
    connect(practitioner_a, "shared@example.com", plan=1)
    connect(practitioner_b, "shared@example.com", plan=1)
    tele_book(practitioner_a)
    with pytest.raises(ApplicationError) as caught:
        tele_book(practitioner_b, START + timedelta(minutes=15))
    assert "Basic plan" in caught.value.message
    assert "with Alice Allen at Mon 04 Mar 10:00–10:30" in caught.value.message
    tele_book(practitioner_b, START + timedelta(minutes=30))  # back to back is fine


def test_r3_licensed_users_may_overlap(connect, practitioner_a, practitioner_b, tele_book):
    connect(practitioner_a, "shared@example.com", plan=2)
    connect(practitioner_b, "shared@example.com", plan=2)
    tele_book(practitioner_a)
    tele_book(practitioner_b, START + timedelta(minutes=15))
    assert ZoomMeeting.objects.filter(state=MeetingState.ACTIVE).count() == 2


# R4, R5 ---------------------------------------------------------------------------------------------------------

def test_r5_r4_ticking_telehealth_creates_the_meeting_with_the_security_defaults(
        alice_zoom, practitioner_a, tele_book, zoom, client_record):
    appointment = tele_book(practitioner_a)
    meeting = appointment.zoom_meeting
    assert appointment.is_telehealth and meeting.state == MeetingState.ACTIVE
    created = zoom_meetings(zoom)[meeting.zoom_id]
    assert meeting.join_url == created["join_url"] and meeting.passcode == created["password"]
    body = zoom.calls("POST", "/meetings")[0]["json"]
    assert body["type"] == 2
    assert body["start_time"] == "2030-03-03T23:00:00Z" and body["timezone"] == "Australia/Sydney"
    assert body["duration"] == 30
    assert 1 <= len(body["password"]) <= 10
    assert body["settings"] | {} == body["settings"] and {
        "host_video": True, "participant_video": True, "waiting_room": True, "join_before_host": True,
        "auto_recording": "none"}.items() <= body["settings"].items()
    assert body["topic"] == "Telehealth appointment - Test Practice"
    assert client_record.first_name not in str(body) and client_record.last_name not in str(body)
    assert meeting.settings_warnings == []
    assert zoom.calls("GET", f"/meetings/{meeting.zoom_id}")  # read back to compare settings


def test_r4_a_setting_overridden_by_the_zoom_account_is_warned_about(alice_zoom, practitioner_a, tele_book,
                                                                      zoom, client, front_desk):
    zoom.lock_setting("waiting_room", False)
    appointment = tele_book(practitioner_a)
    assert appointment.zoom_meeting.settings_warnings
    assert "aiting room" in appointment.zoom_meeting.settings_warnings[0]
    client.force_login(front_desk)
    html = client.get(reverse("appointment-zoom", args=[appointment.pk])).content.decode()
    assert "differ from the practice" in html


def test_r5_the_booking_form_ticks_telehealth(alice_zoom, practitioner_a, client, front_desk, location,
                                              appointment_type, client_record, django_capture_on_commit_callbacks):
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("appointment-new"), {
            "client": client_record.pk, "practitioner": practitioner_a.pk, "date": "2030-03-04",
            "start_time": "10:00", "appointment_type": appointment_type.pk, "location": location.pk,
            "is_telehealth": "on",
        })
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE
    diary = client.get(response.url).content.decode()
    assert '<span class="badge zoom">Zoom</span>' in diary


# R6 -------------------------------------------------------------------------------------------------------------

def test_r6_a_past_time_is_a_form_error_and_zoom_is_not_called(alice_zoom, practitioner_a, client, front_desk,
                                                                location, appointment_type, client_record, zoom):
    seen = len(zoom.calls())
    client.force_login(front_desk)
    response = client.post(reverse("appointment-new"), {
        "client": client_record.pk, "practitioner": practitioner_a.pk, "date": "2020-03-02",
        "start_time": "10:00", "appointment_type": appointment_type.pk, "location": location.pk,
        "is_telehealth": "on",
    })
    assert response.status_code == 200
    assert "Telehealth meetings can only be made for future times" in response.content.decode()
    assert not Appointment.objects.exists() and not ZoomMeeting.objects.exists()
    assert zoom.calls()[seen:] == []


def test_r6_moving_a_telehealth_appointment_into_the_past_is_refused(alice_zoom, practitioner_a, tele_book,
                                                                     front_desk):
    appointment = tele_book(practitioner_a)
    past = timezone.now() - timedelta(days=1)
    with pytest.raises(ApplicationError, match="future times"):
        appointment_move(actor=front_desk, appointment=appointment, starts_at=past,
                         ends_at=past + timedelta(minutes=30), practitioner=practitioner_a,
                         location=appointment.location)


# R7 -------------------------------------------------------------------------------------------------------------

def test_r7_moving_deletes_the_meeting_and_creates_a_new_one(alice_zoom, practitioner_a, tele_book, zoom,
                                                             client, front_desk, django_capture_on_commit_callbacks):
    appointment = tele_book(practitioner_a)
    old = appointment.zoom_meeting
    seen = len(zoom.calls())
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("appointment-move", args=[appointment.pk]), {
            "practitioner": practitioner_a.pk, "location": appointment.location_id, "date": "2030-03-05",
            "start_time": "14:00", "duration": "45"}, follow=True)
    html = response.content.decode()
    writes = [c for c in zoom.calls()[seen:] if c["method"] in ("POST", "DELETE")]
    assert [(c["method"], c["path"]) for c in writes] == [
        ("DELETE", f"/v2/meetings/{old.zoom_id}"), ("POST", "/v2/users/alice@example.com/meetings")]
    assert writes[0]["query"] == "schedule_for_reminder=false"
    assert writes[1]["json"]["start_time"] == "2030-03-05T03:00:00Z"
    assert writes[1]["json"]["duration"] == 45
    appointment.refresh_from_db()
    old.refresh_from_db()
    assert old.state == MeetingState.DELETED
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE and appointment.zoom_meeting != old
    assert list(zoom_meetings(zoom)) == [appointment.zoom_meeting.zoom_id]
    # The worker had not run when the message was written: it must not claim the meeting exists yet.
    assert "The Zoom meeting is being re-created for the new time" in html
    assert "was re-created" not in html
    assert "old link, meeting ID and passcode no longer work" in html
    panel = client.get(reverse("appointment-detail", args=[appointment.pk])).content.decode()
    assert "is ready" in panel and "Send Zoom details by SMS" in panel  # offered once it exists
    assert mail.outbox == []  # nothing sent automatically


@pytest.mark.django_db(transaction=True)
def test_r7_the_message_says_re_created_only_when_the_new_meeting_exists(
        alice_zoom, practitioner_a, front_desk, location, appointment_type, client_record, client, zoom):
    # Transactional: the commit really happens inside the request, so the (eager) worker has run by the message.
    from tests.conftest import ensure_roles

    ensure_roles()
    result = appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a,
                              location=location, appointment_type=appointment_type, starts_at=START,
                              is_telehealth=True)
    client.force_login(front_desk)
    response = client.post(reverse("appointment-move", args=[result.appointment.pk]), {
        "practitioner": practitioner_a.pk, "location": location.pk, "date": "2030-03-05",
        "start_time": "14:00", "duration": "30"}, follow=True)
    html = response.content.decode()
    assert "The Zoom meeting was re-created for the new time" in html
    assert "Send new details by SMS" in html
    zoom.fail_next(503, count=5, method="POST")
    response = client.post(reverse("appointment-move", args=[result.appointment.pk]), {
        "practitioner": practitioner_a.pk, "location": location.pk, "date": "2030-03-06",
        "start_time": "14:00", "duration": "30"}, follow=True)
    html = response.content.decode()
    assert "is being re-created for the new time" in html and "was re-created" not in html
    assert "Send new details by SMS" not in html  # there are no new details yet
    assert "Zoom could not create the meeting yet (Zoom is unavailable (HTTP 503)" in html


def test_r7_a_location_change_alone_keeps_the_meeting(alice_zoom, practitioner_a, tele_book, front_desk,
                                                      telehealth_location, committed):
    appointment = tele_book(practitioner_a)
    result = committed(appointment_move, actor=front_desk, appointment=appointment, starts_at=START,
                       ends_at=START + timedelta(minutes=30), practitioner=practitioner_a,
                       location=telehealth_location)
    assert result.telehealth == ""
    appointment.refresh_from_db()
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE


# R8, R16 --------------------------------------------------------------------------------------------------------

def test_r8_moving_to_another_practitioner_saves_deletes_the_meeting_and_unticks(
        alice_zoom, practitioner_a, practitioner_b, tele_book, zoom, client, front_desk,
        django_capture_on_commit_callbacks, sms_outbox):
    appointment = tele_book(practitioner_a)
    meeting = appointment.zoom_meeting
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("appointment-move", args=[appointment.pk]), {
            "practitioner": practitioner_b.pk, "location": appointment.location_id, "date": "2030-03-04",
            "start_time": "11:00", "duration": "30"}, follow=True)
    appointment.refresh_from_db()
    meeting.refresh_from_db()
    assert appointment.practitioner == practitioner_b and not appointment.is_telehealth
    assert appointment.zoom_meeting is None and meeting.state == MeetingState.DELETED
    assert zoom_meetings(zoom) == {}
    assert "Telehealth is not supported when an appointment moves to another practitioner" in \
        response.content.decode()
    assert mail.outbox == [] and sms_outbox == [] and not Message.objects.exists()  # R16


def test_r8_a_telehealth_location_falls_back_to_the_new_practitioners_own(
        alice_zoom, practitioner_a, practitioner_b, front_desk, telehealth_location, appointment_type, client_record,
        committed):
    result = committed(appointment_book, actor=front_desk, client=client_record, practitioner=practitioner_a,
                       location=telehealth_location, appointment_type=appointment_type, starts_at=START,
                       is_telehealth=True)
    appointment = result.appointment
    committed(appointment_move, actor=front_desk, appointment=appointment, starts_at=START,
              ends_at=START + timedelta(minutes=30), practitioner=practitioner_b, location=telehealth_location)
    appointment.refresh_from_db()
    assert appointment.location == practitioner_b.default_location and not appointment.is_telehealth


# R9, R16 --------------------------------------------------------------------------------------------------------

def test_r9_delete_telehealth_keeps_the_appointment_booked_and_tells_no_one(
        alice_zoom, practitioner_a, tele_book, zoom, client, front_desk, django_capture_on_commit_callbacks,
        sms_outbox):
    appointment = tele_book(practitioner_a)
    meeting = appointment.zoom_meeting
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("appointment-telehealth-remove", args=[appointment.pk]), follow=True)
    appointment.refresh_from_db()
    meeting.refresh_from_db()
    assert appointment.status == Status.BOOKED and not appointment.is_telehealth
    assert meeting.state == MeetingState.DELETED and zoom_meetings(zoom) == {}
    assert "client was not notified" in response.content.decode()
    assert mail.outbox == [] and sms_outbox == [] and not Message.objects.exists()  # R16
    assert AuditEvent.objects.filter(action="appointment.telehealth_removed").exists()


# R10 and reinstating --------------------------------------------------------------------------------------------

def test_r10_cancelling_deletes_the_meeting_and_reinstating_offers_a_new_one(
        alice_zoom, practitioner_a, tele_book, zoom, front_desk, committed, client):
    appointment = tele_book(practitioner_a)
    committed(appointment_cancel, actor=front_desk, appointment=appointment)
    assert zoom_meetings(zoom) == {}
    appointment.refresh_from_db()
    assert appointment.zoom_meeting.state == MeetingState.DELETED
    committed(appointment_reinstate, actor=front_desk, appointment=appointment)
    client.force_login(front_desk)
    html = client.get(reverse("appointment-detail", args=[appointment.pk])).content.decode()
    assert "Create a new Zoom meeting" in html
    committed(appointment_telehealth_add, actor=front_desk, appointment=appointment)
    appointment.refresh_from_db()
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE
    assert len(zoom_meetings(zoom)) == 1


def test_a_meeting_already_gone_from_zoom_counts_as_deleted(alice_zoom, practitioner_a, tele_book, zoom,
                                                           front_desk, committed):
    appointment = tele_book(practitioner_a)
    with zoom.lock:
        zoom.state.meetings.clear()  # someone deleted it in Zoom
    committed(appointment_telehealth_remove, actor=front_desk, appointment=appointment)
    assert ZoomMeeting.objects.get().state == MeetingState.DELETED
    assert zoom.calls("DELETE")[0]["status"] == 404


# R17 ------------------------------------------------------------------------------------------------------------

def test_r17_view_zoom_details_shows_the_join_details_with_copy_buttons(alice_zoom, practitioner_a, tele_book,
                                                                         client, front_desk):
    appointment = tele_book(practitioner_a)
    meeting = appointment.zoom_meeting
    client.force_login(front_desk)
    html = client.get(reverse("appointment-zoom", args=[appointment.pk])).content.decode()
    digits = str(meeting.zoom_id)
    assert f"{digits[:3]} {digits[3:7]} {digits[7:]}" in html
    assert meeting.passcode in html and meeting.join_url.replace("&", "&amp;") in html
    assert "Telehealth appointment - Test Practice" in html and "Monday 4 March 2030" in html
    assert html.count("data-copy=") == 3
    assert "Start meeting" not in html and "/zoom/start/" not in html  # front desk: join details only
    assert client.get(reverse("appointment-zoom-start", args=[appointment.pk])).status_code == 404


def test_r17_start_meeting_fetches_a_fresh_host_link_and_never_keeps_it(alice_zoom, practitioner_a, tele_book,
                                                                       client, zoom):
    appointment = tele_book(practitioner_a)
    client.force_login(practitioner_a.user)
    details = client.get(reverse("appointment-zoom", args=[appointment.pk])).content.decode()
    assert "Start meeting" in details
    first = client.get(reverse("appointment-zoom-start", args=[appointment.pk]))
    second = client.get(reverse("appointment-zoom-start", args=[appointment.pk]))
    assert first.status_code == 302 and "/s/" in first.url and first.url != second.url
    assert "no-store" in first["Cache-Control"] and first["Referrer-Policy"] == "no-referrer"
    assert AuditEvent.objects.filter(action="zoom.host_link_opened").count() == 2
    zak = first.url.split("zak=")[1]
    with db.cursor() as cursor:  # the host token is nowhere in the database
        for table in ("telehealth_zoommeeting", "practice_auditevent", "scheduling_appointment"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            assert zak not in str(cursor.fetchall())


def test_r17_another_practitioner_gets_404_and_an_admin_may_start(alice_zoom, practitioner_a, practitioner_b,
                                                                  tele_book, client, admin_user):
    appointment = tele_book(practitioner_a)
    client.force_login(practitioner_b.user)
    assert client.get(reverse("appointment-zoom", args=[appointment.pk])).status_code == 404
    assert client.get(reverse("appointment-zoom-start", args=[appointment.pk])).status_code == 404
    detail = client.get(reverse("appointment-detail", args=[appointment.pk])).content.decode()
    assert "View Zoom Details" not in detail
    client.force_login(admin_user)
    assert client.get(reverse("appointment-zoom-start", args=[appointment.pk])).status_code == 302


# Zoom failing ---------------------------------------------------------------------------------------------------

def test_zoom_down_during_a_move_saves_the_move_and_the_retry_leaves_one_meeting_at_the_new_time(
        alice_zoom, practitioner_a, tele_book, zoom, front_desk, committed, client):
    from telehealth.services import meetings_reconcile

    appointment = tele_book(practitioner_a)
    old_id = appointment.zoom_meeting.zoom_id
    zoom.fail_next(503, count=10)
    new_start = START + timedelta(days=1)
    result = committed(appointment_move, actor=front_desk, appointment=appointment, starts_at=new_start,
                       ends_at=new_start + timedelta(minutes=30), practitioner=practitioner_a,
                       location=appointment.location)
    assert result.telehealth == TelehealthChange.RECREATED
    appointment.refresh_from_db()
    assert appointment.starts_at == new_start  # the move is saved
    assert appointment.zoom_meeting.state == MeetingState.PENDING_CREATE
    assert appointment.zoom_meeting.last_error
    client.force_login(front_desk)
    diary = client.get(reverse("diary"), {"date": "2030-03-05"}).content.decode()
    assert "Zoom pending" in diary
    assert 'title="pending: ' in diary  # the reason, on the block
    detail = client.get(reverse("appointment-detail", args=[appointment.pk])).content.decode()
    assert "pending:" in detail

    with zoom.lock:
        zoom.state.failures.clear()  # Zoom recovers
    ZoomMeeting.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert meetings_reconcile() == 2
    appointment.refresh_from_db()
    live = zoom_meetings(zoom)
    assert old_id not in live
    assert list(live) == [appointment.zoom_meeting.zoom_id]
    assert live[appointment.zoom_meeting.zoom_id]["start_time"] == "2030-03-04T23:00:00Z"
    assert meetings_reconcile() == 0


def test_a_failed_delete_is_retried_until_done(alice_zoom, practitioner_a, tele_book, zoom, front_desk,
                                               committed):
    from telehealth.services import meetings_reconcile

    appointment = tele_book(practitioner_a)
    zoom.fail_next(500, count=1, method="DELETE")
    committed(appointment_cancel, actor=front_desk, appointment=appointment)
    meeting = ZoomMeeting.objects.get()
    assert meeting.state == MeetingState.PENDING_DELETE and meeting.attempts == 1
    assert meeting.next_attempt_at > timezone.now()
    assert meetings_reconcile() == 0  # not due yet
    ZoomMeeting.objects.update(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC))
    assert meetings_reconcile() == 1
    assert ZoomMeeting.objects.get().state == MeetingState.DELETED and zoom_meetings(zoom) == {}


def test_bad_credentials_fail_the_meeting_and_show_on_the_connection(alice_zoom, practitioner_a, tele_book,
                                                                     zoom, client, admin_user):
    zoom.fail_next(400, count=1, path_contains="/oauth/token", message="Invalid client_id or client_secret")
    from django.core.cache import cache

    cache.clear()
    appointment = tele_book(practitioner_a)
    assert appointment.zoom_meeting.state == MeetingState.FAILED
    alice_zoom.refresh_from_db()
    assert alice_zoom.status == ConnectionStatus.FAILING
    client.force_login(admin_user)
    page = client.get(reverse("zoom-connections")).content.decode()
    assert "Failing" in page


def test_every_zoom_operation_is_audited(alice_zoom, practitioner_a, tele_book, front_desk, committed):
    appointment = tele_book(practitioner_a)
    committed(appointment_telehealth_remove, actor=front_desk, appointment=appointment)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"zoom.credentials_changed", "zoom.connection_tested", "zoom.meeting_created", "zoom.meeting_deleted",
            "appointment.telehealth_removed"} <= actions


def test_a_timeout_on_create_is_not_retried_blindly(alice_zoom, practitioner_a, tele_book, monkeypatch, zoom):
    from telehealth import zoom as zoom_module
    from telehealth.services import meetings_reconcile

    def slow(*args, on_send=None, **kwargs):
        on_send()
        raise zoom_module.ZoomTimeoutError("Zoom did not answer within 10 s; the POST may or may not have been "
                                           "applied.")

    monkeypatch.setattr(zoom_module.ZoomClient, "create_meeting", slow)
    appointment = tele_book(practitioner_a)
    meeting = appointment.zoom_meeting
    assert meeting.state == MeetingState.PENDING_CREATE and meeting.maybe_created
    assert "Zoom did not confirm the meeting" in meeting.last_error and "refused" not in meeting.last_error
    assert meeting.next_attempt_at >= timezone.now() + timedelta(seconds=50)  # Zoom may still be making it
    monkeypatch.undo()
    assert meetings_reconcile() == 0
    ZoomMeeting.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    meetings_reconcile()
    meeting.refresh_from_db()
    # It was not in Zoom: looked for first, then created once.
    lookups = zoom.calls("GET", "/users/alice@example.com/meetings")
    assert len(lookups) == 1 and "type=upcoming" in lookups[0]["query"]
    assert meeting.state == MeetingState.ACTIVE and len(zoom.calls("POST", "/meetings")) == 1


def test_booking_while_zoom_is_down_is_saved_and_says_so(alice_zoom, practitioner_a, client, front_desk, location,
                                                         appointment_type, client_record, zoom,
                                                         django_capture_on_commit_callbacks):
    zoom.fail_next(503, count=3)
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("appointment-new"), {
            "client": client_record.pk, "practitioner": practitioner_a.pk, "date": "2030-03-04",
            "start_time": "10:00", "appointment_type": appointment_type.pk, "location": location.pk,
            "is_telehealth": "on"}, follow=True)
    html = response.content.decode()
    assert "The Zoom meeting is being created" in html  # the worker had not answered when the page was made
    appointment = Appointment.objects.get()
    assert appointment.zoom_meeting.state == MeetingState.PENDING_CREATE
    panel = client.get(reverse("appointment-detail", args=[appointment.pk])).content.decode()
    assert "pending: Zoom is unavailable (HTTP 503)" in panel and "retrying automatically" in panel


def test_a_move_is_saved_even_while_the_connection_is_marked_failing(alice_zoom, practitioner_a, tele_book,
                                                                     front_desk, committed):
    appointment = tele_book(practitioner_a)
    alice_zoom.status = ConnectionStatus.FAILING
    alice_zoom.save()
    new_start = START + timedelta(hours=2)
    committed(appointment_move, actor=front_desk, appointment=appointment, starts_at=new_start,
              ends_at=new_start + timedelta(minutes=30), practitioner=practitioner_a, location=appointment.location)
    appointment.refresh_from_db()
    assert appointment.starts_at == new_start and appointment.is_telehealth
    assert appointment.zoom_meeting.state in (MeetingState.ACTIVE, MeetingState.PENDING_CREATE, MeetingState.FAILED)


def test_a_create_that_died_mid_request_is_not_sent_again(alice_zoom, practitioner_a, tele_book, zoom, monkeypatch):
    from telehealth import zoom as zoom_module
    from telehealth.services import meetings_reconcile

    real_send = zoom_module.ZoomClient._send

    def dies_after_sending(self, method, url, **kwargs):
        response = real_send(self, method, url, **kwargs)
        if method == "POST" and url.endswith("/meetings"):
            raise SystemExit("worker killed")  # Zoom made the meeting; nothing records the outcome
        return response

    monkeypatch.setattr(zoom_module.ZoomClient, "_send", dies_after_sending)
    with pytest.raises(SystemExit):
        tele_book(practitioner_a)
    monkeypatch.undo()
    meeting = ZoomMeeting.objects.get()
    assert meeting.create_sent_at is not None
    ZoomMeeting.objects.update(claimed_until=None, next_attempt_at=None)
    posts = len(zoom.calls("POST", "/meetings"))
    meetings_reconcile()
    meeting.refresh_from_db()
    # Found in the host's list by its reference and used: no second create, one meeting in Zoom.
    assert meeting.state == MeetingState.ACTIVE and meeting.zoom_id in zoom_meetings(zoom)
    assert len(zoom.calls("POST", "/meetings")) == posts
    assert len(zoom_meetings(zoom)) == 1
    assert AuditEvent.objects.filter(action="zoom.meeting_adopted").exists()


def test_the_agenda_carries_an_opaque_reference_only(alice_zoom, practitioner_a, tele_book, zoom, client_record):
    meeting = tele_book(practitioner_a).zoom_meeting
    agenda = zoom.calls("POST", "/meetings")[0]["json"]["agenda"]
    assert agenda == f"ref:{meeting.create_ref}"
    assert re.fullmatch(r"ref:[0-9a-f]{16}", agenda)  # random: no client data, no appointment id


def test_r3_a_reinstated_appointment_without_a_meeting_does_not_block_a_colleague(
        connect, practitioner_a, practitioner_b, tele_book, front_desk, committed):
    connect(practitioner_a, "shared@example.com", plan=1)
    connect(practitioner_b, "shared@example.com", plan=1)
    first = tele_book(practitioner_a)
    committed(appointment_cancel, actor=front_desk, appointment=first)
    committed(appointment_reinstate, actor=front_desk, appointment=first)
    tele_book(practitioner_b)  # the shared Basic user is free: the first meeting was deleted
