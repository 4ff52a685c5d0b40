"""Repeat bookings (issue 9 item 7): every date and its clashes are listed before anything is saved, only the
confirmed free dates are booked, each checked again as it saves, and a series moves or cancels "this and
following". Practitioners work 09:00–17:00 every day (tests/conftest.py); 2030 dates are in Sydney's zone."""

from datetime import UTC, date, time, timedelta

import pytest
from django.urls import reverse

from practice.errors import ApplicationError
from practice.models import Client
from scheduling.models import Appointment, AppointmentSeries, Status
from scheduling.services import (
    SeriesRule,
    appointment_book,
    appointment_move,
    appointment_undo,
    series_book,
    series_cancel_following,
    series_move_following,
    series_plan,
    undo_offer_series_cancel,
    undo_offer_series_move,
)
from telehealth.models import MeetingState
from tests.conftest import make_user, sydney
from tests.zoom_fixtures import zoom_meetings

MONDAY = date(2030, 3, 4)
TEN = time(10)


@pytest.fixture
def plan_args(practitioner_a, location, appointment_type):
    def _args(**overrides):
        return {"practitioner": practitioner_a, "location": location, "appointment_type": appointment_type,
                "first_day": MONDAY, "start_time": TEN, "minutes": 30,
                "rule": SeriesRule(interval_weeks=1, count=6), **overrides}

    return _args


@pytest.fixture
def book_series(front_desk, client_record, plan_args):
    """Plan a series and book every date the plan calls free, as confirming the list does."""

    def _book(**overrides):
        args = plan_args(**overrides)
        days = [item.day for item in series_plan(**args) if item.is_free]
        return series_book(actor=front_desk, client=client_record, days=days, **args)

    return _book


def local(moment):
    return moment.astimezone(sydney(2030, 1, 1, 0).tzinfo)


# The rule --------------------------------------------------------------------------------------------------------

def test_it_counts_the_first_appointment_in_the_total():
    assert SeriesRule(interval_weeks=2, count=3).days(MONDAY) == [MONDAY, date(2030, 3, 18), date(2030, 4, 1)]


def test_it_repeats_until_a_date_inclusive():
    assert SeriesRule(interval_weeks=1, until=date(2030, 3, 18)).days(MONDAY) == [
        MONDAY, date(2030, 3, 11), date(2030, 3, 18)]


@pytest.mark.parametrize(("rule", "message"), [
    (SeriesRule(interval_weeks=0, count=3), "Repeat every 1 to 12 weeks."),
    (SeriesRule(interval_weeks=13, count=3), "Repeat every 1 to 12 weeks."),
    (SeriesRule(interval_weeks=1, count=1), "2 to 52 appointments"),
    (SeriesRule(interval_weeks=1, count=53), "2 to 52 appointments"),
    (SeriesRule(interval_weeks=1), "one of the two"),
    (SeriesRule(interval_weeks=1, count=3, until=date(2030, 4, 1)), "one of the two"),
    (SeriesRule(interval_weeks=1, until=MONDAY), "must be after the first appointment"),
    (SeriesRule(interval_weeks=1, until=date(2031, 3, 5)), "at most a year after"),
    (SeriesRule(interval_weeks=2, until=date(2030, 3, 10)), "Only the first appointment falls by 10 Mar 2030"),
    (SeriesRule(interval_weeks=1, until=date(2031, 3, 3)), "That makes 53 appointments"),
])
def test_it_refuses_a_rule_out_of_bounds_with_the_reason(rule, message):
    with pytest.raises(ApplicationError, match=message):
        rule.days(MONDAY)


# The plan --------------------------------------------------------------------------------------------------------

def test_the_plan_lists_each_clash_and_saves_nothing(book, practitioner_a, plan_args):
    book(practitioner_a, sydney(2030, 3, 18, 10, 15))  # week 3 is taken
    before = Appointment.objects.count()
    plan = series_plan(**plan_args())
    assert Appointment.objects.count() == before and not AppointmentSeries.objects.exists()
    assert [item.day for item in plan] == [MONDAY + timedelta(weeks=week) for week in range(6)]
    assert [item.is_free for item in plan] == [True, True, False, True, True, True]
    assert plan[2].clashes == ("Alice Allen already has an appointment 10:15–10:45.",)


def test_outside_working_hours_is_a_clash(plan_args):
    plan = series_plan(**plan_args(start_time=time(16, 45)))  # ends 17:15, after the 17:00 finish
    assert not any(item.is_free for item in plan)
    assert plan[0].clashes == ("Outside Alice Allen's working hours.",)


def test_a_time_that_does_not_exist_on_a_date_is_listed(plan_args, practitioner_a):
    practitioner_a.working_hours.update(starts_at=time(0))
    plan = series_plan(**plan_args(first_day=date(2030, 9, 29), start_time=time(2, 30),
                                   rule=SeriesRule(interval_weeks=1, count=3)))
    # Sunday 6 October 2030: the clocks go from 02:00 to 03:00.
    assert [item.is_free for item in plan] == [True, False, True]
    assert plan[1].starts_at is None and "does not exist that day" in plan[1].clashes[0]


