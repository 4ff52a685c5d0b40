"""The Scheduler (beat sweep) and the reminders screen: usual reminders only, exactly once per appointment time."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.urls import reverse

from reminders import services
from reminders.models import Channel, Kind, Message, ReminderSettings
from reminders.selectors import next_business_day
from scheduling.services import appointment_cancel, appointment_move, appointment_reinstate
from tests.conftest import sydney

pytestmark = pytest.mark.django_db(transaction=True)

APPOINTMENT = sydney(2030, 3, 5, 10)  # Tuesday 10:00 Sydney (AEDT, UTC+11)


def _sweep_at(moment: datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return services.scheduler_sweep()


def test_it_sends_inside_the_lead_time_once_per_channel(book, practitioner_a, credits, sms_outbox, mailoutbox):
    book(practitioner_a, APPOINTMENT)
    assert _sweep_at(APPOINTMENT - timedelta(hours=25)) == 0  # not due yet
    assert _sweep_at(APPOINTMENT - timedelta(hours=23)) == 2  # SMS and email
    assert _sweep_at(APPOINTMENT - timedelta(hours=22)) == 0  # run twice: nothing more
    assert len(sms_outbox) == 1 and len(mailoutbox) == 1
    assert set(Message.objects.values_list("kind", flat=True)) == {Kind.USUAL}


def test_it_never_sends_telehealth_details(telehealth_appointment, credits, sms_outbox):
    _sweep_at(telehealth_appointment.starts_at - timedelta(hours=2))
    assert Message.objects.exists()
    assert not Message.objects.filter(kind=Kind.TELEHEALTH).exists()
    assert telehealth_appointment.zoom_meeting.join_url not in sms_outbox[0].body


def test_quiet_hours_push_sends_to_the_morning(book, practitioner_a, credits, sms_outbox):
    early = sydney(2030, 3, 5, 7, 30)
    book(practitioner_a, early)  # due 07:30 the day before... and an appointment due in the night:
    late = sydney(2030, 3, 5, 21, 30)
    book(practitioner_a, late, minutes=30)
    config = ReminderSettings.load()
    zone = early.tzinfo
    assert services.reminder_due_at(practitioner_a.appointments.get(starts_at=early), config, zone) == \
        sydney(2030, 3, 4, 8)
    assert services.reminder_due_at(practitioner_a.appointments.get(starts_at=late), config, zone) == \
        sydney(2030, 3, 5, 8)
    assert _sweep_at(sydney(2030, 3, 4, 21, 45)) == 0  # quiet: nothing goes out at night


def test_a_cancelled_appointment_is_skipped_and_a_reinstated_one_re_armed(book, practitioner_a, front_desk,
                                                                         credits, client_record):
    client_record.email_reminders = False
    client_record.save()
    appointment = book(practitioner_a, APPOINTMENT)
    appointment_cancel(actor=front_desk, appointment=appointment)
    assert _sweep_at(APPOINTMENT - timedelta(hours=3)) == 0
    appointment_reinstate(actor=front_desk, appointment=appointment)
    assert _sweep_at(APPOINTMENT - timedelta(hours=2)) == 1


def test_a_moved_appointment_gets_one_new_reminder(book, practitioner_a, front_desk, credits, sms_outbox,
                                                    client_record):
    client_record.email_reminders = False
    client_record.save()
    afternoon = sydney(2030, 3, 5, 16)
    appointment = book(practitioner_a, afternoon)
    assert _sweep_at(sydney(2030, 3, 5, 11)) == 1
    later = sydney(2030, 3, 5, 19)
    appointment_move(actor=front_desk, appointment=appointment, starts_at=later, ends_at=later + timedelta(minutes=30),
                     practitioner=practitioner_a, location=appointment.location)
    assert _sweep_at(sydney(2030, 3, 5, 12)) == 1
    assert _sweep_at(sydney(2030, 3, 5, 13)) == 0
    assert len(sms_outbox) == 2 and "16:00" in sms_outbox[0].body and "19:00" in sms_outbox[1].body


def test_the_scheduler_respects_client_preferences_and_can_be_switched_off(book, practitioner_a, credits,
                                                                           client_record):
    client_record.sms_reminders = False
    client_record.save()
    book(practitioner_a, APPOINTMENT)
    config = ReminderSettings.load()
    config.scheduler_enabled = False
    config.save()
    assert _sweep_at(APPOINTMENT - timedelta(hours=2)) == 0
    config.scheduler_enabled = True
    config.save()
    assert _sweep_at(APPOINTMENT - timedelta(hours=2)) == 1
    assert Message.objects.get().channel == Channel.EMAIL


def test_the_sweep_task_is_scheduled_by_beat():
    from django.conf import settings

    assert settings.CELERY_BEAT_SCHEDULE["reminders-sweep"]["task"] == "reminders.tasks.reminders_sweep"


# The reminders screen ----------------------------------------------------------------------------------------

def test_the_screen_defaults_to_the_next_business_day():
    assert next_business_day(datetime(2030, 3, 8, tzinfo=UTC).date()).isoformat() == "2030-03-11"  # Fri → Mon
    assert next_business_day(datetime(2030, 3, 4, tzinfo=UTC).date()).isoformat() == "2030-03-05"


def test_bulk_sends_usual_reminders_and_skips_those_already_sent(client, front_desk, book, practitioner_a,
                                                                 practitioner_b, credits, telehealth_appointment,
                                                                 sms_outbox):
    plain = book(practitioner_b, sydney(2030, 3, 4, 11))
    client.force_login(front_desk)
    page = client.get(reverse("reminders"), {"day": "2030-03-04"}).content.decode()
    assert "Casey Client" in page and "Telehealth Zoom details are sent from each appointment" in page
    ids = [plain.pk, telehealth_appointment.pk]
    response = client.post(reverse("reminders"), {"day": "2030-03-04", "appointments": ids,
                                                  "channels": ["sms", "email"]}, follow=True)
    assert "4 reminder(s) queued" in response.content.decode()
    response = client.post(reverse("reminders"), {"day": "2030-03-04", "appointments": ids,
                                                  "channels": ["sms"]}, follow=True)
    assert "0 reminder(s) queued; 2 already sent" in response.content.decode()
    response = client.post(reverse("reminders"), {"day": "2030-03-04", "appointments": ids, "channels": ["sms"],
                                                  "again": "on"}, follow=True)
    assert "2 reminder(s) queued" in response.content.decode()
    assert not Message.objects.filter(kind=Kind.TELEHEALTH).exists()
    assert len(sms_outbox) == 4
    page = client.get(reverse("reminders"), {"day": "2030-03-04"}).content.decode()
    assert "Usual reminder SMS: Sent" in page


def test_bulk_with_too_few_credits_says_so_and_sends_nothing(client, front_desk, book, practitioner_a, sms_outbox,
                                                             client_record):
    client_record.email_reminders = False
    client_record.save()
    appointment = book(practitioner_a, sydney(2030, 3, 4, 11))
    client.force_login(front_desk)
    response = client.post(reverse("reminders"), {"day": "2030-03-04", "appointments": [appointment.pk],
                                                  "channels": ["sms"]}, follow=True)
    assert "Not enough SMS credits: this SMS needs 1 and 0 are available" in response.content.decode()
    assert sms_outbox == [] and not Message.objects.exists()


def test_the_message_log_and_credits_pages(client, front_desk, admin_user, book, practitioner_a, credits):
    appointment = book(practitioner_a, sydney(2030, 3, 4, 11))
    services.usual_reminder_queue(actor=front_desk, appointment=appointment, channel=Channel.SMS)
    client.force_login(front_desk)
    assert "Usual reminder · SMS" in client.get(reverse("messages"), {"channel": "sms"}).content.decode()
    assert "Usual reminder · SMS" not in client.get(reverse("messages"), {"channel": "email"}).content.decode()
    page = client.get(reverse("credits")).content.decode()
    assert "Balance: <strong>99</strong>" in page and "Add credits" not in page
    assert client.post(reverse("credits"), {"amount": 10}).status_code == 403
    client.force_login(admin_user)
    client.post(reverse("credits"), {"amount": 10, "note": "INV-1"})
    assert services.credits_balance() == 109


def test_the_low_balance_warning_shows_in_the_top_bar(client, front_desk, credits):
    client.force_login(front_desk)
    assert "100 SMS credits" in client.get(reverse("diary")).content.decode()
    config = ReminderSettings.load()
    config.low_balance_warning = 500
    config.save()
    assert "100 SMS credits · low" in client.get(reverse("diary")).content.decode()


def test_quiet_hours_wrap_midnight():
    config = ReminderSettings(quiet_start=time(20), quiet_end=time(8))
    zone = sydney(2030, 1, 1, 0).tzinfo
    assert services._in_quiet_hours(sydney(2030, 3, 4, 23), config, zone)
    assert services._in_quiet_hours(sydney(2030, 3, 4, 7, 59), config, zone)
    assert not services._in_quiet_hours(sydney(2030, 3, 4, 8), config, zone)


# The stored schedule ------------------------------------------------------------------------------------------

def _rows(appointment):
    from reminders.models import ScheduledReminder

    return sorted(ScheduledReminder.objects.filter(appointment=appointment).values_list("channel", "state", "due_at"))


def test_booking_arms_a_due_time_per_channel(book, practitioner_a):
    appointment = book(practitioner_a, APPOINTMENT)
    assert _rows(appointment) == [("email", "armed", APPOINTMENT - timedelta(hours=24)),
                                  ("sms", "armed", APPOINTMENT - timedelta(hours=24))]


def test_a_move_retires_the_old_time_and_arms_the_new(book, practitioner_a, front_desk):
    appointment = book(practitioner_a, APPOINTMENT)
    later = APPOINTMENT + timedelta(hours=3)
    appointment_move(actor=front_desk, appointment=appointment, starts_at=later, ends_at=later + timedelta(minutes=30),
                     practitioner=practitioner_a, location=appointment.location)
    states = {(state, due) for _channel, state, due in _rows(appointment)}
    assert states == {("retired", APPOINTMENT - timedelta(hours=24)), ("armed", later - timedelta(hours=24))}


def test_cancel_retires_and_reinstate_re_arms(book, practitioner_a, front_desk):
    appointment = book(practitioner_a, APPOINTMENT)
    appointment_cancel(actor=front_desk, appointment=appointment)
    assert {state for _c, state, _d in _rows(appointment)} == {"retired"}
    appointment_reinstate(actor=front_desk, appointment=appointment)
    assert {state for _c, state, _d in _rows(appointment)} == {"armed"}


def test_changing_the_lead_time_moves_armed_reminders(book, practitioner_a):
    appointment = book(practitioner_a, APPOINTMENT)
    config = ReminderSettings.load()
    config.lead_hours = 48
    config.save()
    assert {due for _c, _s, due in _rows(appointment)} == {APPOINTMENT - timedelta(hours=48)}


def test_the_sweep_arms_appointments_saved_without_reminders(practitioner_a, location, appointment_type,
                                                             client_record, credits):
    from scheduling.models import Appointment

    Appointment.objects.bulk_create([Appointment(  # no signals: e.g. an import
        client=client_record, practitioner=practitioner_a, location=location, appointment_type=appointment_type,
        starts_at=APPOINTMENT, ends_at=APPOINTMENT + timedelta(minutes=30))])
    assert _sweep_at(APPOINTMENT - timedelta(hours=2)) == 2


def test_a_skipped_reminder_says_why(book, practitioner_a, client_record, credits):
    client_record.sms_reminders = False
    client_record.save()
    appointment = book(practitioner_a, APPOINTMENT)
    _sweep_at(APPOINTMENT - timedelta(hours=2))
    from reminders.models import ScheduledReminder

    sms = ScheduledReminder.objects.get(appointment=appointment, channel=Channel.SMS)
    assert sms.state == "skipped" and "does not want reminders" in sms.note
