"""Telehealth details (R11–R13), usual reminders (R14, R15), credits (R12) and sending (RELIABILITY.md 5–7)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from practice.errors import ApplicationError
from reminders import services, sms
from reminders.models import Channel, CreditEntry, Kind, Message, MessageStatus, UsualTemplate
from reminders.segments import sms_segments
from scheduling.services import appointment_book, appointment_move
from tests.conftest import sydney

# Sends happen after commit, as in production: the tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


def test_r11_r12_the_telehealth_sms_carries_the_meeting_and_costs_exactly_2_credits(
        telehealth_appointment, front_desk, credits, sms_outbox):
    meeting = telehealth_appointment.zoom_meeting
    message = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                               channel=Channel.SMS)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.credits == 2
    assert services.credits_balance() == 98
    [sent] = sms_outbox
    assert sent.to == "+61412345678"
    assert meeting.join_url in sent.body and meeting.passcode in sent.body and meeting.formatted_id in sent.body
    assert sms_segments(sent.body).segments <= 2
    assert "Client" not in sent.body  # no surname (R22)


def test_r11_the_telehealth_email_has_link_id_passcode_and_an_invitation(telehealth_appointment, front_desk):
    meeting = telehealth_appointment.zoom_meeting
    services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment, channel=Channel.EMAIL)
    [email] = mail.outbox
    assert email.to == ["casey@example.com"]
    for part in (email.body, email.alternatives[0][0]):
        assert meeting.passcode in part and meeting.formatted_id in part
    assert meeting.join_url in email.body
    name, content, mimetype = email.attachments[0]
    assert name.endswith(".ics") and mimetype == "text/calendar"
    assert "BEGIN:VEVENT" in (content.decode() if isinstance(content, bytes) else content)
    assert services.credits_balance() == 0  # email costs nothing


def test_a_double_click_sends_once(telehealth_appointment, front_desk, credits, sms_outbox):
    services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment, channel=Channel.SMS)
    with pytest.raises(ApplicationError, match="already sent") as refused:
        services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment, channel=Channel.SMS)
    assert refused.value.code == "already_sent"
    assert len(sms_outbox) == 1 and Message.objects.count() == 1 and services.credits_balance() == 98


def test_too_few_credits_sends_nothing_and_says_how_many(telehealth_appointment, front_desk, sms_outbox):
    CreditEntry.objects.create(amount=1, reason=CreditEntry.Reason.PURCHASE)
    with pytest.raises(ApplicationError, match="needs 2 and 1 is available"):
        services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment, channel=Channel.SMS)
    assert sms_outbox == [] and not Message.objects.exists() and services.credits_balance() == 1


def test_a_permanent_rejection_is_refunded(telehealth_appointment, front_desk, credits, sms_outbox):
    sms.fail_next(sms.SmsError("Twilio refused the SMS (21211): invalid To", permanent=True, code=21211))
    message = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                               channel=Channel.SMS)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and "21211" in message.error
    assert services.credits_balance() == 100
    assert list(CreditEntry.objects.filter(message=message).values_list("amount", flat=True).order_by("amount")) \
        == [-2, 2]


def test_a_transient_failure_is_retried_and_sent_once(telehealth_appointment, front_desk, credits, sms_outbox):
    sms.fail_next(sms.SmsError("Twilio 503", permanent=False), count=2)
    message = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                               channel=Channel.SMS)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 3
    assert len(sms_outbox) == 1 and services.credits_balance() == 98


def test_a_timeout_after_sending_is_unknown_and_not_resent(telehealth_appointment, front_desk, credits, sms_outbox):
    sms.fail_next(sms.SmsError("Twilio did not answer in time", permanent=False, maybe_sent=True))
    message = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                               channel=Channel.SMS)
    message.refresh_from_db()
    assert message.status == MessageStatus.UNKNOWN and sms_outbox == []
    services.message_send(message_pk=message.pk)  # a duplicate delivery of the task
    assert sms_outbox == []


def test_the_send_task_twice_sends_once(telehealth_appointment, front_desk, credits, sms_outbox):
    from reminders.tasks import message_send

    message = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                               channel=Channel.SMS)
    message_send.apply(args=[message.pk])
    message_send.apply(args=[message.pk])
    assert len(sms_outbox) == 1


def test_telehealth_details_are_refused_without_a_meeting_or_contact(telehealth_appointment, front_desk, credits,
                                                                     client_record, django_capture_on_commit_callbacks):
    from scheduling.services import appointment_telehealth_remove

    client_record.mobile = ""
    client_record.save()
    telehealth_appointment.client.refresh_from_db()
    with pytest.raises(ApplicationError, match="has no mobile number"):
        services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment, channel=Channel.SMS)
    with django_capture_on_commit_callbacks(execute=True):
        appointment_telehealth_remove(actor=front_desk, appointment=telehealth_appointment)
    telehealth_appointment.refresh_from_db()
    with pytest.raises(ApplicationError, match="no current Zoom meeting"):
        services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                         channel=Channel.EMAIL)


def test_r14_the_usual_reminder_works_for_a_telehealth_appointment(telehealth_appointment, front_desk, credits,
                                                                   sms_outbox):
    message = services.usual_reminder_queue(actor=front_desk, appointment=telehealth_appointment,
                                            channel=Channel.SMS)
    assert message.kind == Kind.USUAL and len(sms_outbox) == 1
    assert "Alice Allen" in sms_outbox[0].body


def test_r15_a_telehealth_location_prints_no_street_address(practitioner_a, front_desk, telehealth_location,
                                                             appointment_type, client_record, credits, sms_outbox,
                                                             practice):
    practice.address = "12 Crown Street, Surry Hills"
    practice.save()
    appointment = appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a,
                                   location=telehealth_location, appointment_type=appointment_type,
                                   starts_at=sydney(2030, 3, 4, 10)).appointment
    services.usual_reminder_queue(actor=front_desk, appointment=appointment, channel=Channel.SMS)
    services.usual_reminder_queue(actor=front_desk, appointment=appointment, channel=Channel.EMAIL)
    for text in (sms_outbox[0].body, mail.outbox[0].body):
        assert "Telehealth (online)" in text and "Crown Street" not in text


def test_the_usual_sms_costs_one_credit_per_segment(book, practitioner_a, front_desk, credits):
    UsualTemplate.objects.create(channel=Channel.SMS, body="x" * 200 + " {first_name}")
    message = services.usual_reminder_queue(actor=front_desk, appointment=book(practitioner_a, sydney(2030, 3, 4, 10)),
                                            channel=Channel.SMS)
    assert message.credits == 2 and services.credits_balance() == 98


def test_r13_the_telehealth_templates_cannot_be_edited(client, admin_user):
    client.force_login(admin_user)
    html = client.get(reverse("reminder-templates")).content.decode()
    assert "are fixed and cannot be edited" in html
    assert {channel for channel, _ in Channel.choices} == set(UsualTemplate.objects.values_list("channel", flat=True))
    assert not hasattr(UsualTemplate, "kind")  # only the usual templates are stored, per channel


def test_an_admin_edits_the_usual_sms_and_the_preview_counts_credits(client, admin_user):
    client.force_login(admin_user)
    preview = client.post(reverse("reminder-template-preview"), {"sms-body": "Hi {first_name}"}).content.decode()
    assert "1 credit" in preview
    preview = client.post(reverse("reminder-template-preview"), {"sms-body": "Hi {first_name} " + "y" * 170}
                          ).content.decode()
    assert "2 credits" in preview
    bad = client.post(reverse("reminder-template-preview"), {"sms-body": "Hi {nickname}"}).content.decode()
    assert "Unknown merge field: {nickname}" in bad
    response = client.post(reverse("reminder-templates"), {
        "sms-subject": "", "sms-body": "See you {date} at {time}, {first_name}!",
        "email-subject": "Reminder {date}", "email-body": "Hi {first_name}"})
    assert response.status_code == 302
    assert UsualTemplate.objects.get(channel=Channel.SMS).body == "See you {date} at {time}, {first_name}!"


def test_front_desk_and_practitioners_cannot_edit_templates(client, front_desk, practitioner_a):
    for user in (front_desk, practitioner_a.user):
        client.force_login(user)
        assert client.get(reverse("reminder-templates")).status_code == 403


def test_the_panel_offers_telehealth_sends_and_shows_the_log(telehealth_appointment, front_desk, credits, client):
    services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment, channel=Channel.SMS)
    client.force_login(front_desk)
    html = client.get(reverse("appointment-detail", args=[telehealth_appointment.pk])).content.decode()
    assert "Send Zoom details by SMS" in html and "Send Zoom details by email" in html
    assert "Telehealth details · SMS · 2 credits" in html
    client_page = client.get(reverse("client-detail", args=[telehealth_appointment.client_id])).content.decode()
    assert "Telehealth details · SMS" in client_page


def test_the_send_button_view(telehealth_appointment, front_desk, credits, client, sms_outbox):
    client.force_login(front_desk)
    response = client.post(reverse("telehealth-send", args=[telehealth_appointment.pk, "sms"]),
                           {"request_key": "abc"}, follow=True)
    assert "Zoom details SMS (2 credits) to 0412 345 678: Sent." in response.content.decode()
    assert len(sms_outbox) == 1


def test_a_telehealth_send_that_failed_is_said_as_an_error_not_a_success(telehealth_appointment, front_desk,
                                                                         credits, client):
    from reminders.sms import SmsError, fail_next

    client.force_login(front_desk)
    fail_next(SmsError("Twilio refused the SMS (21211)", permanent=True))
    html = client.post(reverse("telehealth-send", args=[telehealth_appointment.pk, "sms"]),
                       {"request_key": "abc"}, follow=True).content.decode()
    assert ('<div class="msg msg-error">Zoom details SMS (2 credits) to 0412 345 678: Failed. Twilio refused the SMS '
            '(21211) Needs attention lists it, with Send again.') in html


def test_after_a_move_the_r7_message_offers_the_send_buttons(telehealth_appointment, front_desk, credits, client,
                                                             django_capture_on_commit_callbacks, sms_outbox):
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("appointment-move", args=[telehealth_appointment.pk]), {
            "practitioner": telehealth_appointment.practitioner_id, "location": telehealth_appointment.location_id,
            "date": "2030-03-05", "start_time": "11:00", "duration": "30"}, follow=True)
    html = response.content.decode()
    assert reverse("telehealth-send", args=[telehealth_appointment.pk, "sms"]) in html
    assert sms_outbox == []  # nothing automatically (R7)


def test_moving_then_sending_carries_the_new_meeting(telehealth_appointment, front_desk, credits, sms_outbox,
                                                     django_capture_on_commit_callbacks):
    new_start = telehealth_appointment.starts_at + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):
        appointment_move(actor=front_desk, appointment=telehealth_appointment, starts_at=new_start,
                         ends_at=new_start + timedelta(minutes=30), practitioner=telehealth_appointment.practitioner,
                         location=telehealth_appointment.location)
    telehealth_appointment.refresh_from_db()
    services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment, channel=Channel.SMS)
    assert telehealth_appointment.zoom_meeting.join_url in sms_outbox[0].body


def test_templates_posted_with_crlf_are_stored_with_lf(client, admin_user):
    client.force_login(admin_user)
    client.post(reverse("reminder-templates"), {"sms-subject": "", "sms-body": "Hi {first_name}\r\nSee you {date}",
                                                "email-subject": "R", "email-body": "A\r\n\r\nB"})
    assert UsualTemplate.objects.get(channel=Channel.SMS).body == "Hi {first_name}\nSee you {date}"
    assert UsualTemplate.objects.get(channel=Channel.EMAIL).body == "A\n\nB"


def test_a_telehealth_message_queued_before_a_move_is_not_sent_with_the_dead_link(
        telehealth_appointment, front_desk, credits, sms_outbox, django_capture_on_commit_callbacks, monkeypatch):
    from reminders.tasks import message_send

    monkeypatch.setattr(message_send, "delay", lambda pk: None)  # the task waits in the broker…
    message = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                               channel=Channel.SMS)
    new_start = telehealth_appointment.starts_at + timedelta(days=1)
    with django_capture_on_commit_callbacks(execute=True):  # …while the meeting is re-created (R7)
        appointment_move(actor=front_desk, appointment=telehealth_appointment, starts_at=new_start,
                         ends_at=new_start + timedelta(minutes=30), practitioner=telehealth_appointment.practitioner,
                         location=telehealth_appointment.location)
    services.message_send(message_pk=message.pk)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and "meeting changed" in message.error
    assert sms_outbox == [] and services.credits_balance() == 100  # refunded


def test_an_email_timeout_is_unknown_not_resent(telehealth_appointment, front_desk, monkeypatch):
    from django.core.mail import EmailMultiAlternatives

    def hangs(self, *args, **kwargs):
        raise TimeoutError("timed out")

    monkeypatch.setattr(EmailMultiAlternatives, "send", hangs)
    message = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                               channel=Channel.EMAIL)
    message.refresh_from_db()
    assert message.status == MessageStatus.UNKNOWN and message.attempts == 1


def test_stuck_messages_are_recovered(telehealth_appointment, front_desk, credits, sms_outbox, monkeypatch):
    from django.utils import timezone

    from reminders.tasks import message_send

    monkeypatch.setattr(message_send, "delay", lambda pk: None)  # the broker lost the task
    lost = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                            channel=Channel.SMS)
    dying = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                             channel=Channel.EMAIL)
    Message.objects.filter(pk=dying.pk).update(status=MessageStatus.SENDING)
    monkeypatch.undo()
    later = timezone.now() + timedelta(minutes=20)
    assert services.messages_recover(now=later) == 1
    lost.refresh_from_db()
    dying.refresh_from_db()
    assert lost.status == MessageStatus.SENT and len(sms_outbox) == 1
    assert dying.status == MessageStatus.UNKNOWN and mail.outbox == []


def test_a_practice_name_with_a_comma_still_sends_email(telehealth_appointment, front_desk, practice):
    practice.name = "Smith, Jones & Co (Physio)"
    practice.email = "hello@example.com"
    practice.save()
    services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment, channel=Channel.EMAIL)
    [email] = mail.outbox
    assert email.from_email == '"Smith, Jones & Co (Physio)" <hello@example.com>'
    email.message()  # the headers serialise


def test_the_usual_email_has_html_and_text(book, practitioner_a, front_desk):
    services.usual_reminder_queue(actor=front_desk, appointment=book(practitioner_a, sydney(2030, 3, 4, 10)),
                                  channel=Channel.EMAIL)
    [email] = mail.outbox
    assert "Alice Allen" in email.body and "Alice Allen" in email.alternatives[0][0]
    assert email.alternatives[0][1] == "text/html"


def test_concurrent_deliveries_of_one_send_call_the_provider_once(telehealth_appointment, front_desk, credits,
                                                                  sms_outbox, monkeypatch):
    import threading

    from django.db import connections

    from reminders.tasks import message_send

    monkeypatch.setattr(message_send, "delay", lambda pk: None)
    message = services.telehealth_details_send(actor=front_desk, appointment=telehealth_appointment,
                                               channel=Channel.SMS)
    barrier = threading.Barrier(5)
    errors = []

    def deliver():
        try:
            barrier.wait()
            services.message_send(message_pk=message.pk)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(sms_outbox) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_a_send_from_the_panel_returns_to_the_day_with_the_panel_open(telehealth_appointment, front_desk, credits,
                                                                      client):
    client.force_login(front_desk)
    response = client.post(reverse("telehealth-send", args=[telehealth_appointment.pk, "sms"]),
                           {"request_key": "k"}, headers={"HX-Request": "true", "HX-Target": "panel"})
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/diary/?date=2030-03-04&open={telehealth_appointment.pk}"
    day = client.get(response["HX-Redirect"]).content.decode()
    assert f'data-open-url="/appointments/{telehealth_appointment.pk}/"' in day
    assert 'data-open-url=""' in client.get("/diary/?date=2030-03-04&open=abc").content.decode()
