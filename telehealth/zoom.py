"""The one module that talks HTTP to Zoom (../shared/ZOOM.md is the contract it follows).

Server-to-Server OAuth tokens are cached in Django's cache per credential set; every call has explicit timeouts
and failures become typed errors whose ``permanent`` flag tells callers whether a retry can help. Secrets, access
tokens and host ``start_url``s never appear in log lines, exception messages or reprs.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote

import requests
import urllib3.exceptions
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Refresh a little before Zoom's expiry so a token never dies between the cache read and the call.
TOKEN_EXPIRY_MARGIN_SECONDS = 60
# How long one worker holds the fetch lock, and how long the others wait for its token before fetching their own.
TOKEN_LOCK_SECONDS = 10
TOKEN_WAIT_SECONDS = 5.0
TOKEN_POLL_SECONDS = 0.1

EXPIRED_TOKEN_CODE = 124
# ZOOM.md documents 4700; Zoom's live API (and our emulator) answer a missing scope with 4711.
MISSING_SCOPE_CODES = frozenset({4700, 4711})
MEETING_NOT_FOUND_CODE = 3001


# Errors ---------------------------------------------------------------------------------------------------------


class ZoomError(Exception):
    """Zoom refused or failed a call. ``message`` is safe to show to staff; ``permanent`` says a retry cannot help."""

    permanent: bool = True
    # True only when the request may have reached Zoom and been applied although no answer came back.
    maybe_applied: bool = False

    def __init__(
        self, message: str, *, http_status: int | None = None, code: int | None = None, permanent: bool | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.code = code
        if permanent is not None:
            self.permanent = permanent


class ZoomAuthError(ZoomError):
    """The token endpoint refused the credentials, or Zoom keeps refusing a freshly issued token."""


class ZoomScopeError(ZoomError):
    """The app lacks a scope (code 4700 or 4711): an admin must add it in the Zoom Marketplace."""


class ZoomNotFound(ZoomError):
    """404: the Zoom user (1001) or the meeting (3001) does not exist."""


class ZoomTransientError(ZoomError):
    """5xx, connection failures and timeouts: retry with backoff."""

    permanent = False


class ZoomRateLimited(ZoomError):
    """429: wait ``retry_after`` seconds when Zoom says; ``daily_limit`` means nothing helps before 00:00 UTC."""

    permanent = False

    def __init__(
        self, message: str, *, code: int | None = None, retry_after: float | None = None, daily_limit: bool = False
    ) -> None:
        super().__init__(message, http_status=429, code=code)
        self.retry_after = retry_after
        self.daily_limit = daily_limit


class ZoomTimeoutError(ZoomTransientError):
    """The request was sent but no answer came in time: a create may have happened, so never resend blindly."""

    maybe_applied = True


def credentials_problem(*, account_id: str, client_id: str, client_secret: str) -> str:
    """Why these can never be a Zoom app's credentials, or "".

    Zoom issues account IDs, client IDs and secrets as plain ASCII letters, digits and a few marks; the token
    request sends ``client_id:client_secret`` in an HTTP Basic header, which cannot carry other characters.
    """
    for label, value in (("account ID", account_id), ("client ID", client_id), ("client secret", client_secret)):
        if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
            return (f"The {label} contains characters Zoom credentials never have (only letters, digits and "
                    "punctuation, no spaces). Copy it again from the Zoom app's App credentials page.")
        if label == "client ID" and ":" in value:  # Basic auth splits at the first colon
            return "The client ID cannot contain a colon. Copy it again from the Zoom app's App credentials page."
    return ""


# Values ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZoomCredentials:
    account_id: str
    client_id: str
    client_secret: str = field(repr=False)

    def cache_key(self) -> str:
        # Hashed so the secret never reaches Redis keys or MONITOR output, yet a changed secret gets a new token.
        digest = hashlib.sha256(f"{self.account_id}|{self.client_id}|{self.client_secret}".encode()).hexdigest()
        return f"zoom-token:{digest}"


@dataclass(frozen=True)
class ZoomUser:
    id: str
    email: str
    first_name: str
    last_name: str
    type: int
    timezone: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ZoomUser:
        return cls(
            id=str(data["id"]), email=_str(data.get("email")), first_name=_str(data.get("first_name")),
            last_name=_str(data.get("last_name")), type=int(data["type"]), timezone=_str(data.get("timezone")),
        )

    @property
    def plan(self) -> str:
        return {1: "Basic", 2: "Licensed"}.get(self.type, f"Other (type {self.type})")

    @property
    def is_basic(self) -> bool:
        return self.type == 1

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


@dataclass(frozen=True)
class MeetingSettings:
    host_video: bool | None
    participant_video: bool | None
    waiting_room: bool | None
    join_before_host: bool | None
    auto_recording: str | None
    approval_type: int | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> MeetingSettings:
        return cls(
            host_video=_opt_bool(data.get("host_video")),
            participant_video=_opt_bool(data.get("participant_video")),
            waiting_room=_opt_bool(data.get("waiting_room")),
            join_before_host=_opt_bool(data.get("join_before_host")),
            auto_recording=data.get("auto_recording") if isinstance(data.get("auto_recording"), str) else None,
            approval_type=_opt_int(data.get("approval_type")),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Meeting:
    id: int
    topic: str
    start_time: datetime | None
    duration: int | None
    timezone: str
    join_url: str
    password: str
    # The create response has no status or host_id (ZOOM.md, and the 201 schema): empty until a GET.
    status: str
    host_id: str
    settings: MeetingSettings
    # Starts the meeting as host for 2 hours: callers use it at once and never store it (hence no repr).
    start_url: str = field(repr=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Meeting:
        return cls(
            id=int(data["id"]), topic=_str(data.get("topic")), start_time=parse_time(data.get("start_time")),
            duration=_opt_int(data.get("duration")), timezone=_str(data.get("timezone")),
            join_url=_str(data.get("join_url")), password=_str(data.get("password")), status=_str(data.get("status")),
            host_id=_str(data.get("host_id")), settings=MeetingSettings.from_api(data.get("settings") or {}),
            start_url=_str(data.get("start_url")),
        )


# R4: applied to every meeting and compared with what Zoom reports back.
SECURITY_DEFAULTS: dict[str, Any] = {
    "host_video": True,
    "participant_video": True,
    "waiting_room": True,
    "join_before_host": True,
    "auto_recording": "none",
    "approval_type": 2,
    "email_notification": False,  # we send our own messages
}

PASSCODE_LENGTH = 10
_PASSCODE_ALPHABET = string.ascii_letters + string.digits
_PASSCODE_PATTERN = re.compile(r"[A-Za-z0-9@\-_*]{1,10}")


@dataclass(frozen=True)
class ListedMeeting:
    """One meeting of a host's list (GET /users/{userId}/meetings): enough to recognise one we made."""

    id: int
    agenda: str
    topic: str
    start_time: datetime | None
    duration: int | None
    join_url: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ListedMeeting:
        return cls(id=int(data["id"]), agenda=_str(data.get("agenda")), topic=_str(data.get("topic")),
                   start_time=parse_time(data.get("start_time")), duration=_opt_int(data.get("duration")),
                   join_url=_str(data.get("join_url")))


