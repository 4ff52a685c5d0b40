import base64
import io
import re
import socket
import threading
from collections.abc import Callable, Iterator
from http.client import RemoteDisconnected
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.core.exceptions import ImproperlyConfigured
from twilio.request_validator import RequestValidator
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from reminders import sms
from reminders.sms import (
    ConsoleBackend,
    LocmemBackend,
    OutboxMessage,
    SmsError,
    SmsResult,
    TwilioBackend,
    fail_next,
    get_backend,
    outbox,
    reset_outbox,
    status_is_newer,
    twilio_signature_is_valid,
)

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f00dfeedcafe4b1d9a0c7e5d3b2a1908"
MESSAGING_SERVICE_SID = "MG" + "fedcba9876543210" * 2
FROM_NUMBER = "+61480000000"
TO_NUMBER = "+61412345678"
MESSAGE_SID = "SM" + "9" * 32
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
CALLBACK_URL = "https://practice.example.com/webhooks/twilio/status/"
BODY = "Hi Sam, reminder: your appointment is tomorrow at 9:30am. Reply STOP to opt out."


@pytest.fixture(autouse=True)
def clean_outbox() -> Iterator[None]:
    reset_outbox()
    yield
    reset_outbox()


@pytest.fixture(autouse=True)
def no_twilio_environment(monkeypatch):
    # twilio's Client reads edge/region from os.environ, which would change the API hostname under test.
    for name in ("TWILIO_EDGE", "TWILIO_REGION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def twilio_settings(settings):
    settings.SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_TIMEOUT = 7.5
    return settings


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as rsps:
        yield rsps


def created_message(**overrides) -> dict:
    """A 201 body as Twilio returns it for POST .../Messages.json."""
    message = {
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": BODY,
        "date_created": "Thu, 24 Jul 2025 01:02:03 +0000",
        "date_sent": None,
        "date_updated": "Thu, 24 Jul 2025 01:02:03 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": FROM_NUMBER,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": MESSAGE_SID,
        "status": "queued",
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}/Media.json"},
        "to": TO_NUMBER,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MESSAGE_SID}.json",
    }
    message.update(overrides)
    return message


def twilio_error(status: int, code: int, message: str) -> dict:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def sent_form(mocked: responses.RequestsMock) -> dict[str, list[str]]:
    assert len(mocked.calls) == 1
    return parse_qs(mocked.calls[0].request.body)


def send_expecting_error(**kwargs) -> SmsError:
    with pytest.raises(SmsError) as excinfo:
        TwilioBackend().send(to=TO_NUMBER, body=BODY, **kwargs)
    error = excinfo.value
    assert AUTH_TOKEN not in error.message
    assert AUTH_TOKEN not in repr(error)
    assert BODY not in error.message
    return error


# Twilio: request and result


def test_it_posts_to_body_from_and_status_callback(twilio_settings, mocked):
    mocked.post(MESSAGES_URL, json=created_message(), status=201)

    result = TwilioBackend().send(to=TO_NUMBER, body=BODY, status_callback=CALLBACK_URL)

    assert result == SmsResult(provider_id=MESSAGE_SID, status="queued")
    assert sent_form(mocked) == {
        "To": [TO_NUMBER], "Body": [BODY], "From": [FROM_NUMBER], "StatusCallback": [CALLBACK_URL],
    }


def test_it_uses_the_messaging_service_instead_of_from(twilio_settings, mocked):
    twilio_settings.TWILIO_MESSAGING_SERVICE_SID = MESSAGING_SERVICE_SID
    mocked.post(MESSAGES_URL, json=created_message(status="accepted", messaging_service_sid=MESSAGING_SERVICE_SID,
                                                   **{"from": None}), status=201)

    result = TwilioBackend().send(to=TO_NUMBER, body=BODY)

    assert result == SmsResult(provider_id=MESSAGE_SID, status="accepted")
    assert sent_form(mocked) == {"To": [TO_NUMBER], "Body": [BODY], "MessagingServiceSid": [MESSAGING_SERVICE_SID]}


