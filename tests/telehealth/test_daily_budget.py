"""Zoom's daily budget (issue 12, item 3): the app counts each host's meeting creates and updates per UTC day,
warns at 80 and holds the 101st before calling Zoom, to be made after 00:00 UTC."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection as db_connection
from django.urls import reverse
from django.utils.html import escape

from attention.selectors import attention_count, attention_items
from practice.errors import ApplicationError
from scheduling.services import appointment_move
from telehealth import services
from telehealth.models import MeetingState, ZoomDailyUsage, ZoomMeeting
from telehealth.services import DAILY_LIMIT, daily_budget_take, meetings_reconcile
from tests.telehealth.conftest import START

HOST = "alice@example.com"
# 03:00 UTC on Friday 1 March 2030 is 14:00 in Sydney; the next UTC day starts at 11:00 Saturday there (AEDT).
MORNING = datetime(2030, 3, 1, 3, 0, tzinfo=UTC)
NEXT_UTC_DAY = datetime(2030, 3, 2, 0, 5, tzinfo=UTC)
MORNING_DAY = MORNING.date()


def used_today(count: int, day: date = MORNING_DAY) -> None:
    ZoomDailyUsage.objects.update_or_create(host_user=HOST, day=day, defaults={"count": count})


def count_on(day: date) -> int:
    return ZoomDailyUsage.objects.get(host_user=HOST, day=day).count


def test_each_create_counts_for_the_hosts_utc_day(alice_zoom, practitioner_a, tele_book, zoom):
    with time_machine.travel(MORNING, tick=False):
        tele_book(practitioner_a)
        tele_book(practitioner_a, START + timedelta(hours=1))
    assert count_on(MORNING.date()) == 2


def test_the_101st_create_of_a_utc_day_is_held_with_the_message_and_made_the_next_utc_day(
        alice_zoom, practitioner_a, tele_book, zoom, client, front_desk):
    with time_machine.travel(MORNING, tick=False):
        used_today(99)
        hundredth = tele_book(practitioner_a).zoom_meeting
        held = tele_book(practitioner_a, START + timedelta(hours=2)).zoom_meeting

        assert hundredth.state == MeetingState.ACTIVE
        assert held.state == MeetingState.PENDING_CREATE
        assert len(zoom.calls("POST", "/meetings")) == 1  # the 101st never went to Zoom
        assert count_on(MORNING.date()) == DAILY_LIMIT
        message = ("Zoom's daily limit for alice@example.com is used up; the meeting will be created after "
                   "11:00 Sat 02 Mar")
        assert message in held.last_error
        assert held.next_attempt_at >= datetime(2030, 3, 2, tzinfo=UTC)
        client.force_login(front_desk)
        panel = client.get(reverse("appointment-detail", args=[held.appointment_pk])).content.decode()
        assert escape(message) in panel
        reasons = " ".join(f"{item.title} {item.reason}" for item in attention_items())
        assert message in reasons and "Zoom's daily limit reached" in reasons
        assert attention_count() == len(attention_items())
        assert meetings_reconcile() == 0  # nothing is due before 00:00 UTC
        with pytest.raises(ApplicationError, match="daily limit"):
            services.meeting_retry_now(actor=front_desk, meeting=held)

    with time_machine.travel(NEXT_UTC_DAY + timedelta(minutes=3), tick=False):
        assert meetings_reconcile() == 1
        assert ZoomMeeting.objects.get(pk=held.pk).state == MeetingState.ACTIVE
        assert count_on(NEXT_UTC_DAY.date()) == 1
    assert len(zoom.calls("POST", "/meetings")) == 2


def test_a_move_past_the_limit_is_held_too(alice_zoom, practitioner_a, tele_book, zoom, front_desk, committed):
    with time_machine.travel(MORNING, tick=False):
        appointment = tele_book(practitioner_a)
        used_today(DAILY_LIMIT)
        committed(appointment_move, actor=front_desk, appointment=appointment,
                  starts_at=START + timedelta(hours=3), ends_at=START + timedelta(hours=3, minutes=30),
                  practitioner=practitioner_a, location=appointment.location)
        appointment.refresh_from_db()
        replacement = appointment.zoom_meeting
        assert replacement.state == MeetingState.PENDING_CREATE
        assert "daily limit for alice@example.com is used up" in replacement.last_error
        assert len(zoom.calls("POST", "/meetings")) == 1


def test_restore_past_the_limit_is_refused_before_calling_zoom(alice_zoom, practitioner_a, tele_book, zoom,
                                                                front_desk):
    with time_machine.travel(MORNING, tick=False):
        meeting = tele_book(practitioner_a).zoom_meeting
        ZoomMeeting.objects.filter(pk=meeting.pk).update(
            changed_in_zoom_at=MORNING, zoom_changes={"duration": {"text": "Length changed", "ts": 1}})
        used_today(DAILY_LIMIT)
        with pytest.raises(ApplicationError, match="daily limit for alice@example.com is used up.*11:00 Sat 02 Mar"):
            services.meeting_restore(actor=front_desk, meeting=meeting)
    assert zoom.calls("PATCH") == []


def test_zoom_refusing_for_its_daily_limit_marks_todays_count_used_up(alice_zoom, practitioner_a, tele_book, zoom):
    with time_machine.travel(MORNING, tick=False):
        zoom.daily_limit = 0  # calls made outside the app used the day up
        tele_book(practitioner_a)
        assert count_on(MORNING.date()) == DAILY_LIMIT


@pytest.mark.parametrize(("used", "warned"), [(79, False), (80, True)])
def test_options_zoom_shows_todays_count_and_warns_from_80(alice_zoom, client, admin_user, used, warned):
    used_today(used, datetime.now(UTC).date())
    client.force_login(admin_user)
    page = client.get(reverse("zoom-connections")).content.decode()
    assert f"{used} of 100" in page
    assert ('class="zoom-usage warn"' in page) is warned
    titles = [item.title for item in attention_items()]
    assert ("Zoom's daily limit nearly used: Alice Allen" in titles) is warned
    assert attention_count() == len(titles)


def test_a_held_host_is_listed_once_not_also_as_nearly_used(alice_zoom, practitioner_a, tele_book, zoom):
    with time_machine.travel(MORNING, tick=False):
        used_today(DAILY_LIMIT)
        tele_book(practitioner_a)
        titles = [item.title for item in attention_items()]
    assert titles.count("Zoom's daily limit reached: Alice Allen") == 1
    assert not any("nearly used" in title for title in titles)


def test_the_count_stops_at_the_limit(db):
    assert all(daily_budget_take(HOST) for _ in range(DAILY_LIMIT))
    assert daily_budget_take(HOST) is False
    assert daily_budget_take("ALICE@example.com ") is False  # the same host, however it is written
    assert daily_budget_take("bob@example.com") is True


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_neither_under_count_nor_pass_the_limit():
    threads, per_thread = 6, 25  # 150 attempts at a budget of 100
    taken: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker() -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                result = daily_budget_take(HOST)
                with lock:
                    taken.append(result)
        finally:
            db_connection.close()

    running = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    assert len(taken) == threads * per_thread
    assert taken.count(True) == DAILY_LIMIT
    assert ZoomDailyUsage.objects.get(host_user=HOST).count == DAILY_LIMIT