def test_the_plan_lists_the_basic_zoom_users_overlap(connect, practitioner_a, practitioner_b, plan_args,
                                                     front_desk, client_record, telehealth_location, appointment_type,
                                                     django_capture_on_commit_callbacks):
    connect(practitioner_a, "shared@example.com", plan=1)
    connect(practitioner_b, "shared@example.com", plan=1)
    with django_capture_on_commit_callbacks(execute=True):
        appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_b,
                         location=telehealth_location, appointment_type=appointment_type,
                         starts_at=sydney(2030, 3, 11, 10), is_telehealth=True)
    plan = series_plan(**plan_args(rule=SeriesRule(interval_weeks=1, count=3), is_telehealth=True))
    assert [item.is_free for item in plan] == [True, False, True]
    assert plan[1].clashes == ("The Zoom user shared@example.com is on a Basic plan (one meeting at a time) and has "
                               "the telehealth appointment with Bob Brown 10:00–10:30.",)
    # Without telehealth the Zoom plan does not matter.
    assert all(item.is_free for item in series_plan(**plan_args(rule=SeriesRule(interval_weeks=1, count=3))))


def test_telehealth_without_a_zoom_connection_is_refused_for_the_whole_series(plan_args):
    with pytest.raises(ApplicationError, match="has no Zoom connection yet"):
        series_plan(**plan_args(is_telehealth=True))


@pytest.mark.parametrize(("first_day", "offsets"), [
    (date(2030, 9, 23), [10, 10, 11, 11]),  # clocks go forward on Sunday 6 October
    (date(2030, 3, 25), [11, 11, 10, 10]),  # and back on Sunday 7 April
])
def test_weekly_dates_keep_the_wall_clock_time_across_a_daylight_saving_change(
        book_series, first_day, offsets):
    outcome = book_series(first_day=first_day, rule=SeriesRule(interval_weeks=1, count=4))
    assert len(outcome.booked) == 4
    for appointment, offset in zip(outcome.booked, offsets, strict=True):
        start, end = local(appointment.starts_at), local(appointment.ends_at)
        assert (start.time(), end.time()) == (TEN, time(10, 30))
        assert start.utcoffset() == timedelta(hours=offset)
        assert appointment.ends_at - appointment.starts_at == timedelta(minutes=30)


# Booking ---------------------------------------------------------------------------------------------------------

def test_it_books_only_the_free_dates_in_one_series(book, book_series, practitioner_a, front_desk):
    taken = book(practitioner_a, sydney(2030, 3, 18, 10))
    outcome = book_series()
    assert len(outcome.booked) == 5 and outcome.skipped == []
    series = outcome.series
    assert series.interval_weeks == 1 and series.created_by == front_desk
    assert list(series.appointments.order_by("starts_at").values_list("starts_at", flat=True)) == [
        # Wall-clock arithmetic on purpose: 8 April is after the change back, still at 10:00.
        (sydney(2030, 3, 4, 10) + timedelta(weeks=week)).astimezone(UTC) for week in (0, 1, 3, 4, 5)]
    assert Appointment.objects.filter(practitioner=practitioner_a, starts_at=taken.starts_at).count() == 1


def test_a_date_taken_after_the_list_was_shown_is_skipped_not_double_booked(
        book, front_desk, client_record, practitioner_a, plan_args):
    args = plan_args()
    days = [item.day for item in series_plan(**args) if item.is_free]
    assert len(days) == 6
    book(practitioner_a, sydney(2030, 3, 25, 10, 15))  # someone else, between the list and the confirm
    outcome = series_book(actor=front_desk, client=client_record, days=days, **args)
    assert len(outcome.booked) == 5
    assert [item.day for item in outcome.skipped] == [date(2030, 3, 25)]
    assert outcome.skipped[0].clashes == ("Alice Allen already has an appointment 10:15–10:45.",)
    starts = sydney(2030, 3, 25, 10)
    assert Appointment.objects.filter(practitioner=practitioner_a, starts_at__lt=starts + timedelta(minutes=30),
                                      ends_at__gt=starts).count() == 1


def test_only_the_confirmed_dates_are_booked(front_desk, client_record, plan_args):
    # A date that clashed when the list was shown and is free by the confirm is not booked: it was not confirmed.
    args = plan_args()
    outcome = series_book(actor=front_desk, client=client_record, days=[MONDAY, date(2030, 3, 18), date(2031, 1, 1)],
                          **args)
    assert [local(a.starts_at).date() for a in outcome.booked] == [MONDAY, date(2030, 3, 18)]


