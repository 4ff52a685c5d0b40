"""Zoom webhooks: the signature, the URL validation and what an event says (../shared/ZOOM.md, "Webhooks").

Pure functions, no models: the view verifies and parses with these, ``telehealth.services`` records and applies.
Zoom signs ``v0:{x-zm-request-timestamp}:{raw body}`` with the app's secret token (HMAC-SHA256, hex, "v0="
prefix); the raw body is signed, never re-serialised JSON. What is kept of an event (``facts``) leaves out every
participant's name and email.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

# Zoom's timestamp may be this far from our clock, either way (a replay of an old delivery is refused).
MAX_SKEW_SECONDS = 300
URL_VALIDATION = "endpoint.url_validation"

MEETING_DELETED = "meeting.deleted"
MEETING_UPDATED = "meeting.updated"
MEETING_STARTED = "meeting.started"
MEETING_ENDED = "meeting.ended"
WAITING_JOINED = ("meeting.participant_joined_waiting_room", "meeting.participant_jbh_waiting")
WAITING_LEFT = ("meeting.participant_admitted", "meeting.participant_left_waiting_room",
                "meeting.participant_left")
HANDLED_EVENTS = frozenset({MEETING_DELETED, MEETING_UPDATED, MEETING_STARTED, MEETING_ENDED, *WAITING_JOINED,
                            *WAITING_LEFT})

# The fields of a meeting.updated object the app keeps as booked (time, length, passcode) and the R4 settings.
WATCHED_FIELDS = ("start_time", "duration", "password")
WATCHED_SETTINGS = ("host_video", "participant_video", "waiting_room", "join_before_host", "auto_recording",
                    "approval_type")


class WebhookRejected(Exception):
    """The request is not a Zoom delivery we can trust or read; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def secret_token_problem(secret: str) -> str:
    """Why this can never be a Zoom app's secret token, or ""."""
    if not secret.isascii() or not secret.isprintable() or any(c.isspace() for c in secret) or len(secret) > 200:
        return ("The secret token contains characters Zoom secret tokens never have (only letters, digits and "
                "punctuation, no spaces). Copy it again from the Zoom app's Features page.")
    return ""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verified_by(secrets: dict[str, str], *, timestamp: str | None, given: str | None, body: bytes,
                now: float) -> list[str]:
    """The names of the secrets that signed this request; raises WebhookRejected when none did.

    Every secret is compared (in constant time), so the answer's timing does not tell which apps exist.
    """
    if not secrets:
        raise WebhookRejected(403, "Zoom webhooks are not set up: no secret token is configured.")
    if not timestamp or not given:
        raise WebhookRejected(401, "The Zoom signature headers are missing.")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16):
        raise WebhookRejected(401, "The Zoom request timestamp is not a number.")
    seconds = int(timestamp)
    if seconds > 10**11:  # sent in milliseconds
        seconds //= 1000
    if abs(now - seconds) > MAX_SKEW_SECONDS:
        raise WebhookRejected(401, "The Zoom request timestamp is too far from now.")
    matches = [name for name, secret in secrets.items()
               if hmac.compare_digest(signature(secret, timestamp, body).encode(), given.encode("utf-8", "replace"))]
    if not matches:
        raise WebhookRejected(401, "The Zoom signature does not match.")
    return matches


def url_validation_answer(secret: str, plain_token: str) -> dict[str, str]:
    encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}


@dataclass(frozen=True)
class Envelope:
    event: str
    event_ts: int  # ms
    payload_object: dict[str, Any]
    plain_token: str = ""  # endpoint.url_validation only
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def zoom_id(self) -> int | None:
        return self.facts.get("zoom_id")

    def dedupe_key(self) -> str:
        # The meeting's id too: without a uuid, two meetings' events of the same millisecond would be one.
        parts = [self.event, str(self.facts.get("zoom_id", "")), str(self.facts.get("uuid", "")),
                 str(self.facts.get("participant_uuid", "")), str(self.event_ts)]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def parse(body: bytes) -> Envelope:
    """The event envelope; WebhookRejected(400) when it is not Zoom's JSON shape."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(400, "The body is not JSON.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("event"), str):
        raise WebhookRejected(400, "The body has no event.")
    payload = _dict(data.get("payload"))
    event = data["event"][:80]
    if event == URL_VALIDATION:
        plain = payload.get("plainToken")
        if not isinstance(plain, str) or not plain or len(plain) > 200:
            raise WebhookRejected(400, "The URL validation has no plainToken.")
        return Envelope(event, 0, {}, plain_token=plain)
    event_ts = data.get("event_ts")
    if not isinstance(event_ts, int) or isinstance(event_ts, bool) or event_ts <= 0:
        raise WebhookRejected(400, "The event has no event_ts.")
    obj = _dict(payload.get("object"))
    return Envelope(event, event_ts, obj, facts=facts_of(event, obj, payload.get("old_object")))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _meeting_id(value: Any) -> int | None:
    """Zoom sends the meeting id as a number, or as a string in started/ended and participant events."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _short_str(value: Any, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""


def facts_of(event: str, obj: dict[str, Any], old_object: Any) -> dict[str, Any]:
    """What applying the event needs, and nothing about a person beyond an opaque participant uuid."""
    facts: dict[str, Any] = {"zoom_id": _meeting_id(obj.get("id")), "uuid": _short_str(obj.get("uuid"))}
    participant = _dict(obj.get("participant"))
    if participant:
        # participant_uuid names one join; older payloads only have the participant's id or user_id.
        facts["participant_uuid"] = (_short_str(participant.get("participant_uuid"))
                                     or _short_str(participant.get("id")) or _short_str(participant.get("user_id")))
    if event == MEETING_UPDATED:
        facts["changed"] = _watched(obj)
        facts["old"] = _watched(_dict(old_object))
    return facts


def _watched(obj: dict[str, Any]) -> dict[str, Any]:
    """The watched fields present in a meeting.updated object (Zoom sends only the changed ones)."""
    values: dict[str, Any] = {name: obj[name] for name in WATCHED_FIELDS
                              if name in obj and isinstance(obj[name], str | int) and not isinstance(obj[name], bool)}
    if "password" in values:
        # Whether a passcode is set and whether it is ours is all that matters: the hash, not the passcode, is kept.
        values["password"] = passcode_digest(str(values["password"]))
    settings = _dict(obj.get("settings"))
    chosen = {name: settings[name] for name in WATCHED_SETTINGS
              if name in settings and isinstance(settings[name], bool | int | str)}
    if chosen:
        values["settings"] = chosen
    return values


def passcode_digest(passcode: str) -> str:
    return hashlib.sha256(passcode.encode()).hexdigest() if passcode else ""
