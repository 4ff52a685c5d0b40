"""Zoom connections and meetings: the rules R1–R6, R9–R10, R17 and RELIABILITY.md 3–4, 26–28.

Meetings are rows first: a service records what must happen (create, delete) inside the caller's
transaction and queues `meeting_sync` on a Celery worker after commit, so no Zoom call runs inside a
transaction or makes a web request wait. If Zoom fails transiently the row stays pending with a reason and a
next attempt time (Zoom's Retry-After when it gives one), and the beat sweep (`meetings_reconcile`) retries
it until it is done. What cannot heal by itself is flagged ``needs_person`` and listed under Needs attention.
"""

import logging
import random
import re
import secrets
import time as time_module
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from practice.audit import SECRET_CHANGED, audit_record, field_changes
from practice.errors import ApplicationError
from practice.models import Practice, Practitioner
from telehealth import crypto, webhooks
from telehealth.models import (
    ConnectionStatus,
    FailureKind,
    LiveState,
    MeetingState,
    OrphanSweep,
    PracticeZoomApp,
    WebhookEvent,
    ZoomConnection,
    ZoomDailyUsage,
    ZoomMeeting,
)
from telehealth.zoom import (
    SECURITY_DEFAULTS,
    MeetingRequest,
    MeetingSettings,
    ZoomAuthError,
    ZoomClient,
    ZoomCredentials,
    ZoomError,
    ZoomNotFound,
    ZoomRateLimited,
    ZoomScopeError,
    ZoomTransientError,
    ZoomUser,
    can_list_users,
    credentials_problem,
    generate_passcode,
    missing_scopes,
    parse_time,
    settings_differences,
)

logger = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=2)
# Seconds before the next attempt after a transient failure; the last one repeats.
RETRY_DELAYS = (30, 60, 120, 300, 600, 1800, 3600)
# A web request (Test connection, Start meeting) gives Zoom this long in all, token included (RELIABILITY.md 28).
WEB_BUDGET_SECONDS = 2.0
# After a create Zoom did not confirm, wait this long before looking for it in the host's list: Zoom may still be
# making it.
VERIFY_AFTER = timedelta(seconds=60)
# Zoom refuses to delete a meeting in progress (3002): try again after this long.
IN_PROGRESS_RETRY = timedelta(minutes=10)
USER_NOT_FOUND_CODE = 1001
MEETING_IN_PROGRESS_CODE = 3002


# Connections (R1, R2) ---------------------------------------------------------------------------------------

def _credentials(*, account_id: str, client_id: str, secret_encrypted: str, whose: str) -> ZoomCredentials:
    try:
        secret = crypto.decrypt(secret_encrypted)
    except ImproperlyConfigured as exc:  # the keys changed under a stored secret: an admin must re-enter it
        raise ZoomAuthError(f"The stored client secret of {whose} cannot be decrypted with this server's keys. "
                            "Enter the client secret again under Options → Zoom.") from exc
    return ZoomCredentials(account_id=account_id, client_id=client_id, client_secret=secret)


def connection_credentials(connection: ZoomConnection) -> ZoomCredentials:
    """The credentials this connection really uses: the practice's app, or its own (the one place that decides).

    The token cache is keyed by these, so rotating the practice app's secret moves every connection using it to
    a new token at once, and a connection switching apps never reuses the other app's token.
    """
    if connection.uses_practice_app:
        app = PracticeZoomApp.load()
        if app is None:
            raise ZoomAuthError("The connection uses the practice's Zoom app, which is not set up. Enter it under "
                                "Options → Zoom.")
        return _credentials(account_id=app.account_id, client_id=app.client_id,
                            secret_encrypted=app.client_secret_encrypted, whose="the practice's Zoom app")
    return _credentials(account_id=connection.account_id, client_id=connection.client_id,
                        secret_encrypted=connection.client_secret_encrypted, whose="this connection")


def zoom_client(connection: ZoomConnection, *, budget: float | None = None) -> ZoomClient:
    return ZoomClient(connection_credentials(connection), budget=budget)


def _check_zoom_user(zoom_user: str) -> None:
    if not zoom_user or not zoom_user.isprintable() or any(c.isspace() for c in zoom_user) \
            or zoom_user.strip().lower() == "me" or len(zoom_user) > 200:
        raise ApplicationError("Enter the practitioner's Zoom email or user ID (no spaces; not 'me').",
                               code="bad_zoom_user")


def _secret_changes(stored_encrypted: str, new_secret: str) -> bool:
    """A secret typed again unchanged is not a change (no "changed" in the trail, no re-test for nothing)."""
    if not new_secret:
        return False
    try:
        return crypto.decrypt(stored_encrypted) != new_secret if stored_encrypted else True
    except ImproperlyConfigured:
        return True


CONNECTION_FIELDS = ("uses_practice_app", "account_id", "client_id", "zoom_user")


@transaction.atomic
def connection_save(*, actor: User, practitioner: Practitioner, zoom_user: str, uses_practice_app: bool = False,
                    account_id: str = "", client_id: str = "", client_secret: str = "") -> ZoomConnection:
    """Create or change a connection; an empty ``client_secret`` keeps the stored one.

    With ``uses_practice_app`` only the Zoom user is the practitioner's own: the connection's own credentials
    are cleared (no second copy of a secret to leak or forget). Credentials that can never work (non-ASCII,
    spaces, control characters) are refused here, so they are never stored and later token requests never trip
    over them. One audit event with each changed field (the secret only as "changed").
    """
    _check_zoom_user(zoom_user)
    connection = ZoomConnection.objects.select_for_update().filter(practitioner=practitioner).first()
    if uses_practice_app:
        if PracticeZoomApp.load() is None:
            raise ApplicationError("The practice has no Zoom app yet. Enter it under Options → Zoom first, or give "
                                   "this practitioner an app of their own.", code="no_practice_app")
        account_id = client_id = client_secret = ""
    else:
        problem = credentials_problem(account_id=account_id, client_id=client_id, client_secret=client_secret)
        if problem:
            raise ApplicationError(problem, code="bad_credentials")
        if not account_id or not client_id:
            raise ApplicationError("Enter the account ID and client ID of the Zoom app.", code="credentials_required")
        had_own_secret = connection is not None and not connection.uses_practice_app \
            and connection.client_secret_encrypted
        if not client_secret and not had_own_secret:
            raise ApplicationError("Enter the client secret of the Zoom app.", code="secret_required")
    connection = connection or ZoomConnection(practitioner=practitioner)
    before = {name: getattr(connection, name) for name in CONNECTION_FIELDS} if connection.pk else {}
    after = {"uses_practice_app": uses_practice_app, "account_id": account_id, "client_id": client_id,
             "zoom_user": zoom_user}
    secret_changed = _secret_changes(connection.client_secret_encrypted, client_secret)
    if uses_practice_app and connection.client_secret_encrypted:
        connection.client_secret_encrypted = ""  # the own secret goes with the own app
        secret_changed = True
    elif secret_changed:
        connection.client_secret_encrypted = crypto.encrypt(client_secret)
    changes = field_changes(before, after, secret_fields=("client_secret",))
    if secret_changed:
        changes["client_secret"] = SECRET_CHANGED
    if uses_practice_app and connection.webhook_secret_encrypted:
        connection.webhook_secret_encrypted = ""  # so does its webhook secret token
        changes["webhook_secret"] = SECRET_CHANGED
    if "zoom_user" in changes:
        connection.daily_limit_until = None  # the limit is per Zoom user
    for name, value in after.items():
        setattr(connection, name, value)
    if changes or connection.pk is None:
        # New credentials are unproven until tested.
        connection.status, connection.status_reason = ConnectionStatus.UNTESTED, ""
        connection.failure_kind, connection.last_test_problem = FailureKind.NONE, ""
        connection.status_since = timezone.now()
    connection.save()
    if changes:  # saved unchanged ("Save and test" to re-test): nothing to record but the test itself
        audit_record(actor=actor, action="zoom.credentials_changed", obj=connection,
                     summary=f"Zoom connection of {practitioner} saved", changes=changes)
    return connection


# The practice's Zoom app (issue 8) ----------------------------------------------------------------------------

APP_FIELDS = ("account_id", "client_id")
# Re-testing every connection after the shared app changed runs in the web request (the admin sees the result
# table at once). Each test has WEB_BUDGET_SECONDS; once this much has gone by in all, the rest are left "not
# tested" with a note instead of holding the request while Zoom is down.
RETEST_TOTAL_SECONDS = 8.0
# The account's user list changes rarely; a minute spares Zoom when an admin sets up several practitioners.
USERS_CACHE_SECONDS = 60


@dataclass(frozen=True)
class Retest:
    connection: ZoomConnection
    tested: bool  # False: the time for re-testing ran out before this one