def test_a_new_client_is_added_once_for_the_whole_series(book, front_desk, practitioner_a, plan_args):
    book(practitioner_a, sydney(2030, 3, 4, 10))  # the first date is taken: the client comes with the second
    args = plan_args(rule=SeriesRule(interval_weeks=1, count=3))
    outcome = series_book(actor=front_desk, client=None, new_client={
        "first_name": "Nina", "last_name": "New", "mobile": "", "email": ""},
        days=[MONDAY, date(2030, 3, 11), date(2030, 3, 18)], **args)
    assert len(outcome.booked) == 2 and len(outcome.skipped) == 1
    nina = Client.objects.get(last_name="New")
    assert {a.client_id for a in outcome.booked} == {nina.pk}


def test_nothing_free_books_nothing_and_makes_no_series(book, front_desk, client_record, practitioner_a, plan_args):
    book(practitioner_a, sydney(2030, 3, 4, 10))
    outcome = series_book(actor=front_desk, client=client_record, days=[MONDAY],
                          **plan_args(rule=SeriesRule(interval_weeks=1, count=2)))
    assert outcome.booked == [] and outcome.series is None
    assert not AppointmentSeries.objects.exists()


def test_a_telehealth_series_makes_one_zoom_meeting_per_appointment(
        alice_zoom, zoom, front_desk, client_record, plan_args, telehealth_location,
        django_capture_on_commit_callbacks):
    args = plan_args(location=telehealth_location, rule=SeriesRule(interval_weeks=2, count=3), is_telehealth=True)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = series_book(actor=front_desk, client=client_record,
                              days=[item.day for item in series_plan(**args)], **args)
    appointments = Appointment.objects.filter(series=outcome.series).select_related("zoom_meeting")
    meetings = [a.zoom_meeting for a in appointments]
    assert len(meetings) == 3 and all(m.state == MeetingState.ACTIVE for m in meetings)
    assert len({m.zoom_id for m in meetings}) == 3 and set(zoom_meetings(zoom)) == {m.zoom_id for m in meetings}
    posts = zoom.calls("POST", "/meetings")
    assert [call["json"]["start_time"] for call in posts] == [
        "2030-03-03T23:00:00Z", "2030-03-17T23:00:00Z", "2030-03-31T23:00:00Z"]


# This and following ------------------------------------------------------------------------------------------------

@pytest.fixture
def four_weeks(book_series):
    return book_series(rule=SeriesRule(interval_weeks=1, count=4)).booked


def test_moving_this_and_following_shifts_each_by_the_same_change(four_weeks, front_desk, practitioner_a, book):
    first, second, third, fourth = four_weeks
    blocker = book(practitioner_a, sydney(2030, 3, 18, 11))  # where the third would go
    outcome = series_move_following(actor=front_desk, appointment=second, starts_at=sydney(2030, 3, 11, 11),
                                    ends_at=sydney(2030, 3, 11, 11, 30), practitioner=practitioner_a,
                                    location=second.location)
    assert [r.appointment.pk for r in outcome.changed] == [second.pk, fourth.pk]
    assert [(a.pk, reason) for a, reason in outcome.skipped] == [
        (third.pk, "Alice Allen already has an appointment at Mon 18 Mar 11:00–11:30. Choose another time.")]
    for appointment in four_weeks:
        appointment.refresh_from_db()
    assert [local(a.starts_at).time() for a in four_weeks] == [TEN, time(11), TEN, time(11)]
    assert blocker.starts_at == sydney(2030, 3, 18, 11)


def test_moving_a_week_later_moves_the_last_first_so_the_series_does_not_clash_with_itself(
        four_weeks, front_desk, practitioner_a):
    first = four_weeks[0]
    outcome = series_move_following(actor=front_desk, appointment=first, starts_at=sydney(2030, 3, 11, 10),
                                    ends_at=sydney(2030, 3, 11, 10, 45), practitioner=practitioner_a,
                                    location=first.location)
    assert outcome.skipped == [] and len(outcome.changed) == 4
    starts = sorted(local(a.starts_at) for a in Appointment.objects.filter(series=first.series))
    assert [s.date() for s in starts] == [date(2030, 3, 11 + 7 * week) if week < 3 else date(2030, 4, 1)
                                          for week in range(4)]
    # The new length applies to each: it was changed on this one.
    assert {a.duration for a in Appointment.objects.filter(series=first.series)} == {timedelta(minutes=45)}


def test_moving_this_and_following_keeps_the_wall_clock_time_across_a_change(book_series, front_desk,
                                                                             practitioner_a):
    booked = book_series(first_day=date(2030, 9, 23), rule=SeriesRule(interval_weeks=1, count=3)).booked
    series_move_following(actor=front_desk, appointment=booked[0], starts_at=sydney(2030, 9, 23, 14),
                          ends_at=sydney(2030, 9, 23, 14, 30), practitioner=practitioner_a,
                          location=booked[0].location)
    times = [local(a.starts_at).time() for a in Appointment.objects.filter(series=booked[0].series)]
    assert times == [time(14)] * 3  # the third is after the October change


