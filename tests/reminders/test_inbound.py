"""Two-way SMS (issue 11 item 2): Twilio's inbound webhook, Y / N / STOP / free text, the Inbox and its replies."""

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from twilio.request_validator import RequestValidator

from attention.selectors import attention_count, attention_items
from practice.errors import ApplicationError
from practice.models import AuditEvent, Client
from reminders import services
from reminders.models import (
    Channel,
    InboundMessage,
    InboundOutcome,
    Kind,
    Message,
    ScheduledReminder,
    SmsOptOut,
)
from scheduling.models import ConfirmedVia, Status
from tests.conftest import sydney

TOKEN = "twilio-test-auth-token"
URL = "http://testserver/webhooks/twilio/inbound/"
MOBILE = "+61412345678"  # client_record's


@pytest.fixture(autouse=True)
def twilio_token(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN


@pytest.fixture
def reminded(book, practitioner_a, front_desk, credits, django_capture_on_commit_callbacks):
    """An appointment whose usual SMS reminder went to the client's mobile."""
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10))
    with django_capture_on_commit_callbacks(execute=True):
        services.usual_reminder_queue(actor=front_desk, appointment=appointment, channel=Channel.SMS)
    return appointment


_sids = iter(range(1, 10_000))


def _params(body: str, *, sender: str = MOBILE, sid: str | None = None) -> dict[str, str]:
    return {"MessageSid": sid or f"SM{next(_sids):032d}", "AccountSid": "AC" + "1" * 32, "From": sender,
            "To": "+61400000000", "Body": body, "NumMedia": "0"}


def _post(data: dict[str, str], *, signature: str | None = "sign"):
    if signature == "sign":
        signature = RequestValidator(TOKEN).compute_signature(URL, data)
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    return HttpClient(enforce_csrf_checks=True).post(reverse("twilio-inbound"), data, headers=headers)


def _reply(body: str, **kwargs) -> InboundMessage:
    data = _params(body, **kwargs)
    response = _post(data)
    assert response.status_code == 200
    return InboundMessage.objects.get(provider_id=data["MessageSid"])


# The webhook ------------------------------------------------------------------------------------------------

