"""A small local stand-in for Zoom's REST API, for the demo (`make run`) and the browser tests.

The app reaches it only through two settings::

    ZOOM_OAUTH_TOKEN_URL = "http://127.0.0.1:8100/oauth/token"
    ZOOM_API_BASE_URL = "http://127.0.0.1:8100/v2"

with the built-in Server-to-Server app (DEMO_ACCOUNT_ID / DEMO_CLIENT_ID / DEMO_CLIENT_SECRET).

What it emulates (see ../shared/ZOOM.md for the contract and ../shared/zoom/ for Zoom's OpenAPI):

- ``POST /oauth/token`` (account_credentials grant, Basic auth, form body or query string);
- ``GET /v2/users`` (the account's users: ``status``, ``page_size``, ``next_page_token``; operationId ``users``),
  ``GET /v2/users/{userId}``, ``POST /v2/users/{userId}/meetings``, ``GET/PATCH/DELETE /v2/meetings/{meetingId}``;
- ``GET /v2/users/{userId}/meetings`` (the host's list: ``type``, ``page_size``, ``next_page_token``; agendas
  kept as sent, so the app can find a meeting whose create it never saw answered);
- Zoom's error body ``{"code": int, "message": str}``, 124 for a bad or expired token, 4711 for a missing scope,
  1001/3001 for unknown users/meetings, 300 for validation, 429 for the per-user daily create+update limit;
- slow answers (``delay_next``): the request is applied, then the answer waits, as a Zoom timeout looks;
- the pages behind ``join_url`` (``/j/<id>``) and ``start_url`` (``/s/<id>``, valid for 2 hours);
- a regenerated client secret (``rotate_client_secret``): the old one is refused from then on;
- account-level setting locks, and injected failures (``fail_next``) for the app's error handling;
- webhooks (issue 12): with ``webhook_url`` and ``webhook_secret`` set (``--webhook-url``/``--webhook-secret``, or
  the ZOOM_EMULATOR_WEBHOOK_URL / ZOOM_EMULATOR_WEBHOOK_SECRET environment variables) every create, update and
  delete it performs is POSTed to the app as Zoom would, signed (``x-zm-signature`` v0 HMAC-SHA256 over
  ``v0:{x-zm-request-timestamp}:{body}``), in order, from a background thread. ``simulate(meeting_id, action)``,
  the page at ``/__emulator/`` and ``python manage.py zoom_simulate`` play what happens in Zoom's own app: a
  client waiting in the waiting room, admitted, leaving; the host starting or ending the meeting; the meeting
  deleted or moved in Zoom. Without a webhook secret nothing is sent and everything else works as before.

Development and test tooling only: standard library, no Django. Run it with
``python -m devtools.zoom_emulator --host 127.0.0.1 --port 8100`` or, in tests, ``start_in_thread()``.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import html
import json
import os
import queue
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_DAILY_LIMIT",
    "DEFAULT_MEETING_SETTINGS",
    "DEFAULT_SCOPES",
    "DEMO_ACCOUNT_ID",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_TIMEZONE",
    "DEMO_USERS",
    "DEMO_WEBHOOK_SECRET",
    "SIMULATIONS",
    "EmulatorState",
    "ZoomEmulator",
    "main",
    "start_in_thread",
]

DEMO_ACCOUNT_ID = "demo-account"
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-secret"  # noqa: S105 - the emulator's public demo credential, not a real secret
DEMO_TIMEZONE = "Australia/Sydney"
# The demo Zoom app's webhook "Secret Token": seed_demo stores it on the practice's app and `make run` gives it to
# the emulator, so the emulator's signed events verify in the app.
DEMO_WEBHOOK_SECRET = "demo-webhook-secret"  # noqa: S105 - public demo value, like DEMO_CLIENT_SECRET
WEBHOOK_URL_ENV = "ZOOM_EMULATOR_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "ZOOM_EMULATOR_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret
WEBHOOK_TIMEOUT_SECONDS = 5.0
# What ``simulate`` can play, as it happens in Zoom's own app -> the event it sends.
SIMULATIONS: dict[str, str] = {
    "waiting": "meeting.participant_joined_waiting_room",
    "admitted": "meeting.participant_admitted",
    "left": "meeting.participant_left",
    "started": "meeting.started",
    "ended": "meeting.ended",
    "deleted": "meeting.deleted",
    "moved": "meeting.updated",
}
DEMO_USERS: tuple[dict[str, Any], ...] = (
    {"id": "u-amelia", "email": "amelia@example.com", "first_name": "Amelia", "last_name": "Nguyen", "type": 2},
    {"id": "u-ben", "email": "ben@example.com", "first_name": "Ben", "last_name": "Okafor", "type": 1},
    {"id": "u-chloe", "email": "chloe@example.com", "first_name": "Chloe", "last_name": "Martin", "type": 2},
    {"id": "u-dev", "email": "dev@example.com", "first_name": "Dev", "last_name": "Patel", "type": 1},
)
# Classic scope names, as an S2S app with the scopes of ZOOM.md gets them.
DEFAULT_SCOPES: tuple[str, ...] = ("meeting:write:admin", "meeting:read:admin", "user:read:admin")
DEFAULT_DAILY_LIMIT = 100
TOKEN_LIFETIME = timedelta(hours=1)
START_URL_LIFETIME = timedelta(hours=2)

# What a new meeting's settings start from; the request's settings go on top, then the account locks.
DEFAULT_MEETING_SETTINGS: dict[str, Any] = {
    "host_video": False,
    "participant_video": False,
    "cn_meeting": False,
    "in_meeting": False,
    "join_before_host": False,
    "jbh_time": 0,
    "mute_upon_entry": False,
    "watermark": False,
    "use_pmi": False,
    "approval_type": 2,
    "audio": "voip",
    "auto_recording": "none",
    "enforce_login": False,
    "enforce_login_domains": "",
    "alternative_hosts": "",
    "alternative_host_update_polls": False,
    "close_registration": False,
    "show_share_button": False,
    "allow_multiple_devices": False,
    "registrants_confirmation_email": True,
    "waiting_room": False,
    "request_permission_to_unmute_participants": False,
    "registrants_email_notification": True,
    "meeting_authentication": False,
    "encryption_type": "enhanced_encryption",
    "approved_or_denied_countries_or_regions": {"enable": False},
    "breakout_room": {"enable": False},
    "internal_meeting": False,
    "continuous_meeting_chat": {"enable": False},
    "participant_focused_meeting": False,
    "push_change_to_calendar": False,
    "resources": [],
    "alternative_hosts_email_notification": True,
    "show_join_info": False,
    "device_testing": False,
    "focus_mode": False,
    "enable_dedicated_group_chat": False,
    "private_meeting": False,
    "email_notification": True,
    "host_save_video_order": False,
    "sign_language_interpretation": {"enable": False},
    "email_in_attendee_report": False,
}
_BOOL_SETTINGS = frozenset({
    "host_video", "participant_video", "cn_meeting", "in_meeting", "join_before_host", "mute_upon_entry",
    "watermark", "use_pmi", "close_registration", "show_share_button", "allow_multiple_devices",
    "registrants_confirmation_email", "waiting_room", "registrants_email_notification", "meeting_authentication",
    "internal_meeting", "participant_focused_meeting", "push_change_to_calendar",
    "alternative_hosts_email_notification", "focus_mode", "private_meeting", "email_notification",
    "host_save_video_order", "alternative_host_update_polls",
})
_ENUM_SETTINGS: dict[str, tuple[Any, ...]] = {
    "approval_type": (0, 1, 2),
    "auto_recording": ("local", "cloud", "none"),
    "audio": ("both", "telephony", "voip", "thirdParty"),
    "jbh_time": (0, 5, 10),
    "registration_type": (1, 2, 3),
    "encryption_type": ("enhanced_encryption", "e2ee"),
    "calendar_type": (1, 2),
}
# The other settings the request schema (meetingCreate/meetingUpdate) defines: stored as sent, not checked.
_OTHER_SETTINGS = frozenset({
    "additional_data_center_regions", "alternative_hosts", "approved_or_denied_countries_or_regions",
    "audio_conference_info", "authentication_domains", "authentication_exception", "authentication_option",
    "breakout_room", "contact_email", "contact_name", "global_dial_in_countries", "language_interpretation",
    "sign_language_interpretation", "meeting_invitees", "continuous_meeting_chat", "resources",
})
_KNOWN_SETTINGS = _BOOL_SETTINGS | frozenset(_ENUM_SETTINGS) | _OTHER_SETTINGS
# Top-level request fields besides the validated ones; anything else is ignored, as Zoom ignores unknown fields.
_PASSTHROUGH_FIELDS = ("schedule_for", "template_id", "recurrence", "tracking_fields", "pre_schedule")
_MEETING_TYPES = (1, 2, 3, 8)
_TYPES_WITH_START_TIME = (2, 8)
_PASSWORD_RE = re.compile(r"[A-Za-z0-9@\-_*]+")
_START_TIME_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z?)")
_MEETING_PATH_RE = re.compile(r"/v2/meetings/([^/]+)")
_USER_PATH_RE = re.compile(r"/v2/users/([^/]+)")
_USER_MEETINGS_PATH_RE = re.compile(r"/v2/users/([^/]+)/meetings")
_PAGE_PATH_RE = re.compile(r"/([js])/(\d+)")
_SIMULATE_PATH_RE = re.compile(r"/__emulator/meetings/(\d+)/simulate/([a-z]+)")
_SCOPE_ALTERNATIVES = {  # operation -> accepted scopes (classic name first, then the granular ones)
    "user:read": ("user:read:admin", "user:read:user:admin"),
    "meeting:create": ("meeting:write:admin", "meeting:write:meeting:admin"),
    "meeting:read": ("meeting:read:admin", "meeting:read:meeting:admin"),
    "meeting:update": ("meeting:write:admin", "meeting:update:meeting:admin"),
    "meeting:delete": ("meeting:write:admin", "meeting:delete:meeting:admin"),
    "meeting:list": ("meeting:read:admin", "meeting:read:list_meetings:admin"),
    "user:list": ("user:read:admin", "user:read:list_users:admin"),
}
_USER_STATUSES = ("active", "inactive", "pending")
_USER_LIST_FIELDS = ("id", "first_name", "last_name", "display_name", "email", "type", "pmi", "timezone",
                     "verified", "dept", "user_created_at", "last_login_time", "last_client_version", "language",
                     "phone_number", "status", "role_id")
_LIST_TYPES = ("scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings")
_LIST_FIELDS = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone", "agenda",
                "created_at", "join_url")
_SECRET_FORM_KEYS = ("secret", "password", "token")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spaced(meeting_id: int | str) -> str:
    """853 4321 7788, as Zoom writes meeting numbers."""
    digits = str(meeting_id)
    if len(digits) == 11:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if len(digits) == 10:
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    return digits


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class ZoomError(Exception):
    """An error answer in Zoom's shape: ``{"code": ..., "message": ...}`` (plus ``errors`` for validation)."""

    def __init__(self, status: int, code: int, message: str, *, errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


def _invalid_field(name: str, message: str) -> ZoomError:
    return ZoomError(400, 300, "Validation Failed.", errors=[{"field": name, "message": message}])


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(payload).encode(),
                   {"Content-Type": "application/json;charset=UTF-8", **(headers or {})})

    @classmethod
    def page(cls, status: int, heading: str, detail: str = "") -> Response:
        text = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(heading)}</title>'
                f"</head><body><h1>{html.escape(heading)}</h1><p>{html.escape(detail)}</p></body></html>")
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status)