@transaction.atomic
def practice_app_save(*, actor: User, account_id: str, client_id: str, client_secret: str) -> tuple[
        PracticeZoomApp, bool]:
    """Create or change the practice's Zoom app; an empty ``client_secret`` keeps the stored one.

    Returns the app and whether its credentials changed. A change makes every connection using the app untested
    (new credentials are unproven, as for a connection's own), to be re-tested by ``practice_app_retest`` after
    this transaction. One audit event with each changed field, the secret only as "changed".
    """
    problem = credentials_problem(account_id=account_id, client_id=client_id, client_secret=client_secret)
    if problem:
        raise ApplicationError(problem, code="bad_credentials")
    if not account_id or not client_id:
        raise ApplicationError("Enter the account ID and client ID of the practice's Zoom app.",
                               code="credentials_required")
    app = PracticeZoomApp.objects.select_for_update().filter(pk=PracticeZoomApp.SINGLETON_PK).first()
    if app is None and not client_secret:
        raise ApplicationError("Enter the client secret of the practice's Zoom app.", code="secret_required")
    app = app or PracticeZoomApp(pk=PracticeZoomApp.SINGLETON_PK)
    before = {name: getattr(app, name) for name in APP_FIELDS} if app.client_secret_encrypted else {}
    after = {"account_id": account_id, "client_id": client_id}
    changes = field_changes(before, after, secret_fields=("client_secret",))
    if _secret_changes(app.client_secret_encrypted, client_secret):
        app.client_secret_encrypted = crypto.encrypt(client_secret)
        changes["client_secret"] = SECRET_CHANGED
    if not changes:
        return app, False
    app.account_id, app.client_id = account_id, client_id
    app.save()
    ZoomConnection.objects.filter(uses_practice_app=True).update(
        status=ConnectionStatus.UNTESTED, status_reason="", failure_kind=FailureKind.NONE, last_test_problem="",
        status_since=timezone.now())
    audit_record(actor=actor, action="zoom.practice_app_changed", obj=app,
                 summary="The practice's Zoom app saved", changes=changes)
    return app, True


def practice_app_retest(*, actor: User | None) -> list[Retest]:
    """Test every connection using the practice's app (each through ``connection_test``), by practitioner name.

    Not atomic: each test is saved as it completes, so a slow Zoom never holds a transaction.
    """
    connections = list(ZoomConnection.objects.filter(uses_practice_app=True, practitioner__is_active=True)
                       .select_related("practitioner").order_by("practitioner__display_name", "pk"))
    deadline = time_module.monotonic() + RETEST_TOTAL_SECONDS
    results = []
    for connection in connections:
        if time_module.monotonic() >= deadline:
            results.append(Retest(connection, tested=False))
            continue
        results.append(Retest(connection_test(actor=actor, connection=connection), tested=True))
    return results


def practice_app_users(*, budget: float = WEB_BUDGET_SECONDS) -> list[ZoomUser] | None:
    """The active users of the practice app's Zoom account, to pick a practitioner's Zoom user from.

    None when there is no practice app, it lacks the user-read scope, or Zoom cannot answer in time: the page
    then asks for the Zoom user by email. Kept in the cache for a minute (keyed by the credentials) so opening
    several practitioners in a row asks Zoom once.
    """
    app = PracticeZoomApp.load()
    if app is None:
        return None
    try:
        credentials = _credentials(account_id=app.account_id, client_id=app.client_id,
                                   secret_encrypted=app.client_secret_encrypted, whose="the practice's Zoom app")
        key = credentials.cache_key().replace("zoom-token:", "zoom-users:")
        cached = cache.get(key)
        if cached is not None:
            return list(cached)
        client = ZoomClient(credentials, budget=budget)
        if not can_list_users(client.granted_scopes()):
            return None
        users = client.list_users()
    except ZoomError as exc:
        logger.info("Could not list the practice Zoom account's users: %s", exc.message)
        return None
    except Exception:  # noqa: BLE001 - the cache down must not break the page; typing the email still works
        logger.warning("Could not list the practice Zoom account's users", exc_info=True)
        return None
    try:
        cache.set(key, users, timeout=USERS_CACHE_SECONDS)
    except Exception:  # noqa: BLE001 - as above
        logger.warning("Could not cache the practice Zoom account's users", exc_info=True)
    return users



def _set_connection_status(connection: ZoomConnection, status: str, reason: str = "",
                           kind: str = FailureKind.NONE) -> None:
    if connection.status != status:
        connection.status_since = timezone.now()
    connection.status, connection.status_reason = status, reason[:300]
    connection.failure_kind = kind if status == ConnectionStatus.FAILING else FailureKind.NONE


def _failure_kind(exc: ZoomError) -> str:
    if isinstance(exc, ZoomAuthError):
        return FailureKind.CREDENTIALS
    if isinstance(exc, ZoomScopeError):
        return FailureKind.SCOPES
    if isinstance(exc, ZoomNotFound) and exc.code == USER_NOT_FOUND_CODE:
        return FailureKind.USER
    return FailureKind.OTHER


def connection_test(*, actor: User | None, connection: ZoomConnection) -> ZoomConnection:
    """Get a token and the Zoom user (R2): name, email, plan and missing scopes, or why it failed.

    Only a permanent answer (credentials refused, a scope missing, the user unknown) marks the connection
    failing. When Zoom cannot be reached (outage, timeout, 429, the token cache down) the status stays as it
    was and ``last_test_problem`` says why the test could not run. Runs inside a web request: ~2 s at most.
    """
    try:
        client = zoom_client(connection, budget=WEB_BUDGET_SECONDS)
        user = client.get_user(connection.zoom_user)
        granted = client.granted_scopes()
    except ZoomError as exc:
        if exc.permanent:
            _set_connection_status(connection, ConnectionStatus.FAILING, exc.message, _failure_kind(exc))
            connection.last_test_problem = ""
            outcome = f"failed: {exc.message}"
        else:
            connection.last_test_problem = f"Zoom could not be reached to test the connection: {exc.message}"[:300]
            outcome = f"not completed, Zoom unreachable: {exc.message}"
    else:
        missing = missing_scopes(granted)
        connection.zoom_user_name, connection.zoom_user_email = user.display_name, user.email
        connection.zoom_user_type = user.type
        connection.missing_scopes = missing + missing_scopes(granted, recommended=True)
        connection.last_test_problem = ""
        if missing:
            _set_connection_status(connection, ConnectionStatus.FAILING,
                                   "The Zoom app is missing scopes: " + ", ".join(missing), FailureKind.SCOPES)
        else:
            _set_connection_status(connection, ConnectionStatus.CONNECTED)
        outcome = "connected" if not missing else "missing scopes"
    connection.last_tested_at = timezone.now()
    connection.save()
    audit_record(actor=actor, action="zoom.connection_tested", obj=connection,
                 summary=f"Zoom connection of {connection.practitioner} tested: {outcome}"[:255])
    return connection


def connection_for_telehealth(practitioner: Practitioner) -> ZoomConnection:
    """The practitioner's working connection, or the reason telehealth can't be ticked."""
    connection = ZoomConnection.objects.filter(practitioner=practitioner).first()
    if connection is None:
        raise ApplicationError(f"{practitioner} has no Zoom connection yet. A practice admin can add it under "
                               "Options → Zoom.", code="no_zoom")
    if not connection.is_connected:
        reason = connection.status_reason or "it has not been tested"
        raise ApplicationError(f"{practitioner}'s Zoom connection is not working ({reason}). A practice admin "
                               "can fix and test it under Options → Zoom.", code="zoom_failing")
    return connection


def _heal(connection: ZoomConnection) -> None:
    """A Zoom call just worked: a connection failing for a reason that call disproves works again.

    A missing scope or refused credentials are left to a connection test: one successful call does not prove
    every scope, and credentials are re-tested when an admin changes them.
    """
    healed = ZoomConnection.objects.filter(pk=connection.pk, status=ConnectionStatus.FAILING).exclude(
        failure_kind__in=(FailureKind.SCOPES, FailureKind.CREDENTIALS),
    ).update(status=ConnectionStatus.CONNECTED, status_reason="", failure_kind=FailureKind.NONE,
             status_since=timezone.now())
    if healed:
        audit_record(actor=None, action="zoom.connection_healed", obj=connection,
                     summary=f"Zoom connection of {connection.practitioner} works again")


def _configuration_problem(connection: ZoomConnection | None, exc: ZoomError) -> None:
    """Bad credentials, a missing scope or a Zoom user gone: an admin must act; show it on the Zoom page."""
    kind = _failure_kind(exc)
    if connection is not None and kind != FailureKind.OTHER:
        _set_connection_status(connection, ConnectionStatus.FAILING, exc.message, kind)
        connection.save(update_fields=["status", "status_reason", "status_since", "failure_kind", "updated_at"])


def _note_missing_list_scope(connection: ZoomConnection) -> None:
    """The list call was refused for a scope: name it on the Zoom page (Missing scopes)."""
    need = missing_scopes(set(), recommended=True)
    current = list(connection.missing_scopes or [])
    for scope in need:
        if scope not in current:
            current.append(scope)
    ZoomConnection.objects.filter(pk=connection.pk).update(missing_scopes=current)