def test_a_signed_reply_is_stored_and_answered_with_empty_twiml(reminded):
    response = _post(_params("See you then"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Response></Response>" in response.content  # no automatic answer: it would cost an SMS
    assert InboundMessage.objects.get().body == "See you then"


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl"])
def test_a_missing_or_invalid_signature_is_refused(reminded, signature):
    assert _post(_params("Y"), signature=signature).status_code == 403
    assert not InboundMessage.objects.exists()
    reminded.refresh_from_db()
    assert reminded.confirmed_at is None


def test_a_tampered_body_is_refused(reminded):
    data = _params("See you then")
    signature = RequestValidator(TOKEN).compute_signature(URL, data)
    assert _post({**data, "Body": "Y"}, signature=signature).status_code == 403


def test_without_a_token_configured_nothing_is_accepted(settings, reminded):
    data = _params("Y")
    signature = RequestValidator(TOKEN).compute_signature(URL, data)
    settings.TWILIO_AUTH_TOKEN = ""
    assert _post(data, signature=signature).status_code == 403


def test_a_retried_webhook_changes_nothing_twice(reminded):
    data = _params("Can I bring my son?")
    assert _post(data).status_code == 200
    assert _post(data).status_code == 200
    assert InboundMessage.objects.count() == 1
    assert AuditEvent.objects.filter(action="sms.received").count() == 1


def test_a_retried_n_asks_to_cancel_once(reminded):
    data = _params("N")
    _post(data)
    _post(data)
    assert attention_count() == 1


def test_no_message_text_in_logs(reminded, caplog):
    caplog.set_level("DEBUG")
    _reply("My secret medical question")
    _reply("STOP")
    assert "secret" not in caplog.text and MOBILE not in caplog.text and "412 345" not in caplog.text
    assert not AuditEvent.objects.filter(summary__contains="secret").exists()


# Y / N ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", ["Y", "y", "YES", " yes! ", "Yes.", "C", "c"])
def test_yes_confirms_the_appointment_the_last_sms_was_about(reminded, body):
    inbound = _reply(body)
    reminded.refresh_from_db()
    assert reminded.confirmed_at is not None and reminded.confirmed_via == ConfirmedVia.CLIENT_SMS
    assert (inbound.outcome, inbound.appointment, inbound.client) == (InboundOutcome.CONFIRMED, reminded,
                                                                      reminded.client)
    assert not inbound.is_unread  # handled by the app: not in the Inbox's count
    event = AuditEvent.objects.get(action="appointment.confirmed")
    assert event.actor_name == "client (SMS)"


def test_yes_without_an_sms_about_an_appointment_goes_to_the_inbox(client_record):
    inbound = _reply("Y")
    assert inbound.outcome == InboundOutcome.INBOX and inbound.is_unread
    assert inbound.client == client_record and inbound.appointment is None


def test_yes_for_a_cancelled_appointment_goes_to_the_inbox_saying_why(reminded, front_desk):
    from scheduling.services import appointment_cancel

    appointment_cancel(actor=front_desk, appointment=reminded)
    inbound = _reply("Y")
    assert inbound.outcome == InboundOutcome.INBOX and "cancelled" in inbound.note


@pytest.mark.parametrize("body", ["N", "no", "No."])
def test_no_asks_staff_to_cancel_in_needs_attention(reminded, body, client, front_desk):
    inbound = _reply(body)
    assert inbound.outcome == InboundOutcome.CANCEL_REQUEST
    reminded.refresh_from_db()
    assert reminded.status == Status.BOOKED  # never cancelled automatically
    items = [item for item in attention_items() if item.kind == "sms"]
    assert len(items) == 1 and items[0].appointment == reminded
    assert [action.label for action in items[0].actions] == ["Keep"]
    assert items[0].link is not None and items[0].link[0].startswith("Cancel appointment")
    assert attention_count() == 1

    client.force_login(front_desk)
    page = client.get(reverse("needs-attention")).content.decode()
    assert "Client asks to cancel by SMS" in page and "Cancel appointment" in page
    response = client.post(reverse("attention-sms", args=[inbound.pk, "keep"]))
    assert response.status_code == 302
    assert attention_count() == 0
    inbound.refresh_from_db()
    assert inbound.handled_by == front_desk and inbound.handled_note == "Kept the appointment"


def test_a_cancellation_request_leaves_needs_attention_once_the_appointment_is_cancelled(reminded, front_desk):
    from scheduling.services import appointment_cancel

    _reply("N")
    assert attention_count() == 1
    appointment_cancel(actor=front_desk, appointment=reminded)
    assert attention_count() == 0


# STOP / START -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("word", ["STOP", "stop", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "Stop."])
def test_an_opt_out_word_records_the_opt_out(reminded, word, client_record):
    inbound = _reply(word)
    assert inbound.outcome == InboundOutcome.OPTED_OUT
    opt_out = SmsOptOut.objects.get(number=MOBILE)
    assert opt_out.is_active and opt_out.client == client_record


def test_stop_blocks_the_next_sms_with_a_clear_reason_and_start_allows_it_again(reminded, front_desk,
                                                                               django_capture_on_commit_callbacks):
    _reply("STOP")
    before = Message.objects.count()
    with pytest.raises(ApplicationError) as refused:
        services.usual_reminder_queue(actor=front_desk, appointment=reminded, channel=Channel.SMS, again=True)
    assert refused.value.code == "opted_out"
    assert "opted out of SMS" in refused.value.message and "START" in refused.value.message
    assert Message.objects.count() == before

    _reply("START")
    assert not SmsOptOut.objects.get(number=MOBILE).is_active
    with django_capture_on_commit_callbacks(execute=True):
        message = services.usual_reminder_queue(actor=front_desk, appointment=reminded, channel=Channel.SMS,
                                                again=True)
    assert message is not None


def test_the_desk_sees_why_a_send_was_refused(reminded, client, front_desk):
    _reply("STOP")
    client.force_login(front_desk)
    response = client.post(reverse("reminders"), {"day": "2030-03-04", "appointments": [reminded.pk],
                                                  "channels": ["sms"], "again": "on"}, follow=True)
    assert "opted out of SMS" in response.content.decode()


def test_an_sms_queued_before_stop_is_not_sent_and_is_refunded(reminded, front_desk):
    message = services.usual_reminder_queue(actor=front_desk, appointment=reminded, channel=Channel.SMS,
                                            again=True)  # queued; the send task runs after commit
    _reply("STOP")
    balance = services.credits_balance()
    services.message_send(message_pk=message.pk)
    message.refresh_from_db()
    assert message.status == "failed" and "opted out" in message.error
    assert services.credits_balance() == balance + message.credits


def test_the_scheduler_skips_an_opted_out_mobile_with_a_visible_reason(client_record, book, practitioner_a,
                                                                       credits):
    _reply("STOP")
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10))
    services.scheduler_sweep(now=sydney(2030, 3, 3, 11))
    row = ScheduledReminder.objects.get(appointment=appointment, channel=Channel.SMS)
    assert row.state == ScheduledReminder.State.SKIPPED and row.reason == ScheduledReminder.Reason.OPTED_OUT
    assert "opted out of SMS" in row.note
    assert not Message.objects.filter(channel=Channel.SMS).exists()