@dataclass(frozen=True)
class MeetingRequest:
    topic: str
    start_time: datetime
    duration: int
    timezone: str
    password: str
    # An opaque reference (never client data) that lets a later attempt find this meeting in the host's list.
    agenda: str = ""

    def __post_init__(self) -> None:
        # Checked here so a bad request fails in our code, not as a Zoom 300 after a network round trip.
        if self.start_time.tzinfo is None or self.start_time.utcoffset() is None:
            raise ValueError("start_time must be timezone-aware.")
        if len(self.topic) > 200:
            raise ValueError("Zoom topics are at most 200 characters.")
        if not _PASSCODE_PATTERN.fullmatch(self.password):
            raise ValueError("A Zoom passcode is 1 to 10 characters from A-Z, a-z, 0-9, @, -, _ and *.")
        if len(self.agenda) > 200:  # Zoom allows 2000, but lists show only the first 250: keep it findable
            raise ValueError("The agenda carries a short reference only.")

    def body(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "type": 2,  # scheduled
            # UTC with Z plus the IANA zone: sending local time without a zone is the classic Zoom timezone bug.
            "start_time": self.start_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": self.duration,
            "timezone": self.timezone,
            "password": self.password,
            "agenda": self.agenda,  # a reference only: clinical details stay out of Zoom
            "settings": dict(SECURITY_DEFAULTS),
        }


_SETTING_LABELS = {
    "host_video": "Host video",
    "participant_video": "Participant video",
    "waiting_room": "Waiting room",
    "join_before_host": "Join before host",
}


