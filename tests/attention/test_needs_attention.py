"""Needs attention (RELIABILITY.md 26): one list of what failed or waits in the background and needs a person,
with a count in the top bar and an action per item through each app's services."""

from datetime import UTC, timedelta

import pytest
import time_machine
from django.urls import reverse

from attention.selectors import attention_count, attention_items
from practice.models import AuditEvent
from reminders.models import Channel, CreditEntry, Kind, Message, MessageStatus, ScheduledReminder
from scheduling.models import Appointment
from telehealth.models import ConnectionStatus, MeetingState, ZoomConnection, ZoomMeeting
from tests.conftest import sydney

NOW = sydney(2030, 3, 1, 10)
START = sydney(2030, 3, 4, 10)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def appointment(book, practitioner_a) -> Appointment:
    return book(practitioner_a, START)


def _meeting(appointment: Appointment, state: str, *, error: str = "", age: timedelta = timedelta(0),
             current: bool = True) -> ZoomMeeting:
    meeting = ZoomMeeting.objects.create(
        practitioner=appointment.practitioner, host_user="alice@example.com", topic="Telehealth appointment",
        starts_at=appointment.starts_at, duration=30, timezone="Australia/Sydney", passcode="abc123",
        state=state, last_error=error, appointment_pk=appointment.pk, zoom_id=85343217788)
    ZoomMeeting.objects.filter(pk=meeting.pk).update(created_at=NOW - age, pending_since=NOW - age)
    if current:
        Appointment.objects.filter(pk=appointment.pk).update(zoom_meeting=meeting, is_telehealth=True)
    meeting.refresh_from_db()
    return meeting


def _message(appointment: Appointment, status: str, *, error: str = "", credits: int = 2) -> Message:
    message = Message.objects.create(
        appointment=appointment, client=appointment.client, channel=Channel.SMS, kind=Kind.TELEHEALTH,
        key=f"test:{status}:{appointment.pk}", recipient="+61410000001", body="Hello", credits=credits,
        status=status, error=error)
    if credits:
        CreditEntry.objects.create(amount=-credits, reason=CreditEntry.Reason.DEBIT, message=message)
    return message


def _page(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("needs-attention"))
    assert response.status_code == 200
    return response.content.decode()


def test_it_says_so_when_nothing_needs_attention(client, front_desk):
    html = _page(client, front_desk)
    assert "Nothing needs attention" in html
    assert 'class="count"' not in html


def test_practitioners_neither_see_the_page_nor_the_count(client, practitioner_a):
    client.force_login(practitioner_a.user)
    assert client.get(reverse("needs-attention")).status_code == 403
    assert "Needs attention" not in client.get(reverse("diary")).content.decode()


def test_a_failed_create_is_listed_with_its_reason_and_counted_in_the_top_bar(client, front_desk, appointment):
    _meeting(appointment, MeetingState.FAILED, error="Zoom refused the meeting: the passcode breaks a rule.")
    html = _page(client, front_desk)
    assert "Zoom meeting not created" in html
    assert "the passcode breaks a rule" in html
    assert '<span class="count" aria-label="1 items">1</span>' in html
    assert reverse("appointment-detail", args=[appointment.pk]) in html
    assert "Try again" in html and "Mark resolved" in html


def test_mark_resolved_takes_a_failed_create_off_the_list_and_is_audited(client, front_desk, appointment):
    meeting = _meeting(appointment, MeetingState.FAILED, error="Zoom refused")
    client.force_login(front_desk)
    response = client.post(reverse("attention-meeting", args=[meeting.pk, "resolve"]))
    assert response.status_code == 302
    assert attention_count() == 0
    assert AuditEvent.objects.filter(action="zoom.meeting_resolved", actor=front_desk).exists()


def test_try_again_makes_a_new_meeting_for_the_appointment(client, front_desk, appointment, alice_zoom,
                                                           django_capture_on_commit_callbacks):
    failed = _meeting(appointment, MeetingState.FAILED, error="Zoom refused")
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("attention-meeting", args=[failed.pk, "try-again"]))
    appointment.refresh_from_db()
    assert appointment.zoom_meeting_id != failed.pk
    assert appointment.zoom_meeting.is_live
    assert all(item.title.startswith("Zoom meeting not created") is False for item in attention_items())


def test_a_delete_pending_too_long_is_listed_until_retried_or_resolved(client, front_desk, appointment):
    deleting = _meeting(appointment, MeetingState.PENDING_DELETE, error="Zoom is unavailable (503); retrying",
                        age=timedelta(minutes=20), current=False)
    html = _page(client, front_desk)
    assert "Zoom meeting still to be deleted" in html
    assert "Zoom is unavailable (503); retrying" in html
    client.post(reverse("attention-meeting", args=[deleting.pk, "retry"]))
    deleting.refresh_from_db()
    assert deleting.next_attempt_at == NOW
    client.post(reverse("attention-meeting", args=[deleting.pk, "resolve"]))
    deleting.refresh_from_db()
    assert deleting.state == MeetingState.DELETED
    assert attention_count() == 0


