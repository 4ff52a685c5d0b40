"""Twilio status callbacks (RELIABILITY.md 9) and the Twilio request the app sends."""

from urllib.parse import parse_qs

import pytest
import responses
from django.test import Client as HttpClient
from django.urls import reverse
from twilio.request_validator import RequestValidator

from reminders import services
from reminders.models import Channel, CreditEntry, Message, MessageStatus
from tests.conftest import sydney

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = "twilio-test-auth-token"
SID = "AC" + "1" * 32
URL = "http://testserver/webhooks/twilio/status/"


@pytest.fixture
def twilio(settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_FROM_NUMBER = "+61400000000"
    settings.PUBLIC_BASE_URL = "https://diary.example.com"
    with responses.RequestsMock() as mock:
        yield mock


def _twilio_answers(mock, status: int, body: dict) -> None:
    mock.add(responses.POST, f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json", json=body,
             status=status)


@pytest.fixture
def reminder(book, practitioner_a, front_desk, credits, client_record):
    client_record.email_reminders = False
    client_record.save()
    return book(practitioner_a, sydney(2030, 3, 4, 10))


def test_the_request_carries_to_body_from_and_the_status_callback(twilio, reminder, front_desk):
    _twilio_answers(twilio, 201, {"sid": "SM" + "a" * 32, "status": "queued"})
    message = services.usual_reminder_queue(actor=front_desk, appointment=reminder, channel=Channel.SMS)
    form = parse_qs(twilio.calls[0].request.body)
    assert form["To"] == ["+61412345678"] and form["From"] == ["+61400000000"]
    assert form["StatusCallback"] == ["https://diary.example.com/webhooks/twilio/status/"]
    assert "Alice Allen" in form["Body"][0]
    message.refresh_from_db()
    assert (message.status, message.provider_id) == (MessageStatus.SENT, "SM" + "a" * 32)


def test_an_invalid_number_is_permanent_and_refunded(twilio, reminder, front_desk):
    _twilio_answers(twilio, 400, {"code": 21211, "message": "The 'To' number is not a valid phone number.",
                                  "status": 400})
    message = services.usual_reminder_queue(actor=front_desk, appointment=reminder, channel=Channel.SMS)
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and "21211" in message.error
    assert len(twilio.calls) == 1
    assert services.credits_balance() == 100
    assert CreditEntry.objects.filter(message=message, reason=CreditEntry.Reason.REFUND).exists()


def test_a_5xx_is_retried(twilio, reminder, front_desk):
    _twilio_answers(twilio, 503, {"code": 20503, "message": "Service unavailable", "status": 503})
    _twilio_answers(twilio, 201, {"sid": "SM" + "b" * 32, "status": "queued"})
    message = services.usual_reminder_queue(actor=front_desk, appointment=reminder, channel=Channel.SMS)
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and len(twilio.calls) == 2


def _callback(data: dict, *, signature: str | None):
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    return HttpClient(enforce_csrf_checks=True).post(reverse("twilio-status"), data, headers=headers)


def _signed(data: dict) -> str:
    return RequestValidator(TOKEN).compute_signature(URL, data)


def test_callbacks_update_delivery_and_a_late_sent_never_overwrites_delivered(twilio, reminder, front_desk):
    _twilio_answers(twilio, 201, {"sid": "SM" + "c" * 32, "status": "queued"})
    message = services.usual_reminder_queue(actor=front_desk, appointment=reminder, channel=Channel.SMS)
    delivered = {"MessageSid": "SM" + "c" * 32, "MessageStatus": "delivered"}
    assert _callback(delivered, signature=_signed(delivered)).status_code == 204
    late = {"MessageSid": "SM" + "c" * 32, "MessageStatus": "sent"}
    assert _callback(late, signature=_signed(late)).status_code == 204
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.provider_status == "delivered"


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl"])
def test_a_missing_or_bad_signature_is_refused(twilio, signature, reminder, front_desk):
    _twilio_answers(twilio, 201, {"sid": "SM" + "d" * 32, "status": "queued"})
    services.usual_reminder_queue(actor=front_desk, appointment=reminder, channel=Channel.SMS)
    data = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "delivered"}
    assert _callback(data, signature=signature).status_code == 403
    assert Message.objects.get().status == MessageStatus.SENT


def test_a_tampered_callback_is_refused(twilio):
    data = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    signature = _signed(data)
    assert _callback({**data, "MessageStatus": "failed"}, signature=signature).status_code == 403


def test_a_failed_callback_refunds_the_credits(twilio, reminder, front_desk):
    _twilio_answers(twilio, 201, {"sid": "SM" + "e" * 32, "status": "queued"})
    message = services.usual_reminder_queue(actor=front_desk, appointment=reminder, channel=Channel.SMS)
    assert services.credits_balance() == 99
    failed = {"MessageSid": "SM" + "e" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert _callback(failed, signature=_signed(failed)).status_code == 204
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and "30003" in message.error
    assert services.credits_balance() == 100
    _callback(failed, signature=_signed(failed))  # Twilio retries a callback: one refund only
    assert services.credits_balance() == 100