def test_start_schedules_again_the_reminders_skipped_while_opted_out(client_record, book, practitioner_a, credits,
                                                                   django_capture_on_commit_callbacks):
    """STOP then START before the appointment: its SMS reminder goes after all, not stays skipped."""
    _reply("STOP")
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10))
    cancelled = book(practitioner_a, sydney(2030, 3, 4, 12))
    services.scheduler_sweep(now=sydney(2030, 3, 3, 12, 30))  # both due: both skipped
    assert ScheduledReminder.objects.get(appointment=cancelled, channel=Channel.SMS).state == (
        ScheduledReminder.State.SKIPPED)
    cancelled.status = Status.CANCELLED
    cancelled.save(update_fields=["status"])
    row = ScheduledReminder.objects.get(appointment=appointment, channel=Channel.SMS)
    assert row.state == ScheduledReminder.State.SKIPPED and row.reason == ScheduledReminder.Reason.OPTED_OUT

    inbound = _reply("START")
    assert "the reminder skipped while it was opted out is scheduled again" in inbound.note
    row.refresh_from_db()
    assert row.state == ScheduledReminder.State.ARMED and row.reason == "" and "START" in row.note
    # The cancelled appointment's reminder is not sent.
    assert ScheduledReminder.objects.get(appointment=cancelled, channel=Channel.SMS).state == (
        ScheduledReminder.State.SKIPPED)
    with django_capture_on_commit_callbacks(execute=True):
        services.scheduler_sweep(now=max(row.due_at, sydney(2030, 3, 3, 12, 30)))
    row.refresh_from_db()
    assert row.state == ScheduledReminder.State.SENT
    assert Message.objects.filter(appointment=appointment, channel=Channel.SMS).count() == 1
    assert AuditEvent.objects.get(action="sms.opted_in").changes["reminders_scheduled_again"] == 1


def test_start_does_not_rearm_the_reminder_of_an_appointments_old_time(client_record, book, practitioner_a,
                                                                       credits):
    """Moved after the skip: the old time's row stays skipped (the new time has its own row), so one reminder goes."""
    from datetime import timedelta

    _reply("STOP")
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10))
    services.scheduler_sweep(now=sydney(2030, 3, 3, 11))
    appointment.starts_at += timedelta(days=1)
    appointment.ends_at += timedelta(days=1)
    appointment.save()
    _reply("START")
    old = ScheduledReminder.objects.get(appointment=appointment, channel=Channel.SMS,
                                        for_starts_at=sydney(2030, 3, 4, 10))
    assert old.state == ScheduledReminder.State.SKIPPED
    assert AuditEvent.objects.get(action="sms.opted_in").changes["reminders_scheduled_again"] == 0