def test_it_authenticates_with_basic_auth(twilio_settings, mocked):
    mocked.post(MESSAGES_URL, json=created_message(), status=201)

    TwilioBackend().send(to=TO_NUMBER, body=BODY)

    expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert mocked.calls[0].request.headers["Authorization"] == f"Basic {expected}"


def test_it_creates_the_client_with_a_timeout(twilio_settings, mocked):
    mocked.post(MESSAGES_URL, json=created_message(), status=201)

    backend = TwilioBackend()
    backend.send(to=TO_NUMBER, body=BODY)

    assert backend.client.http_client.timeout == twilio_settings.TWILIO_TIMEOUT
    assert mocked.calls[0].request.req_kwargs["timeout"] == 7.5


@pytest.mark.parametrize(
    "overrides",
    [
        {"TWILIO_ACCOUNT_SID": ""},
        {"TWILIO_AUTH_TOKEN": ""},
        {"TWILIO_FROM_NUMBER": "", "TWILIO_MESSAGING_SERVICE_SID": ""},
    ],
)
def test_it_is_improperly_configured_without_settings(twilio_settings, overrides):
    for name, value in overrides.items():
        setattr(twilio_settings, name, value)

    with pytest.raises(ImproperlyConfigured) as excinfo:
        TwilioBackend()

    assert AUTH_TOKEN not in str(excinfo.value)


def test_it_needs_only_a_messaging_service(twilio_settings):
    twilio_settings.TWILIO_FROM_NUMBER = ""
    twilio_settings.TWILIO_MESSAGING_SERVICE_SID = MESSAGING_SERVICE_SID

    assert TwilioBackend().messaging_service_sid == MESSAGING_SERVICE_SID


# Twilio: error mapping


def test_it_maps_an_invalid_number_to_a_permanent_error(twilio_settings, mocked):
    mocked.post(MESSAGES_URL, status=400, json=twilio_error(
        400, 21211, f"The 'To' number {TO_NUMBER} is not a valid phone number."))

    error = send_expecting_error()

    assert error.permanent is True
    assert error.maybe_sent is False
    assert error.code == 21211
    assert error.message == "Twilio refused the SMS (21211): The 'To' number is not a valid phone number."
    assert TO_NUMBER not in str(error)


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [
        (400, 21610, "Attempt to send to unsubscribed recipient"),
        (400, 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: "
                     f"{TO_NUMBER}"),
        (401, 20003, "Authenticate"),
        (404, 20404, f"The requested resource /2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json was not found"),
    ],
)
def test_it_maps_other_4xx_to_permanent_errors(twilio_settings, mocked, status, code, text):
    mocked.post(MESSAGES_URL, status=status, json=twilio_error(status, code, text))

    error = send_expecting_error()

    assert (error.permanent, error.maybe_sent, error.code) == (True, False, code)
    assert error.message.startswith(f"Twilio refused the SMS ({code}): ")
    assert TO_NUMBER not in error.message


def test_it_keeps_phone_numbers_out_of_error_messages(twilio_settings, mocked):
    mocked.post(MESSAGES_URL, status=400, json=twilio_error(
        400, 21606, "The From phone number +61 480 000 000 is not a valid, SMS-capable inbound phone number or short "
                    "code for your account."))

    error = send_expecting_error()

    assert error.message == ("Twilio refused the SMS (21606): The From phone number is not a valid, SMS-capable "
                             "inbound phone number or short code for your account.")


def test_it_keeps_dates_inside_paths_in_error_messages(twilio_settings, mocked):
    mocked.post(MESSAGES_URL, status=404, json=twilio_error(404, 20404, "The requested resource /2010-04-01/Accounts/"
                                                                         f"{ACCOUNT_SID}/Messages.json was not found"))

    error = send_expecting_error()

    assert f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json" in error.message


