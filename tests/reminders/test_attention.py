"""Issue 7, items 9–12: every reminder is sent once or visibly not sent, with an action for a person.

Quiet hours never push a reminder past its appointment (9); reminders refused for lack of credits wait and go out
once credits are bought (10); telehealth details go once per meeting and channel unless a person confirms sending
again (11); a send cut off by a worker crash can be marked sent, sent again or marked not sent (12).
"""

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from practice.errors import ApplicationError
from practice.models import AuditEvent
from reminders import selectors, services
from reminders.models import Channel, CreditEntry, Message, MessageStatus, ReminderSettings, ScheduledReminder
from tests.conftest import sydney

pytestmark = pytest.mark.django_db(transaction=True)

State = ScheduledReminder.State
Reason = ScheduledReminder.Reason


def _settings(**values) -> ReminderSettings:
    config = ReminderSettings.load()
    for name, value in values.items():
        setattr(config, name, value)
    config.save()
    return config


def _sms_only(client_record) -> None:
    client_record.email_reminders = False
    client_record.save()


def _row(appointment, channel=Channel.SMS) -> ScheduledReminder:
    return ScheduledReminder.objects.get(appointment=appointment, channel=channel,
                                         for_starts_at=appointment.starts_at)


def _sweep_at(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return services.scheduler_sweep()


# 9. Quiet hours never push a reminder past its appointment ----------------------------------------------------

def test_a_short_lead_in_quiet_hours_sends_before_they_begin_not_after_the_start(book, practitioner_a, credits,
                                                                              client_record, sms_outbox):
    _sms_only(client_record)
    _settings(lead_hours=1, quiet_start=time(16), quiet_end=time(19))
    start = sydney(2030, 3, 5, 17, 25)  # due 16:25 would be quiet; their end (19:00) is after the start
    with time_machine.travel(sydney(2030, 3, 5, 9), tick=False):
        appointment = book(practitioner_a, start)
    assert _row(appointment).due_at == sydney(2030, 3, 5, 15, 45)  # 15 minutes before quiet hours begin
    assert _sweep_at(sydney(2030, 3, 5, 15, 40)) == 0
    assert _sweep_at(sydney(2030, 3, 5, 15, 46)) == 1
    assert _row(appointment).state == State.SENT and "17:25" in sms_outbox[0].body


def test_the_due_time_goes_to_the_end_of_quiet_hours_only_when_that_is_before_the_start(practitioner_a, book):
    config = ReminderSettings(lead_hours=1, quiet_start=time(20), quiet_end=time(8))
    zone = sydney(2030, 1, 1, 0).tzinfo
    now = sydney(2030, 3, 4, 12)
    morning = book(practitioner_a, sydney(2030, 3, 5, 8, 30))  # due 07:30 (quiet) → 08:00, before 08:30
    assert services.reminder_due_at(morning, config, zone, now=now) == sydney(2030, 3, 5, 8)
    early = book(practitioner_a, sydney(2030, 3, 5, 7))  # due 06:00 (quiet) → the evening before, 19:45
    assert services.reminder_due_at(early, config, zone, now=now) == sydney(2030, 3, 4, 19, 45)
    # Booked at 19:50 for 07:00: quiet hours begin in 10 minutes, so at once.
    assert services.reminder_due_at(early, config, zone, now=sydney(2030, 3, 4, 19, 50)) == sydney(2030, 3, 4, 19, 50)
    # Booked at 22:00 for 07:00: no time left outside quiet hours.
    assert services.reminder_due_at(early, config, zone, now=sydney(2030, 3, 4, 22)) is None


def test_booked_in_quiet_hours_too_close_to_send_is_recorded_as_not_sent_too_late(book, practitioner_a, credits,
                                                                                  client_record, client, front_desk):
    _sms_only(client_record)
    with time_machine.travel(sydney(2030, 3, 4, 22), tick=False):
        appointment = book(practitioner_a, sydney(2030, 3, 5, 7))
        row = _row(appointment)
        assert (row.state, row.reason) == (State.NOT_SENT, Reason.TOO_LATE)
        assert "quiet hours (20:00–08:00)" in row.note
        assert row in selectors.scheduled_reminders_needing_attention()
        email_row = _row(appointment, Channel.EMAIL)  # a channel the client does not want is no one's concern
        assert email_row.state == State.SKIPPED
        assert email_row not in selectors.scheduled_reminders_needing_attention()
        client.force_login(front_desk)
        panel = client.get(reverse("appointment-detail", args=[appointment.pk])).content.decode()
    assert "Not sent: too late" in panel and "Send now" in panel


def test_a_due_reminder_that_missed_its_sweep_is_marked_too_late_in_quiet_hours(book, practitioner_a, credits,
                                                                               client_record, sms_outbox):
    _sms_only(client_record)
    _settings(lead_hours=1)
    with time_machine.travel(sydney(2030, 3, 4, 12), tick=False):
        appointment = book(practitioner_a, sydney(2030, 3, 5, 7))
    assert _row(appointment).due_at == sydney(2030, 3, 4, 19, 45)
    # The workers were down from 19:30 until 21:00: quiet hours now last until after the appointment.
    assert _sweep_at(sydney(2030, 3, 4, 21)) == 0
    row = _row(appointment)
    assert (row.state, row.reason) == (State.NOT_SENT, Reason.TOO_LATE)
    with time_machine.travel(sydney(2030, 3, 4, 21), tick=False):
        assert row in selectors.scheduled_reminders_needing_attention()
    assert _sweep_at(sydney(2030, 3, 5, 8)) == 0 and sms_outbox == []
    with time_machine.travel(sydney(2030, 3, 5, 8), tick=False):  # the appointment is over: no longer listed
        assert not selectors.scheduled_reminders_needing_attention().exists()


# 10. Reminders refused for lack of credits wait, visibly, and go once credits are bought ---------------------

def test_a_reminder_without_credits_waits_and_is_sent_when_credits_are_bought(
        book, practitioner_a, client_record, admin_user, front_desk, client, sms_outbox):
    _sms_only(client_record)
    appointment = book(practitioner_a, sydney(2030, 3, 5, 10))
    assert _sweep_at(sydney(2030, 3, 4, 11)) == 0
    row = _row(appointment)
    assert (row.state, row.reason) == (State.HELD, Reason.NO_CREDITS)
    assert "Not enough SMS credits" in row.note and "sent automatically once credits are added" in row.note
    with time_machine.travel(sydney(2030, 3, 4, 11, 3), tick=False):
        assert list(selectors.scheduled_reminders_needing_attention()) == [row]
        client.force_login(front_desk)
        screen = client.get(reverse("reminders"), {"day": "2030-03-05"}).content.decode()
        panel = client.get(reverse("appointment-detail", args=[appointment.pk])).content.decode()
    assert "SMS: Waiting for credits" in screen and "Not enough SMS credits" in screen
    assert "Waiting for credits" in panel
    assert _sweep_at(sydney(2030, 3, 4, 11, 5)) == 0  # still none: still waiting, no noise
    assert sms_outbox == []
    with time_machine.travel(sydney(2030, 3, 4, 12), tick=False):
        services.credits_purchase(actor=admin_user, amount=10)  # the sweep runs at once after the commit
        assert not selectors.scheduled_reminders_needing_attention().exists()
    row.refresh_from_db()
    assert row.state == State.SENT and row.message is not None
    assert len(sms_outbox) == 1 and services.credits_balance() == 9


def test_a_reminder_waiting_for_credits_keeps_its_since_while_credits_are_too_few(book, practitioner_a,
                                                                                  client_record):
    from reminders.models import UsualTemplate

    _sms_only(client_record)
    UsualTemplate.objects.create(channel=Channel.SMS, body="x" * 200 + " {first_name}")  # 2 credits
    appointment = book(practitioner_a, sydney(2030, 3, 5, 10))
    _sweep_at(sydney(2030, 3, 4, 11))
    since = _row(appointment).updated_at
    CreditEntry.objects.create(amount=1, reason=CreditEntry.Reason.PURCHASE)
    assert _sweep_at(sydney(2030, 3, 4, 11, 5)) == 0
    row = _row(appointment)
    assert row.state == State.HELD and row.updated_at == since


def test_too_late_then_moved_to_a_time_with_room_is_armed_again(book, practitioner_a, front_desk, client_record):
    from scheduling.services import appointment_move

    _sms_only(client_record)
    with time_machine.travel(sydney(2030, 3, 4, 22), tick=False):
        appointment = book(practitioner_a, sydney(2030, 3, 5, 7))
        assert _row(appointment).state == State.NOT_SENT
        later = sydney(2030, 3, 5, 11)
        appointment_move(actor=front_desk, appointment=appointment, starts_at=later,
                         ends_at=later + timedelta(minutes=30), practitioner=practitioner_a,
                         location=appointment.location)
        appointment.refresh_from_db()
        assert _row(appointment).state == State.ARMED
        assert not selectors.scheduled_reminders_needing_attention().exists()  # the old time's row no longer counts


def test_a_reminder_still_waiting_for_credits_when_the_appointment_starts_is_too_late(book, practitioner_a,
                                                                                     client_record, admin_user,
                                                                                     sms_outbox):
    _sms_only(client_record)
    appointment = book(practitioner_a, sydney(2030, 3, 5, 10))
    _sweep_at(sydney(2030, 3, 4, 11))
    CreditEntry.objects.create(amount=5, reason=CreditEntry.Reason.PURCHASE)
    assert _sweep_at(sydney(2030, 3, 5, 10, 5)) == 0
    row = _row(appointment)
    assert (row.state, row.reason) == (State.NOT_SENT, Reason.TOO_LATE) and sms_outbox == []


def test_no_mobile_is_a_visible_state_and_send_now_sends_it_once_fixed(book, practitioner_a, client_record,
                                                                       front_desk, credits, sms_outbox):
    _sms_only(client_record)
    client_record.mobile = ""
    client_record.save()
    appointment = book(practitioner_a, sydney(2030, 3, 5, 10))
    _sweep_at(sydney(2030, 3, 4, 11))
    row = _row(appointment)
    assert (row.state, row.reason) == (State.NOT_SENT, Reason.NO_CONTACT) and "has no mobile number" in row.note
    with time_machine.travel(sydney(2030, 3, 4, 11, 30), tick=False):
        assert list(selectors.scheduled_reminders_needing_attention()) == [row]
        with pytest.raises(ApplicationError, match="has no mobile number"):
            services.scheduled_reminder_send_now(actor=front_desk, reminder=row)
        client_record.mobile = "+61400000001"
        client_record.save()
        message = services.scheduled_reminder_send_now(actor=front_desk, reminder=row)
        assert not selectors.scheduled_reminders_needing_attention().exists()
        with pytest.raises(ApplicationError, match="already dealt with"):
            services.scheduled_reminder_send_now(actor=front_desk, reminder=row)
    row.refresh_from_db()
    assert row.state == State.SENT and row.message == message and len(sms_outbox) == 1
    assert AuditEvent.objects.filter(action="reminder.sent_now", object_id=str(row.pk), actor=front_desk).exists()


def test_send_now_from_the_panel_says_what_became_of_the_reminder(book, practitioner_a, client_record, front_desk,
                                                                   credits, sms_outbox, client,
                                                                   django_capture_on_commit_callbacks):
    _sms_only(client_record)
    client_record.mobile = ""
    client_record.save()
    appointment = book(practitioner_a, sydney(2030, 3, 5, 10))
    _sweep_at(sydney(2030, 3, 4, 11))
    client_record.mobile = "+61400000001"
    client_record.save()
    with time_machine.travel(sydney(2030, 3, 4, 11, 30), tick=False):
        client.force_login(front_desk)
        url = reverse("scheduled-reminder-action", args=[appointment.pk, _row(appointment).pk, "send"])
        with django_capture_on_commit_callbacks(execute=True):
            page = client.post(url, follow=True).content.decode()
    assert "The reminder was sent (1 credit)." in page and len(sms_outbox) == 1


def test_dismissing_a_reminder_waiting_for_credits_stops_it(book, practitioner_a, client_record, front_desk,
                                                            admin_user, sms_outbox):
    _sms_only(client_record)
    appointment = book(practitioner_a, sydney(2030, 3, 5, 10))
    _sweep_at(sydney(2030, 3, 4, 11))
    with time_machine.travel(sydney(2030, 3, 4, 11, 30), tick=False):
        services.scheduled_reminder_dismiss(actor=front_desk, reminder=_row(appointment))
        assert not selectors.scheduled_reminders_needing_attention().exists()
        with pytest.raises(ApplicationError, match="already dealt with"):
            services.scheduled_reminder_dismiss(actor=front_desk, reminder=_row(appointment))
        services.credits_purchase(actor=admin_user, amount=10)
    row = _row(appointment)
    assert (row.state, row.reason, row.resolved_by) == (State.NOT_SENT, Reason.NO_CREDITS, front_desk)
    assert sms_outbox == []
    assert AuditEvent.objects.filter(action="reminder.dismissed", object_id=str(row.pk)).exists()


def test_a_client_who_does_not_want_reminders_is_shown_not_listed(book, practitioner_a, client_record, credits):
    client_record.sms_reminders = False
    client_record.save()
    appointment = book(practitioner_a, sydney(2030, 3, 5, 10))
    _sweep_at(sydney(2030, 3, 4, 11))
    assert _row(appointment).state == State.SKIPPED
    assert _row(appointment).get_state_display() == "Not wanted"
    with time_machine.travel(sydney(2030, 3, 4, 11), tick=False):
        assert not selectors.scheduled_reminders_needing_attention().exists()
        with pytest.raises(ApplicationError, match="does not want reminders by SMS"):
            services.scheduled_reminder_send_now(actor=None, reminder=_row(appointment))  # type: ignore[arg-type]


# 11. Telehealth details once per meeting and channel, unless a person confirms --------------------------------

def test_a_second_send_is_told_when_and_by_whom_and_send_again_needs_confirming(
        telehealth_appointment, front_desk, admin_user, credits, sms_outbox, client):
    first = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                             channel=Channel.SMS)
    local = timezone.localtime(first.created_at, ZoneInfo("Australia/Sydney"))
    with pytest.raises(ApplicationError, match=f"already sent at {local:%H:%M}.* by Frontdesk") as refused:
        services.telehealth_details_send(actor=admin_user, appointment=telehealth_appointment, channel=Channel.SMS)
    assert refused.value.extra == {"message_pk": first.pk}
    client.force_login(admin_user)
    url = reverse("telehealth-send", args=[telehealth_appointment.pk, "sms"])
    panel = client.get(reverse("appointment-detail", args=[telehealth_appointment.pk])).content.decode()
    assert "by Frontdesk (sent) — Send again?" in panel
    assert f'name="send_again" value="{first.pk}" required' in panel
    page = client.post(url, {"request_key": "other-panel"}, follow=True).content.decode()  # no confirmation
    assert "already sent at" in page and len(sms_outbox) == 1
    client.post(url, {"send_again": str(first.pk)})
    client.post(url, {"send_again": str(first.pk)})  # the same confirmation twice (two people): once
    client.post(url, {"send_again": "2147483648000000000000"})  # nonsense is a refusal, not a 500
    assert len(sms_outbox) == 2 and services.credits_balance() == 96
    again = Message.objects.order_by("-pk").first()
    assert again.sent_by == admin_user and again.key.endswith(f":again:{first.pk}")