def test_start_leaves_skipped_a_reminder_for_an_appointment_already_over(client_record, book, practitioner_a,
                                                                        credits, time_machine):
    time_machine.move_to(sydney(2030, 3, 3, 11))
    _reply("STOP")
    appointment = book(practitioner_a, sydney(2030, 3, 4, 10))
    services.scheduler_sweep()
    time_machine.move_to(sydney(2030, 3, 4, 11))
    inbound = _reply("START")
    assert inbound.note == "SMS may go to this mobile again."
    assert ScheduledReminder.objects.get(appointment=appointment, channel=Channel.SMS).state == (
        ScheduledReminder.State.SKIPPED)


def test_the_client_page_shows_the_opt_out(reminded, client, front_desk, client_record):
    _reply("STOP")
    client.force_login(front_desk)
    page = client.get(reverse("client-detail", args=[client_record.pk])).content.decode()
    assert "Opted out of SMS since" in page


def test_yes_from_an_opted_out_mobile_opts_back_in_as_twilio_does(reminded):
    _reply("STOP")
    inbound = _reply("YES")
    assert not SmsOptOut.objects.get(number=MOBILE).is_active
    assert inbound.outcome == InboundOutcome.CONFIRMED


# Free text, the Inbox and replies -----------------------------------------------------------------------------

def test_free_text_goes_to_the_inbox_with_an_unread_count_in_the_top_bar(reminded, client, front_desk):
    inbound = _reply("Running 10 minutes late, sorry")
    assert inbound.outcome == InboundOutcome.INBOX and inbound.appointment == reminded
    client.force_login(front_desk)
    response = client.get(reverse("inbox"))
    assert response.context["inbox_unread"] == 1
    page = response.content.decode()
    assert "Running 10 minutes late, sorry" in page and 'class="inbox-item unread"' in page
    assert 'aria-label="1 unread"' in page

    client.post(reverse("inbox-handled", args=[inbound.pk]))
    response = client.get(reverse("inbox"))
    assert response.context["inbox_unread"] == 0
    assert 'class="inbox-item unread"' not in response.content.decode()


def test_the_inbox_lists_newest_first_with_the_matched_client(reminded, client, front_desk):
    _reply("first")
    _reply("second")
    client.force_login(front_desk)
    page = client.get(reverse("inbox")).content.decode()
    assert page.index("second") < page.index("first")
    assert "Casey Client" in page


def test_an_unknown_number_goes_to_the_inbox_unmatched(client, front_desk):
    inbound = _reply("Who is this?", sender="+61498765432")
    assert inbound.outcome == InboundOutcome.INBOX and inbound.client is None and inbound.appointment is None
    assert inbound.from_number == "+61498765432"
    client.force_login(front_desk)
    assert "Not matched to a client" in client.get(reverse("inbox")).content.decode()


def test_a_shared_mobile_matches_the_client_the_last_sms_was_about(book, practitioner_a, front_desk, credits,
                                                                   client_record, django_capture_on_commit_callbacks):
    child = Client.objects.create(first_name="Kim", last_name="Client", mobile=MOBILE)
    first = book(practitioner_a, sydney(2030, 3, 4, 10))
    second = book(practitioner_a, sydney(2030, 3, 5, 10), client=child)
    with django_capture_on_commit_callbacks(execute=True):
        services.usual_reminder_queue(actor=front_desk, appointment=first, channel=Channel.SMS)
        services.usual_reminder_queue(actor=front_desk, appointment=second, channel=Channel.SMS)
    inbound = _reply("Y")
    assert (inbound.client, inbound.appointment) == (child, second)
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.confirmed_at is not None and first.confirmed_at is None