def settings_differences(applied: MeetingSettings) -> list[str]:
    """Sentences for each R4 setting whose effective value in Zoom differs from SECURITY_DEFAULTS."""
    differences = []
    for name, label in _SETTING_LABELS.items():
        value = getattr(applied, name)
        if value is None:
            differences.append(f"{label} is not reported by Zoom (expected on).")
        elif value != SECURITY_DEFAULTS[name]:
            differences.append(f"{label} is off in Zoom (expected on).")
    # Zoom omits these when the account has nothing special set; only a value it reports can contradict R4.
    if applied.auto_recording is not None and applied.auto_recording != SECURITY_DEFAULTS["auto_recording"]:
        differences.append(f"Automatic recording is set to '{applied.auto_recording}' in Zoom (expected off).")
    if applied.approval_type is not None and applied.approval_type != SECURITY_DEFAULTS["approval_type"]:
        differences.append(
            f"Zoom requires registration (approval type {applied.approval_type}; expected no registration)."
        )
    return differences


def generate_passcode() -> str:
    """10 letters and digits, at least one of each: inside Zoom's default rule and most account policies."""
    while True:  # rejection sampling keeps every accepted passcode equally likely
        passcode = "".join(secrets.choice(_PASSCODE_ALPHABET) for _ in range(PASSCODE_LENGTH))
        if any(c.isalpha() for c in passcode) and any(c.isdigit() for c in passcode):
            return passcode


# What each need accepts: the classic scope first, then the granular one. Granular apps split update from create:
# PATCH needs meeting:update:meeting:admin (Moodle's mod_zoom checks it too), a classic app's write scope covers all.
REQUIRED_SCOPES: dict[str, tuple[str, ...]] = {
    "create meetings": ("meeting:write:admin", "meeting:write:meeting:admin"),
    "read meetings": ("meeting:read:admin", "meeting:read:meeting:admin"),
    "delete meetings": ("meeting:write:admin", "meeting:delete:meeting:admin"),
    "read users": ("user:read:admin", "user:read:user:admin"),
}


# Not needed for telehealth to work, but without it a create Zoom did not confirm cannot be looked for (and adopted
# instead of made twice): shown on the Zoom page, without failing the connection.
RECOMMENDED_SCOPES: dict[str, tuple[str, ...]] = {
    "list meetings": ("meeting:read:admin", "meeting:read:list_meetings:admin"),
}


# Listing the account's users (GET /users, operationId ``users``) lets an admin pick a practitioner's Zoom user
# from the practice app's account instead of typing it; without it the user is typed by email.
LIST_USERS_SCOPES: tuple[str, ...] = ("user:read:admin", "user:read:list_users:admin")


def can_list_users(granted: set[str]) -> bool:
    return bool(granted.intersection(LIST_USERS_SCOPES))


def missing_scopes(granted: set[str], *, recommended: bool = False) -> list[str]:
    """Readable names of the needs that no granted scope satisfies, e.g. for the "Test connection" page.

    ``recommended`` names the missing recommended scopes instead of the required ones.
    """
    needs = RECOMMENDED_SCOPES if recommended else REQUIRED_SCOPES
    return [
        f"{need} ({' or '.join(accepted)})"
        for need, accepted in needs.items()
        if not granted.intersection(accepted)
    ]


# Client ---------------------------------------------------------------------------------------------------------


LIST_PAGE_SIZE = 300
LIST_MAX_PAGES = 20  # 6,000 upcoming meetings for one host is far beyond a practitioner's diary
USERS_MAX_PAGES = 5  # 1,500 active users: far beyond a practice; a larger account types the email instead