def test_after_a_failed_send_the_panel_offers_send_again_without_confirming(telehealth_appointment, front_desk,
                                                                           credits, sms_outbox, client):
    from reminders import sms

    sms.fail_next(sms.SmsError("Twilio refused the SMS (21211)", permanent=True, code=21211))
    failed = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                              channel=Channel.SMS)
    with pytest.raises(ApplicationError, match="was tried at .* by Frontdesk and failed"):
        services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment, channel=Channel.SMS)
    client.force_login(front_desk)
    panel = client.get(reverse("appointment-detail", args=[telehealth_appointment.pk])).content.decode()
    assert f'type="hidden" name="send_again" value="{failed.pk}"' in panel
    client.post(reverse("telehealth-send", args=[telehealth_appointment.pk, "sms"]), {"send_again": failed.pk})
    assert len(sms_outbox) == 1 and services.credits_balance() == 98
    failed.refresh_from_db()
    assert failed.resolution == "sent_again"  # the new send answers the failed one
    assert failed not in selectors.messages_needing_attention()


# 12. A send cut off by a worker crash: listed, and settled by a person ---------------------------------------

@pytest.fixture
def cut_off(telehealth_appointment, front_desk, credits, monkeypatch):
    """An SMS whose worker died mid-send: SENDING since 10:00, its 2 credits spent."""
    from reminders.tasks import message_send

    monkeypatch.setattr(message_send, "delay", lambda pk: None)
    message = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                               channel=Channel.SMS)
    monkeypatch.undo()
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENDING,
                                                 updated_at=sydney(2030, 3, 1, 10))
    return message