# Daily limit (Zoom: 100 creates + updates per host user per UTC day) -----------------------------------------

def next_utc_midnight(now: datetime | None = None) -> datetime:
    """When Zoom's day, and the app's daily count of creates and updates, starts again."""
    now = now or timezone.now()
    tomorrow = now.astimezone(UTC).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=UTC)


def practice_time(moment: datetime) -> str:
    """A moment as staff read it: in the practice's time zone, e.g. "11:00 Sun 29 Nov"."""
    local = timezone.localtime(moment, Practice.load().zone)
    return f"{local:%H:%M %a %d %b}"


DAILY_LIMIT = 100  # Zoom's meeting creates + updates per host user per UTC day
DAILY_WARN_AT = 80  # from here Options → Zoom and Needs attention warn that the day's budget is running out


def _daily_limit_message(host: str, until: datetime) -> str:
    return (f"Zoom's daily limit for {host} is used up; the meeting will be created after {practice_time(until)} "
            f"(practice time; Zoom's day starts at 00:00 UTC).")


def _utc_today() -> date:
    return timezone.now().astimezone(UTC).date()


def daily_budget_take(host_user: str) -> bool:
    """Count one meeting create or update for this Zoom user today (UTC), unless today's 100 are used up.

    Called just before the request goes to Zoom. The day's row is made once (get_or_create copes with two
    workers making it together); the count then goes up in one conditional UPDATE (``count < 100``), so
    concurrent workers neither under-count nor pass the limit between a read and a write.
    """
    row, _created = ZoomDailyUsage.objects.get_or_create(host_user=host_user.strip().lower(), day=_utc_today())
    return bool(ZoomDailyUsage.objects.filter(pk=row.pk, count__lt=DAILY_LIMIT).update(count=F("count") + 1))


def _daily_budget_used_up(host_user: str) -> None:
    """Zoom itself refused for the daily limit (e.g. calls made outside the app): today's count says so too."""
    row, _created = ZoomDailyUsage.objects.get_or_create(host_user=host_user.strip().lower(), day=_utc_today())
    ZoomDailyUsage.objects.filter(pk=row.pk, count__lt=DAILY_LIMIT).update(count=DAILY_LIMIT)


def _hold_host(meeting: ZoomMeeting, *, retry_after: float | None = None, refused_by_zoom: bool) -> datetime:
    """No create for this Zoom user before the reset: on its connections, and on its other pending meetings."""
    now = timezone.now()
    until = next_utc_midnight(now)
    if retry_after is not None:
        until = max(until, now + timedelta(seconds=retry_after))
    ZoomConnection.objects.filter(zoom_user__iexact=meeting.host_user).update(daily_limit_until=until)
    ZoomMeeting.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=until),
        host_user__iexact=meeting.host_user, state=MeetingState.PENDING_CREATE, starts_at__gt=until,
    ).exclude(pk=meeting.pk).update(next_attempt_at=until + _jitter(),
                                    last_error=_daily_limit_message(meeting.host_user, until)[:300])
    who = "Zoom refused" if refused_by_zoom else f"the app counted {DAILY_LIMIT} creates and updates"
    audit_record(actor=None, action="zoom.daily_limit_reached", obj=meeting,
                 summary=f"Zoom daily limit for {meeting.host_user} ({who}): no creates until "
                         f"{until:%Y-%m-%d %H:%M} UTC")
    return until


def _jitter() -> timedelta:
    # Spread the creates held until 00:00 UTC so they don't all hit Zoom's per-second limit together.
    return timedelta(seconds=random.uniform(5, 120))  # noqa: S311 - jitter, not security


# Meetings (R4–R6, R9, R10, R17) -----------------------------------------------------------------------------

def _queue_sync(meeting_pk: int) -> None:
    """Hand the Zoom work to a worker. A broker outage must not break the booking: the sweep finds the row."""
    from telehealth.tasks import meeting_sync_task  # tasks imports this module

    try:
        meeting_sync_task.delay(meeting_pk)
    except Exception:  # noqa: BLE001 - kombu/redis raise many types; the row stays due either way
        logger.warning("Could not queue Zoom work for meeting %s; the reconcile sweep will do it", meeting_pk,
                       exc_info=True)


def meeting_check(*, practitioner: Practitioner, starts_at: datetime,
                  replacing: bool = False) -> ZoomConnection | None:
    """Refuse a meeting Zoom can't have (R6: only future times), or return the connection to make it with.

    Reads only, so a move can be previewed with the same rules it is saved with.
    """
    if starts_at <= timezone.now():
        raise ApplicationError("Telehealth meetings can only be made for future times. Choose a later time or "
                               "untick Telehealth.", code="past")
    if replacing:
        return ZoomConnection.objects.filter(practitioner=practitioner).first()
    return connection_for_telehealth(practitioner)


def meeting_plan(*, practitioner: Practitioner, starts_at: datetime, duration: int,
                 replacing: bool = False) -> ZoomMeeting:
    """Record a meeting to create for this time; a worker calls Zoom after the caller's transaction commits.

    Ticking Telehealth needs a working connection. ``replacing`` a meeting (R7) does not: the move is saved
    whatever state the connection is in, and the new meeting shows why Zoom could not make it.

    If an earlier meeting for the same practitioner and time may exist in Zoom (Zoom never confirmed its
    create) and is being let go, the new one takes over its reference: the worker looks for it in Zoom and
    adopts it instead of making a second meeting.
    """
    connection = meeting_check(practitioner=practitioner, starts_at=starts_at, replacing=replacing)
    practice = Practice.load()
    now = timezone.now()
    create_ref, maybe_created = secrets.token_hex(8), False
    unconfirmed = ZoomMeeting.objects.filter(
        Q(maybe_created=True) | Q(create_sent_at__isnull=False),
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        practitioner=practitioner, host_user=connection.zoom_user if connection else "", starts_at=starts_at,
        duration=duration, zoom_id=None, state=MeetingState.PENDING_DELETE,
    ).exclude(create_ref="").first()
    if unconfirmed is not None and ZoomMeeting.objects.filter(
            pk=unconfirmed.pk, state=MeetingState.PENDING_DELETE, zoom_id=None).update(
            state=MeetingState.DELETED, next_attempt_at=None, last_error="Handed over to the new meeting."):
        create_ref, maybe_created = unconfirmed.create_ref, True
    meeting = ZoomMeeting.objects.create(
        practitioner=practitioner, host_user=connection.zoom_user if connection else "",
        # The topic goes to Zoom: no client name or clinical details in it.
        topic=f"Telehealth appointment - {practice.name}"[:200],
        starts_at=starts_at, duration=duration, timezone=practice.time_zone, passcode=generate_passcode(),
        create_ref=create_ref, maybe_created=maybe_created, pending_since=now,
    )
    transaction.on_commit(lambda: _queue_sync(meeting.pk), robust=True)
    return meeting


def _appointment_pk_of(meeting: ZoomMeeting) -> int | None:
    # Read through the reverse relation scheduling declares (by name, without importing scheduling).
    try:
        return ZoomMeeting.objects.filter(pk=meeting.pk).values_list("appointment__pk", flat=True).first()
    except FieldError:
        return None


def meeting_discard(*, meeting: ZoomMeeting) -> None:
    """The meeting is no longer wanted: delete it from Zoom after commit, and keep trying until it's gone.

    Called while the appointment still points at the meeting, so the row remembers its appointment even after
    the appointment lets go of it (R7, R8, R9) and the panel can say it is still to be deleted.
    """
    if meeting.state in (MeetingState.DELETED, MeetingState.PENDING_DELETE):
        if meeting.deleted_in_zoom_at is not None and meeting.attention_resolved_at is None:
            # Deleted in Zoom and now let go of (re-created, cancelled, moved): nothing left for a person to do.
            ZoomMeeting.objects.filter(pk=meeting.pk).update(attention_resolved_at=timezone.now())
        return
    now = timezone.now()
    appointment_pk = meeting.appointment_pk or _appointment_pk_of(meeting)
    in_flight = bool(meeting.claimed_until and meeting.claimed_until > now)
    unconfirmed = meeting.maybe_created or meeting.create_sent_at is not None
    never_created = meeting.zoom_id is None and not in_flight and not unconfirmed
    if (meeting.state == MeetingState.FAILED and not unconfirmed) or (
            meeting.state == MeetingState.PENDING_CREATE and never_created):
        # Conditional on the row still being as read: a worker may have claimed it since, and then what it
        # creates must be deleted (the path below), not forgotten.
        gone = ZoomMeeting.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lte=now),
            pk=meeting.pk, state=meeting.state, zoom_id=None, maybe_created=False, create_sent_at=None,
        ).update(state=MeetingState.DELETED, next_attempt_at=None, appointment_pk=appointment_pk)
        if gone:
            return
    # A create in flight sees this state when it records its result, and deletes what it made; an unconfirmed
    # create is looked for in Zoom (by its reference) and deleted if found.
    ZoomMeeting.objects.filter(pk=meeting.pk).update(
        state=MeetingState.PENDING_DELETE, next_attempt_at=now, appointment_pk=appointment_pk, pending_since=now,
        last_error="", needs_person=False, attention_resolved_at=None, attention_resolved_by=None)
    transaction.on_commit(lambda: _queue_sync(meeting.pk), robust=True)