class ZoomClient:
    """Zoom's REST API for one set of credentials.

    ``budget`` (seconds) caps the whole use of this client, token fetch included: a web request passes ~2 s so a
    slow Zoom never holds a web worker (RELIABILITY.md 28); workers use the configured per-request timeouts.
    """

    def __init__(self, credentials: ZoomCredentials, *, session: requests.Session | None = None,
                 budget: float | None = None) -> None:
        self.credentials = credentials
        self.session = session or requests.Session()
        self.budget = budget
        self._deadline = time.monotonic() + budget if budget is not None else None

    def granted_scopes(self) -> set[str]:
        return set(self._token()["scope"].split())

    def get_user(self, user_id: str) -> ZoomUser:
        return _parse(ZoomUser.from_api, self._call("GET", f"/users/{_user_path(user_id)}"))

    def create_meeting(self, user_id: str, request: MeetingRequest, *,
                       on_send: Callable[[], None] | None = None) -> Meeting:
        """POST the meeting. ``on_send`` runs just before the request leaves (after the token is in hand), so a
        caller can record "a create may exist in Zoom" only when one really went out."""
        response = self._call("POST", f"/users/{_user_path(user_id)}/meetings", json=request.body(),
                              on_send=on_send)
        return _parse(Meeting.from_api, response)

    def list_upcoming_meetings(self, user_id: str) -> list[ListedMeeting]:
        """The host's upcoming meetings, every page (operationId ``meetings``, needs a meeting read scope)."""
        meetings: list[ListedMeeting] = []
        params = {"type": "upcoming", "page_size": str(LIST_PAGE_SIZE)}
        for _ in range(LIST_MAX_PAGES):
            response = self._call("GET", f"/users/{_user_path(user_id)}/meetings", params=params)
            payload = _json_object(response)
            items = payload.get("meetings")
            if not isinstance(items, list):
                raise ZoomError(f"Zoom answered HTTP {response.status_code} with a meeting list this client cannot "
                                "read.", http_status=response.status_code)
            meetings += [_parse_item(ListedMeeting.from_api, item) for item in items]
            token = _str(payload.get("next_page_token"))
            if not token:
                break
            params = {**params, "next_page_token": token}
        return meetings

    def find_meeting_by_agenda(self, user_id: str, agenda: str) -> ListedMeeting | None:
        """The host's upcoming meeting whose agenda carries ``agenda`` (our opaque reference), if any."""
        if not agenda:
            return None
        return next((m for m in self.list_upcoming_meetings(user_id) if agenda in m.agenda), None)

    def list_users(self) -> list[ZoomUser]:
        """The account's active users, every page (operationId ``users``; needs ``user:read:admin`` or the
        granular ``user:read:list_users:admin``). Users without an email (none when active) are left out."""
        users: list[ZoomUser] = []
        params = {"status": "active", "page_size": str(LIST_PAGE_SIZE)}
        for _ in range(USERS_MAX_PAGES):
            response = self._call("GET", "/users", params=params)
            payload = _json_object(response)
            items = payload.get("users")
            if not isinstance(items, list):
                raise ZoomError(f"Zoom answered HTTP {response.status_code} with a user list this client cannot "
                                "read.", http_status=response.status_code)
            users += [_parse_item(ZoomUser.from_api, item) for item in items
                      if isinstance(item, dict) and item.get("id") and item.get("email")]
            token = _str(payload.get("next_page_token"))
            if not token:
                break
            params = {**params, "next_page_token": token}
        return users

    def get_meeting(self, meeting_id: int) -> Meeting:
        return _parse(Meeting.from_api, self._call("GET", f"/meetings/{int(meeting_id)}"))

    def update_meeting(self, meeting_id: int, request: MeetingRequest) -> None:
        # 204 with an empty body: nothing to read; GET afterwards to see what Zoom applied.
        self._call("PATCH", f"/meetings/{int(meeting_id)}", json=request.body())

    def delete_meeting(self, meeting_id: int) -> None:
        try:
            # We send our own cancellation messages; Zoom's reminder e-mail would be a second, unbranded one.
            self._call("DELETE", f"/meetings/{int(meeting_id)}", params={"schedule_for_reminder": "false"})
        except ZoomNotFound as exc:
            if exc.code != MEETING_NOT_FOUND_CODE:
                raise
            # Already gone (deleted in Zoom, or expired): the goal of "no orphan meeting" is met.

    # HTTP -----------------------------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, json: dict[str, Any] | None = None, params: dict[str, str] | None = None,
        on_send: Callable[[], None] | None = None,
    ) -> requests.Response:
        url = settings.ZOOM_API_BASE_URL.rstrip("/") + path
        response = self._send_authorised(method, url, json=json, params=params, on_send=on_send)
        if response.status_code == 401 and _error_details(response)[0] == EXPIRED_TOKEN_CODE:
            # Zoom can revoke a token before its expiry (e.g. credentials regenerated): refetch and retry once only.
            logger.info("Zoom refused a cached access token (code 124); fetching a new one")
            _cache_op(cache.delete, self.credentials.cache_key())
            response = self._send_authorised(method, url, json=json, params=params, on_send=on_send)
        if not response.ok:
            raise _api_error(response)
        return response

    def _send_authorised(self, method: str, url: str, *, on_send: Callable[[], None] | None = None,
                         **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self._token()['access_token']}"}
        if on_send is not None:
            on_send()
        return self._send(method, url, headers=headers, **kwargs)

    def _timeout(self) -> tuple[float, float]:
        timeout = (float(settings.ZOOM_CONNECT_TIMEOUT), float(settings.ZOOM_READ_TIMEOUT))
        if self._deadline is None:
            return timeout
        remaining = self._deadline - time.monotonic()
        if remaining <= 0.05:
            raise ZoomTransientError(f"Zoom did not answer within {self.budget:g} s; try again in a moment.")
        return min(timeout[0], remaining), min(timeout[1], remaining)

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        timeout = self._timeout()
        try:
            return self.session.request(method, url, timeout=timeout, **kwargs)
        except requests.ReadTimeout as exc:
            raise ZoomTimeoutError(
                f"Zoom did not answer within {timeout[1]:.2g} s; the {method} may or may not have been applied."
            ) from exc
        except requests.ConnectionError as exc:
            if _sent_before_failing(exc):
                raise ZoomTimeoutError(
                    f"The connection to Zoom dropped after the {method} was sent; it may or may not have been applied."
                ) from exc
            # Refused, DNS, TLS or ConnectTimeout: the request never reached Zoom.
            raise ZoomTransientError(f"Could not connect to Zoom ({type(exc).__name__}).") from exc
        except requests.RequestException as exc:
            raise ZoomTransientError(f"The request to Zoom failed ({type(exc).__name__}).") from exc

    # Token ----------------------------------------------------------------------------------------------------

    def _token(self) -> dict[str, str]:
        key = self.credentials.cache_key()
        token = self._cached_token(key)
        if token:
            return token
        lock_key = f"{key}:lock"
        if _cache_op(cache.add, lock_key, 1, timeout=TOKEN_LOCK_SECONDS):
            try:
                # The previous holder may have cached a token between our read and our lock.
                return self._cached_token(key) or self._fetch_token(key)
            finally:
                _cache_op(cache.delete, lock_key)
        # Another worker is fetching: its token will serve us too, unless it takes too long (or our budget ends).
        wait = TOKEN_WAIT_SECONDS if self.budget is None else min(TOKEN_WAIT_SECONDS, self.budget / 2)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(TOKEN_POLL_SECONDS)
            token = self._cached_token(key)
            if token:
                return token
        logger.warning("Waited %.1f s for another worker's Zoom token; fetching one", TOKEN_WAIT_SECONDS)
        return self._fetch_token(key)

    def _fetch_token(self, key: str) -> dict[str, str]:
        problem = credentials_problem(account_id=self.credentials.account_id, client_id=self.credentials.client_id,
                                      client_secret=self.credentials.client_secret)
        if problem:
            # Stored before the form checked them: a clear refusal instead of a UnicodeEncodeError in requests.
            raise ZoomAuthError(problem)
        try:
            response = self._send(
                "POST",
                settings.ZOOM_OAUTH_TOKEN_URL,
                auth=(self.credentials.client_id, self.credentials.client_secret),
                data={"grant_type": "account_credentials", "account_id": self.credentials.account_id},
            )
        except ZoomTimeoutError as exc:
            # A token request changes nothing in Zoom, so a lost answer is simply worth another try.
            raise ZoomTransientError(f"Zoom's token endpoint did not answer: {exc.message}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise _api_error(response)
        payload = _json_object(response)
        if not response.ok:
            raise ZoomAuthError(_token_refusal(payload), http_status=response.status_code)
        access_token = payload.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise ZoomAuthError("Zoom's token endpoint answered without an access token.", http_status=200)
        expires_in = _opt_int(payload.get("expires_in")) or 3600
        usable_for = max(expires_in - TOKEN_EXPIRY_MARGIN_SECONDS, 0)
        # The expiry travels with the token too: the cache's own timeout is the backend's clock, not ours.
        token = {"access_token": access_token, "scope": _str(payload.get("scope")),
                 "use_until": str(time.time() + usable_for)}
        _cache_op(cache.set, key, token, timeout=usable_for)
        return token

    @staticmethod
    def _cached_token(key: str) -> dict[str, str] | None:
        token = _cache_op(cache.get, key)
        if token and float(token.get("use_until", "0")) > time.time():
            return token
        return None


# Helpers --------------------------------------------------------------------------------------------------------


def _cache_op(operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one token-cache call; the cache (Redis in production) being down is a transient Zoom failure.

    Backends raise their own types (redis.ConnectionError, socket errors, pickling errors…), hence the broad
    except: whatever the cache does, the caller gets a ZoomError with a reason, never a 500.
    """
    try:
        return operation(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        raise ZoomTransientError(
            f"The token cache (Redis) is unreachable ({type(exc).__name__}), so no Zoom request was sent. "
            "It will work again once the cache is back."
        ) from exc


def _user_path(user_id: str) -> str:
    # With an S2S token "me" is the app's owner, not the practitioner: always name the Zoom user.
    if not user_id or user_id.strip().lower() == "me":
        raise ValueError("Name the Zoom user by id or email; 'me' is the app owner under Server-to-Server OAuth.")
    return quote(user_id, safe="@")


def _sent_before_failing(exc: requests.ConnectionError) -> bool:
    """True when the connection broke after the request went out ("Connection aborted", a reset mid-answer)."""
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, urllib3.exceptions.ProtocolError) or isinstance(
        getattr(reason, "reason", None), urllib3.exceptions.ProtocolError)


def _token_refusal(payload: dict[str, Any]) -> str:
    error, reason = _str(payload.get("error")), _str(payload.get("reason"))
    if error == "invalid_client":
        return f"Zoom rejected the client ID or client secret (invalid_client: {reason or 'no reason given'})."
    if error == "unsupported_grant_type":
        return (
            "Zoom refused the account_credentials grant (unsupported_grant_type): the credentials must belong to a "
            "Server-to-Server OAuth app."
        )
    return f"Zoom refused the credentials ({error or 'no error code'}: {reason or 'no reason given'})."


def _api_error(response: requests.Response) -> ZoomError:
    code, message = _error_details(response)
    status = response.status_code
    if status == 429:
        return _rate_limited(response, code, message)
    if status >= 500:
        return ZoomTransientError(f"Zoom is unavailable (HTTP {status}): {message}", http_status=status, code=code)
    if code in MISSING_SCOPE_CODES:
        return ZoomScopeError(f"The Zoom app is missing a scope. Zoom said: {message}", http_status=status, code=code)
    if status == 404:
        return ZoomNotFound(message, http_status=status, code=code)
    if status == 401:  # also a second code 124, right after a fresh token: retrying again would loop
        return ZoomAuthError(f"Zoom refused the access token: {message}", http_status=status, code=code)
    return ZoomError(message, http_status=status, code=code, permanent=True)


def _rate_limited(response: requests.Response, code: int | None, message: str) -> ZoomRateLimited:
    retry_after = _retry_after(response.headers.get("Retry-After"))
    message = message if message.endswith((".", "!", "?")) else f"{message}."
    if "daily" in message.lower():
        return ZoomRateLimited(
            f"{message} Zoom allows 100 meeting create and update requests per host user per UTC day; this user "
            "has reached it. The limit resets at 00:00 UTC.",
            code=code, retry_after=retry_after, daily_limit=True,
        )
    wait = f" Retry after {retry_after:g} s." if retry_after is not None else ""
    return ZoomRateLimited(f"Zoom is rate limiting requests: {message}{wait}", code=code, retry_after=retry_after)


# A Retry-After longer than Zoom's daily reset is a broken header, not a plan: never wait past it.
RETRY_AFTER_CAP = 2 * 24 * 3600.0


def _retry_after(value: str | None) -> float | None:
    """Retry-After is either delay-seconds or an HTTP date (RFC 9110); Zoom uses both and sometimes neither."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # isdigit() alone also takes '²'
        return min(float(value), RETRY_AFTER_CAP)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), RETRY_AFTER_CAP)


def _error_details(response: requests.Response) -> tuple[int | None, str]:
    """Zoom's ``code`` and ``message``; proxies and outages answer with HTML or nothing, so never trust the body."""
    payload = _json_object(response)
    message = payload.get("message")
    if not isinstance(message, str) or not message:
        message = f"HTTP {response.status_code} {response.reason or ''}".strip() + " without details."
    return _opt_int(payload.get("code")), message


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _parse(parser: Callable[[dict[str, Any]], T], response: requests.Response) -> T:
    try:
        return parser(response.json())
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # not JSON, not an object, or fields missing
        raise ZoomError(
            f"Zoom answered HTTP {response.status_code} with a body this client cannot read.",
            http_status=response.status_code,
        ) from exc


def _parse_item(parser: Callable[[dict[str, Any]], T], item: Any) -> T:
    try:
        return parser(item)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ZoomError("Zoom listed an item this client cannot read.") from exc


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    parsed = datetime.fromisoformat(value)
    # Zoom gives GMT with Z; a bare value would be GMT too, never the meeting's own zone.
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _opt_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