def test_cancelling_this_and_following_leaves_the_earlier_ones(four_weeks, front_desk):
    outcome = series_cancel_following(actor=front_desk, appointment=four_weeks[2], reason="Course finished")
    assert len(outcome.changed) == 2 and outcome.skipped == []
    statuses = [a.status for a in Appointment.objects.filter(series=four_weeks[0].series).order_by("starts_at")]
    assert statuses == [Status.BOOKED, Status.BOOKED, Status.CANCELLED, Status.CANCELLED]


def test_cancelling_a_telehealth_series_deletes_each_meeting(
        alice_zoom, zoom, front_desk, client_record, plan_args, telehealth_location,
        django_capture_on_commit_callbacks):
    args = plan_args(location=telehealth_location, rule=SeriesRule(interval_weeks=1, count=3), is_telehealth=True)
    with django_capture_on_commit_callbacks(execute=True):
        booked = series_book(actor=front_desk, client=client_record,
                             days=[item.day for item in series_plan(**args)], **args).booked
    with django_capture_on_commit_callbacks(execute=True):
        series_cancel_following(actor=front_desk, appointment=booked[1])
    assert len(zoom_meetings(zoom)) == 1  # R10: only the first appointment's meeting is left
    assert len(zoom.calls("DELETE", "/meetings/")) == 2


def test_an_appointment_outside_a_series_has_no_following(book, practitioner_a, front_desk):
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10))
    with pytest.raises(ApplicationError, match="not part of a series"):
        series_cancel_following(actor=front_desk, appointment=appointment)


# Through the pages -----------------------------------------------------------------------------------------------

@pytest.fixture
def booking_post(practitioner_a, location, appointment_type, client_record):
    return {"client": client_record.pk, "practitioner": practitioner_a.pk, "date": MONDAY.isoformat(),
            "start_time": "10:00", "appointment_type": appointment_type.pk, "location": location.pk,
            "repeat_weeks": "1", "repeat_count": "6"}


def test_the_form_shows_the_dates_first_and_books_the_free_ones_on_confirm(client, front_desk, book, practitioner_a,
                                                                           booking_post):
    book(practitioner_a, sydney(2030, 3, 18, 10))
    client.force_login(front_desk)
    response = client.post(reverse("appointment-new"), booking_post)
    html = response.content.decode()
    assert response.status_code == 200
    assert Appointment.objects.count() == 1  # nothing saved before the confirm
    assert "5 of 6 dates free." in html and "Book 5 free dates" in html
    assert "Skipped: Alice Allen already has an appointment 10:00–10:30." in html
    assert html.count('name="series_dates"') == 5 and 'value="2030-03-18"' not in html
    confirm = {**booking_post, "series_confirm": "1",
               "series_dates": [f"2030-03-{day:02d}" for day in (4, 11, 25)] + ["2030-04-01", "2030-04-08"]}
    response = client.post(reverse("appointment-new"), confirm, follow=True)
    html = response.content.decode()
    assert Appointment.objects.filter(series__isnull=False).count() == 5
    assert "Booked 5 appointments for Casey Client with Alice Allen, every week" in html
    assert "Not booked, as listed before booking: Mon 18 Mar." in html


def test_the_confirm_reports_a_date_taken_since_the_list(client, front_desk, book, practitioner_a, booking_post):
    client.force_login(front_desk)
    book(practitioner_a, sydney(2030, 3, 11, 10))
    confirm = {**booking_post, "repeat_count": "2", "series_confirm": "1", "series_dates": ["2030-03-04",
                                                                                           "2030-03-11"]}
    html = client.post(reverse("appointment-new"), confirm, follow=True).content.decode()
    assert "Booked 1 appointment for Casey Client" in html
    assert "Taken since the list was shown, so not booked: Mon 11 Mar (Alice Allen already has" in html
    assert Appointment.objects.count() == 2


def test_when_nothing_could_be_booked_each_date_says_why(client, front_desk, book, practitioner_a, booking_post):
    client.force_login(front_desk)
    book(practitioner_a, sydney(2030, 3, 4, 10))
    book(practitioner_a, sydney(2030, 3, 11, 10))
    confirm = {**booking_post, "repeat_count": "2", "series_confirm": "1", "series_dates": ["2030-03-04",
                                                                                           "2030-03-11"]}
    html = client.post(reverse("appointment-new"), confirm).content.decode()
    assert "Nothing was booked: Mon 04 Mar (Alice Allen already has" in html
    assert "Mon 11 Mar (Alice Allen already has" in html
    assert Appointment.objects.count() == 2