def _claim(meeting_pk: int) -> ZoomMeeting | None:
    """Take the row for one worker: a conditional UPDATE, so a retry and a sweep never both call Zoom."""
    now = timezone.now()
    claimed = ZoomMeeting.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=meeting_pk, state__in=(MeetingState.PENDING_CREATE, MeetingState.PENDING_DELETE),
    ).update(claimed_until=now + CLAIM_FOR)
    return ZoomMeeting.objects.select_related("practitioner").get(pk=meeting_pk) if claimed else None


def _backoff(meeting: ZoomMeeting) -> datetime:
    delay = RETRY_DELAYS[min(meeting.attempts, len(RETRY_DELAYS) - 1)] * random.uniform(0.8, 1.2)  # noqa: S311
    return timezone.now() + timedelta(seconds=delay)


def _retry_at(meeting: ZoomMeeting, exc: ZoomError) -> datetime:
    """When to try again: Zoom's Retry-After when it gave one (a little later, never earlier), else backoff."""
    if isinstance(exc, ZoomRateLimited) and exc.retry_after is not None:
        return timezone.now() + timedelta(seconds=exc.retry_after * random.uniform(1.0, 1.1) + 1)  # noqa: S311
    return _backoff(meeting)


def _retry_later(meeting: ZoomMeeting, reason: str, *, at: datetime | None = None,
                 needs_person: bool = False) -> None:
    ZoomMeeting.objects.filter(pk=meeting.pk).update(
        attempts=meeting.attempts + 1, last_error=reason[:300], claimed_until=None,
        next_attempt_at=at or _backoff(meeting), needs_person=needs_person,
    )


def meeting_sync(*, meeting_pk: int) -> None:
    """Do what the row asks of Zoom (create or delete), once, and record the outcome."""
    meeting = _claim(meeting_pk)
    if meeting is None:
        return
    try:
        _sync_claimed(meeting)
    except Exception:
        # Whatever broke, the row must not stay claimed and silent: it is retried and says so.
        logger.exception("Zoom work for meeting %s stopped unexpectedly", meeting_pk)
        _retry_later(meeting, "An unexpected error stopped the Zoom request; it will be retried automatically.")


def _sync_claimed(meeting: ZoomMeeting) -> None:
    if meeting.appointment_pk is None and (appointment_pk := _appointment_pk_of(meeting)):
        ZoomMeeting.objects.filter(pk=meeting.pk).update(appointment_pk=appointment_pk)
        meeting.appointment_pk = appointment_pk
    connection = ZoomConnection.objects.filter(practitioner=meeting.practitioner).first()
    if connection is None:
        problem = ZoomError("The practitioner has no Zoom connection.", permanent=True)
        if meeting.state == MeetingState.PENDING_CREATE:
            _create_failed(meeting, problem, None)
        else:  # until an admin reconnects: the meeting must still go
            _retry_later(meeting, problem.message, at=timezone.now() + timedelta(hours=1), needs_person=True)
        return
    if meeting.state == MeetingState.PENDING_CREATE:
        _create(meeting, connection)
    else:
        _delete(meeting, connection)


NO_LIST_SCOPE = ("Zoom did not confirm an earlier request to create this meeting, and the Zoom app lacks the scope to "
                 "list the practitioner's meetings (meeting:read:admin or meeting:read:list_meetings:admin), so the "
                 "app cannot check whether it exists. Look in the practitioner's Zoom account for a meeting at this "
                 "time and delete any you find, then press Try again.")


def _create(meeting: ZoomMeeting, connection: ZoomConnection) -> None:
    now = timezone.now()
    hold = connection.daily_limit_until
    if hold is not None and hold > now:
        _daily_limit_hold(meeting, hold)
        return
    try:
        client = zoom_client(connection)
    except ZoomError as exc:
        _create_failed(meeting, exc, connection)
        return
    if meeting.maybe_created or meeting.create_sent_at is not None:
        # An earlier create may have reached Zoom (no answer, or the worker died mid-request): find it first.
        try:
            found = client.find_meeting_by_agenda(meeting.host_user, meeting.agenda)
        except ZoomScopeError:
            _note_missing_list_scope(connection)
            # A person checks instead; their "Try again" then creates without looking (the reference is dropped).
            ZoomMeeting.objects.filter(pk=meeting.pk).update(maybe_created=False, create_sent_at=None)
            _create_failed(meeting, ZoomError(NO_LIST_SCOPE, permanent=True), None)
            return
        except ZoomError as exc:
            _create_failed(meeting, exc, connection)
            return
        if found is not None:
            _record_created(meeting, client, connection, zoom_id=found.id, join_url=found.join_url,
                            password=meeting.passcode, adopted=True)
            return
        ZoomMeeting.objects.filter(pk=meeting.pk).update(maybe_created=False, create_sent_at=None)
    if not daily_budget_take(meeting.host_user):
        # The 101st of the UTC day: held here, before Zoom refuses it, and made after 00:00 UTC.
        _daily_limit_hold(meeting, _hold_host(meeting, refused_by_zoom=False))
        return
    request = MeetingRequest(topic=meeting.topic, start_time=meeting.starts_at, duration=meeting.duration,
                             timezone=meeting.timezone, password=meeting.passcode, agenda=meeting.agenda)

    def sending() -> None:
        # Only now may the meeting exist in Zoom: a token or cache failure before this sent nothing.
        ZoomMeeting.objects.filter(pk=meeting.pk).update(create_sent_at=timezone.now())

    try:
        created = client.create_meeting(meeting.host_user, request, on_send=sending)
    except ZoomError as exc:
        if exc.maybe_applied:
            ZoomMeeting.objects.filter(pk=meeting.pk).update(maybe_created=True, create_sent_at=None)
            reason = (f"Zoom did not confirm the meeting ({exc.message}) It may exist in Zoom, so before trying "
                      "again the app looks for it among the practitioner's Zoom meetings and uses it if it is there.")
            _retry_later(meeting, reason, at=timezone.now() + VERIFY_AFTER)
            audit_record(actor=None, action="zoom.meeting_create_unconfirmed", obj=meeting, summary=reason)
            return
        ZoomMeeting.objects.filter(pk=meeting.pk).update(create_sent_at=None)
        _create_failed(meeting, exc, connection)
        return
    _record_created(meeting, client, connection, zoom_id=created.id, join_url=created.join_url,
                    password=created.password or meeting.passcode, fallback=created.settings)


def _daily_limit_hold(meeting: ZoomMeeting, until: datetime) -> None:
    if until >= meeting.starts_at:
        _create_failed(meeting, ZoomError(
            f"Zoom's daily limit of 100 meeting creates and updates for this Zoom user is used up until "
            f"{practice_time(until)} (00:00 UTC), after this appointment starts, so no meeting can be made in "
            "time. Use another Zoom user or a phone call.", permanent=True), None)
        return
    _retry_later(meeting, _daily_limit_message(meeting.host_user, until), at=until + _jitter())


def _create_failed(meeting: ZoomMeeting, exc: ZoomError, connection: ZoomConnection | None) -> None:
    if isinstance(exc, ZoomRateLimited) and exc.daily_limit:
        _daily_budget_used_up(meeting.host_user)
        _daily_limit_hold(meeting, _hold_host(meeting, retry_after=exc.retry_after, refused_by_zoom=True))
        audit_record(actor=None, action="zoom.meeting_create_retrying", obj=meeting, summary=exc.message)
        return
    if not exc.permanent:
        _retry_later(meeting, exc.message, at=_retry_at(meeting, exc))
        audit_record(actor=None, action="zoom.meeting_create_retrying", obj=meeting, summary=exc.message)
        return
    _configuration_problem(connection, exc)
    ZoomMeeting.objects.filter(pk=meeting.pk, state=MeetingState.PENDING_CREATE).update(
        state=MeetingState.FAILED, last_error=exc.message[:300], claimed_until=None, next_attempt_at=None)
    ZoomMeeting.objects.filter(pk=meeting.pk, state=MeetingState.PENDING_DELETE, zoom_id=None).update(
        state=MeetingState.DELETED, claimed_until=None, next_attempt_at=None)
    audit_record(actor=None, action="zoom.meeting_create_failed", obj=meeting, summary=exc.message)