def test_a_send_cut_off_is_listed_within_minutes_and_recovered_as_unknown(cut_off):
    with time_machine.travel(sydney(2030, 3, 1, 10, 2), tick=False):
        assert not selectors.messages_needing_attention().exists()  # may still be sending
    with time_machine.travel(sydney(2030, 3, 1, 10, 6), tick=False):
        assert list(selectors.messages_needing_attention()) == [cut_off]
        services.messages_recover()
    cut_off.refresh_from_db()
    assert cut_off.status == MessageStatus.UNKNOWN and "cut off" in cut_off.error
    assert list(selectors.messages_needing_attention()) == [cut_off]


def test_mark_as_sent_keeps_the_debit(cut_off, front_desk):
    with time_machine.travel(sydney(2030, 3, 1, 10, 2), tick=False):
        with pytest.raises(ApplicationError, match="being sent right now"):
            services.message_mark_sent(actor=front_desk, message=cut_off)
    with time_machine.travel(sydney(2030, 3, 1, 10, 30), tick=False):
        marked = services.message_mark_sent(actor=front_desk, message=cut_off)
        with pytest.raises(ApplicationError, match="already dealt with: marked as sent by Frontdesk"):
            services.message_mark_not_sent(actor=front_desk, message=cut_off)
    assert (marked.status, marked.resolution, marked.resolved_by) == (MessageStatus.SENT, "marked_sent", front_desk)
    assert services.credits_balance() == 98
    assert not selectors.messages_needing_attention().exists()
    assert AuditEvent.objects.filter(action="message.marked_sent", object_id=str(cut_off.pk), actor=front_desk).exists()