def test_change_on_the_list_goes_back_to_the_form_with_what_was_typed(client, front_desk, booking_post):
    client.force_login(front_desk)
    html = client.post(reverse("appointment-new"), {**booking_post, "edit_repeat": "1"}).content.decode()
    assert 'name="repeat_count" value="6"' in html and "Book appointment" in html
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(("fields", "error"), [
    ({"repeat_count": "6"}, "Say how many weeks apart"),
    ({"repeat_weeks": "1"}, "Say how many appointments in all, or the date to repeat until."),
    ({"repeat_weeks": "13", "repeat_count": "6"}, "Repeat every 1 to 12 weeks."),
    ({"repeat_weeks": "1", "repeat_count": "60"}, "A series has 2 to 52 appointments, this one included."),
    ({"repeat_weeks": "1", "repeat_count": "6", "repeat_until": "2030-05-01"}, "not both"),
    ({"repeat_weeks": "1", "repeat_until": "2031-06-01"}, "at most a year after the first appointment"),
    ({"repeat_weeks": "x", "repeat_count": "6"}, "Enter a whole number."),
])
def test_repeat_mistakes_are_explained_on_the_form(client, front_desk, booking_post, fields, error):
    client.force_login(front_desk)
    post = {key: value for key, value in booking_post.items() if not key.startswith("repeat_")} | fields
    response = client.post(reverse("appointment-new"), post)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Appointment.objects.exists()


def test_without_a_repeat_one_appointment_is_booked_as_before(client, front_desk, booking_post):
    client.force_login(front_desk)
    post = {key: value for key, value in booking_post.items() if not key.startswith("repeat_")}
    assert client.post(reverse("appointment-new"), post).status_code == 302
    assert Appointment.objects.get().series is None


def test_the_panel_offers_this_and_following_only_for_a_series(client, front_desk, four_weeks, book, practitioner_a):
    client.force_login(front_desk)
    html = client.get(reverse("appointment-detail", args=[four_weeks[1].pk])).content.decode()
    assert "Every week · 2 of 4" in html
    assert html.count("This and following") == 1  # the cancel form; the move form comes when its section opens
    move = client.get(reverse("appointment-move", args=[four_weeks[1].pk])).content.decode()
    assert move.count("This and following") == 2  # the move and the cancel form
    single = book(practitioner_a, sydney(2030, 5, 1, 10))
    assert "This and following" not in client.get(reverse("appointment-detail", args=[single.pk])).content.decode()


def test_the_move_form_moves_this_and_following(client, front_desk, four_weeks, practitioner_a):
    client.force_login(front_desk)
    second = four_weeks[1]
    response = client.post(reverse("appointment-move", args=[second.pk]), {
        "practitioner": practitioner_a.pk, "location": second.location_id, "date": "2030-03-12",
        "start_time": "10:00", "duration": "30", "scope": "following"}, follow=True)
    assert "Moved 3 appointments of the series: this one and the following." in response.content.decode()
    days = [local(a.starts_at).date() for a in Appointment.objects.filter(series=second.series)]
    assert days == [date(2030, 3, 4), date(2030, 3, 12), date(2030, 3, 19), date(2030, 3, 26)]


def test_the_move_form_moves_only_this_one_by_default(client, front_desk, four_weeks, practitioner_a):
    client.force_login(front_desk)
    second = four_weeks[1]
    client.post(reverse("appointment-move", args=[second.pk]), {
        "practitioner": practitioner_a.pk, "location": second.location_id, "date": "2030-03-12",
        "start_time": "10:00", "duration": "30"})
    days = [local(a.starts_at).date() for a in Appointment.objects.filter(series=second.series)]
    assert days == [date(2030, 3, 4), date(2030, 3, 12), date(2030, 3, 18), date(2030, 3, 25)]


def test_the_cancel_form_cancels_this_and_following(client, front_desk, four_weeks):
    client.force_login(front_desk)
    response = client.post(reverse("appointment-cancel", args=[four_weeks[1].pk]),
                           {"reason": "", "scope": "following"}, follow=True)
    assert "Cancelled 3 appointments of the series" in response.content.decode()
    assert Appointment.objects.filter(status=Status.CANCELLED).count() == 3


def test_a_practitioner_cannot_move_a_colleagues_following_appointment(four_weeks, practitioner_a, practitioner_b,
                                                                       front_desk):
    fourth = four_weeks[3]
    Appointment.objects.filter(pk=fourth.pk).update(practitioner=practitioner_b)
    outcome = series_cancel_following(actor=practitioner_a.user, appointment=four_weeks[2])
    assert [r.appointment.pk for r in outcome.changed] == [four_weeks[2].pk]
    assert outcome.skipped == [(fourth, "Only Bob Brown or the front desk can change it.")]


@pytest.fixture
def telehealth_series(alice_zoom, front_desk, client_record, plan_args, telehealth_location,
                      django_capture_on_commit_callbacks):
    args = plan_args(location=telehealth_location, rule=SeriesRule(interval_weeks=1, count=3), is_telehealth=True)
    with django_capture_on_commit_callbacks(execute=True):
        return series_book(actor=front_desk, client=client_record,
                           days=[item.day for item in series_plan(**args)], **args).booked