def _record_created(meeting: ZoomMeeting, client: ZoomClient, connection: ZoomConnection, *, zoom_id: int,
                    join_url: str, password: str, fallback: MeetingSettings | None = None,
                    adopted: bool = False) -> None:
    # R4: read the meeting back and compare Zoom's effective settings with the defaults.
    applied = fallback or MeetingSettings.from_api({})
    try:
        read_back = client.get_meeting(zoom_id)
        applied, join_url, password = read_back.settings, read_back.join_url or join_url, read_back.password or password
    except ZoomError:
        pass
    ZoomMeeting.objects.filter(pk=meeting.pk).update(zoom_id=zoom_id, create_sent_at=None, maybe_created=False)
    recorded = ZoomMeeting.objects.filter(pk=meeting.pk, state=MeetingState.PENDING_CREATE).update(
        state=MeetingState.ACTIVE, join_url=join_url, passcode=password, settings_applied=applied.as_dict(),
        settings_warnings=settings_differences(applied), last_error="", claimed_until=None, next_attempt_at=None,
        needs_person=False,
    )
    ZoomConnection.objects.filter(pk=connection.pk).update(daily_limit_until=None)  # Zoom took a create
    _heal(connection)
    verb = "found in Zoom and used (an earlier create was not confirmed)" if adopted else "created"
    audit_record(actor=None, action="zoom.meeting_adopted" if adopted else "zoom.meeting_created", obj=meeting,
                 summary=f"Zoom meeting {zoom_id} {verb}", changes={"zoom_id": zoom_id})
    if not recorded:
        # Deleted while Zoom was creating it: delete what was made.
        ZoomMeeting.objects.filter(pk=meeting.pk).update(claimed_until=None)
        meeting.refresh_from_db()
        _delete(meeting, connection)


# Zoom error codes that mean this delete cannot succeed as things are (ZOOM.md): a person must look.
PERMANENT_DELETE_CODES = frozenset({3000, 3003, 3007})


def _delete(meeting: ZoomMeeting, connection: ZoomConnection) -> None:
    try:
        client = zoom_client(connection)
    except ZoomError as exc:
        _delete_problem(meeting, exc, connection)
        return
    zoom_id = meeting.zoom_id
    if zoom_id is None and meeting.create_ref and (meeting.maybe_created or meeting.create_sent_at is not None):
        # Zoom never confirmed the create: if the meeting exists, find it by its reference and delete it.
        try:
            found = client.find_meeting_by_agenda(meeting.host_user, meeting.agenda)
        except ZoomScopeError:
            _note_missing_list_scope(connection)
            reason = NO_LIST_SCOPE.replace("then press Try again.", "then mark this resolved.")
            ZoomMeeting.objects.filter(pk=meeting.pk).update(
                attempts=meeting.attempts + 1, last_error=reason[:300], claimed_until=None, next_attempt_at=None,
                needs_person=True)
            audit_record(actor=None, action="zoom.meeting_delete_retrying", obj=meeting, summary=reason)
            return
        except ZoomError as exc:
            _delete_problem(meeting, exc, connection)
            return
        zoom_id = found.id if found is not None else None
        ZoomMeeting.objects.filter(pk=meeting.pk).update(zoom_id=zoom_id, maybe_created=False, create_sent_at=None)
    if zoom_id is None:
        ZoomMeeting.objects.filter(pk=meeting.pk).update(state=MeetingState.DELETED, claimed_until=None,
                                                         next_attempt_at=None, last_error="", needs_person=False)
        return
    try:
        client.delete_meeting(zoom_id)  # Zoom's "not found" counts as deleted
    except ZoomError as exc:
        _delete_problem(meeting, exc, connection)
        return
    ZoomMeeting.objects.filter(pk=meeting.pk).update(state=MeetingState.DELETED, last_error="", claimed_until=None,
                                                     next_attempt_at=None, needs_person=False)
    _heal(connection)
    audit_record(actor=None, action="zoom.meeting_deleted", obj=meeting, summary=f"Zoom meeting {zoom_id} deleted")


def _delete_problem(meeting: ZoomMeeting, exc: ZoomError, connection: ZoomConnection) -> None:
    """A delete did not happen: say why on the row, and retry only what can succeed later (RELIABILITY.md 26)."""
    now = timezone.now()
    if exc.code == MEETING_IN_PROGRESS_CODE:
        # The meeting is running; Zoom deletes it once it has ended. Retried, and shown as not yet deleted.
        reason = (f"Zoom will not delete a meeting while it is in progress ({exc.message}). It will be deleted "
                  "after it ends.")
        _retry_later(meeting, reason, at=now + IN_PROGRESS_RETRY)
    elif not exc.permanent:
        _retry_later(meeting, exc.message, at=_retry_at(meeting, exc))
    elif _failure_kind(exc) != FailureKind.OTHER:
        # Credentials, scope or user: fixable by an admin under Options → Zoom, after which this succeeds.
        _configuration_problem(connection, exc)
        _retry_later(meeting, f"{exc.message} An admin must fix the Zoom connection; retrying every hour.",
                     at=now + timedelta(hours=1), needs_person=True)
    else:
        # 3000/3003/3007 and other refusals: retrying cannot help. Kept pending (it may still be in Zoom) and
        # listed under Needs attention until a person retries or marks it resolved.
        reason = f"Zoom refused to delete the meeting: {exc.message} Check it in the practitioner's Zoom account."
        ZoomMeeting.objects.filter(pk=meeting.pk).update(
            attempts=meeting.attempts + 1, last_error=reason[:300], claimed_until=None, next_attempt_at=None,
            needs_person=True)
    audit_record(actor=None, action="zoom.meeting_delete_retrying", obj=meeting, summary=exc.message)


def meetings_reconcile() -> int:
    """The beat sweep: every pending create or delete whose next attempt is due. Returns how many ran.

    Rows stopped for a person (``needs_person`` without a next attempt) wait for "Retry now".
    """
    due = ZoomMeeting.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()),
        state__in=(MeetingState.PENDING_CREATE, MeetingState.PENDING_DELETE),
    ).exclude(needs_person=True, next_attempt_at__isnull=True).values_list("pk", flat=True)
    count = 0
    for pk in list(due[:200]):
        meeting_sync(meeting_pk=pk)
        count += 1
    return count


def meeting_start_url(*, actor: User, meeting: ZoomMeeting) -> str:
    """A fresh host link from Zoom (it expires after 2 hours): never stored, never logged (R17).

    Runs in the web request, so Zoom gets ~2 s in all; a slow Zoom is a clear "try again" message.
    """
    if meeting.state != MeetingState.ACTIVE or meeting.zoom_id is None:
        raise ApplicationError("This Zoom meeting is not ready yet.", code="not_ready")
    connection = ZoomConnection.objects.filter(practitioner=meeting.practitioner).first()
    if connection is None:
        raise ApplicationError("The practitioner has no Zoom connection.", code="no_zoom")
    try:
        start_url = zoom_client(connection, budget=WEB_BUDGET_SECONDS).get_meeting(meeting.zoom_id).start_url
    except ZoomError as exc:
        audit_record(actor=actor, action="zoom.host_link_failed", obj=meeting, summary=exc.message)
        if isinstance(exc, ZoomTransientError) or not exc.permanent:
            raise ApplicationError(f"Zoom did not give a start link in time: {exc.message} Try Start meeting again "
                                   "in a moment.", code="zoom_unavailable") from exc
        raise ApplicationError(f"Zoom did not give a start link: {exc.message}", code="zoom") from exc
    _heal(connection)
    audit_record(actor=actor, action="zoom.host_link_opened", obj=meeting,
                 summary=f"Host link of Zoom meeting {meeting.zoom_id} opened")
    return start_url


# Needs attention ----------------------------------------------------------------------------------------------

@transaction.atomic
def meeting_retry_now(*, actor: User, meeting: ZoomMeeting) -> ZoomMeeting:
    """A pending create or delete: make its next attempt now and queue it for a worker (audited).

    Raises ApplicationError for a meeting that is not pending (a failed create is retried with the
    appointment's "Try again", scheduling's ``appointment_telehealth_add``), and for a create held by Zoom's
    daily limit (nothing can help before the reset). The row comes back to the list if the attempt fails.
    """
    meeting = ZoomMeeting.objects.select_for_update().get(pk=meeting.pk)
    if not meeting.is_pending:
        raise ApplicationError("Only a Zoom meeting still being created or deleted can be retried now. For a "
                               "failed meeting use Try again on the appointment.", code="not_pending")
    if meeting.state == MeetingState.PENDING_CREATE:
        connection = ZoomConnection.objects.filter(practitioner=meeting.practitioner).first()
        hold = connection.daily_limit_until if connection else None
        if hold is not None and hold > timezone.now():
            raise ApplicationError(_daily_limit_message(meeting.host_user, hold), code="daily_limit")
    ZoomMeeting.objects.filter(pk=meeting.pk).update(next_attempt_at=timezone.now(), attention_resolved_at=None,
                                                     attention_resolved_by=None)
    audit_record(actor=actor, action="zoom.meeting_retry_now", obj=meeting,
                 summary=f"Zoom {'delete' if meeting.state == MeetingState.PENDING_DELETE else 'create'} "
                         "retried now by a person")
    transaction.on_commit(lambda: _queue_sync(meeting.pk), robust=True)
    meeting.refresh_from_db()
    return meeting