def test_mark_as_not_sent_refunds_once(cut_off, front_desk):
    with time_machine.travel(sydney(2030, 3, 1, 10, 30), tick=False):
        marked = services.message_mark_not_sent(actor=front_desk, message=cut_off)
    assert (marked.status, marked.resolution) == (MessageStatus.FAILED, "marked_not_sent")
    assert services.credits_balance() == 100
    assert not selectors.messages_needing_attention().exists()
    event = AuditEvent.objects.get(action="message.marked_not_sent", object_id=str(cut_off.pk))
    assert event.changes["refunded"] == 2


def test_send_again_is_a_new_message_with_a_new_debit_once(cut_off, front_desk, admin_user, sms_outbox):
    with time_machine.travel(sydney(2030, 3, 1, 10, 30), tick=False):
        new = services.message_send_again(actor=front_desk, message=cut_off)
        with pytest.raises(ApplicationError, match="already dealt with"):
            services.message_send_again(actor=admin_user, message=cut_off)
    new.refresh_from_db()
    cut_off.refresh_from_db()
    assert new.pk != cut_off.pk and new.status == MessageStatus.SENT and len(sms_outbox) == 1
    assert (cut_off.status, cut_off.resolution, cut_off.replaced_by) == (MessageStatus.UNKNOWN, "sent_again", new)
    assert services.credits_balance() == 96  # the first may have gone too: its debit stays
    assert not selectors.messages_needing_attention().exists()
    assert AuditEvent.objects.filter(action="message.sent_again", object_id=str(cut_off.pk)).exists()