def test_moving_a_telehealth_series_re_creates_each_meeting_and_says_so(
        telehealth_series, zoom, client, front_desk, practitioner_a, django_capture_on_commit_callbacks):
    old_ids = {a.zoom_meeting.zoom_id for a in telehealth_series}
    first = telehealth_series[0]
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("appointment-move", args=[first.pk]), {
            "practitioner": practitioner_a.pk, "location": first.location_id, "date": "2030-03-04",
            "start_time": "11:00", "duration": "30", "scope": "following"}, follow=True)
    html = response.content.decode()
    assert "Moved 3 appointments of the series" in html
    assert "The Zoom meetings of 3 telehealth appointments are being re-created for the new times." in html
    appointments = list(Appointment.objects.filter(series=first.series).select_related("zoom_meeting"))
    assert [local(a.starts_at).time() for a in appointments] == [time(11)] * 3
    new_ids = {a.zoom_meeting.zoom_id for a in appointments}
    assert len(new_ids) == 3 and not new_ids & old_ids  # R7, one new meeting each
    assert set(zoom_meetings(zoom)) == new_ids


def test_moving_a_telehealth_series_to_a_colleague_drops_telehealth_from_each(
        telehealth_series, zoom, client, front_desk, practitioner_b, location, django_capture_on_commit_callbacks):
    first = telehealth_series[0]
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("appointment-move", args=[first.pk]), {
            "practitioner": practitioner_b.pk, "location": first.location_id, "date": "2030-03-04",
            "start_time": "10:00", "duration": "30", "scope": "following"}, follow=True)
    html = response.content.decode()
    assert "the Zoom meetings of 3 appointments were deleted and Telehealth unticked" in html
    appointments = Appointment.objects.filter(series=first.series)
    assert {(a.practitioner_id, a.is_telehealth, a.location_id) for a in appointments} == {
        (practitioner_b.pk, False, location.pk)}  # R8, and Bob's own location rather than "Telehealth"
    assert zoom_meetings(zoom) == {}


def test_a_move_of_this_and_following_that_clashes_everywhere_moves_nothing_and_says_why(
        client, front_desk, four_weeks, practitioner_a, book):
    for week in range(4):
        book(practitioner_a, sydney(2030, 3, 4, 14) + timedelta(weeks=week))
    client.force_login(front_desk)
    first = four_weeks[0]
    response = client.post(reverse("appointment-move", args=[first.pk]), {
        "practitioner": practitioner_a.pk, "location": first.location_id, "date": "2030-03-04",
        "start_time": "14:00", "duration": "30", "scope": "following"})
    html = response.content.decode()
    assert response.status_code == 200 and "Nothing was moved: Mon 04 Mar 10:00 (Alice Allen already has" in html
    assert [local(a.starts_at).time() for a in Appointment.objects.filter(series=first.series)] == [TEN] * 4


# Undo of this and following --------------------------------------------------------------------------------------

def _move_following_an_hour_later(actor, appointment, practitioner):
    start = appointment.starts_at + timedelta(hours=1)
    return series_move_following(actor=actor, appointment=appointment, starts_at=start,
                                 ends_at=start + timedelta(minutes=30), practitioner=practitioner,
                                 location=appointment.location)


def _times(series_member):
    return [local(a.starts_at).time() for a in Appointment.objects.filter(series=series_member.series)
            .order_by("starts_at")]


def test_undo_moves_every_appointment_of_the_series_move_back_once(four_weeks, front_desk, practitioner_a):
    outcome = _move_following_an_hour_later(front_desk, four_weeks[1], practitioner_a)
    offer = undo_offer_series_move(actor=front_desk, outcome=outcome)
    assert offer.text == "Undo moves all 3 back."
    assert _times(four_weeks[0]) == [TEN, time(11), time(11), time(11)]

    undone = appointment_undo(actor=front_desk, token=offer.token)
    assert undone.message == "Undone: the 3 appointments are back where they were."
    assert undone.appointment.pk == four_weeks[1].pk and len(undone.series_moved) == 3
    assert _times(four_weeks[0]) == [TEN] * 4
    with pytest.raises(ApplicationError) as caught:  # the undo itself changed them: once only
        appointment_undo(actor=front_desk, token=offer.token)
    assert caught.value.code == "undo_changed"


def test_undo_of_a_series_move_a_week_later_moves_back_without_clashing_with_itself(four_weeks, front_desk,
                                                                                   practitioner_a):
    first = four_weeks[0]
    outcome = series_move_following(actor=front_desk, appointment=first, starts_at=sydney(2030, 3, 11, 10),
                                    ends_at=sydney(2030, 3, 11, 10, 30), practitioner=practitioner_a,
                                    location=first.location)
    appointment_undo(actor=front_desk, token=undo_offer_series_move(actor=front_desk, outcome=outcome).token)
    days = [local(a.starts_at).date() for a in Appointment.objects.filter(series=first.series).order_by("starts_at")]
    assert days == [MONDAY + timedelta(weeks=week) for week in range(4)]