@transaction.atomic
def meeting_mark_resolved(*, actor: User, meeting: ZoomMeeting) -> ZoomMeeting:
    """A person checked the meeting in Zoom: it leaves the Needs attention list (audited).

    A delete still pending is taken as done in Zoom by that person and stops being retried (DELETED); a failed
    or pending create keeps its state (the appointment panel still shows it) but is no longer listed.
    """
    meeting = ZoomMeeting.objects.select_for_update().get(pk=meeting.pk)
    if meeting.attention_resolved_at is not None:
        return meeting
    now = timezone.now()
    changes: dict = {"attention_resolved_at": now, "attention_resolved_by": actor}
    if meeting.state == MeetingState.PENDING_DELETE:
        changes |= {"state": MeetingState.DELETED, "next_attempt_at": None, "needs_person": False,
                    "last_error": f"Marked as deleted in Zoom by {actor.get_full_name() or actor.username}."[:300]}
    ZoomMeeting.objects.filter(pk=meeting.pk).update(**changes)
    audit_record(actor=actor, action="zoom.meeting_resolved", obj=meeting,
                 summary=f"Zoom meeting problem marked resolved ({meeting.get_state_display().lower()}: "
                         f"{meeting.last_error})"[:255])
    meeting.refresh_from_db()
    return meeting


# Orphan sweep (issue 12) --------------------------------------------------------------------------------------
#
# Every meeting the app makes carries "ref:<create_ref>" in its agenda (ZoomMeeting.agenda; 16 random hex digits,
# no client data). Nightly, each host's upcoming meetings are listed and those carrying a reference this database
# made, with no live meeting row, are deleted: what a lost delete or a person's "Mark resolved" left behind.

AGENDA_REF = re.compile(r"\bref:([0-9a-f]{16})\b")
LIVE_STATES = (MeetingState.PENDING_CREATE, MeetingState.ACTIVE, MeetingState.PENDING_DELETE)
NO_LIST_SCOPE_SWEEP = ("Nightly orphan sweep skipped: the Zoom app lacks the scope to list this user's meetings "
                       "(meeting:read:admin or meeting:read:list_meetings:admin).")


def _still_ours(zoom_id: int, create_ref: str) -> bool:
    """A live row has this meeting, or its reference (a create being made or adopted): not an orphan."""
    return ZoomMeeting.objects.filter(Q(zoom_id=zoom_id) | Q(create_ref=create_ref), state__in=LIVE_STATES).exists()


def orphan_sweep() -> OrphanSweep:
    """Delete the orphans in every host's Zoom account; one OrphanSweep row and one audit event say what happened.

    Never touches a meeting without the app's reference, nor one whose reference this database never made (e.g.
    a staging copy sharing the Zoom account). A meeting whose row is still live (being created, possibly
    unconfirmed and about to be adopted; active; or being deleted by its own retries) is left alone. Hosts whose
    app lacks the list scope, or whose connection is failing, are skipped, and Options → Zoom says so. Runs on a
    worker, never in a web request.
    """
    deleted: list[dict] = []
    problems: list[dict] = []
    skipped: list[str] = []
    swept: set[tuple[str, str]] = set()
    for connection in ZoomConnection.objects.select_related("practitioner").order_by("pk"):
        host = connection.zoom_user
        if connection.status == ConnectionStatus.FAILING:
            # Already listed under Needs attention as failing; the sweep runs again once it is fixed.
            _sweep_note(connection, "Nightly orphan sweep skipped: the connection is failing.")
            continue
        try:
            credentials = connection_credentials(connection)
        except ZoomError as exc:
            problems.append({"host": host, "zoom_id": None, "problem": exc.message})
            _sweep_note(connection, f"Nightly orphan sweep could not run: {exc.message}")
            continue
        if (credentials.cache_key(), host.lower()) in swept:
            continue  # two connections naming the same Zoom user of the same app: one list is enough
        swept.add((credentials.cache_key(), host.lower()))
        client = ZoomClient(credentials)
        try:
            if missing_scopes(client.granted_scopes(), recommended=True):
                raise ZoomScopeError("no list scope")
            listed = client.list_upcoming_meetings(host)
        except ZoomScopeError:
            skipped.append(host)
            _note_missing_list_scope(connection)
            _sweep_note(connection, NO_LIST_SCOPE_SWEEP)
            continue
        except ZoomError as exc:
            problems.append({"host": host, "zoom_id": None, "problem": f"Could not list the meetings: {exc.message}"})
            _sweep_note(connection, f"Nightly orphan sweep could not list the meetings: {exc.message}")
            continue
        refs = {m.id: found.group(1) for m in listed if (found := AGENDA_REF.search(m.agenda))}
        ours = set(ZoomMeeting.objects.filter(create_ref__in=set(refs.values())).values_list("create_ref", flat=True))
        here = 0
        for listed_meeting in listed:
            ref = refs.get(listed_meeting.id)
            if ref is None or ref not in ours or _still_ours(listed_meeting.id, ref):
                continue
            try:
                client.delete_meeting(listed_meeting.id)
            except ZoomError as exc:
                problems.append({"host": host, "zoom_id": listed_meeting.id,
                                 "problem": f"Could not delete meeting {listed_meeting.id}: {exc.message}"})
                continue
            here += 1
            start = listed_meeting.start_time.isoformat() if listed_meeting.start_time else ""
            deleted.append({"host": host, "zoom_id": listed_meeting.id, "start_time": start})
            for row in ZoomMeeting.objects.filter(create_ref=ref):
                audit_record(actor=None, action="zoom.orphan_deleted", obj=row,
                             summary=f"Zoom meeting {listed_meeting.id} deleted by the nightly orphan sweep: the app "
                                     "no longer had it")
        _sweep_note(connection, f"Nightly orphan sweep: {here} meeting{'s' if here != 1 else ''} deleted "
                                f"({len(listed)} upcoming checked).", skipped=False)
    sweep = OrphanSweep.objects.create(deleted=deleted, problems=problems, skipped_hosts=skipped)
    audit_record(actor=None, action="zoom.orphan_sweep", obj=sweep,
                 summary=f"Zoom orphan sweep: {len(deleted)} deleted, {len(problems)} problems, {len(skipped)} "
                         "hosts skipped (no list scope)",
                 changes={"deleted": [entry["zoom_id"] for entry in deleted], "skipped_hosts": skipped,
                          "problems": [problem["problem"] for problem in problems]})
    return sweep


def _sweep_note(connection: ZoomConnection, note: str, *, skipped: bool = True) -> None:
    ZoomConnection.objects.filter(pk=connection.pk).update(orphan_sweep_at=timezone.now(),
                                                           orphan_sweep_note=note[:300], orphan_sweep_skipped=skipped)


@transaction.atomic
def orphan_sweep_dismiss(*, actor: User, sweep: OrphanSweep) -> OrphanSweep:
    """A person read the sweep's report: it leaves Needs attention (audited)."""
    sweep = OrphanSweep.objects.select_for_update().get(pk=sweep.pk)
    if sweep.dismissed_at is None:
        OrphanSweep.objects.filter(pk=sweep.pk).update(dismissed_at=timezone.now(), dismissed_by=actor)
        audit_record(actor=actor, action="zoom.orphan_sweep_dismissed", obj=sweep,
                     summary="Zoom orphan sweep report dismissed")
        sweep.refresh_from_db()
    return sweep


# Webhooks (issue 12) ------------------------------------------------------------------------------------------
#
# The web request verifies, records the event (deduplicated) and answers at once; a worker applies it after
# commit. Applying is idempotent and ordered by Zoom's event time per thing it changes: the same event twice, or
# an older event arriving late, changes nothing.

PRACTICE_APP_SOURCE = "practice"
# Events still unapplied this long after they came (a broker outage lost the task): the beat sweep applies them.
WEBHOOK_SWEEP_AFTER = timedelta(minutes=1)
# Applied events are kept this long to recognise Zoom's redeliveries (its last retry comes ~85 minutes later).
WEBHOOK_KEEP = timedelta(days=7)