def test_a_fresh_pending_create_is_not_listed_yet(appointment):
    _meeting(appointment, MeetingState.PENDING_CREATE, age=timedelta(minutes=1))
    assert attention_count() == 0


def test_a_failing_connection_and_a_daily_limit_hold_are_listed_with_the_reset_time(client, front_desk,
                                                                                    practitioner_a, practitioner_b):
    ZoomConnection.objects.create(practitioner=practitioner_a, account_id="a", client_id="c",
                                  client_secret_encrypted="x", zoom_user="alice@example.com",
                                  status=ConnectionStatus.FAILING, status_reason="Invalid client_id or client_secret",
                                  status_since=NOW)
    reset = NOW.astimezone(UTC).replace(hour=0, minute=0) + timedelta(days=1)  # 11:00 in Sydney (AEDT)
    ZoomConnection.objects.create(practitioner=practitioner_b, account_id="a", client_id="c",
                                  client_secret_encrypted="x", zoom_user="bob@example.com",
                                  status=ConnectionStatus.CONNECTED, daily_limit_until=reset)
    html = _page(client, front_desk)
    assert "Zoom connection failing" in html and "Invalid client_id or client_secret" in html
    assert "daily limit reached" in html
    assert "wait until Fri 01 Mar 11:00" in html
    assert attention_count() == 2


def test_an_unknown_message_can_be_marked_as_sent(client, front_desk, appointment):
    message = _message(appointment, MessageStatus.UNKNOWN, error="Twilio did not answer in time")
    html = _page(client, front_desk)
    assert "May or may not have been sent" in html and "Twilio did not answer in time" in html
    client.post(reverse("attention-message", args=[message.pk, "sent"]))
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert attention_count() == 0


def test_an_unknown_message_marked_as_not_sent_gets_its_credits_back(client, front_desk, appointment, credits):
    message = _message(appointment, MessageStatus.UNKNOWN)
    client.force_login(front_desk)
    client.post(reverse("attention-message", args=[message.pk, "not-sent"]))
    assert CreditEntry.objects.filter(message=message, reason=CreditEntry.Reason.REFUND, amount=2).exists()
    assert attention_count() == 0


def test_a_scheduler_reminder_waiting_for_credits_is_listed_and_can_be_dismissed(client, front_desk, appointment):
    reminder = ScheduledReminder.objects.get(appointment=appointment, channel=Channel.SMS)  # armed on booking
    ScheduledReminder.objects.filter(pk=reminder.pk).update(state=ScheduledReminder.State.HELD,
                                                            reason=ScheduledReminder.Reason.NO_CREDITS)
    html = _page(client, front_desk)
    assert "waiting for SMS credits" in html
    assert "sent automatically once credits are bought" in html
    client.post(reverse("attention-reminder", args=[reminder.pk, "dismiss"]))
    assert attention_count() == 0
    assert AuditEvent.objects.filter(action="reminder.dismissed").exists()


def test_a_reminder_not_sent_says_its_reason_once(appointment):
    reminder = ScheduledReminder.objects.get(appointment=appointment, channel=Channel.SMS)
    ScheduledReminder.objects.filter(pk=reminder.pk).update(
        state=ScheduledReminder.State.NOT_SENT, reason=ScheduledReminder.Reason.TOO_LATE,
        note="Too late: the appointment started before the reminder could be sent.")
    [item] = [item for item in attention_items() if item.kind == "reminder"]
    assert item.reason == "Too late: the appointment started before the reminder could be sent."


def test_the_count_is_the_number_of_items_listed(client, front_desk, appointment, book, practitioner_b):
    other = book(practitioner_b, START)
    _meeting(appointment, MeetingState.FAILED, error="refused")
    _meeting(other, MeetingState.PENDING_DELETE, age=timedelta(hours=1), current=False)
    _message(appointment, MessageStatus.FAILED, credits=0)
    _message(other, MessageStatus.UNKNOWN)
    assert attention_count() == len(attention_items()) == 4


def test_an_action_refused_by_the_service_is_shown_not_a_500(client, front_desk, appointment):
    active = _meeting(appointment, MeetingState.ACTIVE)
    client.force_login(front_desk)
    response = client.post(reverse("attention-meeting", args=[active.pk, "retry"]), follow=True)
    assert response.status_code == 200
    assert "Only a Zoom meeting still being created or deleted can be retried now" in response.content.decode()


def test_actions_are_for_front_desk_and_admins_only(client, practitioner_a, appointment):
    meeting = _meeting(appointment, MeetingState.FAILED, error="refused")
    client.force_login(practitioner_a.user)
    assert client.post(reverse("attention-meeting", args=[meeting.pk, "resolve"])).status_code == 403
    meeting.refresh_from_db()
    assert meeting.attention_resolved_at is None