def test_a_failed_message_cannot_be_marked_sent_but_can_be_settled(telehealth_appointment, front_desk, credits):
    from reminders import sms

    sms.fail_next(sms.SmsError("Twilio refused the SMS (21211)", permanent=True, code=21211))
    failed = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                              channel=Channel.SMS)
    assert list(selectors.messages_needing_attention()) == [failed]
    with pytest.raises(ApplicationError, match="failed, so it was not sent"):
        services.message_mark_sent(actor=front_desk, message=failed)
    services.message_mark_not_sent(actor=front_desk, message=failed)
    assert services.credits_balance() == 100  # refunded when it failed, not twice
    assert not selectors.messages_needing_attention().exists()


def test_the_panel_offers_the_actions_and_they_work(cut_off, front_desk, client, telehealth_appointment):
    with time_machine.travel(sydney(2030, 3, 1, 10, 30), tick=False):
        client.force_login(front_desk)
        services.messages_recover()
        panel = client.get(reverse("appointment-detail", args=[telehealth_appointment.pk])).content.decode()
        assert "Unknown — may have been sent" in panel
        for action in ("sent", "send-again", "not-sent"):
            assert reverse("message-action", args=[telehealth_appointment.pk, cut_off.pk, action]) in panel
        page = client.post(reverse("message-action", args=[telehealth_appointment.pk, cut_off.pk, "not-sent"]),
                           follow=True).content.decode()
    assert "Marked as not sent" in page and services.credits_balance() == 100
    assert client.post(reverse("message-action", args=[telehealth_appointment.pk, cut_off.pk, "nonsense"])
                       ).status_code == 404


