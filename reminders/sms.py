"""SMS backends: console (development), locmem (tests) and Twilio, chosen by ``settings.SMS_BACKEND``.

Shaped like Django's email backends: ``get_backend()`` returns an instance, ``send()`` returns an ``SmsResult`` or
raises ``SmsError``, which says whether retrying can help and whether the provider may already have the message.
"""

from __future__ import annotations

import re
import sys
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, TextIO

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from urllib3.exceptions import ProtocolError


@dataclass(frozen=True)
class SmsResult:
    provider_id: str
    status: str


class SmsError(Exception):
    """A send that failed. ``message`` is safe to show to staff: no credentials, no message body, no phone number."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        maybe_sent: bool = False,
        code: int | str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.maybe_sent = maybe_sent
        self.code = code

    def __repr__(self) -> str:
        return (
            f"SmsError({self.message!r}, permanent={self.permanent}, maybe_sent={self.maybe_sent}, code={self.code!r})"
        )


class BaseSmsBackend:
    def __init__(self, **kwargs: Any) -> None:
        pass

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SmsResult:
        raise NotImplementedError


BACKEND_ALIASES = {
    "console": "reminders.sms.ConsoleBackend",
    "locmem": "reminders.sms.LocmemBackend",
    "twilio": "reminders.sms.TwilioBackend",
}


def get_backend(name: str | None = None, **kwargs: Any) -> BaseSmsBackend:
    """Return a backend instance for ``name`` (an alias or a dotted path), defaulting to ``settings.SMS_BACKEND``."""
    name = name or settings.SMS_BACKEND
    path = BACKEND_ALIASES.get(name, name)
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"SMS_BACKEND {name!r} is not an alias or an importable class.") from exc
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseSmsBackend)):
        raise ImproperlyConfigured(f"SMS_BACKEND {name!r} is not a BaseSmsBackend subclass.")
    return backend_class(**kwargs)


class ConsoleBackend(BaseSmsBackend):
    """Writes each message to a stream (stdout by default) instead of sending it."""

    def __init__(self, *, stream: TextIO | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Looked up per instance, not at import, so a replaced sys.stdout (pytest's capsys) is honoured.
        self.stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SmsResult:
        with self._lock:
            self.stream.write(f"SMS to {to} ({len(body)} chars)\n{body}\n---\n")
            # A worker's stdout is block-buffered when it isn't a terminal; flush so the log shows the SMS now.
            self.stream.flush()
        return SmsResult(provider_id=f"console-{uuid.uuid4()}", status="sent")


@dataclass(frozen=True)
class OutboxMessage:
    to: str
    body: str
    status_callback: str | None
    provider_id: str


outbox: list[OutboxMessage] = []
_pending_failures: deque[SmsError] = deque()
_locmem_lock = threading.Lock()


def reset_outbox() -> None:
    """Empty the outbox (in place, so ``from reminders.sms import outbox`` stays valid) and forget pending failures."""
    with _locmem_lock:
        outbox.clear()
        _pending_failures.clear()


def fail_next(error: SmsError, count: int = 1) -> None:
    """Make the next ``count`` locmem sends raise ``error`` instead of recording a message."""
    with _locmem_lock:
        _pending_failures.extend([error] * count)


class LocmemBackend(BaseSmsBackend):
    """Records messages in the module-level ``outbox``; a failed send (see ``fail_next``) records nothing."""

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SmsResult:
        with _locmem_lock:
            if _pending_failures:
                raise _pending_failures.popleft()
            provider_id = f"locmem-{uuid.uuid4()}"
            outbox.append(OutboxMessage(to=to, body=body, status_callback=status_callback, provider_id=provider_id))
        # "queued" is what Twilio answers first, so status-callback flows can be exercised from the start.
        return SmsResult(provider_id=provider_id, status="queued")


class TwilioBackend(BaseSmsBackend):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        account_sid = settings.TWILIO_ACCOUNT_SID
        auth_token = settings.TWILIO_AUTH_TOKEN
        if not account_sid or not auth_token:
            raise ImproperlyConfigured("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set to send SMS with Twilio.")
        self.messaging_service_sid = settings.TWILIO_MESSAGING_SERVICE_SID
        self.from_number = settings.TWILIO_FROM_NUMBER
        if not self.messaging_service_sid and not self.from_number:
            raise ImproperlyConfigured(
                "Set TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER to send SMS with Twilio."
            )
        self.timeout = settings.TWILIO_TIMEOUT
        # Twilio's default http client has no timeout at all; a hung connection would block a worker forever.
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=self.timeout))

    def send(self, *, to: str, body: str, status_callback: str | None = None) -> SmsResult:
        params: dict[str, str] = {"to": to, "body": body}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_number
        if status_callback:
            params["status_callback"] = status_callback

        # twilio's TwilioHttpClient does not wrap requests' exceptions: they reach us unchanged, so the order of
        # these clauses matters (ConnectTimeout is also a ConnectionError; ReadTimeout is not).
        try:
            message = self.client.messages.create(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            # "from None": Twilio's own text names the recipient's number, and tracebacks end up in logs.
            raise _error_from_twilio_response(exc, to=to) from None
        except requests.exceptions.ConnectTimeout as exc:
            raise SmsError(f"Could not connect to Twilio within {self.timeout:g}s; the SMS was not sent.") from exc
        except requests.exceptions.ReadTimeout as exc:
            raise SmsError(
                f"Twilio did not answer within {self.timeout:g}s; the SMS may have been sent.", maybe_sent=True
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            raise _error_from_connection_failure(exc) from exc
        except Exception as exc:
            # Includes a response cut off mid-body (ChunkedEncodingError): Twilio may well have the message.
            raise SmsError(
                f"Unexpected error from Twilio ({type(exc).__name__}); the SMS may have been sent.", maybe_sent=True
            ) from exc

        if not message.sid:
            raise SmsError("Twilio accepted the request but returned no message id; the SMS may have been sent.",
                           maybe_sent=True)
        return SmsResult(provider_id=message.sid, status=str(message.status or ""))


_TWILIO_PREFIX = re.compile(r"^Unable to (create|fetch|update|delete) record:\s*")
# Twilio echoes phone numbers ("The 'To' number +61412345678 is not a valid phone number."). Error codes are five
# digits, so a word of eight or more digits (optionally spaced or punctuated) is taken for a phone number; one
# inside a path ("/2010-04-01/Accounts/...") is not.
_PHONE_NUMBER = re.compile(r"(?:^|\s)\+?\d(?:[ ().-]?\d){7,}")
_MAX_MESSAGE_LENGTH = 300


def _error_from_twilio_response(exc: TwilioRestException | TwilioServiceException, *, to: str) -> SmsError:
    status = int(exc.status)
    if isinstance(exc, TwilioServiceException):
        detail = exc.detail or exc.title
    else:
        detail = _TWILIO_PREFIX.sub("", exc.msg or "")
    if to:
        detail = re.sub(r"\s*" + re.escape(to), "", detail)
    detail = _PHONE_NUMBER.sub("", detail).strip()[:_MAX_MESSAGE_LENGTH] or f"HTTP {status}"
    # Without a code in the body, twilio's client puts the HTTP status in exc.code; that is not an error code.
    code = None if exc.code == status else exc.code
    label = f"HTTP {status}" if code is None else f"{code}"
    if status == 429:
        return SmsError(f"Twilio is rate-limiting requests ({label}): {detail}", code=code)
    if status == 504:
        # A gateway timeout is our read timeout one hop further in: Twilio may have created the message.
        return SmsError(f"Twilio timed out ({label}); the SMS may have been sent.", maybe_sent=True, code=code)
    if status >= 500:
        return SmsError(f"Twilio is unavailable ({label}): {detail}", code=code)
    if 400 <= status < 500:
        return SmsError(f"Twilio refused the SMS ({label}): {detail}", permanent=True, code=code)
    # Twilio's client raises for any status outside 2xx; a 3xx here is not something retrying will explain.
    return SmsError(f"Unexpected response from Twilio ({label}): {detail}", maybe_sent=True, code=code)


def _error_from_connection_failure(exc: requests.exceptions.ConnectionError) -> SmsError:
    reason = exc.args[0] if exc.args else None
    # requests raises ConnectionError both when no connection could be made (DNS, refused, TLS: urllib3's
    # MaxRetryError) and when an established connection dropped before the answer ("Connection aborted.":
    # urllib3's ProtocolError). In the second case the POST may already have reached Twilio.
    if isinstance(reason, ProtocolError):
        return SmsError("The connection to Twilio dropped before it answered; the SMS may have been sent.",
                        maybe_sent=True)
    cause = getattr(reason, "reason", None) or reason
    kind = type(cause).__name__ if isinstance(cause, BaseException) else type(exc).__name__
    return SmsError(f"Could not connect to Twilio ({kind}); the SMS was not sent.")


def twilio_signature_is_valid(*, url: str, params: dict[str, str], signature: str | None) -> bool:
    """Check X-Twilio-Signature for a webhook. ``url`` must be the public https URL Twilio called, query included."""
    token = settings.TWILIO_AUTH_TOKEN
    if not token or not signature:
        return False
    return bool(RequestValidator(token).validate(url, params, signature))


# Twilio's outbound message statuses in lifecycle order. Callbacks arrive out of order and may be retried, so a
# status only replaces one ranked strictly lower. accepted (taken by a messaging service) and scheduled come before
# queued; "read" (WhatsApp/RCS only) and inbound statuses are left out on purpose. The last rank is terminal:
# delivered, undelivered, failed and canceled are all final (see FINAL_STATUSES), so nothing replaces them.
TWILIO_STATUS_ORDER: dict[str, int] = {
    "accepted": 1,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "delivered": 5,
    "undelivered": 6,
    "failed": 6,
    "canceled": 6,
}
FINAL_STATUSES = frozenset({"delivered", "undelivered", "failed", "canceled"})


def status_is_newer(current: str, incoming: str) -> bool:
    """True if ``incoming`` should replace ``current``.

    An unknown incoming status never replaces anything. A known one replaces a current status that isn't a Twilio
    status at all (e.g. empty, or the caller's own "unknown" after a timeout), since it is the first real news.
    """
    if incoming not in TWILIO_STATUS_ORDER:
        return False
    if current in FINAL_STATUSES:
        return False
    if current not in TWILIO_STATUS_ORDER:
        return True
    return TWILIO_STATUS_ORDER[incoming] > TWILIO_STATUS_ORDER[current]