def test_a_shared_mobile_without_an_sms_matches_no_one(client_record):
    Client.objects.create(first_name="Kim", last_name="Client", mobile=MOBILE)
    inbound = _reply("Hello")
    assert inbound.client is None and "2 clients share this mobile" in inbound.note


def test_receiving_costs_no_credits(reminded):
    balance = services.credits_balance()
    for body in ("Y", "N", "Hello there", "STOP", "START"):
        _reply(body)
    assert services.credits_balance() == balance


def _send_reply(client, inbound, body: str, key: str = "0123456789abcdef"):
    return client.post(reverse("inbox-message", args=[inbound.pk]), {"body": body, "request_key": key})


def test_a_reply_costs_one_credit_per_segment(reminded, client, front_desk, sms_outbox,
                                              django_capture_on_commit_callbacks):
    inbound = _reply("Can we move it?")
    client.force_login(front_desk)
    balance = services.credits_balance()
    body = "x" * 161  # two GSM-7 segments
    with django_capture_on_commit_callbacks(execute=True):
        response = _send_reply(client, inbound, body)
    assert response.status_code == 302
    reply = Message.objects.get(kind=Kind.REPLY)
    assert (reply.credits, reply.recipient, reply.appointment, reply.client) == (2, MOBILE, reminded, reminded.client)
    assert services.credits_balance() == balance - 2
    assert sms_outbox[-1].to == MOBILE and sms_outbox[-1].body == body
    inbound.refresh_from_db()
    assert inbound.handled_by == front_desk and not inbound.is_unread

    with django_capture_on_commit_callbacks(execute=True):
        _send_reply(client, inbound, body)  # the same form posted twice: sent once
    assert Message.objects.filter(kind=Kind.REPLY).count() == 1


def test_a_reply_to_an_unknown_number_is_a_message_without_client(client, front_desk, credits,
                                                                  django_capture_on_commit_callbacks):
    inbound = _reply("Who is this?", sender="+61498765432")
    client.force_login(front_desk)
    with django_capture_on_commit_callbacks(execute=True):
        _send_reply(client, inbound, "This is Test Practice.")
    reply = Message.objects.get(kind=Kind.REPLY)
    assert reply.client is None and reply.appointment is None and reply.credits == 1
    assert client.get(reverse("messages")).status_code == 200


def test_a_reply_is_refused_without_credits_or_to_an_opted_out_number(reminded, client, front_desk):
    inbound = _reply("Hello")
    client.force_login(front_desk)
    services.credits_purchase(actor=front_desk, amount=1)
    balance = services.credits_balance()
    from reminders.models import CreditEntry

    CreditEntry.objects.create(amount=-balance, reason=CreditEntry.Reason.PURCHASE, note="spent")
    response = _send_reply(client, inbound, "Thanks")
    assert "Not enough SMS credits" in response.content.decode()
    _reply("STOP")
    page = client.get(reverse("inbox-message", args=[inbound.pk])).content.decode()
    assert "opted out of SMS" in page and "Send reply" not in page
    assert not Message.objects.filter(kind=Kind.REPLY).exists()


def test_the_reply_preview_counts_credits(client, front_desk):
    client.force_login(front_desk)
    page = client.post(reverse("inbox-reply-preview"), {"body": "é" * 10 + "😀" * 40}).content.decode()
    assert "2 credits" in page and "UCS-2" in page


# The development page ---------------------------------------------------------------------------------------

def test_the_dev_page_is_404_outside_development(client, front_desk):
    client.force_login(front_desk)
    assert client.get(reverse("dev-sms-reply")).status_code == 404