@dataclass
class Failure:
    status: int
    count: int
    code: int | None = None
    message: str | None = None
    retry_after: str | None = None
    path_contains: str | None = None
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        if self.path_contains is None:
            return path.startswith("/v2/")
        return self.path_contains in path


@dataclass
class Token:
    issued_at: datetime
    expires_at: datetime
    scopes: tuple[str, ...]


def _demo_users() -> dict[str, dict[str, Any]]:
    return {user["id"]: {**user, "timezone": DEMO_TIMEZONE} for user in DEMO_USERS}


@dataclass
class EmulatorState:
    """Everything the emulator knows; read it in tests (under ``emulator.lock`` if requests may be in flight)."""

    users: dict[str, dict[str, Any]] = field(default_factory=_demo_users)  # by user id
    tokens: dict[str, Token] = field(default_factory=dict)
    meetings: dict[int, dict[str, Any]] = field(default_factory=dict)  # live meetings, as GET shows them
    deleted_meetings: dict[int, dict[str, Any]] = field(default_factory=dict)
    start_tokens: dict[str, tuple[int, datetime]] = field(default_factory=dict)  # zak -> (meeting id, issued at)
    request_log: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[tuple[str, str], int] = field(default_factory=dict)  # (host user id, UTC date) -> create+update
    locked_settings: dict[str, Any] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    delays: list[tuple[Failure, float]] = field(default_factory=list)  # (matching and count, seconds)
    list_pages: dict[str, list[int]] = field(default_factory=dict)  # next_page_token -> meeting ids still to list
    user_pages: dict[str, list[str]] = field(default_factory=dict)  # next_page_token -> user ids still to list
    client_secret: str = DEMO_CLIENT_SECRET  # the app's current secret (rotate_client_secret changes it)
    # Webhook deliveries: {"event", "meeting_id", "status" (HTTP status, or None), "error"}; the last 200.
    webhook_log: list[dict[str, Any]] = field(default_factory=list)
    waiting_participant: dict[int, str] = field(default_factory=dict)  # meeting id -> simulated participant uuid

    def find_user(self, id_or_email: str) -> dict[str, Any] | None:
        if id_or_email in self.users:
            return self.users[id_or_email]
        wanted = id_or_email.lower()
        return next((user for user in self.users.values() if user["email"].lower() == wanted), None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: ZoomEmulator


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "ZoomEmulator/1.0"
    timeout = 30

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        emulator = self.server.emulator
        response = emulator.handle(self.command, self.path, dict(self.headers.items()), body)
        delay = emulator.take_delay(self.command, self.path)
        if delay:
            emulator.delay_release.wait(delay)  # applied already; only the answer is late (outside the lock)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.verbose:
            sys.stderr.write(f"zoom-emulator: {self.address_string()} {format % args}\n")


class ZoomEmulator:
    """The emulator: an HTTP server plus the state it serves. Configure it through the attributes below."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self.lock = threading.RLock()
        self.state = EmulatorState()
        self.verbose = verbose
        # Knobs tests may change at any time.
        self.daily_limit: int = DEFAULT_DAILY_LIMIT  # meeting create+update per host user per UTC day
        self.token_lifetime: timedelta = TOKEN_LIFETIME
        self.start_url_lifetime: timedelta = START_URL_LIFETIME
        self.scopes: tuple[str, ...] = DEFAULT_SCOPES  # granted to tokens issued from now on
        self.max_live_tokens: int | None = None  # e.g. 1: a new token invalidates the older ones (old Zoom S2S)
        self.clock: Callable[[], datetime] = _utcnow  # must return aware datetimes
        self.delay_release = threading.Event()  # set it to end every pending delay at once (tests' teardown)
        # Where to send signed webhooks, and the secret token to sign them with; either unset: none are sent.
        self.webhook_url: str = os.environ.get(WEBHOOK_URL_ENV, "")
        self.webhook_secret: str = os.environ.get(WEBHOOK_SECRET_ENV, "")
        self._outbox: queue.Queue[tuple[str, int, bytes]] = queue.Queue()
        self._sender: threading.Thread | None = None
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self
        self._thread: threading.Thread | None = None

    # --- addresses -------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/oauth/token"

    @property
    def api_base_url(self) -> str:
        return f"{self.base_url}/v2"

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> ZoomEmulator:
        # A short poll interval: stop() (shutdown) waits for the loop to notice, once per interval.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                                        name="zoom-emulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        if self._thread:  # in the foreground, serve_forever() has already returned (Ctrl-C)
            self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ZoomEmulator:
        return self if self._thread else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- test controls ---------------------------------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, code: int | None = None, message: str | None = None,
                  retry_after: str | None = None, path_contains: str | None = None, *,
                  method: str | None = None) -> None:
        """Answer the next ``count`` matching requests with ``status`` and ``{"code", "message"}``.

        Without ``path_contains`` any ``/v2/`` API request matches (not the token endpoint: pass
        ``path_contains="/oauth/token"`` for that). ``method`` narrows it further, e.g. ``"DELETE"``.
        """
        with self.lock:
            self.state.failures.append(Failure(status, count, code, message, retry_after, path_contains, method))

    def delay_next(self, seconds: float, count: int = 1, path_contains: str | None = None, *,
                   method: str | None = None) -> None:
        """Apply the next ``count`` matching requests, then hold each answer back for ``seconds``.

        What a client sees as a read timeout although Zoom did the work (a create that exists but was never
        confirmed). Matching works as in ``fail_next``.
        """
        with self.lock:
            self.delay_release.clear()
            self.state.delays.append((Failure(0, count, path_contains=path_contains, method=method), seconds))

    def take_delay(self, method: str, target: str) -> float:
        path = urlsplit(target).path
        with self.lock:
            found = next((d for d in self.state.delays if d[0].matches(method, path)), None)
            if found is None:
                return 0.0
            found[0].count -= 1
            if found[0].count <= 0:
                self.state.delays.remove(found)
            return found[1]

    def reset(self, *, keep_tokens: bool = True) -> None:
        """Forget meetings, users added, locks, usage, injected failures and the log; tokens stay valid."""
        self.delay_release.set()  # no request stays held across tests
        with self.lock:
            tokens = self.state.tokens
            self.state = EmulatorState()
            if keep_tokens:
                self.state.tokens = tokens

    def add_user(self, email: str, first_name: str, last_name: str, type: int = 2, *,
                 user_id: str | None = None, timezone: str = DEMO_TIMEZONE) -> dict[str, Any]:
        user_id = user_id or "u-" + (email.split("@")[0].lower() or secrets.token_hex(4))
        user = {"id": user_id, "email": email, "first_name": first_name, "last_name": last_name, "type": type,
                "timezone": timezone}
        with self.lock:
            if user_id in self.state.users or self.state.find_user(email):
                raise ValueError(f"A Zoom user {user_id} / {email} already exists")
            self.state.users[user_id] = user
        return dict(user)

    def rotate_client_secret(self, new_secret: str) -> None:
        """Regenerate the app's client secret, as an admin can in the Zoom Marketplace: the old one is refused."""
        with self.lock:
            self.state.client_secret = new_secret

    def lock_setting(self, name: str, value: Any) -> None:
        """Force a meeting setting, as an account-level lock would, in meetings created or updated from now on."""
        with self.lock:
            self.state.locked_settings[name] = value

    def unlock_setting(self, name: str) -> None:
        with self.lock:
            self.state.locked_settings.pop(name, None)

    def expire_tokens(self) -> None:
        """Make every issued token expired (the next API call gets 401/124)."""
        with self.lock:
            past = self.clock() - timedelta(seconds=1)
            for token in self.state.tokens.values():
                token.expires_at = past

    def calls(self, method: str | None = None, path_contains: str | None = None) -> list[dict[str, Any]]:
        """The request log, optionally filtered."""
        with self.lock:
            return [dict(entry) for entry in self.state.request_log
                    if (method is None or entry["method"] == method.upper())
                    and (path_contains is None or path_contains in entry["path"])]

    def usage_today(self, user: str) -> int:
        with self.lock:
            found = self.state.find_user(user)
            return self.state.usage.get((found["id"] if found else user, self._today()), 0)

    # --- request handling --------------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """Answer one request. Thread-safe: the whole request runs under the lock."""
        parts = urlsplit(target)
        path, query = parts.path, parts.query
        headers = {name.lower(): value for name, value in headers.items()}
        authorization = headers.get("authorization", "").strip()
        entry: dict[str, Any] = {
            "method": method, "path": path, "query": query, "json": None,
            "auth_scheme": authorization.split(" ", 1)[0] if authorization else None,
        }
        parsed_json, json_ok = None, False
        if body and "application/x-www-form-urlencoded" not in headers.get("content-type", ""):
            try:
                parsed_json, json_ok = json.loads(body), True
            except ValueError:
                pass
        entry["json"] = parsed_json
        with self.lock:
            entry["at"] = _iso(self.clock())
            self.state.request_log.append(entry)
            try:
                response = self._route(method, path, query, headers, body, parsed_json, json_ok, entry)
            except ZoomError as error:
                response = Response.json(error.status, error.body(), error.headers)
            entry["status"] = response.status
            return response

    def _route(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes,
               payload: Any, json_ok: bool, entry: dict[str, Any]) -> Response:
        failure = next((f for f in self.state.failures if f.matches(method, path)), None)
        if failure is not None:
            failure.count -= 1
            if failure.count <= 0:
                self.state.failures.remove(failure)
            entry["injected"] = True
            extra = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            return Response.json(failure.status, {"code": failure.code or failure.status,
                                                  "message": failure.message or "Injected failure"}, extra)

        if path == "/oauth/token":
            if method != "POST":
                return Response.json(405, {"reason": "Method not allowed", "error": "invalid_request"})
            return self._token(headers, body, query, entry)
        if path.startswith("/v2/"):
            return self._api(method, path, headers, payload, json_ok, entry, query)
        if method in ("GET", "HEAD"):
            if match := _PAGE_PATH_RE.fullmatch(path):
                kind, meeting_id = match.groups()
                params = parse_qs(query)
                if kind == "j":
                    return self._join_page(int(meeting_id), params.get("pwd", [""])[0])
                return self._start_page(int(meeting_id), params.get("zak", [""])[0])
            if path == "/":
                return Response.page(200, "Zoom emulator", f"Token URL {self.token_url}, API base {self.api_base_url}")
            if path == "/__emulator/state":
                return Response.json(200, self._snapshot())
            if path in ("/__emulator", "/__emulator/"):
                return self._dev_page(parse_qs(query).get("played", [""])[0])
        if method == "POST" and (match := _SIMULATE_PATH_RE.fullmatch(path)):
            result = self.simulate(int(match.group(1)), match.group(2))
            if "application/x-www-form-urlencoded" in headers.get("content-type", ""):  # the dev page's buttons
                # Back to the page (a reload must not play the event again), which says what was played.
                played = f"{result['event']} played for meeting {_spaced(result['meeting_id'])}."
                return Response(303, b"", {"Location": f"/__emulator/?played={quote(played)}"})
            return Response.json(200, result)
        return Response.page(404, "Not found (Zoom emulator)", f"{method} {path}")

    # --- OAuth ------------------------------------------------------------------------------------------------

    def _token(self, headers: dict[str, str], body: bytes, query: str, entry: dict[str, Any]) -> Response:
        params = {key: values[0] for key, values in parse_qs(query).items()}
        params.update({key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()})
        entry["form"] = {key: ("***" if any(word in key.lower() for word in _SECRET_FORM_KEYS) else value)
                         for key, value in params.items()}
        entry["json"] = None
        no_store = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if not self._client_ok(headers.get("authorization", ""), self.state.client_secret):
            return Response.json(400, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
                                 no_store)
        if params.get("grant_type") != "account_credentials":
            return Response.json(400, {"reason": "unsupported grant type", "error": "unsupported_grant_type"},
                                 no_store)
        account_id = params.get("account_id", "")
        if not account_id:
            return Response.json(400, {"reason": "Missing account_id", "error": "invalid_request"}, no_store)
        if account_id != DEMO_ACCOUNT_ID:
            return Response.json(400, {"reason": "Invalid account_id", "error": "invalid_request"}, no_store)
        now = self.clock()
        access_token = secrets.token_urlsafe(32)
        self.state.tokens[access_token] = Token(now, now + self.token_lifetime, tuple(self.scopes))
        if self.max_live_tokens is not None:
            while len(self.state.tokens) > max(self.max_live_tokens, 1):
                del self.state.tokens[next(iter(self.state.tokens))]  # oldest first (dicts keep insertion order)
        return Response.json(200, {
            "access_token": access_token, "token_type": "bearer",
            "expires_in": int(self.token_lifetime.total_seconds()), "scope": " ".join(self.scopes),
        }, no_store)

    @staticmethod
    def _client_ok(authorization: str, expected_secret: str = DEMO_CLIENT_SECRET) -> bool:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except ValueError:
            return False
        client_id, _, client_secret = decoded.partition(":")
        return secrets.compare_digest(client_id.encode(), DEMO_CLIENT_ID.encode()) & secrets.compare_digest(
            client_secret.encode(), expected_secret.encode())

    def _authorize(self, headers: dict[str, str], operation: str) -> None:
        scheme, _, access_token = headers.get("authorization", "").partition(" ")
        token = self.state.tokens.get(access_token.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise ZoomError(401, 124, "Invalid access token.")
        if self.clock() >= token.expires_at:
            raise ZoomError(401, 124, "Access token is expired.")
        accepted = _SCOPE_ALTERNATIVES[operation]
        if not set(accepted) & set(token.scopes):
            raise ZoomError(400, 4711, f"Invalid access token, does not contain scopes:[{accepted[-1]}].")

    # --- API ----------------------------------------------------------------------------------------------------

    def _api(self, method: str, path: str, headers: dict[str, str], payload: Any, json_ok: bool,
             entry: dict[str, Any], query: str = "") -> Response:
        if match := _USER_MEETINGS_PATH_RE.fullmatch(path):
            if method == "GET":
                self._authorize(headers, "meeting:list")
                return self._list_meetings(unquote(match.group(1)), parse_qs(query))
            if method != "POST":
                raise ZoomError(405, 405, f"The Zoom emulator does not implement {method} {path}.")
            self._authorize(headers, "meeting:create")
            return self._create_meeting(unquote(match.group(1)), payload, json_ok, entry)
        if path == "/v2/users":
            if method != "GET":
                raise ZoomError(405, 405, f"The Zoom emulator does not implement {method} {path}.")
            self._authorize(headers, "user:list")
            return self._list_users(parse_qs(query))
        if match := _USER_PATH_RE.fullmatch(path):
            if method != "GET":
                raise ZoomError(405, 405, f"The Zoom emulator does not implement {method} {path}.")
            self._authorize(headers, "user:read")
            return Response.json(200, self._user_json(self._user(unquote(match.group(1)))))
        if match := _MEETING_PATH_RE.fullmatch(path):
            operation = {"GET": "meeting:read", "PATCH": "meeting:update", "DELETE": "meeting:delete"}.get(method)
            if operation is None:
                raise ZoomError(405, 405, f"The Zoom emulator does not implement {method} {path}.")
            self._authorize(headers, operation)
            meeting = self._meeting(unquote(match.group(1)))
            if method == "GET":
                return Response.json(200, self._meeting_json(meeting))
            if method == "PATCH":
                return self._update_meeting(meeting, payload, json_ok, entry)
            self._delete(meeting)
            return Response.empty(204)
        raise ZoomError(404, 404, f"The Zoom emulator does not implement {method} {path}.")

    def _delete(self, meeting: dict[str, Any]) -> None:
        del self.state.meetings[meeting["id"]]
        self.state.deleted_meetings[meeting["id"]] = meeting
        self.state.start_tokens = {zak: issued for zak, issued in self.state.start_tokens.items()
                                   if issued[0] != meeting["id"]}
        self.state.waiting_participant.pop(meeting["id"], None)
        self._emit("meeting.deleted", meeting, self._event_object(meeting))

    # --- webhooks (issue 12) ------------------------------------------------------------------------------------

    @staticmethod
    def _event_object(meeting: dict[str, Any]) -> dict[str, Any]:
        """A meeting as Zoom's meeting.created/deleted events carry it (no start_url, no passcode)."""
        return {name: meeting[name] for name in ("id", "uuid", "host_id", "topic", "type", "start_time", "duration",
                                                 "timezone", "join_url") if name in meeting}

    @staticmethod
    def _changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """What an update changed, as meeting.updated sends it: the new values and the old ones, settings nested."""
        changed: dict[str, Any] = {}
        old: dict[str, Any] = {}
        for name in ("topic", "type", "agenda", "duration", "password", "timezone", "start_time"):
            if before.get(name) != after.get(name):
                changed[name], old[name] = after.get(name), before.get(name)
        settings = {name: value for name, value in after["settings"].items()
                    if before["settings"].get(name) != value}
        if settings:
            changed["settings"] = settings
            old["settings"] = {name: before["settings"].get(name) for name in settings}
        return changed, old

    def _emit(self, event: str, meeting: dict[str, Any], obj: dict[str, Any], *,
              old_object: dict[str, Any] | None = None) -> None:
        """Queue one signed delivery to the app (called under the lock; sent in order by the sender thread)."""
        if not (self.webhook_url and self.webhook_secret):
            return
        payload: dict[str, Any] = {"account_id": DEMO_ACCOUNT_ID, "operator": meeting.get("host_email", ""),
                                   "object": obj}
        if old_object is not None:
            payload["old_object"] = old_object
        now = self.clock()
        body = json.dumps({"event": event, "event_ts": int(now.timestamp() * 1000), "payload": payload}).encode()
        self._outbox.put((event, int(meeting["id"]), body))
        if self._sender is None or not self._sender.is_alive():
            self._sender = threading.Thread(target=self._send_webhooks, name="zoom-emulator-webhooks", daemon=True)
            self._sender.start()

    def _send_webhooks(self) -> None:
        while True:
            event, meeting_id, body = self._outbox.get()
            try:
                status, error = self._deliver(body), ""
            except (OSError, urllib.error.URLError) as exc:  # the app is not up (yet): logged, not retried
                status, error = None, f"{type(exc).__name__}: {exc}"
            finally:
                self._outbox.task_done()
            with self.lock:
                self.state.webhook_log = [*self.state.webhook_log[-199:], {
                    "event": event, "meeting_id": meeting_id, "status": status, "error": error}]
            if self.verbose or error:
                sys.stderr.write(f"zoom-emulator: webhook {event} for {meeting_id} -> {status or error}\n")

    def _deliver(self, body: bytes) -> int:
        timestamp = str(int(self.clock().timestamp()))
        digest = hmac.new(self.webhook_secret.encode(), b"v0:" + timestamp.encode() + b":" + body,
                          hashlib.sha256).hexdigest()
        if not self.webhook_url.startswith(("http://", "https://")):
            raise OSError(f"The webhook URL must be http(s): {self.webhook_url!r}")
        request = urllib.request.Request(self.webhook_url, data=body, method="POST", headers={  # noqa: S310
            "Content-Type": "application/json", "User-Agent": "Zoom Marketplace/1.0a (emulator)",
            "x-zm-request-timestamp": timestamp, "x-zm-signature": f"v0={digest}"})
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as answer:  # noqa: S310
                return int(answer.status)
        except urllib.error.HTTPError as refused:
            return int(refused.code)

    def flush_webhooks(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until every queued webhook was delivered (or failed); returns the delivery log."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        with self.lock:
            return [dict(entry) for entry in self.state.webhook_log]

    def simulate(self, meeting_id: int, action: str) -> dict[str, Any]:
        """Play in Zoom's own app what ``action`` (a key of SIMULATIONS) says, and send its webhook.

        Raises ZoomError (404) for an unknown meeting and (400) for an unknown action.
        """
        if action not in SIMULATIONS:
            raise ZoomError(400, 300, f"Unknown simulation {action!r}: use one of {', '.join(SIMULATIONS)}.")
        with self.lock:
            meeting = self._meeting(str(meeting_id))
            event = SIMULATIONS[action]
            now = _iso(self.clock())
            ids = {"id": str(meeting["id"]), "uuid": meeting["uuid"], "host_id": meeting["host_id"],
                   "topic": meeting["topic"], "type": meeting["type"]}
            if action in ("waiting", "admitted", "left"):
                if action == "waiting":
                    self.state.waiting_participant[meeting["id"]] = secrets.token_hex(8)
                participant_uuid = self.state.waiting_participant.get(meeting["id"]) or secrets.token_hex(8)
                if action != "waiting":
                    self.state.waiting_participant.pop(meeting["id"], None)
                if action == "admitted":
                    meeting["status"] = "started"
                self._emit(event, meeting, {**ids, "participant": {
                    "user_name": "Demo Client", "id": "", "participant_uuid": participant_uuid,
                    "date_time" if action == "waiting" else ("join_time" if action == "admitted" else "leave_time"):
                        now}})
            elif action in ("started", "ended"):
                meeting["status"] = "started" if action == "started" else "waiting"
                self._emit(event, meeting, {**ids, "start_time": meeting.get("start_time", now),
                                            "duration": meeting["duration"], "timezone": meeting["timezone"],
                                            **({"end_time": now} if action == "ended" else {})})
            elif action == "deleted":
                self._delete(meeting)
            else:  # moved: an hour later, as a host dragging it in the Zoom calendar would
                if "start_time" not in meeting:
                    raise ZoomError(400, 300, f"Meeting {meeting['id']} has no start time to move.")
                later = datetime.fromisoformat(meeting["start_time"].replace("Z", "+00:00")) + timedelta(hours=1)
                updated = copy.deepcopy(meeting)
                updated["start_time"] = _iso(later)
                changed, before = self._changes(meeting, updated)
                meeting.update(updated)
                self._emit(event, meeting, {"id": meeting["id"], "uuid": meeting["uuid"], **changed},
                           old_object={"id": meeting["id"], "uuid": meeting["uuid"], **before})
            return {"meeting_id": meeting["id"], "action": action, "event": event,
                    "sent": bool(self.webhook_url and self.webhook_secret)}

    def _dev_page(self, notice: str = "") -> Response:
        """/__emulator/: the meetings, with buttons that play what happens in Zoom (sent as webhooks)."""
        rows = []
        for meeting in sorted(self.state.meetings.values(), key=lambda m: (m.get("start_time", ""), m["id"])):
            buttons = "".join(
                f'<form method="post" action="/__emulator/meetings/{meeting["id"]}/simulate/{action}">'
                f'<button type="submit">{html.escape(action.title())}</button></form>'
                for action in SIMULATIONS)
            waiting = " (client waiting)" if meeting["id"] in self.state.waiting_participant else ""
            rows.append(f"<tr><td>{_spaced(meeting['id'])}</td><td>{html.escape(meeting['host_email'])}</td>"
                        f"<td>{html.escape(meeting.get('start_time', ''))}</td>"
                        f"<td>{html.escape(meeting['status'])}{waiting}</td><td class=\"acts\">{buttons}</td></tr>")
        target = (f"Webhooks go to {html.escape(self.webhook_url)}, signed with the secret token."
                  if self.webhook_url and self.webhook_secret
                  else "No webhook URL or secret token is set: nothing is sent to the app.")
        text = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Zoom emulator</title>'
            "<style>body{font:15px system-ui,sans-serif;margin:1.5rem}td,th{padding:.3rem .6rem;text-align:left}"
            ".acts form{display:inline}button{margin:.1rem;padding:.35rem .6rem}</style></head><body>"
            f"<h1>Zoom emulator</h1><p>{target}</p>"
            + (f'<p role="status"><strong>{html.escape(notice)}</strong></p>' if notice else "")
            + "<table><thead><tr><th>Meeting</th><th>Host</th><th>Starts (UTC)</th><th>Status</th>"
            "<th>Play in Zoom</th></tr></thead><tbody>"
            + ("".join(rows) or '<tr><td colspan="5">No meetings yet: book a telehealth appointment.</td></tr>')
            + "</tbody></table></body></html>")
        return Response(200, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def _list_meetings(self, user_ref: str, params: dict[str, list[str]]) -> Response:
        """GET /users/{userId}/meetings: the host's meetings, oldest start first, paged with next_page_token."""
        user = self._user(user_ref)
        list_type = params.get("type", ["scheduled"])[0]
        if list_type not in _LIST_TYPES:
            raise _invalid_field("type", "Invalid field.")
        raw_size = params.get("page_size", ["30"])[0]
        if not raw_size.isdigit() or not 1 <= int(raw_size) <= 300:
            raise _invalid_field("page_size", "Invalid field: at most 300.")
        page_size = int(raw_size)
        token = params.get("next_page_token", [""])[0]
        if token:
            if token not in self.state.list_pages:
                raise ZoomError(400, 300, "The next page token is invalid or expired.")
            ids = self.state.list_pages.pop(token)
        else:
            now = _iso(self.clock())
            mine = [m for m in self.state.meetings.values() if m["host_id"] == user["id"]]
            if list_type in ("upcoming", "upcoming_meetings"):
                mine = [m for m in mine if m.get("start_time", now) >= now or m["type"] == 3]
            elif list_type == "previous_meetings":
                mine = [m for m in mine if m.get("start_time", now) < now]
            elif list_type == "live":
                mine = [m for m in mine if m["status"] == "started"]
            ids = [m["id"] for m in sorted(mine, key=lambda m: (m.get("start_time", ""), m["id"]))]
        page, rest = ids[:page_size], ids[page_size:]
        next_token = ""
        if rest:
            next_token = secrets.token_urlsafe(16)
            self.state.list_pages[next_token] = rest
        meetings = [{name: self.state.meetings[i][name] for name in _LIST_FIELDS if name in self.state.meetings[i]}
                    for i in page if i in self.state.meetings]
        return Response.json(200, {"page_size": page_size, "total_records": len(ids), "next_page_token": next_token,
                                   "meetings": meetings})

    def _list_users(self, params: dict[str, list[str]]) -> Response:
        """GET /users: the account's users (all of them active here), by email, paged with next_page_token."""
        status = params.get("status", ["active"])[0]
        if status not in _USER_STATUSES:
            raise _invalid_field("status", "Invalid field.")
        raw_size = params.get("page_size", ["30"])[0]
        if not raw_size.isascii() or not raw_size.isdigit() or not 1 <= int(raw_size) <= 300:
            raise _invalid_field("page_size", "Invalid field: at most 300.")
        page_size = int(raw_size)
        token = params.get("next_page_token", [""])[0]
        if token:
            if token not in self.state.user_pages:
                raise ZoomError(400, 300, "The next page token is invalid or expired.")
            ids = self.state.user_pages.pop(token)
        else:
            listed = self.state.users.values() if status == "active" else []
            ids = [user["id"] for user in sorted(listed, key=lambda user: user["email"].lower())]
        page, rest = ids[:page_size], ids[page_size:]
        next_token = ""
        if rest:
            next_token = secrets.token_urlsafe(16)
            self.state.user_pages[next_token] = rest
        users = []
        for user_id in page:
            if user_id in self.state.users:
                full = self._user_json(self.state.users[user_id])
                users.append({name: full[name] for name in _USER_LIST_FIELDS if name in full})
        return Response.json(200, {"page_count": (len(ids) + page_size - 1) // page_size if not token else 1,
                                   "page_number": 1, "page_size": page_size, "total_records": len(ids),
                                   "next_page_token": next_token, "users": users})

    def _user(self, id_or_email: str) -> dict[str, Any]:
        user = self.state.find_user(id_or_email)
        if user is None:
            raise ZoomError(404, 1001, f"User does not exist: {id_or_email}.")
        return user

    def _meeting(self, raw_id: str) -> dict[str, Any]:
        meeting = self.state.meetings.get(int(raw_id)) if raw_id.isdigit() else None
        if meeting is None:
            raise ZoomError(404, 3001, f"Meeting {raw_id} is not found or has expired.")
        return meeting

    def _user_json(self, user: dict[str, Any]) -> dict[str, Any]:
        pmi = 9000000000 + int.from_bytes(user["id"].encode()[-4:].rjust(4, b"\0"), "big") % 999999999
        return {
            "id": user["id"], "first_name": user["first_name"], "last_name": user["last_name"],
            "display_name": f"{user['first_name']} {user['last_name']}", "email": user["email"],
            "type": user["type"], "role_name": "Member", "pmi": pmi, "use_pmi": False,
            "personal_meeting_url": f"{self.base_url}/j/{pmi}", "timezone": user["timezone"], "verified": 1,
            "dept": "", "created_at": "2024-01-15T00:00:00Z", "user_created_at": "2024-01-15T00:00:00Z",
            "last_login_time": "2026-01-05T22:00:00Z", "last_client_version": "6.0.0 (emulator)",
            "language": "en-US", "phone_number": "", "status": "active", "role_id": "2",
            "account_id": DEMO_ACCOUNT_ID, "account_number": 10000001, "cluster": "emulator",
            "login_types": [100], "group_ids": [], "im_group_ids": [],
        }

    def _today(self) -> str:
        return self.clock().astimezone(UTC).date().isoformat()

    def _count_usage(self, user_id: str) -> None:
        """Zoom's 100 meeting create+update calls per host user per UTC day: refuse the call past the limit."""
        key = (user_id, self._today())
        if self.state.usage.get(key, 0) >= self.daily_limit:
            raise ZoomError(429, 429, (
                f"You have reached the maximum daily limit ({self.daily_limit}) of Meeting Create/Update API "
                "requests permitted for this particular user. You may resume these requests at GMT 00:00:00."))
        self.state.usage[key] = self.state.usage.get(key, 0) + 1

    def _create_meeting(self, user_ref: str, payload: Any, json_ok: bool, entry: dict[str, Any]) -> Response:
        user = self._user(user_ref)
        self._count_usage(user["id"])
        fields = self._validate(payload, json_ok, entry, timezone_default=user["timezone"], current=None)
        now = self.clock()
        meeting_type = fields.get("type", 2)
        password = fields.get("password", "")
        if not password and fields.get("default_password") is True:
            password = f"{secrets.randbelow(10**6):06d}"
        meeting: dict[str, Any] = {
            "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
            "id": self._new_meeting_id(),
            "host_id": user["id"],
            "host_email": user["email"],
            "assistant_id": "",
            "topic": fields.get("topic", f"{user['first_name']} {user['last_name']}'s Zoom Meeting"),
            "type": meeting_type,
            "status": "waiting",
            "timezone": fields.get("timezone", user["timezone"]),
            "agenda": fields.get("agenda", ""),
            "created_at": _iso(now),
            "duration": fields.get("duration", 60),
            "password": password,
            "pre_schedule": False,
            "settings": copy.deepcopy(DEFAULT_MEETING_SETTINGS),
        }
        if meeting_type == 1:
            meeting["start_time"] = _iso(now)
        elif "start_time" in fields:
            meeting["start_time"] = fields["start_time"]
        for name in _PASSTHROUGH_FIELDS:
            if name in fields:
                meeting[name] = fields[name]
        meeting["settings"].update(fields.get("settings", {}))
        self._finish(meeting)
        self.state.meetings[meeting["id"]] = meeting
        self._emit("meeting.created", meeting, self._event_object(meeting))
        return Response.json(201, self._meeting_json(meeting))

    def _update_meeting(self, meeting: dict[str, Any], payload: Any, json_ok: bool,
                        entry: dict[str, Any]) -> Response:
        self._count_usage(meeting["host_id"])
        fields = self._validate(payload, json_ok, entry, timezone_default=meeting["timezone"], current=meeting)
        updated = copy.deepcopy(meeting)
        for name in ("topic", "type", "agenda", "duration", "password", "timezone", "start_time",
                     *_PASSTHROUGH_FIELDS):
            if name in fields:
                updated[name] = fields[name]
        updated["settings"].update(fields.get("settings", {}))
        if updated["type"] in _TYPES_WITH_START_TIME and "start_time" not in updated:
            raise _invalid_field("start_time", "start_time is required for a scheduled meeting.")
        if updated["type"] == 3:
            updated.pop("start_time", None)
        self._finish(updated)
        changed, before = self._changes(meeting, updated)
        meeting.clear()
        meeting.update(updated)
        if changed:
            self._emit("meeting.updated", meeting, {"id": meeting["id"], "uuid": meeting["uuid"],
                                                    "host_id": meeting["host_id"], **changed},
                       old_object={"id": meeting["id"], "uuid": meeting["uuid"], **before})
        return Response.empty(204)

    def _finish(self, meeting: dict[str, Any]) -> None:
        """Account locks, Zoom's forced waiting room, and the passcode-bearing links."""
        meeting["settings"].update(copy.deepcopy(self.state.locked_settings))
        settings = meeting["settings"]
        if not meeting["password"] and not settings.get("waiting_room") and not settings.get(
                "meeting_authentication"):
            settings["waiting_room"] = True  # Zoom: no passcode, no waiting room, no authentication -> waiting room
        password = meeting["password"]
        encoded = base64.urlsafe_b64encode(password.encode()).decode().rstrip("=") if password else ""
        meeting["encrypted_password"] = encoded
        meeting["h323_password"] = password if password.isdigit() else (
            str(int.from_bytes(password.encode(), "big") % 10**6).zfill(6) if password else "")
        meeting["pstn_password"] = meeting["h323_password"]
        meeting["join_url"] = f"{self.base_url}/j/{meeting['id']}" + (f"?pwd={quote(encoded)}" if encoded else "")

    def _new_meeting_id(self) -> int:
        while True:
            meeting_id = 80_000_000_000 + secrets.randbelow(10_000_000_000)
            if meeting_id not in self.state.meetings and meeting_id not in self.state.deleted_meetings:
                return meeting_id

    def _meeting_json(self, meeting: dict[str, Any]) -> dict[str, Any]:
        """The meeting as Zoom returns it, with a start_url carrying a freshly issued host token (zak)."""
        now = self.clock()
        if len(self.state.start_tokens) > 1000:
            self.state.start_tokens = {zak: issued for zak, issued in self.state.start_tokens.items()
                                       if now - issued[1] <= self.start_url_lifetime}
        zak = secrets.token_urlsafe(24)
        self.state.start_tokens[zak] = (meeting["id"], now)
        out = copy.deepcopy(meeting)
        out["start_url"] = f"{self.base_url}/s/{meeting['id']}?zak={zak}"
        return out

    def _validate(self, payload: Any, json_ok: bool, entry: dict[str, Any], *, timezone_default: str,
                  current: dict[str, Any] | None) -> dict[str, Any]:
        """Check a create (``current`` None) or update body as Zoom would; return the cleaned fields."""
        if not json_ok or not isinstance(payload, dict):
            raise ZoomError(400, 300, "Request Body should be a valid JSON object.")
        fields: dict[str, Any] = {}
        ignored = [name for name in payload if name not in (
            "topic", "type", "agenda", "duration", "password", "timezone", "start_time", "settings",
            "default_password", *_PASSTHROUGH_FIELDS)]

        for name, limit in (("topic", 200), ("agenda", 2000)):
            if name in payload:
                value = payload[name]
                if not isinstance(value, str):
                    raise _invalid_field(name, "Invalid field.")
                if len(value) > limit:
                    raise _invalid_field(name, f"Length must be less than or equal to {limit}.")
                fields[name] = value

        if "type" in payload:
            if not _is_int(payload["type"]) or payload["type"] not in _MEETING_TYPES:
                raise _invalid_field("type", "Invalid field.")
            fields["type"] = payload["type"]
        meeting_type = fields.get("type", current["type"] if current else 2)

        if "duration" in payload:
            if not _is_int(payload["duration"]) or payload["duration"] <= 0:
                raise _invalid_field("duration", "Invalid field.")
            fields["duration"] = payload["duration"]

        if "password" in payload:
            password = payload["password"]
            if not isinstance(password, str) or len(password) > 10 or (
                    password and not _PASSWORD_RE.fullmatch(password)):
                raise ZoomError(400, 300, "Invalid password: a passcode has at most 10 characters from "
                                          "[a-z A-Z 0-9 @ - _ *].")
            fields["password"] = password
        if "default_password" in payload and current is None:
            if not isinstance(payload["default_password"], bool):
                raise _invalid_field("default_password", "Invalid field.")
            fields["default_password"] = payload["default_password"]

        zone_name = timezone_default
        if "timezone" in payload:
            zone_name = payload["timezone"]
            if not isinstance(zone_name, str) or not zone_name:
                raise _invalid_field("timezone", "Invalid field.")
            try:
                ZoneInfo(zone_name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ZoomError(400, 300, f"Invalid timezone: {zone_name}.") from None
            fields["timezone"] = zone_name

        if "start_time" in payload:
            fields["start_time"] = self._parse_start_time(payload["start_time"], zone_name)
        elif current is None and meeting_type in _TYPES_WITH_START_TIME:
            raise _invalid_field("start_time", "start_time is required for a scheduled meeting.")

        if "settings" in payload:
            settings = payload["settings"]
            if not isinstance(settings, dict):
                raise _invalid_field("settings", "Invalid field.")
            fields["settings"] = {}
            for name, value in settings.items():
                if name not in _KNOWN_SETTINGS:
                    ignored.append(f"settings.{name}")
                    continue
                if name in _BOOL_SETTINGS and not isinstance(value, bool):
                    raise _invalid_field(f"settings.{name}", "Invalid field.")
                if name in _ENUM_SETTINGS and (value not in _ENUM_SETTINGS[name] or isinstance(value, bool)):
                    raise _invalid_field(f"settings.{name}", "Invalid field.")
                fields["settings"][name] = copy.deepcopy(value)

        for name in _PASSTHROUGH_FIELDS:
            if name in payload:
                fields[name] = copy.deepcopy(payload[name])
        if ignored:
            entry["ignored_fields"] = ignored
        return fields

    @staticmethod
    def _parse_start_time(value: Any, zone_name: str) -> str:
        """``yyyy-MM-ddTHH:mm:ssZ`` is UTC; ``yyyy-MM-ddTHH:mm:ss`` is local time in ``zone_name``."""
        match = _START_TIME_RE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise _invalid_field("start_time", "Invalid field: use yyyy-MM-ddTHH:mm:ssZ or yyyy-MM-ddTHH:mm:ss.")
        *numbers, utc_marker = match.groups()
        try:
            year, month, day, hour, minute, second = map(int, numbers)
            moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC if utc_marker else ZoneInfo(zone_name))
        except ValueError:
            raise _invalid_field("start_time", "Invalid field.") from None
        return _iso(moment)

    # --- the pages behind join_url and start_url ----------------------------------------------------------------

    def _join_page(self, meeting_id: int, pwd: str) -> Response:
        meeting = self.state.meetings.get(meeting_id)
        if meeting is None:
            return Response.page(404, f"Meeting {_spaced(meeting_id)} is not found or has expired (Zoom emulator)")
        if meeting["encrypted_password"] and not secrets.compare_digest(pwd, meeting["encrypted_password"]):
            return Response.page(403, f"Passcode required for meeting {_spaced(meeting_id)} (Zoom emulator)",
                                 "The link's passcode is missing or out of date.")
        return Response.page(200, f"Joined meeting {_spaced(meeting_id)} (Zoom emulator)", meeting["topic"])

    def _start_page(self, meeting_id: int, zak: str) -> Response:
        meeting = self.state.meetings.get(meeting_id)
        if meeting is None:
            return Response.page(404, f"Meeting {_spaced(meeting_id)} is not found or has expired (Zoom emulator)")
        issued = self.state.start_tokens.get(zak) if zak else None
        if issued is None or issued[0] != meeting_id or self.clock() - issued[1] > self.start_url_lifetime:
            return Response.page(410, f"This start link for meeting {_spaced(meeting_id)} has expired "
                                      "(Zoom emulator)", "Start links are valid for 2 hours; get a fresh one.")
        meeting["status"] = "started"
        return Response.page(200, f"Started meeting {_spaced(meeting_id)} as host (Zoom emulator)", meeting["topic"])

    def _snapshot(self) -> dict[str, Any]:
        return {
            "meetings": list(self.state.meetings.values()),
            "deleted_meetings": list(self.state.deleted_meetings.values()),
            "locked_settings": self.state.locked_settings,
            "usage": [{"user": user, "date": day, "count": count}
                      for (user, day), count in self.state.usage.items()],
            "request_log": self.state.request_log[-200:],
        }


def start_in_thread(host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> ZoomEmulator:
    """Start an emulator on a daemon thread (port 0: any free port); ``.stop()`` it when done."""
    return ZoomEmulator(host, port, verbose=verbose).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.zoom_emulator",
        description="Local Zoom API emulator (S2S OAuth token endpoint + the meeting/user calls the app uses).")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8100, help="port (default 8100; 0 picks a free one)")
    parser.add_argument("--daily-limit", type=int, default=DEFAULT_DAILY_LIMIT,
                        help="meeting create+update calls per host user per UTC day (default 100)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--webhook-url", default=os.environ.get(WEBHOOK_URL_ENV, ""),
                        help=f"POST signed Zoom webhooks here (default ${WEBHOOK_URL_ENV}; unset: none are sent)")
    parser.add_argument("--webhook-secret", default=os.environ.get(WEBHOOK_SECRET_ENV, ""),
                        help=f"the app's webhook secret token to sign them with (default ${WEBHOOK_SECRET_ENV})")
    args = parser.parse_args(argv)
    try:
        emulator = ZoomEmulator(args.host, args.port, verbose=args.verbose)
    except OSError as error:
        print(f"Zoom emulator: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    emulator.daily_limit = args.daily_limit
    emulator.webhook_url, emulator.webhook_secret = args.webhook_url, args.webhook_secret
    print(f"Zoom emulator at {emulator.base_url}: ZOOM_OAUTH_TOKEN_URL={emulator.token_url} "
          f"ZOOM_API_BASE_URL={emulator.api_base_url} (account {DEMO_ACCOUNT_ID}, client {DEMO_CLIENT_ID}, "
          f"secret {DEMO_CLIENT_SECRET}; Ctrl-C stops)", flush=True)
    if emulator.webhook_url and emulator.webhook_secret:
        print(f"Zoom emulator: signed webhooks go to {emulator.webhook_url}; play a client joining the waiting "
              f"room at {emulator.base_url}/__emulator/", flush=True)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