def test_it_maps_an_rfc9457_error_to_a_permanent_error(twilio_settings, mocked):
    # twilio 9.x raises TwilioServiceException, not a TwilioRestException subclass, for problem-details bodies.
    mocked.post(MESSAGES_URL, status=400, json={
        "type": "https://www.twilio.com/docs/errors/21211", "title": "Invalid 'To' Phone Number", "status": 400,
        "code": 21211, "detail": f"The 'To' number {TO_NUMBER} is not a valid phone number.",
    })

    error = send_expecting_error()

    assert (error.permanent, error.maybe_sent, error.code) == (True, False, 21211)
    assert error.message == "Twilio refused the SMS (21211): The 'To' number is not a valid phone number."


def test_it_maps_429_to_a_transient_error(twilio_settings, mocked):
    mocked.post(MESSAGES_URL, status=429, json=twilio_error(429, 20429, "Too Many Requests"))

    error = send_expecting_error()

    assert (error.permanent, error.maybe_sent, error.code) == (False, False, 20429)
    assert error.message == "Twilio is rate-limiting requests (20429): Too Many Requests"


@pytest.mark.parametrize(
    ("status", "kwargs"),
    [
        (500, {"json": twilio_error(500, 20500, "Internal Server Error")}),
        (503, {"body": "<html><body>Service Unavailable</body></html>", "content_type": "text/html"}),
    ],
)
def test_it_maps_5xx_to_a_transient_error(twilio_settings, mocked, status, kwargs):
    mocked.post(MESSAGES_URL, status=status, **kwargs)

    error = send_expecting_error()

    assert (error.permanent, error.maybe_sent) == (False, False)
    assert error.message.startswith("Twilio is unavailable (")


def test_it_reports_a_503_without_an_error_code(twilio_settings, mocked):
    mocked.post(MESSAGES_URL, status=503, body="Service Unavailable", content_type="text/plain")

    error = send_expecting_error()

    assert error.code is None
    assert error.message == "Twilio is unavailable (HTTP 503): Unable to create record"


def test_it_maps_a_gateway_timeout_to_maybe_sent(twilio_settings, mocked):
    mocked.post(MESSAGES_URL, status=504, body="Gateway Timeout", content_type="text/plain")

    error = send_expecting_error()

    assert (error.permanent, error.maybe_sent, error.code) == (False, True, None)


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ConnectionError(MaxRetryError(None, MESSAGES_URL, NewConnectionError(
            None, "Failed to establish a new connection: [Errno 111] Connection refused"))),
        requests.exceptions.ConnectionError("Connection refused"),
        requests.exceptions.ConnectTimeout("Connection to api.twilio.com timed out. (connect timeout=7.5)"),
        requests.exceptions.SSLError("certificate verify failed"),
    ],
    ids=["refused", "plain", "connect-timeout", "tls"],
)
def test_it_maps_failures_to_connect_to_transient_not_sent(twilio_settings, mocked, exc):
    mocked.post(MESSAGES_URL, body=exc)

    error = send_expecting_error()

    assert (error.permanent, error.maybe_sent, error.code) == (False, False, None)
    assert error.message.endswith("the SMS was not sent.")


@pytest.mark.parametrize(
    "exc",
    [
        requests.exceptions.ReadTimeout("Read timed out. (read timeout=7.5)"),
        requests.exceptions.ConnectionError(ProtocolError(
            "Connection aborted.", RemoteDisconnected("Remote end closed connection without response"))),
        requests.exceptions.ChunkedEncodingError(ProtocolError("Connection broken: IncompleteRead")),
        ValueError("something twilio did not expect"),
    ],
    ids=["read-timeout", "connection-aborted", "truncated-response", "unexpected"],
)
def test_it_maps_failures_after_sending_to_maybe_sent(twilio_settings, mocked, exc):
    mocked.post(MESSAGES_URL, body=exc)

    error = send_expecting_error()

    assert (error.permanent, error.maybe_sent, error.code) == (False, True, None)
    assert error.message.endswith("the SMS may have been sent.")


def test_it_treats_a_201_without_a_sid_as_maybe_sent(twilio_settings, mocked):
    mocked.post(MESSAGES_URL, json=created_message(sid=None), status=201)

    error = send_expecting_error()

    assert (error.permanent, error.maybe_sent) == (False, True)


