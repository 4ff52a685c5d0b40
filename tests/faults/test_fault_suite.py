"""The fault suite (issue 7): each fault is injected into a whole journey through the pages, and each test asserts
that nothing is lost, nothing is duplicated, no Zoom meeting is orphaned, and what the page says.

Zoom is the local emulator over real HTTP (its fail_next/delay_next inject the faults); the web request and
the worker are told apart by catching the queued task, so the journey runs as in a deployment.
"""

import os
import signal
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from attention.selectors import attention_items
from reminders.models import Channel, CreditEntry, Message, MessageStatus
from reminders.services import credits_balance, messages_recover
from scheduling.models import Appointment
from telehealth import services as telehealth_services
from telehealth import tasks as telehealth_tasks
from telehealth.models import MeetingState, ZoomMeeting
from telehealth.services import meetings_reconcile
from tests.conftest import sydney
from tests.zoom_fixtures import zoom_meetings

# Real commits: the Zoom and SMS work is queued on commit, as in a deployment.
pytestmark = pytest.mark.django_db(transaction=True)

NOW = sydney(2030, 3, 1, 9)
START = sydney(2030, 3, 4, 10)


@pytest.fixture
def worker(monkeypatch):
    """Queued Zoom work waits here, as for a separate worker; ``run()`` is the worker picking it up."""

    class Worker:
        queue: list[int] = []

        def run(self) -> None:
            while self.queue:
                telehealth_services.meeting_sync(meeting_pk=self.queue.pop(0))

    found = Worker()
    found.queue = []
    monkeypatch.setattr(telehealth_tasks.meeting_sync_task, "delay", found.queue.append)
    return found


@pytest.fixture
def desk(client, front_desk):
    client.force_login(front_desk)
    client.raise_request_exception = False
    return client