def test_undo_of_a_series_move_is_refused_whole_when_one_appointment_changed_since(four_weeks, front_desk,
                                                                                   practitioner_a):
    outcome = _move_following_an_hour_later(front_desk, four_weeks[1], practitioner_a)
    offer = undo_offer_series_move(actor=front_desk, outcome=outcome)
    third = Appointment.objects.get(pk=four_weeks[2].pk)
    appointment_move(actor=front_desk, appointment=third, starts_at=sydney(2030, 3, 18, 14),
                     ends_at=sydney(2030, 3, 18, 14, 30), practitioner=practitioner_a, location=third.location)
    with pytest.raises(ApplicationError) as caught:
        appointment_undo(actor=front_desk, token=offer.token)
    assert caught.value.code == "undo_changed"
    assert caught.value.message == ("Nothing was undone: 1 appointment of the 3 changed since (Mon 18 Mar 14:00), "
                                    "and Undo would overwrite that. Open the appointments to change them.")
    assert _times(four_weeks[0]) == [TEN, time(11), time(14), time(11)]  # nothing went back


def test_undo_of_a_series_move_is_all_or_nothing_when_one_cannot_go_back(four_weeks, front_desk, practitioner_a,
                                                                         book):
    outcome = _move_following_an_hour_later(front_desk, four_weeks[1], practitioner_a)
    offer = undo_offer_series_move(actor=front_desk, outcome=outcome)
    book(practitioner_a, sydney(2030, 3, 25, 10))  # the fourth's old time, taken since
    with pytest.raises(ApplicationError) as caught:
        appointment_undo(actor=front_desk, token=offer.token)
    assert caught.value.message.startswith("Nothing was undone: the appointment of Mon 25 Mar 11:00 cannot go back: "
                                           "Alice Allen already has an appointment")
    assert _times(four_weeks[0]) == [TEN, time(11), time(11), time(11)]  # the two that could go back did not


def test_undo_of_a_series_move_or_cancel_is_for_the_person_who_made_it(four_weeks, front_desk, practitioner_a):
    outcome = _move_following_an_hour_later(front_desk, four_weeks[1], practitioner_a)
    with pytest.raises(ApplicationError) as caught:
        appointment_undo(actor=make_user("desk2", "Front desk"),
                         token=undo_offer_series_move(actor=front_desk, outcome=outcome).token)
    assert caught.value.code == "undo_not_yours"


def test_undo_of_a_series_cancel_reinstates_each_with_the_status_it_had(four_weeks, front_desk):
    Appointment.objects.filter(pk=four_weeks[2].pk).update(status=Status.ARRIVED)
    outcome = series_cancel_following(actor=front_desk, appointment=four_weeks[1])
    offer = undo_offer_series_cancel(actor=front_desk, outcome=outcome)
    assert offer.text == "Undo reinstates all 3."
    undone = appointment_undo(actor=front_desk, token=offer.token)
    assert undone.message == "Undone: the 3 appointments are booked again."
    statuses = [a.status for a in Appointment.objects.filter(series=four_weeks[0].series).order_by("starts_at")]
    assert statuses == [Status.BOOKED, Status.BOOKED, Status.ARRIVED, Status.BOOKED]


def test_undo_of_a_series_cancel_is_refused_whole_when_a_time_was_booked_since(four_weeks, front_desk, book,
                                                                               practitioner_a):
    outcome = series_cancel_following(actor=front_desk, appointment=four_weeks[1])
    offer = undo_offer_series_cancel(actor=front_desk, outcome=outcome)
    book(practitioner_a, sydney(2030, 3, 18, 10))  # the third's time, free since the cancel
    with pytest.raises(ApplicationError, match="Nothing was undone: the appointment of Mon 18 Mar 10:00 cannot be "
                                               "reinstated"):
        appointment_undo(actor=front_desk, token=offer.token)
    assert Appointment.objects.filter(series=four_weeks[0].series, status=Status.CANCELLED).count() == 3