# Twilio over a real socket: proves which exceptions requests/urllib3 raise through twilio's client, which the
# mocked tests above then stand in for.


@pytest.fixture
def local_server() -> Iterator[Callable[[str], str]]:
    listener = socket.create_server(("127.0.0.1", 0))

    def start(mode: str) -> str:
        """"silent": read the request, never answer. "close": read the request, hang up without answering."""

        def serve() -> None:
            conn, _ = listener.accept()
            conn.settimeout(5)
            with conn:
                try:
                    request = conn.recv(65536)
                    while b"\r\n\r\n" not in request:
                        request += conn.recv(65536)
                    head, _, body = request.partition(b"\r\n\r\n")
                    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
                    while len(body) < length:
                        body += conn.recv(65536)
                    while mode == "silent" and conn.recv(65536):  # until the client gives up and hangs up
                        pass
                except OSError:
                    pass

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    listener.close()


def local_backend(settings, base_url: str) -> TwilioBackend:
    settings.TWILIO_TIMEOUT = 0.3
    backend = TwilioBackend()
    backend.client.api.base_url = base_url
    return backend


def test_it_reports_a_real_read_timeout_as_maybe_sent(twilio_settings, local_server):
    backend = local_backend(twilio_settings, local_server("silent"))

    with pytest.raises(SmsError) as excinfo:
        backend.send(to=TO_NUMBER, body=BODY)

    assert isinstance(excinfo.value.__cause__, requests.exceptions.ReadTimeout)
    assert (excinfo.value.permanent, excinfo.value.maybe_sent) == (False, True)


def test_it_reports_a_real_dropped_connection_as_maybe_sent(twilio_settings, local_server):
    backend = local_backend(twilio_settings, local_server("close"))

    with pytest.raises(SmsError) as excinfo:
        backend.send(to=TO_NUMBER, body=BODY)

    assert isinstance(excinfo.value.__cause__, requests.exceptions.ConnectionError)
    assert (excinfo.value.permanent, excinfo.value.maybe_sent) == (False, True)


def test_it_reports_a_real_refused_connection_as_not_sent(twilio_settings):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    backend = local_backend(twilio_settings, f"http://127.0.0.1:{port}")

    with pytest.raises(SmsError) as excinfo:
        backend.send(to=TO_NUMBER, body=BODY)

    assert isinstance(excinfo.value.__cause__, requests.exceptions.ConnectionError)
    assert (excinfo.value.permanent, excinfo.value.maybe_sent) == (False, False)


# get_backend


@pytest.mark.parametrize(
    ("name", "backend_class"),
    [("console", ConsoleBackend), ("locmem", LocmemBackend), ("twilio", TwilioBackend),
     ("reminders.sms.LocmemBackend", LocmemBackend)],
)
def test_it_resolves_aliases_and_dotted_paths(twilio_settings, name, backend_class):
    assert type(get_backend(name)) is backend_class


def test_it_defaults_to_the_setting(settings):
    settings.SMS_BACKEND = "locmem"

    assert isinstance(get_backend(), LocmemBackend)


@pytest.mark.parametrize("name", ["carrier-pigeon", "reminders.sms.NoSuchBackend", "reminders.sms.SmsResult"])
def test_it_rejects_unknown_backends(name):
    with pytest.raises(ImproperlyConfigured):
        get_backend(name)


# Console


def test_it_writes_a_readable_block_to_the_given_stream():
    stream = io.StringIO()

    result = get_backend("console", stream=stream).send(to=TO_NUMBER, body="Hi Sam, see you at 9:30.")

    assert stream.getvalue() == f"SMS to {TO_NUMBER} (24 chars)\nHi Sam, see you at 9:30.\n---\n"
    assert result.status == "sent"
    assert result.provider_id.startswith("console-")


def test_it_writes_to_stdout_by_default(capsys):
    ConsoleBackend().send(to=TO_NUMBER, body="Hello")

    assert capsys.readouterr().out == f"SMS to {TO_NUMBER} (5 chars)\nHello\n---\n"


# Locmem