@transaction.atomic
def webhook_secret_set(*, actor: User, secret: str, connection: ZoomConnection | None = None) -> bool:
    """Store the webhook secret token of the practice's app (no ``connection``) or of a connection's own app.

    Encrypted like the client secret and never shown back; an empty or unchanged secret changes nothing.
    Returns whether it changed (audited as "changed", never the value).
    """
    if not secret:
        return False
    problem = webhooks.secret_token_problem(secret)
    if problem:
        raise ApplicationError(problem, code="bad_webhook_secret")
    if connection is None:
        owner: PracticeZoomApp | ZoomConnection | None = PracticeZoomApp.objects.select_for_update().filter(
            pk=PracticeZoomApp.SINGLETON_PK).first()
        if owner is None:
            raise ApplicationError("Enter the practice's Zoom app first.", code="no_practice_app")
        whose = "The practice's Zoom app"
    else:
        owner = ZoomConnection.objects.select_for_update().get(pk=connection.pk)
        if owner.uses_practice_app:
            raise ApplicationError("This connection uses the practice's Zoom app: its secret token is entered "
                                   "with the practice's app.", code="uses_practice_app")
        whose = f"The Zoom app of {owner.practitioner}"
    if not _secret_changes(owner.webhook_secret_encrypted, secret):
        return False
    owner.webhook_secret_encrypted = crypto.encrypt(secret)
    owner.save(update_fields=["webhook_secret_encrypted", "updated_at"])
    if connection is not None:  # the caller's copy may be saved whole later (connection_test): keep it current
        connection.webhook_secret_encrypted = owner.webhook_secret_encrypted
    audit_record(actor=actor, action="zoom.webhook_secret_changed", obj=owner,
                 summary=f"{whose}: webhook secret token saved", changes={"webhook_secret": SECRET_CHANGED})
    return True


def webhook_secrets() -> dict[str, str]:
    """Every configured secret token by source ("practice", "connection:<pk>"); a webhook needs one to verify."""
    found: dict[str, str] = {}
    owners: list[tuple[str, str]] = []
    app = PracticeZoomApp.load()
    if app is not None and app.webhook_secret_encrypted:
        owners.append((PRACTICE_APP_SOURCE, app.webhook_secret_encrypted))
    owners += [(f"connection:{pk}", encrypted) for pk, encrypted in ZoomConnection.objects.filter(
        uses_practice_app=False).exclude(webhook_secret_encrypted="").values_list("pk", "webhook_secret_encrypted")]
    for source, encrypted in owners:
        try:
            found[source] = crypto.decrypt(encrypted)
        except ImproperlyConfigured:
            logger.warning("The webhook secret token of %s cannot be decrypted; enter it again", source)
    return found


def _source_connections(sources: list[str]) -> Q:
    """The connections whose meetings a webhook verified by these secrets may change."""
    allowed = Q(pk__in=[])
    for source in sources:
        if source == PRACTICE_APP_SOURCE:
            allowed |= Q(uses_practice_app=True)
        elif source.startswith("connection:") and source[11:].isdigit():
            allowed |= Q(pk=int(source[11:]), uses_practice_app=False)
    return allowed


def webhook_receive(*, body: bytes, timestamp: str | None, signature: str | None) -> dict[str, str] | None:
    """Verify one delivery, answer a URL validation, or record the event for a worker (returns None).

    Raises ``webhooks.WebhookRejected`` (with the HTTP status) for anything not signed by a configured app or not
    readable. Events the app does not act on, and events of meetings it never made, are acknowledged unrecorded.
    """
    secrets_by_source = webhook_secrets()
    sources = webhooks.verified_by(secrets_by_source, timestamp=timestamp, given=signature, body=body,
                                   now=time_module.time())
    envelope = webhooks.parse(body)
    if envelope.event == webhooks.URL_VALIDATION:
        return webhooks.url_validation_answer(secrets_by_source[sources[0]], envelope.plain_token)
    if envelope.event not in webhooks.HANDLED_EVENTS or envelope.zoom_id is None:
        return None
    if not ZoomMeeting.objects.filter(zoom_id=envelope.zoom_id).exists():
        return None  # e.g. a staff meeting in the same Zoom account
    _webhook_record(envelope, sources)
    return None


def _webhook_record(envelope, sources: list[str]) -> None:
    with transaction.atomic():
        event, created = WebhookEvent.objects.get_or_create(
            dedupe_key=envelope.dedupe_key(),
            defaults={"event": envelope.event, "event_ts": envelope.event_ts, "zoom_id": envelope.zoom_id,
                      "verified_by": sources, "facts": envelope.facts})
        if created:
            transaction.on_commit(lambda: _queue_webhook_apply(event.pk), robust=True)


def _queue_webhook_apply(event_pk: int) -> None:
    from telehealth.tasks import webhook_apply_task  # tasks imports this module

    try:
        webhook_apply_task.delay(event_pk)
    except Exception:  # noqa: BLE001 - a broker outage must not fail Zoom's delivery: the sweep applies it
        logger.warning("Could not queue Zoom webhook event %s; the sweep will apply it", event_pk, exc_info=True)


def webhook_events_sweep() -> int:
    """Apply events recorded but not applied a while after they came (their task was lost), and forget applied
    events older than WEBHOOK_KEEP. Returns how many were applied."""
    due = WebhookEvent.objects.filter(applied_at__isnull=True,
                                      received_at__lt=timezone.now() - WEBHOOK_SWEEP_AFTER).order_by("event_ts")
    pks = list(due.values_list("pk", flat=True)[:500])
    for pk in pks:
        webhook_event_apply(event_pk=pk)
    WebhookEvent.objects.filter(applied_at__isnull=False, received_at__lt=timezone.now() - WEBHOOK_KEEP).delete()
    return len(pks)


def _event_time(event_ts: int) -> datetime:
    return datetime.fromtimestamp(event_ts / 1000, UTC)


def webhook_event_apply(*, event_pk: int) -> str:
    """Apply one recorded event to the meetings it is about, once. Returns what it did (kept on the event)."""
    with transaction.atomic():
        claimed = WebhookEvent.objects.filter(pk=event_pk, applied_at__isnull=True).update(applied_at=timezone.now())
        if not claimed:
            return "already applied"
        event = WebhookEvent.objects.get(pk=event_pk)
        connections = ZoomConnection.objects.filter(_source_connections(event.verified_by))
        meetings = list(ZoomMeeting.objects.select_for_update().filter(
            zoom_id=event.zoom_id, practitioner__zoom_connection__in=connections).order_by("pk"))
        outcomes = [_apply_to_meeting(meeting, event.event, event.event_ts, event.facts) for meeting in meetings]
        outcome = "; ".join(outcomes) or "no meeting of the app has this id: ignored"
        WebhookEvent.objects.filter(pk=event_pk).update(outcome=outcome[:200])
    return outcome


def _apply_to_meeting(meeting: ZoomMeeting, event: str, event_ts: int, facts: dict) -> str:
    if meeting.state != MeetingState.ACTIVE:
        # Our own delete echoing back, or a meeting the app already let go of.
        return f"meeting {meeting.pk} is {meeting.get_state_display().lower()} in the app: ignored"
    if event == webhooks.MEETING_DELETED:
        return _apply_deleted(meeting, event_ts)
    if event == webhooks.MEETING_UPDATED:
        return _apply_updated(meeting, event_ts, facts)
    if event in (webhooks.MEETING_STARTED, webhooks.MEETING_ENDED):
        return _apply_live(meeting, event, event_ts)
    return _apply_waiting(meeting, event, event_ts, facts.get("participant_uuid") or "")


def _apply_deleted(meeting: ZoomMeeting, event_ts: int) -> str:
    when = _event_time(event_ts)
    now = timezone.now()
    over = meeting.starts_at + timedelta(minutes=meeting.duration) <= now
    ZoomMeeting.objects.filter(pk=meeting.pk).update(
        state=MeetingState.DELETED, deleted_in_zoom_at=when, waiting_since=None, next_attempt_at=None,
        last_error=f"Deleted in Zoom, outside the app, at {practice_time(when)}."[:300], needs_person=False,
        # A meeting deleted after it was over is housekeeping in Zoom: nothing for a person to do.
        attention_resolved_at=now if over else None, attention_resolved_by=None, zoom_event_applied_at=now)
    audit_record(actor=None, action="zoom.meeting_deleted_in_zoom", obj=meeting,
                 summary=f"Zoom meeting {meeting.zoom_id} was deleted in Zoom, outside the app")
    return f"meeting {meeting.pk} deleted in Zoom"


SETTING_TEXTS = {
    "host_video": "Host video",
    "participant_video": "Participant video",
    "waiting_room": "Waiting room",
    "join_before_host": "Join before host",
}


def _change_text(meeting: ZoomMeeting, name: str, value) -> str:
    """What differs from the app's meeting after Zoom changed ``name`` to ``value``; "" when it matches again."""
    if name == "start_time":
        try:
            moved = parse_time(value)
        except ValueError:
            return ""
        if moved is None or moved == meeting.starts_at.replace(microsecond=0):
            return ""
        return f"Time changed in Zoom to {practice_time(moved)} (booked {practice_time(meeting.starts_at)})."
    if name == "duration":
        if not isinstance(value, int) or value == meeting.duration:
            return ""
        return f"Length changed in Zoom to {value} minutes (booked {meeting.duration})."
    if name == "password":
        if value == webhooks.passcode_digest(meeting.passcode):
            return ""
        return ("Passcode removed in Zoom." if not value
                else "Passcode changed in Zoom: the passcode the client has no longer works.")
    setting = name.removeprefix("settings.")
    if value == SECURITY_DEFAULTS.get(setting):
        return ""
    if setting in SETTING_TEXTS:
        return f"{SETTING_TEXTS[setting]} turned {'on' if value else 'off'} in Zoom (expected on)."
    if setting == "auto_recording":
        return f"Automatic recording set to '{value}' in Zoom (expected off)."
    return f"Registration required in Zoom (approval type {value}; expected none)."


