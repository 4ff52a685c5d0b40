"""Zoom faults end in a correct state a person can see (issue 7, items 3–8): Retry-After and the daily limit,
deletes that have not happened, creates Zoom never confirmed, the token cache down, outages during a connection
test, Zoom work off the web request, and credentials Zoom could never accept."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from devtools.zoom_emulator import DEMO_ACCOUNT_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from practice.errors import ApplicationError
from practice.models import AuditEvent
from scheduling.models import Appointment
from scheduling.services import (
    appointment_book,
    appointment_cancel,
    appointment_move,
    appointment_telehealth_add,
    appointment_telehealth_remove,
)
from telehealth import crypto, selectors, services
from telehealth.models import ConnectionStatus, FailureKind, MeetingState, ZoomConnection, ZoomMeeting
from telehealth.services import meetings_reconcile
from tests.telehealth.conftest import START
from tests.zoom_fixtures import zoom_meetings


def due_now() -> None:
    ZoomMeeting.objects.exclude(next_attempt_at=None).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def panel(client, user, appointment) -> str:
    client.force_login(user)
    return client.get(reverse("appointment-detail", args=[appointment.pk])).content.decode()


# Item 3: Retry-After and Zoom's daily limit ------------------------------------------------------------------

def test_a_429_retry_after_in_seconds_sets_the_next_attempt(alice_zoom, practitioner_a, tele_book, zoom):
    zoom.fail_next(429, count=1, method="POST", retry_after="120", message="Too many requests.")
    before = timezone.now()
    meeting = tele_book(practitioner_a).zoom_meeting
    assert meeting.state == MeetingState.PENDING_CREATE
    assert before + timedelta(seconds=120) <= meeting.next_attempt_at <= timezone.now() + timedelta(seconds=135)
    assert meetings_reconcile() == 0  # Zoom said two minutes: nothing is sent before
    assert len(zoom.calls("POST", "/meetings")) == 1


def test_a_429_retry_after_as_an_http_date_is_honoured(alice_zoom, practitioner_a, tele_book, zoom):
    from email.utils import format_datetime

    later = timezone.now().astimezone(UTC).replace(microsecond=0) + timedelta(minutes=7)
    zoom.fail_next(429, count=1, method="POST", retry_after=format_datetime(later, usegmt=True))
    meeting = tele_book(practitioner_a).zoom_meeting
    assert later <= meeting.next_attempt_at <= later + timedelta(minutes=1)


DAILY = ("You have reached the maximum daily limit (100) of Meeting Create/Update API requests permitted for this "
         "particular user. You may resume these requests at GMT 00:00:00.")


def test_the_daily_limit_holds_the_host_until_00_00_utc_and_says_when_in_practice_time(
        alice_zoom, practitioner_a, tele_book, zoom, client, front_desk, admin_user):
    with time_machine.travel(datetime(2030, 3, 1, 3, 0, tzinfo=UTC), tick=False):
        zoom.daily_limit = 0  # this Zoom user's 100 are used up
        first = tele_book(practitioner_a)
        second = tele_book(practitioner_a, START + timedelta(hours=2))
        midnight = datetime(2030, 3, 2, 0, 0, tzinfo=UTC)
        for appointment in (first, second):
            meeting = appointment.zoom_meeting
            assert meeting.state == MeetingState.PENDING_CREATE and meeting.next_attempt_at >= midnight
            # 00:00 UTC is 11:00 in Sydney (AEDT) on Saturday 2 March 2030.
            assert "11:00 Sat 02 Mar" in meeting.last_error and "00:00 UTC" in meeting.last_error
        assert len(zoom.calls("POST", "/meetings")) == 1  # the second never went to Zoom
        alice_zoom.refresh_from_db()
        assert alice_zoom.daily_limit_until == midnight
        assert "11:00 Sat 02 Mar" in panel(client, front_desk, first)
        client.force_login(admin_user)
        page = client.get(reverse("zoom-connection", args=[practitioner_a.pk])).content.decode()
        assert "Daily limit" in page and "11:00" in page
        assert "daily limit is used up" in client.get(reverse("zoom-connections")).content.decode()
        assert set(selectors.meetings_needing_attention()) == {first.zoom_meeting, second.zoom_meeting}
        assert list(selectors.connections_on_daily_hold()) == [alice_zoom]
        with pytest.raises(ApplicationError, match="daily limit"):
            services.meeting_retry_now(actor=front_desk, meeting=first.zoom_meeting)
        ZoomMeeting.objects.update(next_attempt_at=timezone.now())
        assert meetings_reconcile() == 2
        assert len(zoom.calls("POST", "/meetings")) == 1  # held: still nothing sent
    with time_machine.travel(datetime(2030, 3, 2, 0, 5, tzinfo=UTC), tick=False):
        zoom.daily_limit = 100
        assert meetings_reconcile() == 2
    assert ZoomMeeting.objects.filter(state=MeetingState.ACTIVE).count() == 2
    alice_zoom.refresh_from_db()
    assert alice_zoom.daily_limit_until is None


def test_a_daily_limit_that_resets_after_the_appointment_starts_fails_the_meeting(
        alice_zoom, practitioner_a, tele_book, zoom):
    with time_machine.travel(datetime(2030, 3, 3, 22, 0, tzinfo=UTC), tick=False):  # 09:00 Mon in Sydney
        zoom.fail_next(429, count=1, method="POST", message=DAILY)
        meeting = tele_book(practitioner_a).zoom_meeting  # 10:00 Sydney = 23:00 UTC, before the reset
    assert meeting.state == MeetingState.FAILED
    assert "after this appointment starts" in meeting.last_error


# Item 4: a delete that has not happened is never shown as done ------------------------------------------------

def test_a_cancellation_whose_delete_fails_says_the_meeting_is_still_to_be_deleted(
        alice_zoom, practitioner_a, tele_book, zoom, front_desk, committed, client):
    appointment = tele_book(practitioner_a)
    zoom.fail_next(503, count=1, method="DELETE")
    committed(appointment_cancel, actor=front_desk, appointment=appointment)
    html = panel(client, front_desk, appointment)
    assert "was deleted" not in html
    assert "Zoom meeting still to be deleted: Zoom is unavailable (HTTP 503)" in html and "; retrying" in html
    due_now()
    meetings_reconcile()
    html = panel(client, front_desk, appointment)
    assert "The Zoom meeting was deleted with the cancellation" in html and zoom_meetings(zoom) == {}


def test_a_meeting_in_progress_is_deleted_later_and_the_panel_says_so(
        alice_zoom, practitioner_a, tele_book, zoom, front_desk, committed, client):
    appointment = tele_book(practitioner_a)
    zoom.fail_next(400, count=1, code=3002, method="DELETE",
                   message="Sorry, you cannot delete this meeting since it is in progress.")
    committed(appointment_telehealth_remove, actor=front_desk, appointment=appointment)  # R9
    meeting = ZoomMeeting.objects.get()
    assert meeting.state == MeetingState.PENDING_DELETE and not meeting.needs_person
    assert meeting.next_attempt_at >= timezone.now() + timedelta(minutes=9)
    html = panel(client, front_desk, appointment)
    assert f"An earlier Zoom meeting ({meeting.formatted_id}) is still to be deleted" in html
    assert "in progress" in html and "retrying" in html
    assert 'hx-trigger="every' in html  # the panel keeps itself up to date


def test_after_a_move_to_another_practitioner_the_old_meeting_still_shows_until_deleted(
        alice_zoom, practitioner_a, practitioner_b, tele_book, zoom, front_desk, committed, client):
    appointment = tele_book(practitioner_a)
    zoom.fail_next(503, count=1, method="DELETE")
    committed(appointment_move, actor=front_desk, appointment=appointment, starts_at=START,
              ends_at=START + timedelta(minutes=30), practitioner=practitioner_b, location=appointment.location)
    html = panel(client, front_desk, appointment)
    assert "Make this a telehealth appointment" in html and "is still to be deleted" in html
    assert "was deleted" not in html


@pytest.mark.parametrize("code", [3000, 3003, 3007])
def test_a_permanent_delete_refusal_is_surfaced_and_not_retried_blindly(
        alice_zoom, practitioner_a, tele_book, zoom, front_desk, committed, client, code):
    appointment = tele_book(practitioner_a)
    zoom.fail_next(400, count=1, code=code, method="DELETE", message="You are not the meeting host.")
    committed(appointment_cancel, actor=front_desk, appointment=appointment)
    meeting = ZoomMeeting.objects.get()
    assert meeting.state == MeetingState.PENDING_DELETE and meeting.needs_person
    assert meeting.next_attempt_at is None and "Zoom refused to delete the meeting" in meeting.last_error
    assert meetings_reconcile() == 0  # waits for a person
    assert list(selectors.meetings_needing_attention()) == [meeting]
    html = panel(client, front_desk, appointment)
    assert "It is not retried automatically" in html and "was deleted" not in html
    assert 'hx-trigger="every' not in html  # nothing will change by itself: no polling
    committed(services.meeting_retry_now, actor=front_desk, meeting=meeting)  # queued; Zoom deletes it
    meeting.refresh_from_db()
    assert meeting.state == MeetingState.DELETED and zoom_meetings(zoom) == {}
    assert AuditEvent.objects.filter(action="zoom.meeting_retry_now", actor=front_desk).exists()


def test_a_revoked_delete_scope_fails_the_connection_and_keeps_retrying_visibly(
        alice_zoom, practitioner_a, tele_book, zoom, front_desk, committed):
    appointment = tele_book(practitioner_a)
    zoom.fail_next(400, count=1, code=4711, method="DELETE",
                   message="Invalid access token, does not contain scopes:[meeting:delete:meeting:admin].")
    committed(appointment_cancel, actor=front_desk, appointment=appointment)
    meeting = ZoomMeeting.objects.get()
    assert meeting.needs_person and meeting.next_attempt_at > timezone.now() + timedelta(minutes=50)
    alice_zoom.refresh_from_db()
    assert alice_zoom.status == ConnectionStatus.FAILING and alice_zoom.failure_kind == FailureKind.SCOPES
    assert list(selectors.connections_failing()) == [alice_zoom]


# Item 5: a create Zoom never confirmed is looked for and adopted ----------------------------------------------

def test_a_create_that_timed_out_is_found_by_its_reference_and_adopted(
        alice_zoom, practitioner_a, tele_book, zoom, settings, client, front_desk):
    settings.ZOOM_READ_TIMEOUT = 0.3
    zoom.delay_next(1.5, path_contains="/meetings", method="POST")
    appointment = tele_book(practitioner_a)
    meeting = appointment.zoom_meeting
    assert meeting.state == MeetingState.PENDING_CREATE and meeting.maybe_created
    assert "Zoom did not confirm the meeting" in meeting.last_error and "refused" not in meeting.last_error
    assert len(zoom_meetings(zoom)) == 1  # Zoom did make it
    html = panel(client, front_desk, appointment)
    assert "Zoom did not confirm" in html and "refused" not in html
    due_now()
    meetings_reconcile()
    meeting.refresh_from_db()
    assert meeting.state == MeetingState.ACTIVE and list(zoom_meetings(zoom)) == [meeting.zoom_id]
    assert len(zoom.calls("POST", "/meetings")) == 1  # never a second create
    assert meeting.join_url and meeting.passcode == zoom_meetings(zoom)[meeting.zoom_id]["password"]


def test_try_again_after_an_unconfirmed_create_failed_adopts_the_meeting_instead_of_a_second(
        alice_zoom, practitioner_a, tele_book, zoom, settings, front_desk, committed):
    settings.ZOOM_READ_TIMEOUT = 0.3
    zoom.delay_next(1.5, path_contains="/meetings", method="POST")
    appointment = tele_book(practitioner_a)
    settings.ZOOM_READ_TIMEOUT = 10.0
    zoom.fail_next(400, count=1, code=300, method="GET", path_contains="/users/alice@example.com/meetings",
                   message="Invalid request.")
    due_now()
    meetings_reconcile()  # the look-up itself is refused: a person must decide
    failed = ZoomMeeting.objects.get()
    assert failed.state == MeetingState.FAILED and failed.maybe_created
    committed(appointment_telehealth_add, actor=front_desk, appointment=appointment)  # "Try again"
    appointment.refresh_from_db()
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE
    assert list(zoom_meetings(zoom)) == [appointment.zoom_meeting.zoom_id]
    assert len(zoom.calls("POST", "/meetings")) == 1  # found by the inherited reference, not made twice
    failed.refresh_from_db()
    assert failed.state == MeetingState.DELETED  # handed over, not deleted from Zoom
    assert zoom.calls("DELETE") == []


def test_deleting_and_re_ticking_telehealth_after_an_unconfirmed_create_leaves_one_meeting(
        alice_zoom, practitioner_a, tele_book, zoom, settings, front_desk, committed):
    settings.ZOOM_READ_TIMEOUT = 0.3
    zoom.delay_next(1.5, path_contains="/meetings", method="POST")
    appointment = tele_book(practitioner_a)
    settings.ZOOM_READ_TIMEOUT = 10.0
    committed(appointment_telehealth_remove, actor=front_desk, appointment=appointment)
    committed(appointment_telehealth_add, actor=front_desk, appointment=appointment)
    appointment.refresh_from_db()
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE
    assert list(zoom_meetings(zoom)) == [appointment.zoom_meeting.zoom_id]  # the unconfirmed one was found, deleted


def test_an_unconfirmed_create_that_is_let_go_is_found_and_deleted(
        alice_zoom, practitioner_a, tele_book, zoom, settings, front_desk, committed):
    settings.ZOOM_READ_TIMEOUT = 0.3
    zoom.delay_next(1.5, path_contains="/meetings", method="POST")
    appointment = tele_book(practitioner_a)
    settings.ZOOM_READ_TIMEOUT = 10.0
    committed(appointment_cancel, actor=front_desk, appointment=appointment)
    assert zoom_meetings(zoom) == {}  # no orphan: looked up by reference and deleted
    assert ZoomMeeting.objects.get().state == MeetingState.DELETED


def test_without_the_list_scope_a_person_is_asked_to_check_and_the_zoom_page_says_so(
        alice_zoom, practitioner_a, tele_book, zoom, settings, front_desk, committed, client, admin_user):
    settings.ZOOM_READ_TIMEOUT = 0.3
    zoom.delay_next(1.5, path_contains="/meetings", method="POST")
    appointment = tele_book(practitioner_a)
    settings.ZOOM_READ_TIMEOUT = 10.0
    zoom.fail_next(400, count=1, code=4711, method="GET", path_contains="/users/alice@example.com/meetings",
                   message="Invalid access token, does not contain scopes:[meeting:read:list_meetings:admin].")
    due_now()
    meetings_reconcile()
    meeting = ZoomMeeting.objects.get()
    assert meeting.state == MeetingState.FAILED and "list the practitioner's meetings" in meeting.last_error
    client.force_login(admin_user)
    page = client.get(reverse("zoom-connection", args=[practitioner_a.pk])).content.decode()
    assert "Missing scopes" in page and "meeting:read:list_meetings:admin" in page
    # The person checked Zoom (and deleted the stray meeting); Try again now creates without looking.
    with zoom.lock:
        zoom.state.meetings.clear()
    committed(appointment_telehealth_add, actor=front_desk, appointment=appointment)
    appointment.refresh_from_db()
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE and len(zoom_meetings(zoom)) == 1


# Item 6: the token cache (Redis) unreachable ------------------------------------------------------------------

@pytest.fixture
def cache_down(monkeypatch):
    from telehealth import zoom as zoom_module

    class DownCache:
        def __getattr__(self, name):
            def down(*args, **kwargs):
                raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

            return down

    monkeypatch.setattr(zoom_module, "cache", DownCache())


def test_a_booking_with_the_token_cache_down_says_why_and_knows_nothing_was_sent(
        alice_zoom, practitioner_a, tele_book, zoom, cache_down, client, front_desk):
    posts = len(zoom.calls("POST"))
    meeting = tele_book(practitioner_a).zoom_meeting
    assert meeting.state == MeetingState.PENDING_CREATE
    assert "token cache (Redis) is unreachable" in meeting.last_error
    assert meeting.create_sent_at is None and not meeting.maybe_created  # no request left
    assert len(zoom.calls("POST")) == posts


def test_test_connection_and_start_meeting_survive_the_token_cache_down(
        alice_zoom, practitioner_a, tele_book, client, admin_user, monkeypatch):
    appointment = tele_book(practitioner_a)
    from telehealth import zoom as zoom_module

    class DownCache:
        def __getattr__(self, name):
            def down(*args, **kwargs):
                raise ConnectionError("Connection refused.")

            return down

    monkeypatch.setattr(zoom_module, "cache", DownCache())
    client.force_login(admin_user)
    response = client.post(reverse("zoom-connection-test", args=[practitioner_a.pk]), follow=True)
    assert response.status_code == 200 and "token cache" in response.content.decode()
    alice_zoom.refresh_from_db()
    assert alice_zoom.status == ConnectionStatus.CONNECTED  # an outage says nothing about the credentials
    start = client.get(reverse("appointment-zoom-start", args=[appointment.pk]))
    assert start.status_code == 302 and start.url == reverse("appointment-zoom", args=[appointment.pk])
    details = client.get(start.url).content.decode()
    assert "Try Start meeting again in a moment" in details


# Item 7: outages never mark a connection failing; success heals -----------------------------------------------

@pytest.mark.parametrize(("status", "code", "path"), [
    (503, None, "/v2/users/"), (502, None, "/oauth/token"), (429, 429, "/v2/users/"), (504, None, "/v2/users/")])
def test_a_connection_test_during_a_zoom_outage_leaves_the_status_alone(
        alice_zoom, zoom, status, code, path):
    from django.core.cache import cache

    cache.clear()
    zoom.fail_next(status, count=1, code=code, path_contains=path)
    connection = services.connection_test(actor=None, connection=alice_zoom)
    assert connection.status == ConnectionStatus.CONNECTED
    assert "could not be reached" in connection.last_test_problem
    connection = services.connection_test(actor=None, connection=connection)
    assert connection.status == ConnectionStatus.CONNECTED and connection.last_test_problem == ""


def test_a_connection_test_timeout_says_so_and_the_page_shows_it(alice_zoom, zoom, client, admin_user,
                                                                  practitioner_a, settings):
    settings.ZOOM_READ_TIMEOUT = 0.3
    zoom.delay_next(1.0, path_contains="/v2/users/alice")
    client.force_login(admin_user)
    response = client.post(reverse("zoom-connection-test", args=[practitioner_a.pk]), follow=True)
    html = response.content.decode()
    assert "Zoom could not be reached to test the connection" in html and "status is unchanged" in html
    alice_zoom.refresh_from_db()
    assert alice_zoom.status == ConnectionStatus.CONNECTED


def test_a_connection_failing_for_a_vanished_zoom_user_heals_on_the_next_successful_call(
        alice_zoom, practitioner_a, tele_book, zoom, front_desk, committed):
    appointment = tele_book(practitioner_a)
    services._set_connection_status(alice_zoom, ConnectionStatus.FAILING, "User does not exist", FailureKind.USER)
    alice_zoom.save()
    committed(appointment_telehealth_remove, actor=front_desk, appointment=appointment)  # a delete that works
    alice_zoom.refresh_from_db()
    assert alice_zoom.status == ConnectionStatus.CONNECTED and alice_zoom.status_reason == ""


def test_refused_credentials_are_not_healed_by_another_call_but_by_a_test(
        alice_zoom, practitioner_a, tele_book, zoom, front_desk, committed):
    appointment = tele_book(practitioner_a)
    services._set_connection_status(alice_zoom, ConnectionStatus.FAILING, "invalid_client", FailureKind.CREDENTIALS)
    alice_zoom.save()
    committed(appointment_telehealth_remove, actor=front_desk, appointment=appointment)
    alice_zoom.refresh_from_db()
    assert alice_zoom.status == ConnectionStatus.FAILING
    assert services.connection_test(actor=None, connection=alice_zoom).status == ConnectionStatus.CONNECTED


# Item 8: Zoom work on the worker, the page updates itself ----------------------------------------------------

def test_booking_queues_the_zoom_work_and_calls_no_zoom_in_the_request(
        alice_zoom, practitioner_a, zoom, client, front_desk, location, appointment_type, client_record,
        django_capture_on_commit_callbacks, monkeypatch):
    from telehealth import tasks

    queued = []
    monkeypatch.setattr(tasks.meeting_sync_task, "delay", lambda pk: queued.append(pk))
    seen = len(zoom.calls())
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("appointment-new"), {
            "client": client_record.pk, "practitioner": practitioner_a.pk, "date": "2030-03-04",
            "start_time": "10:00", "appointment_type": appointment_type.pk, "location": location.pk,
            "is_telehealth": "on"})
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert queued == [appointment.zoom_meeting_id]
    assert zoom.calls()[seen:] == []  # the request never waited on Zoom
    html = panel(client, front_desk, appointment)
    assert "Creating Zoom meeting…" in html and 'hx-trigger="every 3s"' in html and "?part=telehealth" in html
    diary = client.get(reverse("diary"), {"date": "2030-03-04"}).content.decode()
    assert "Creating Zoom meeting…" in diary and "?part=zoom-badge" in diary
    services.meeting_sync(meeting_pk=appointment.zoom_meeting_id)  # the worker
    part = client.get(reverse("appointment-detail", args=[appointment.pk]), {"part": "telehealth"}).content.decode()
    assert "is ready" in part and "hx-trigger=\"every" not in part
    assert 'hx-trigger="load"' in part  # reloads the whole panel once (send buttons)
    badge = client.get(reverse("appointment-detail", args=[appointment.pk]), {"part": "zoom-badge"}).content.decode()
    assert badge == '<span class="badge zoom">Zoom</span>'


def test_a_broker_outage_never_breaks_the_booking_and_the_sweep_does_the_work(
        alice_zoom, practitioner_a, tele_book, zoom, monkeypatch):
    from telehealth import tasks

    def broker_down(pk):
        raise OSError("Connection refused (broker)")

    monkeypatch.setattr(tasks.meeting_sync_task, "delay", broker_down)
    appointment = tele_book(practitioner_a)
    assert appointment.zoom_meeting.state == MeetingState.PENDING_CREATE
    monkeypatch.undo()
    assert meetings_reconcile() == 1
    appointment.refresh_from_db()
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE


def test_start_meeting_gives_zoom_two_seconds_at_most(alice_zoom, practitioner_a, tele_book, client, zoom,
                                                      settings):
    appointment = tele_book(practitioner_a)
    settings.ZOOM_READ_TIMEOUT = 30.0
    zoom.delay_next(2.5, path_contains=f"/meetings/{appointment.zoom_meeting.zoom_id}", method="GET")
    client.force_login(practitioner_a.user)
    started = timezone.now()
    response = client.get(reverse("appointment-zoom-start", args=[appointment.pk]))
    assert timezone.now() - started < timedelta(seconds=2.4)
    assert response.status_code == 302 and "/s/" not in response.url
    zoom.delay_release.set()


# Non-Latin-1 credentials -------------------------------------------------------------------------------------

def test_credentials_zoom_could_never_accept_are_a_form_error(zoom, client, admin_user, practitioner_a):
    client.force_login(admin_user)
    response = client.post(reverse("zoom-connection", args=[practitioner_a.pk]), {
        "account_id": DEMO_ACCOUNT_ID, "client_id": "sécret-€", "client_secret": "sécret-€",
        "zoom_user": "alice@example.com"})
    assert response.status_code == 200
    assert "contains characters Zoom credentials never have" in response.content.decode()
    assert not ZoomConnection.objects.exists()


def test_the_service_refuses_them_too(practitioner_a, admin_user):
    with pytest.raises(ApplicationError, match="client secret contains characters"):
        services.connection_save(actor=admin_user, practitioner=practitioner_a, account_id=DEMO_ACCOUNT_ID,
                                 client_id=DEMO_CLIENT_ID, client_secret="sécret-€", zoom_user="a@example.com")


def test_stored_bad_credentials_fail_the_test_clearly_never_500(alice_zoom, client, admin_user, practitioner_a):
    ZoomConnection.objects.filter(pk=alice_zoom.pk).update(client_secret_encrypted=crypto.encrypt("sécret-€"),
                                                           client_id="clïent")
    client.force_login(admin_user)
    for _ in range(2):
        response = client.post(reverse("zoom-connection-test", args=[practitioner_a.pk]), follow=True)
        assert response.status_code == 200
        assert "contains characters Zoom credentials never have" in response.content.decode()
    alice_zoom.refresh_from_db()
    assert alice_zoom.status == ConnectionStatus.FAILING and alice_zoom.failure_kind == FailureKind.CREDENTIALS


# Needs attention ------------------------------------------------------------------------------------------------

def test_needs_attention_lists_failed_stale_and_stuck_meetings_until_resolved(
        alice_zoom, practitioner_a, tele_book, zoom, front_desk, committed):
    healthy = tele_book(practitioner_a).zoom_meeting
    zoom.fail_next(400, count=1, code=300, method="POST", message="Invalid passcode.")
    failed = tele_book(practitioner_a, START + timedelta(hours=1)).zoom_meeting
    zoom.fail_next(503, count=1, method="POST")
    pending = tele_book(practitioner_a, START + timedelta(hours=2)).zoom_meeting
    assert failed.state == MeetingState.FAILED and pending.state == MeetingState.PENDING_CREATE
    assert list(selectors.meetings_needing_attention()) == [failed]  # pending for seconds only: not yet
    ZoomMeeting.objects.filter(pk=pending.pk).update(pending_since=timezone.now() - timedelta(minutes=16))
    assert set(selectors.meetings_needing_attention()) == {failed, pending}
    assert healthy not in selectors.meetings_needing_attention()

    services.meeting_mark_resolved(actor=front_desk, meeting=failed)
    failed.refresh_from_db()
    assert failed.attention_resolved_by == front_desk and failed.state == MeetingState.FAILED
    assert list(selectors.meetings_needing_attention()) == [pending]
    assert AuditEvent.objects.filter(action="zoom.meeting_resolved", actor=front_desk).exists()
    with pytest.raises(ApplicationError, match="Try again"):
        services.meeting_retry_now(actor=front_desk, meeting=failed)

    committed(services.meeting_retry_now, actor=front_desk, meeting=pending)  # Zoom is back: created now
    pending.refresh_from_db()
    assert pending.state == MeetingState.ACTIVE
    assert list(selectors.meetings_needing_attention()) == []


def test_marking_a_stuck_delete_resolved_stops_it(alice_zoom, practitioner_a, tele_book, zoom, front_desk,
                                                  committed):
    appointment = tele_book(practitioner_a)
    zoom.fail_next(400, count=1, code=3003, method="DELETE", message="You are not the meeting host.")
    committed(appointment_cancel, actor=front_desk, appointment=appointment)
    meeting = ZoomMeeting.objects.get()
    services.meeting_mark_resolved(actor=front_desk, meeting=meeting)
    meeting.refresh_from_db()
    assert meeting.state == MeetingState.DELETED and "Marked as deleted in Zoom by" in meeting.last_error
    assert list(selectors.meetings_needing_attention()) == [] and meetings_reconcile() == 0


def test_the_secret_demo_constant_is_still_the_one_the_emulator_accepts():
    # A guard for the fixtures above, which rely on DEMO_CLIENT_SECRET passing the new credentials check.
    assert services.credentials_problem(account_id=DEMO_ACCOUNT_ID, client_id=DEMO_CLIENT_ID,
                                        client_secret=DEMO_CLIENT_SECRET) == ""


def test_discarding_a_stale_copy_of_a_meeting_a_worker_just_claimed_never_forgets_it(
        alice_zoom, practitioner_a, front_desk, location, appointment_type, client_record):
    result = appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a,
                              location=location, appointment_type=appointment_type, starts_at=START,
                              is_telehealth=True)  # on_commit not run: the create has not started
    stale = ZoomMeeting.objects.get(pk=result.appointment.zoom_meeting_id)
    ZoomMeeting.objects.update(claimed_until=timezone.now() + timedelta(minutes=1))  # a worker took it since
    services.meeting_discard(meeting=stale)
    meeting = ZoomMeeting.objects.get()
    # Whatever that worker creates is deleted when it records its result, instead of being left in Zoom.
    assert meeting.state == MeetingState.PENDING_DELETE and meeting.appointment_pk == result.appointment.pk