def test_undo_of_a_telehealth_series_move_re_creates_each_meeting_again(
        telehealth_series, zoom, front_desk, practitioner_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        outcome = _move_following_an_hour_later(front_desk, telehealth_series[0], practitioner_a)
    offer = undo_offer_series_move(actor=front_desk, outcome=outcome)
    assert offer.text == ("Undo moves all 3 back; each of the 3 telehealth appointments gets another new Zoom "
                          "meeting and the current links stop working.")
    moved_ids = {a.zoom_meeting.zoom_id for a in Appointment.objects.filter(series=telehealth_series[0].series)}
    with django_capture_on_commit_callbacks(execute=True):
        undone = appointment_undo(actor=front_desk, token=offer.token)
    assert {r.telehealth for r in undone.series_moved} == {"recreated"}  # the view says R7 again
    appointments = Appointment.objects.filter(series=telehealth_series[0].series).select_related("zoom_meeting")
    assert [local(a.starts_at).time() for a in appointments] == [TEN] * 3
    new_ids = {a.zoom_meeting.zoom_id for a in appointments}
    assert len(new_ids) == 3 and not new_ids & moved_ids and set(zoom_meetings(zoom)) == new_ids


def test_undo_of_a_telehealth_series_move_to_a_colleague_makes_each_telehealth_again(
        telehealth_series, zoom, front_desk, practitioner_b, telehealth_location, django_capture_on_commit_callbacks):
    first = telehealth_series[0]
    with django_capture_on_commit_callbacks(execute=True):
        outcome = series_move_following(actor=front_desk, appointment=first, starts_at=first.starts_at,
                                        ends_at=first.ends_at, practitioner=practitioner_b, location=first.location)
    offer = undo_offer_series_move(actor=front_desk, outcome=outcome)
    assert "the 3 appointments that lost telehealth become telehealth again" in offer.text
    with django_capture_on_commit_callbacks(execute=True):
        undone = appointment_undo(actor=front_desk, token=offer.token)
    assert undone.telehealth_restored and undone.warnings == []
    assert "Telehealth is back for 3 appointments" in undone.message
    appointments = Appointment.objects.filter(series=first.series).select_related("zoom_meeting")
    assert {(a.practitioner.user.username, a.is_telehealth, a.location_id, a.zoom_meeting.state)
            for a in appointments} == {(first.practitioner.user.username, True, telehealth_location.pk,
                                        MeetingState.ACTIVE)}
    assert len(zoom_meetings(zoom)) == 3


def test_undo_of_a_telehealth_series_cancel_creates_a_new_meeting_for_each(
        telehealth_series, zoom, front_desk, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        outcome = series_cancel_following(actor=front_desk, appointment=telehealth_series[1])
    offer = undo_offer_series_cancel(actor=front_desk, outcome=outcome)
    assert offer.text == ("Undo reinstates both and creates a new Zoom meeting for each of the 2 telehealth "
                          "appointments (the cancellation deleted the old ones).")
    with django_capture_on_commit_callbacks(execute=True):
        undone = appointment_undo(actor=front_desk, token=offer.token)
    assert "Telehealth is back for 2 appointments" in undone.message
    assert len(zoom_meetings(zoom)) == 3
    assert {a.zoom_meeting.state for a in Appointment.objects.filter(series=telehealth_series[0].series)
            .select_related("zoom_meeting")} == {MeetingState.ACTIVE}


def _undo_token_from(html: str) -> str:
    return html.split('name="token" value="', 1)[1].split('"', 1)[0]


def test_the_move_form_offers_undo_of_this_and_following(client, front_desk, four_weeks, practitioner_a):
    client.force_login(front_desk)
    second = four_weeks[1]
    response = client.post(reverse("appointment-move", args=[second.pk]), {
        "practitioner": practitioner_a.pk, "location": second.location_id, "date": "2030-03-11",
        "start_time": "11:00", "duration": "30", "scope": "following"}, follow=True)
    html = response.content.decode()
    assert "Moved 3 appointments of the series: this one and the following. Undo moves all 3 back." in html
    response = client.post(reverse("appointment-undo"), {"token": _undo_token_from(html)}, follow=True)
    assert "Undone: the 3 appointments are back where they were." in response.content.decode()
    assert _times(second) == [TEN] * 4


def test_the_cancel_form_offers_undo_of_this_and_following(client, front_desk, four_weeks):
    client.force_login(front_desk)
    response = client.post(reverse("appointment-cancel", args=[four_weeks[1].pk]),
                           {"reason": "", "scope": "following"}, follow=True)
    html = response.content.decode()
    assert "Undo reinstates all 3." in html
    response = client.post(reverse("appointment-undo"), {"token": _undo_token_from(html)}, follow=True)
    assert "Undone: the 3 appointments are booked again." in response.content.decode()
    assert not Appointment.objects.filter(status=Status.CANCELLED).exists()


def test_the_undo_view_says_which_appointment_changed_and_that_nothing_was_undone(client, front_desk, four_weeks,
                                                                                  practitioner_a):
    client.force_login(front_desk)
    response = client.post(reverse("appointment-cancel", args=[four_weeks[1].pk]),
                           {"reason": "", "scope": "following"}, follow=True)
    token = _undo_token_from(response.content.decode())
    appointment_book(actor=front_desk, client=four_weeks[0].client, practitioner=practitioner_a,
                     location=four_weeks[0].location, appointment_type=four_weeks[0].appointment_type,
                     starts_at=sydney(2030, 3, 25, 10))
    response = client.post(reverse("appointment-undo"), {"token": token}, follow=True)
    assert "Nothing was undone: the appointment of Mon 25 Mar 10:00 cannot be reinstated" in \
        response.content.decode()
    assert Appointment.objects.filter(status=Status.CANCELLED).count() == 3