def _apply_updated(meeting: ZoomMeeting, event_ts: int, facts: dict) -> str:
    changed = dict(facts.get("changed") or {})
    values = {name: value for name, value in changed.items() if name != "settings"}
    values |= {f"settings.{name}": value for name, value in (changed.get("settings") or {}).items()}
    changes = dict(meeting.zoom_changes or {})
    applied = {}
    for name, value in values.items():
        if (changes.get(name) or {}).get("ts", 0) >= event_ts:
            continue  # a newer event already said what this field is
        changes[name] = {"text": _change_text(meeting, name, value), "ts": event_ts}
        applied[name] = changes[name]["text"] or "matches the appointment"
    if not applied:
        return f"meeting {meeting.pk}: nothing newer changed"
    outstanding = any(entry.get("text") for entry in changes.values())
    ZoomMeeting.objects.filter(pk=meeting.pk).update(
        zoom_changes=changes, changed_in_zoom_at=(meeting.changed_in_zoom_at or _event_time(event_ts))
        if outstanding else None, attention_resolved_at=None, attention_resolved_by=None,
        zoom_event_applied_at=timezone.now())
    audit_record(actor=None, action="zoom.meeting_changed_in_zoom", obj=meeting,
                 summary=f"Zoom meeting {meeting.zoom_id} changed in Zoom" + (
                     "" if outstanding else " (it matches the appointment)"), changes=applied)
    return f"meeting {meeting.pk} changed in Zoom: {', '.join(applied)}"


def _apply_live(meeting: ZoomMeeting, event: str, event_ts: int) -> str:
    started = event == webhooks.MEETING_STARTED
    updates: dict = {}
    if (meeting.live_state_ts or 0) < event_ts:
        updates |= {"live_state": LiveState.IN_PROGRESS if started else LiveState.ENDED, "live_state_ts": event_ts}
    if not started:
        # The meeting ended: nobody waits any more, and a late "joined the waiting room" from before is stale.
        room = _waiting_room(meeting)
        if room["cleared_ts"] < event_ts:
            room["cleared_ts"] = event_ts
            for entry in room["participants"].values():
                if entry[1] < event_ts:
                    entry[0], entry[1] = None, event_ts
            updates |= {"waiting_room": room, "waiting_since": _waiting_since(room)}
    if not updates:
        return f"meeting {meeting.pk}: an older {event} ignored"
    ZoomMeeting.objects.filter(pk=meeting.pk).update(**updates, zoom_event_applied_at=timezone.now())
    audit_record(actor=None, action="zoom.meeting_started" if started else "zoom.meeting_ended", obj=meeting,
                 summary=f"Zoom meeting {meeting.zoom_id} {'started' if started else 'ended'} (Zoom)")
    return f"meeting {meeting.pk} {'started' if started else 'ended'}"


def _waiting_room(meeting: ZoomMeeting) -> dict:
    room = meeting.waiting_room or {}
    participants = room.get("participants")
    if not isinstance(participants, dict):
        participants = {}
    return {"cleared_ts": int(room.get("cleared_ts") or 0),
            "participants": {key: list(value) for key, value in participants.items()}}


def _waiting_since(room: dict) -> datetime | None:
    joined = [entry[0] for entry in room["participants"].values() if entry[0]]
    return _event_time(min(joined)) if joined else None


def _apply_waiting(meeting: ZoomMeeting, event: str, event_ts: int, participant: str) -> str:
    room = _waiting_room(meeting)
    entry = room["participants"].get(participant)
    if event_ts <= room["cleared_ts"] or (entry is not None and entry[1] >= event_ts):
        return f"meeting {meeting.pk}: an older {event} ignored"
    joined = event in webhooks.WAITING_JOINED
    already_since = entry[0] if entry is not None else None
    room["participants"][participant] = [(already_since or event_ts) if joined else None, event_ts]
    waiting_since = _waiting_since(room)
    ZoomMeeting.objects.filter(pk=meeting.pk).update(waiting_room=room, waiting_since=waiting_since,
                                                     zoom_event_applied_at=timezone.now())
    what = "joined the waiting room" if joined else "left the waiting room (admitted or gone)"
    audit_record(actor=None, action="zoom.waiting_room", obj=meeting,
                 summary=f"Zoom meeting {meeting.zoom_id}: a participant {what}")
    return f"meeting {meeting.pk}: a participant {what}"


def _restore_held(meeting: ZoomMeeting, *, refused_by_zoom: bool, retry_after: float | None = None
                  ) -> ApplicationError:
    """The host's day is used up: hold it as a create would be held, and say when Restore can work again."""
    until = _hold_host(meeting, retry_after=retry_after, refused_by_zoom=refused_by_zoom)
    return ApplicationError(f"Zoom's daily limit for {meeting.host_user} is used up, so the meeting cannot be "
                            f"restored before {practice_time(until)} (practice time; 00:00 UTC). Press Restore "
                            "again then.", code="daily_limit")


def meeting_restore(*, actor: User, meeting: ZoomMeeting) -> ZoomMeeting:
    """Put the appointment's time, length, passcode and the R4 settings back on a meeting changed in Zoom.

    One PATCH of the whole meeting (Zoom answers 204), then a read-back of the settings Zoom applied. Runs in the
    web request with Zoom's ~2 s budget: a person pressed Restore and waits for the answer. Audited either way.
    """
    meeting = ZoomMeeting.objects.select_related("practitioner").get(pk=meeting.pk)
    if meeting.state != MeetingState.ACTIVE or meeting.zoom_id is None:
        raise ApplicationError("Only a live Zoom meeting can be restored.", code="not_live")
    if meeting.changed_in_zoom_at is None:
        raise ApplicationError("Nothing to restore: the Zoom meeting matches the appointment.", code="unchanged")
    if meeting.starts_at <= timezone.now():
        raise ApplicationError("The appointment's time has passed, so Zoom cannot take it back. Check the meeting "
                               "in Zoom, or mark it resolved.", code="past")
    connection = ZoomConnection.objects.filter(practitioner=meeting.practitioner).first()
    if connection is None:
        raise ApplicationError("The practitioner has no Zoom connection.", code="no_zoom")
    request = MeetingRequest(topic=meeting.topic, start_time=meeting.starts_at, duration=meeting.duration,
                             timezone=meeting.timezone, password=meeting.passcode, agenda=meeting.agenda)
    if not daily_budget_take(meeting.host_user):  # a PATCH counts against the meeting's host, like a create
        raise _restore_held(meeting, refused_by_zoom=False)
    restored_from = meeting.zoom_change_texts
    sent_ms = int(time_module.time() * 1000)
    try:
        client = zoom_client(connection, budget=WEB_BUDGET_SECONDS)
        client.update_meeting(meeting.zoom_id, request)
    except ZoomError as exc:
        audit_record(actor=actor, action="zoom.meeting_restore_failed", obj=meeting, summary=exc.message)
        if isinstance(exc, ZoomRateLimited) and exc.daily_limit:  # calls outside the app used Zoom's day up
            _daily_budget_used_up(meeting.host_user)
            raise _restore_held(meeting, refused_by_zoom=True, retry_after=exc.retry_after) from exc
        raise ApplicationError(f"Zoom did not restore the meeting: {exc.message} Try Restore again in a moment.",
                               code="zoom") from exc
    applied: MeetingSettings | None = None
    try:
        applied = client.get_meeting(meeting.zoom_id).settings
    except ZoomError:
        pass  # restored; the settings check waits for the next read
    with transaction.atomic():
        locked = ZoomMeeting.objects.select_for_update().get(pk=meeting.pk)
        # Every field matches the appointment again as of this PATCH; older change events stay ignored.
        changes = {name: {"text": "", "ts": max(int(entry.get("ts", 0)), sent_ms)}
                   for name, entry in (locked.zoom_changes or {}).items()}
        updates: dict = {"zoom_changes": changes, "changed_in_zoom_at": None, "zoom_event_applied_at": timezone.now()}
        if applied is not None:
            updates |= {"settings_applied": applied.as_dict(), "settings_warnings": settings_differences(applied)}
        ZoomMeeting.objects.filter(pk=meeting.pk).update(**updates)
    _heal(connection)
    audit_record(actor=actor, action="zoom.meeting_restored", obj=meeting,
                 summary=f"Zoom meeting {meeting.zoom_id} restored to the appointment's time and settings",
                 changes={"restored": restored_from})
    meeting.refresh_from_db()
    return meeting