def test_send_again_from_the_panel_says_queued_sent_or_not_sent_never_sent_for_one_not_sent(
        telehealth_appointment, front_desk, client, credits, sms_outbox, django_capture_on_commit_callbacks,
        monkeypatch):
    from reminders import sms, tasks

    def failed_message():
        sms.fail_next(sms.SmsError("Twilio refused the SMS (21211)", permanent=True, code=21211))
        latest = services.telehealth_last_sent(telehealth_appointment, Channel.SMS)
        with django_capture_on_commit_callbacks(execute=True):
            message = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                                       channel=Channel.SMS, again_after=latest.pk if latest else None)
        message.refresh_from_db()
        assert message.status == MessageStatus.FAILED
        return message

    def send_again(message) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("message-action", args=[telehealth_appointment.pk, message.pk, "send-again"]),
                               follow=True).content.decode()

    client.force_login(front_desk)
    first = failed_message()
    sms.fail_next(sms.SmsError("Twilio refused the SMS (21211)", permanent=True, code=21211))
    page = send_again(first)
    assert "The new message was not sent: Twilio refused the SMS (21211)" in page and "was sent." not in page
    page = send_again(failed_message())
    assert "The new message was sent (2 credits)." in page
    # With a worker, the send runs after the page answers: here it has not run yet.
    third = failed_message()
    with monkeypatch.context() as patched:
        patched.setattr(tasks.message_send, "delay", lambda pk: None)
        page = send_again(third)
    assert "The new message is queued (2 credits): it goes out in a moment." in page and "was sent" not in page


def test_a_claim_restarts_the_clock_so_a_late_retry_is_not_taken_for_a_crash(telehealth_appointment, front_desk,
                                                                           credits, monkeypatch):
    from reminders.tasks import message_send

    monkeypatch.setattr(message_send, "delay", lambda pk: None)
    message = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                               channel=Channel.SMS)
    Message.objects.filter(pk=message.pk).update(updated_at=timezone.now() - timedelta(minutes=40))
    assert services._claim(message.pk) is not None  # attempt 4, 40 minutes after queueing
    services.messages_recover()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENDING


# Bad input: refused at save, and what cannot heal is never retried ---------------------------------------------

@pytest.mark.parametrize("lead", ["2147483647", "0", "337", "-1", "99999999999999999999999"])
def test_an_absurd_lead_time_is_a_form_error(client, admin_user, lead):
    client.force_login(admin_user)
    response = client.post(reverse("reminder-settings"), {
        "scheduler_enabled": "on", "lead_hours": lead, "quiet_start": "20:00", "quiet_end": "08:00",
        "low_balance_warning": "50"})
    assert response.status_code == 200 and "has-error" in response.content.decode()
    assert ReminderSettings.load().lead_hours == 24


def test_the_settings_page_saves_audits_and_re_times(client, admin_user, book, practitioner_a):
    appointment = book(practitioner_a, sydney(2030, 3, 5, 10))
    client.force_login(admin_user)
    response = client.post(reverse("reminder-settings"), {
        "scheduler_enabled": "on", "lead_hours": "48", "quiet_start": "21:00", "quiet_end": "07:30",
        "low_balance_warning": "20"})
    assert response.status_code == 302
    config = ReminderSettings.load()
    assert (config.lead_hours, config.quiet_start, config.low_balance_warning) == (48, time(21), 20)
    assert _row(appointment).due_at == sydney(2030, 3, 3, 10)
    assert AuditEvent.objects.filter(action="reminders.settings_changed", actor=admin_user).exists()
    assert client.post(reverse("reminder-settings"), {"low_balance_warning": "10" * 30}).status_code == 200