def test_it_records_messages_in_the_outbox():
    result = LocmemBackend().send(to=TO_NUMBER, body="Hello", status_callback=CALLBACK_URL)

    assert outbox == [OutboxMessage(to=TO_NUMBER, body="Hello", status_callback=CALLBACK_URL,
                                    provider_id=result.provider_id)]
    assert result.provider_id.startswith("locmem-")
    assert result.status == "queued"


def test_it_resets_the_outbox_in_place():
    LocmemBackend().send(to=TO_NUMBER, body="Hello")
    fail_next(SmsError("nope"))

    reset_outbox()

    assert outbox == [] and sms.outbox is outbox
    LocmemBackend().send(to=TO_NUMBER, body="Hello again")
    assert len(outbox) == 1


def test_it_fails_the_next_sends_then_recovers():
    error = SmsError("Twilio did not answer", maybe_sent=True)
    fail_next(error, count=2)
    backend = LocmemBackend()

    for _ in range(2):
        with pytest.raises(SmsError) as excinfo:
            backend.send(to=TO_NUMBER, body="Hello")
        assert excinfo.value is error
    backend.send(to=TO_NUMBER, body="Hello")

    assert [message.body for message in outbox] == ["Hello"]


def test_it_is_thread_safe():
    backend = LocmemBackend()
    fail_next(SmsError("unsubscribed", permanent=True, code=21610), count=10)
    failures = []

    def send_many() -> None:
        for _ in range(50):
            try:
                backend.send(to=TO_NUMBER, body="Hello")
            except SmsError as exc:
                failures.append(exc)

    threads = [threading.Thread(target=send_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(failures) == 10
    assert len(outbox) == 390
    assert len({message.provider_id for message in outbox}) == 390


# Status callback signature


@pytest.fixture
def signed(settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    params = {"MessageSid": MESSAGE_SID, "MessageStatus": "delivered", "AccountSid": ACCOUNT_SID, "To": TO_NUMBER}
    return params, RequestValidator(AUTH_TOKEN).compute_signature(CALLBACK_URL, params)


def test_it_accepts_a_valid_signature(signed):
    params, signature = signed

    assert twilio_signature_is_valid(url=CALLBACK_URL, params=params, signature=signature) is True


def test_it_rejects_a_tampered_param(signed):
    params, signature = signed

    assert twilio_signature_is_valid(url=CALLBACK_URL, params={**params, "MessageStatus": "failed"},
                                     signature=signature) is False


def test_it_rejects_the_wrong_url(signed):
    params, signature = signed

    assert twilio_signature_is_valid(url="https://evil.example.com/webhooks/twilio/status/", params=params,
                                     signature=signature) is False


@pytest.mark.parametrize("signature", [None, ""])
def test_it_rejects_a_missing_signature(signed, signature):
    params, _ = signed

    assert twilio_signature_is_valid(url=CALLBACK_URL, params=params, signature=signature) is False


def test_it_rejects_everything_without_a_token(signed, settings):
    params, signature = signed
    settings.TWILIO_AUTH_TOKEN = ""

    assert twilio_signature_is_valid(url=CALLBACK_URL, params=params, signature=signature) is False


# Status ordering


@pytest.mark.parametrize(
    ("current", "incoming", "newer"),
    [
        ("delivered", "sent", False),
        ("sent", "delivered", True),
        ("sent", "failed", True),
        ("sent", "undelivered", True),
        ("queued", "sent", True),
        ("accepted", "queued", True),
        ("queued", "accepted", False),
        ("sending", "queued", False),
        ("sent", "sent", False),
        ("sent", "read", False),
        ("sent", "exploded", False),
        ("", "queued", True),
        ("unknown", "delivered", True),
        ("unknown", "exploded", False),
    ],
)
def test_it_orders_statuses(current, incoming, newer):
    assert status_is_newer(current, incoming) is newer


@pytest.mark.parametrize("final", ["delivered", "failed", "undelivered", "canceled"])
def test_it_never_replaces_a_final_status(final):
    assert not any(status_is_newer(final, incoming) for incoming in sms.TWILIO_STATUS_ORDER)