def test_the_dev_page_replies_through_the_signed_webhook(settings, reminded, client, front_desk):
    settings.DEBUG = True
    client.force_login(front_desk)
    assert client.get(reverse("dev-sms-reply")).status_code == 200
    response = client.post(reverse("dev-sms-reply"), {"recent": MOBILE, "number": "", "body": "Y"}, follow=True)
    assert "confirmed the appointment" in response.content.decode()
    reminded.refresh_from_db()
    assert reminded.confirmed_via == ConfirmedVia.CLIENT_SMS
    assert InboundMessage.objects.get().outcome == InboundOutcome.CONFIRMED


def test_the_appointment_panel_says_the_mobile_opted_out(reminded, client, front_desk):
    client.force_login(front_desk)
    assert "opted out of SMS" not in client.get(reverse("appointment-detail", args=[reminded.pk])).content.decode()
    _reply("STOP")
    page = client.get(reverse("appointment-detail", args=[reminded.pk])).content.decode()
    assert "This client's mobile opted out of SMS" in page


def test_a_failed_reply_can_be_sent_again_from_needs_attention(reminded, client, front_desk, sms_outbox,
                                                               django_capture_on_commit_callbacks):
    from reminders.models import MessageStatus
    from reminders.sms import SmsError, fail_next

    inbound = _reply("Hello")
    client.force_login(front_desk)
    fail_next(SmsError("Twilio refused the SMS (21211)", permanent=True))
    with django_capture_on_commit_callbacks(execute=True):
        _send_reply(client, inbound, "Thanks, see you soon")
    failed = Message.objects.get(kind=Kind.REPLY)
    assert failed.status == MessageStatus.FAILED
    assert any(item.kind == "message" for item in attention_items())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("attention-message", args=[failed.pk, "send-again"]))
    again = Message.objects.filter(kind=Kind.REPLY).exclude(pk=failed.pk).get()
    assert again.body == "Thanks, see you soon" and again.recipient == MOBILE
    assert sms_outbox[-1].body == "Thanks, see you soon"
    assert not any(item.kind == "message" for item in attention_items())


@pytest.mark.django_db(transaction=True)  # the send runs when the reply's transaction commits, as in production
def test_a_reply_that_failed_is_never_called_sent(reminded, client, front_desk, sms_outbox):
    from reminders.sms import SmsError, fail_next

    inbound = _reply("Hello")
    client.force_login(front_desk)
    fail_next(SmsError("Twilio refused the SMS (21211)", permanent=True))
    page = client.post(reverse("inbox-message", args=[inbound.pk]),
                       {"body": "Thanks", "request_key": "0123456789abcdef"}, follow=True).content.decode()
    assert "was sent" not in page
    assert "The reply was not sent: Twilio refused the SMS (21211)" in page


def test_a_reply_still_queued_says_queued_and_one_of_unknown_fate_says_so(reminded, client, front_desk):
    """With a worker, the send runs after the page answers: the page says queued, not sent."""
    from reminders.models import MessageStatus

    inbound = _reply("Hello")
    client.force_login(front_desk)
    page = client.post(reverse("inbox-message", args=[inbound.pk]),  # the commit's send never runs here
                       {"body": "Thanks", "request_key": "0123456789abcdef"}, follow=True).content.decode()
    assert Message.objects.get(kind=Kind.REPLY).status == MessageStatus.QUEUED
    assert "The reply is queued (1 credit): it goes out in a moment. Messages shows when it is sent." in page
    assert "was sent" not in page

    from reminders.views import _say_send_outcome

    unknown = Message.objects.get(kind=Kind.REPLY)
    unknown.status, unknown.error = MessageStatus.UNKNOWN, "Twilio did not answer in time."
    request = client.get(reverse("inbox")).wsgi_request
    _say_send_outcome(request, unknown, "The reply", later="")
    said = [str(m) for m in request._messages]
    assert said == ["It is not known whether the reply was sent: Twilio did not answer in time. Needs attention "
                    "lists it."]


def test_a_nul_in_the_body_is_dropped_and_a_missing_sid_is_a_400(reminded):
    assert _reply("Hi\x00 there").body == "Hi there"
    data = _params("Y")
    del data["MessageSid"]
    assert _post(data).status_code == 400