def test_the_model_and_the_admin_refuse_the_same_values(client, admin_user):
    from django.core.exceptions import ValidationError

    config = ReminderSettings.load()
    config.lead_hours = 2147483647
    with pytest.raises(ValidationError):
        config.full_clean()
    from django.contrib.auth.models import User

    # The stock admin is for superusers only (practice admins use Options).
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x" * 16))
    url = reverse("admin:reminders_remindersettings_change", args=[config.pk])
    response = client.post(url, {"scheduler_enabled": "on", "lead_hours": "2147483647", "quiet_start": "20:00",
                                 "quiet_end": "08:00", "low_balance_warning": "50"})
    assert response.status_code == 200 and "lead_hours" in response.content.decode()
    assert ReminderSettings.load().lead_hours == 24


def test_a_subject_with_a_line_break_is_refused(client, admin_user):
    from django.core.exceptions import ValidationError

    from reminders.models import UsualTemplate

    client.force_login(admin_user)
    response = client.post(reverse("reminder-templates"), {
        "sms-subject": "", "sms-body": "Hi {first_name}", "email-subject": "Reminder\r\nBcc: x@example.com",
        "email-body": "Hi"})
    assert response.status_code == 200 and "Write the subject on one line" in response.content.decode()
    assert "Bcc" not in services.usual_template(Channel.EMAIL).subject
    with pytest.raises(ValidationError):
        UsualTemplate(channel=Channel.EMAIL, subject="a\nb", body="x").full_clean()


def test_stored_line_breaks_in_the_subject_or_practice_name_never_fail_the_email(book, practitioner_a, front_desk,
                                                                                practice):
    from reminders.models import UsualTemplate

    services.usual_template(Channel.EMAIL)
    UsualTemplate.objects.filter(channel=Channel.EMAIL).update(subject="Reminder\r\n{date}")  # before validation
    Practice = type(practice)
    Practice.objects.filter(pk=practice.pk).update(name="Evil\r\nBcc: all@example.com", email="a@example.com")
    message = services.usual_reminder_queue(actor=front_desk, appointment=book(practitioner_a, sydney(2030, 3, 4, 10)),
                                            channel=Channel.EMAIL)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    [email] = mail.outbox
    email.message()  # the headers serialise
    assert "\n" not in email.subject and "\n" not in email.from_email and "\r" not in email.from_email


def test_an_email_that_cannot_be_built_fails_at_once_and_is_refunded_not_retried(book, practitioner_a, front_desk,
                                                                                client_record):
    client_record.email = "not an address\r\nBcc: x@example.com"
    client_record.save()
    message = services.usual_reminder_queue(actor=front_desk, appointment=book(practitioner_a, sydney(2030, 3, 4, 10)),
                                            channel=Channel.EMAIL)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.attempts == 1
    assert "could not be built" in message.error
    assert message in selectors.messages_needing_attention()


def test_an_smtp_5xx_is_permanent_and_a_4xx_is_retried(book, practitioner_a, front_desk, monkeypatch):
    import smtplib

    from django.core.mail import EmailMultiAlternatives

    replies = iter([smtplib.SMTPSenderRefused(550, b"no", "a@example.com"),
                    smtplib.SMTPDataError(451, b"later")])

    def send(self, *args, **kwargs):
        raise next(replies)

    monkeypatch.setattr(EmailMultiAlternatives, "send", send)
    first = services.usual_reminder_queue(actor=front_desk, appointment=book(practitioner_a, sydney(2030, 3, 4, 10)),
                                          channel=Channel.EMAIL)
    first.refresh_from_db()
    assert first.status == MessageStatus.FAILED and first.attempts == 1 and "550" in first.error
    second = Message.objects.create(appointment=first.appointment, client=first.client, channel=Channel.EMAIL,
                                    kind=first.kind, key="k-451", recipient=first.recipient, body="x")
    with pytest.raises(services.TransientSendError):
        services.message_send(message_pk=second.pk)
    second.refresh_from_db()
    assert second.status == MessageStatus.QUEUED and "451" in second.error