def _book_telehealth(desk, practitioner, location, appointment_type, client_record, at="10:00") -> Appointment:
    response = desk.post(reverse("appointment-new"), {
        "client": client_record.pk, "practitioner": practitioner.pk, "date": "2030-03-04", "start_time": at,
        "appointment_type": appointment_type.pk, "location": location.pk, "is_telehealth": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    return Appointment.objects.select_related("zoom_meeting").latest("pk")


def _move(desk, appointment: Appointment, *, at: str, practitioner=None):
    return desk.post(reverse("appointment-move", args=[appointment.pk]), {
        "date": "2030-03-04", "start_time": at, "practitioner": (practitioner or appointment.practitioner).pk,
        "location": appointment.location_id})


def _panel(desk, appointment: Appointment) -> str:
    response = desk.get(reverse("appointment-detail", args=[appointment.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _later(minutes: int) -> None:
    """Let the sweep's next attempts fall due, as if ``minutes`` had passed."""
    ZoomMeeting.objects.exclude(next_attempt_at=None).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1))
    ZoomMeeting.objects.update(claimed_until=None)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=True):
        yield


# Zoom hanging ---------------------------------------------------------------------------------------------------

def test_zoom_hanging_never_holds_the_booking_and_the_meeting_is_made_once(
        alice_zoom, practitioner_a, location, appointment_type, client_record, desk, worker, zoom, settings):
    zoom.delay_next(2.0, path_contains="/meetings", method="POST")  # Zoom makes it, then hangs
    settings.ZOOM_READ_TIMEOUT = 0.3
    calls_before = len(zoom.calls())
    appointment = _book_telehealth(desk, practitioner_a, location, appointment_type, client_record)
    assert zoom.calls()[calls_before:] == []  # the request only queued the work
    assert "Creating Zoom meeting…" in _panel(desk, appointment)

    worker.run()  # the create times out: Zoom did it but never said so
    html = _panel(desk, appointment)
    assert "refused" not in html.lower()
    assert "did not confirm" in html
    zoom.delay_release.set()

    _later(2)
    meetings_reconcile()  # looks for the meeting by its reference before creating anything
    appointment.refresh_from_db()
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE
    assert len(zoom_meetings(zoom)) == 1  # adopted, not made twice
    assert len(zoom.calls("POST", "/meetings")) == 1
    assert "is ready" in _panel(desk, appointment)


# Zoom 5xx, 429 and timeouts in the middle of a move (R7) ---------------------------------------------------------

@pytest.fixture
def ready(alice_zoom, practitioner_a, location, appointment_type, client_record, desk, worker, zoom):
    appointment = _book_telehealth(desk, practitioner_a, location, appointment_type, client_record)
    worker.run()
    appointment.refresh_from_db()
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE
    return appointment


def test_a_zoom_outage_while_re_creating_after_a_move_keeps_the_move_and_ends_with_one_meeting(
        ready, desk, worker, zoom):
    old_zoom_id = ready.zoom_meeting.zoom_id
    zoom.fail_next(503, count=2, path_contains="/meetings", method="POST")
    response = _move(desk, ready, at="14:00")
    assert response.status_code == 302
    ready.refresh_from_db()
    assert ready.starts_at == sydney(2030, 3, 4, 14)  # the move is kept whatever Zoom does
    worker.run()
    assert old_zoom_id not in zoom_meetings(zoom)  # the old link is dead (R7)
    html = _panel(desk, ready)
    assert "was re-created" not in html
    assert "503" in html or "unavailable" in html.lower()
    _later(1)
    meetings_reconcile()
    _later(2)
    meetings_reconcile()
    ready.refresh_from_db()
    assert ready.zoom_meeting.state == MeetingState.ACTIVE
    alive = zoom_meetings(zoom)
    assert list(alive) == [ready.zoom_meeting.zoom_id]  # exactly one meeting, at the new time, none orphaned
    assert ZoomMeeting.objects.filter(state__in=(MeetingState.PENDING_CREATE, MeetingState.PENDING_DELETE)).count() == 0


def test_a_rate_limit_while_re_creating_waits_as_zoom_says_and_creates_once(ready, desk, worker, zoom):
    zoom.fail_next(429, code=429, message="Too many requests.", retry_after="120", path_contains="/meetings",
                   method="POST")
    _move(desk, ready, at="15:00")
    worker.run()
    ready.refresh_from_db()
    meeting = ready.zoom_meeting
    assert meeting.state == MeetingState.PENDING_CREATE
    assert meeting.next_attempt_at >= timezone.now() + timedelta(seconds=115)
    posts = len(zoom.calls("POST", "/meetings"))
    meetings_reconcile()  # not yet due: nothing is sent
    assert len(zoom.calls("POST", "/meetings")) == posts
    _later(3)
    meetings_reconcile()
    ready.refresh_from_db()
    assert ready.zoom_meeting.state == MeetingState.ACTIVE
    assert len(zoom_meetings(zoom)) == 1


def test_a_delete_that_times_out_during_a_move_is_finished_later_with_no_orphan(ready, desk, worker, zoom, settings):
    old_zoom_id = ready.zoom_meeting.zoom_id
    zoom.delay_next(2.0, path_contains=f"/meetings/{old_zoom_id}", method="DELETE")
    settings.ZOOM_READ_TIMEOUT = 0.3
    _move(desk, ready, at="16:00")
    worker.run()
    zoom.delay_release.set()
    html = _panel(desk, ready)
    assert "was deleted" not in html
    _later(1)
    meetings_reconcile()  # Zoom says 3001 (already gone): that counts as deleted
    assert ZoomMeeting.objects.get(zoom_id=old_zoom_id).state == MeetingState.DELETED
    ready.refresh_from_db()
    assert list(zoom_meetings(zoom)) == [ready.zoom_meeting.zoom_id]


def test_a_cancellation_whose_delete_keeps_failing_is_never_shown_as_done_and_is_listed(ready, desk, worker, zoom):
    zoom.fail_next(503, count=50, path_contains="/meetings/", method="DELETE")
    desk.post(reverse("appointment-cancel", args=[ready.pk]), {"reason": "Client unwell"})
    worker.run()
    html = _panel(desk, ready)
    assert "The Zoom meeting was deleted" not in html
    assert "still to be deleted" in html
    with time_machine.travel(NOW + timedelta(minutes=30), tick=False):
        titles = [item.title for item in attention_items()]
        assert any(title.startswith("Zoom meeting still to be deleted") for title in titles)
        assert "Needs attention" in desk.get(reverse("diary")).content.decode()
    assert len(zoom_meetings(zoom)) == 1  # still there, and still being deleted: not forgotten


# Redis unreachable -----------------------------------------------------------------------------------------------

@pytest.fixture
def redis_down(settings):
    """Django's cache (Zoom tokens, locks) on a Redis nobody listens to; Django resets its caches on the change."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0",
                                   "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}


def test_with_redis_unreachable_booking_testing_and_starting_say_why_and_never_500(
        alice_zoom, practitioner_a, location, appointment_type, client_record, desk, worker, zoom, admin_user,
        client, redis_down):
    appointment = _book_telehealth(desk, practitioner_a, location, appointment_type, client_record)
    worker.run()
    appointment.refresh_from_db()
    meeting = appointment.zoom_meeting
    assert meeting.state == MeetingState.PENDING_CREATE  # transient: retried, not "may exist"
    assert meeting.create_sent_at is None
    assert "token cache" in meeting.last_error.lower()
    assert "token cache" in _panel(desk, appointment).lower()
    assert zoom.calls("POST", "/meetings") == []

    client.force_login(admin_user)
    client.raise_request_exception = False
    response = client.post(reverse("zoom-connection-test", args=[practitioner_a.pk]), follow=True)
    assert response.status_code == 200
    assert "token cache" in response.content.decode().lower()
    alice_zoom.refresh_from_db()
    assert alice_zoom.is_connected  # an outage never marks the connection failing


# A PostgreSQL deadlock -------------------------------------------------------------------------------------------

def test_a_move_that_loses_a_race_as_a_deadlock_is_the_conflict_message_and_changes_nothing(
        desk, book, practitioner_a, monkeypatch):
    from tests.scheduling.test_concurrency import _deadlock

    appointment = book(practitioner_a, START)
    monkeypatch.setattr(Appointment, "save", _deadlock)
    response = _move(desk, appointment, at="11:00")
    assert response.status_code == 200
    assert "was booked at that time by someone else a moment ago" in response.content.decode()
    monkeypatch.undo()
    appointment.refresh_from_db()
    assert appointment.starts_at == START


# A worker killed mid-send ----------------------------------------------------------------------------------------

def test_a_worker_killed_mid_send_ends_unknown_then_a_person_settles_it_once(
        telehealth_appointment_committed, front_desk, credits, sms_outbox, client):
    from reminders import services as reminder_services
    from reminders import tasks as reminder_tasks

    appointment = telehealth_appointment_committed
    queued: list[int] = []
    original_delay = reminder_tasks.message_send.delay
    reminder_tasks.message_send.delay = queued.append  # type: ignore[method-assign]
    try:
        message = reminder_services.telehealth_details_send(actor=front_desk, appointment=appointment,
                                                            channel=Channel.SMS)
    finally:
        reminder_tasks.message_send.delay = original_delay  # type: ignore[method-assign]
    assert queued == [message.pk]
    balance_after_debit = credits_balance()

    connections.close_all()
    child = os.fork()
    if child == 0:  # the worker: claims the message, then hangs inside the provider call until it is killed
        try:
            reminder_services._deliver = lambda message: time.sleep(60)  # type: ignore[assignment]
            reminder_services.message_send(message_pk=message.pk)
        finally:
            os._exit(0)
    try:
        for _ in range(200):
            if Message.objects.get(pk=message.pk).status == MessageStatus.SENDING:
                break
            time.sleep(0.05)
        assert Message.objects.get(pk=message.pk).status == MessageStatus.SENDING
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    assert sms_outbox == []

    with time_machine.travel(timezone.now() + timedelta(minutes=20), tick=False):
        messages_recover()
        message.refresh_from_db()
        assert message.status == MessageStatus.UNKNOWN
        client.force_login(front_desk)
        page = client.get(reverse("needs-attention")).content.decode()
        assert "May or may not have been sent" in page
        client.post(reverse("attention-message", args=[message.pk, "not-sent"]))
        client.post(reverse("attention-message", args=[message.pk, "not-sent"]))  # a second click changes nothing
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert credits_balance() == balance_after_debit + 2  # refunded once
    assert CreditEntry.objects.filter(message=message, reason=CreditEntry.Reason.REFUND).count() == 1
    assert sms_outbox == []  # nothing was sent behind anyone's back


@pytest.fixture
def telehealth_appointment_committed(alice_zoom, practitioner_a, front_desk, location, appointment_type,
                                     client_record):
    from scheduling.services import appointment_book

    appointment = appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a,
                                   location=location, appointment_type=appointment_type, starts_at=START,
                                   is_telehealth=True).appointment
    telehealth_services.meeting_sync(meeting_pk=appointment.zoom_meeting_id)
    appointment.refresh_from_db()
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE
    return Appointment.objects.select_related("client", "practitioner", "location", "zoom_meeting").get(
        pk=appointment.pk)
