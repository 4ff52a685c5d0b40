"""Zoom connections and meetings: the rules R1–R6, R9–R10, R17 and RELIABILITY.md 3–4.

Meetings are rows first: a service records what must happen (create, delete) inside the caller's
transaction and asks for `meeting_sync` after commit, so no Zoom call ever runs inside a transaction.
If Zoom fails transiently the row stays pending with a reason and a next attempt time, and the beat
sweep (`meetings_reconcile`) retries it with backoff until it is done.
"""

import logging
import random
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from practice.audit import audit_record
from practice.errors import ApplicationError
from practice.models import Practice, Practitioner
from telehealth import crypto
from telehealth.models import ConnectionStatus, MeetingState, ZoomConnection, ZoomMeeting
from telehealth.zoom import (
    MeetingRequest,
    ZoomAuthError,
    ZoomClient,
    ZoomCredentials,
    ZoomError,
    ZoomNotFound,
    ZoomScopeError,
    ZoomTimeoutError,
    generate_passcode,
    missing_scopes,
    settings_differences,
)

logger = logging.getLogger(__name__)

CLAIM_FOR = timedelta(minutes=2)
# Seconds before the next attempt after a transient failure; the last one repeats.
RETRY_DELAYS = (30, 60, 120, 300, 600, 1800, 3600)


# Connections (R1, R2) ---------------------------------------------------------------------------------------

def zoom_client(connection: ZoomConnection) -> ZoomClient:
    return ZoomClient(ZoomCredentials(account_id=connection.account_id, client_id=connection.client_id,
                                      client_secret=crypto.decrypt(connection.client_secret_encrypted)))


@transaction.atomic
def connection_save(*, actor: User, practitioner: Practitioner, account_id: str, client_id: str,
                    client_secret: str, zoom_user: str) -> ZoomConnection:
    """Create or change a connection; an empty ``client_secret`` keeps the stored one."""
    connection = ZoomConnection.objects.filter(practitioner=practitioner).first()
    if connection is None and not client_secret:
        raise ApplicationError("Enter the client secret of the Zoom app.", code="secret_required")
    connection = connection or ZoomConnection(practitioner=practitioner)
    changed = [name for name, value in (("account_id", account_id), ("client_id", client_id),
                                        ("zoom_user", zoom_user)) if getattr(connection, name) != value]
    connection.account_id, connection.client_id, connection.zoom_user = account_id, client_id, zoom_user
    if client_secret:
        connection.client_secret_encrypted = crypto.encrypt(client_secret)
        changed.append("client_secret")
    if changed:
        # New credentials are unproven until tested.
        connection.status, connection.status_reason = ConnectionStatus.UNTESTED, ""
        connection.status_since = timezone.now()
    connection.save()
    audit_record(actor=actor, action="zoom.credentials_changed", obj=connection,
                 summary=f"Zoom connection of {practitioner} saved", changes={"fields": changed})
    return connection


def _set_connection_status(connection: ZoomConnection, status: str, reason: str = "") -> None:
    if connection.status != status:
        connection.status_since = timezone.now()
    connection.status, connection.status_reason = status, reason[:300]


def connection_test(*, actor: User | None, connection: ZoomConnection) -> ZoomConnection:
    """Get a token and the Zoom user (R2): name, email, plan and missing scopes, or why it failed."""
    client = zoom_client(connection)
    try:
        user = client.get_user(connection.zoom_user)
        missing = missing_scopes(client.granted_scopes())
    except ZoomError as exc:
        _set_connection_status(connection, ConnectionStatus.FAILING, exc.message)
        outcome = f"failed: {exc.message}"
    else:
        connection.zoom_user_name, connection.zoom_user_email = user.display_name, user.email
        connection.zoom_user_type, connection.missing_scopes = user.type, missing
        if missing:
            _set_connection_status(connection, ConnectionStatus.FAILING,
                                   "The Zoom app is missing scopes: " + ", ".join(missing))
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


# Meetings (R4–R6, R9, R10, R17) -----------------------------------------------------------------------------

def meeting_plan(*, practitioner: Practitioner, starts_at: datetime, duration: int,
                 replacing: bool = False) -> ZoomMeeting:
    """Record a meeting to create for this time; Zoom is called after the caller's transaction commits.

    Ticking Telehealth needs a working connection. ``replacing`` a meeting (R7) does not: the move is saved
    whatever state the connection is in, and the new meeting shows why Zoom could not make it.
    """
    if starts_at <= timezone.now():
        raise ApplicationError("Telehealth meetings can only be made for future times. Choose a later time or "
                               "untick Telehealth.", code="past")
    if replacing:
        connection = ZoomConnection.objects.filter(practitioner=practitioner).first()
    else:
        connection = connection_for_telehealth(practitioner)
    practice = Practice.load()
    meeting = ZoomMeeting.objects.create(
        practitioner=practitioner, host_user=connection.zoom_user if connection else "",
        # The topic goes to Zoom: no client name or clinical details in it.
        topic=f"Telehealth appointment - {practice.name}"[:200],
        starts_at=starts_at, duration=duration, timezone=practice.time_zone, passcode=generate_passcode(),
    )
    transaction.on_commit(lambda: meeting_sync(meeting_pk=meeting.pk), robust=True)
    return meeting


def meeting_discard(*, meeting: ZoomMeeting) -> None:
    """The meeting is no longer wanted: delete it from Zoom after commit, and keep trying until it's gone."""
    if meeting.state in (MeetingState.DELETED, MeetingState.PENDING_DELETE):
        return
    never_created = meeting.zoom_id is None and not (meeting.claimed_until and meeting.claimed_until > timezone.now())
    if meeting.state == MeetingState.FAILED or (meeting.state == MeetingState.PENDING_CREATE and never_created):
        ZoomMeeting.objects.filter(pk=meeting.pk).update(state=MeetingState.DELETED, next_attempt_at=None)
        return
    # A create in flight sees this state when it records its result, and deletes what it made.
    ZoomMeeting.objects.filter(pk=meeting.pk).update(state=MeetingState.PENDING_DELETE, next_attempt_at=timezone.now())
    transaction.on_commit(lambda: meeting_sync(meeting_pk=meeting.pk), robust=True)


def _claim(meeting_pk: int) -> ZoomMeeting | None:
    """Take the row for one worker: a conditional UPDATE, so a retry and a sweep never both call Zoom."""
    now = timezone.now()
    claimed = ZoomMeeting.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=meeting_pk, state__in=(MeetingState.PENDING_CREATE, MeetingState.PENDING_DELETE),
    ).update(claimed_until=now + CLAIM_FOR)
    return ZoomMeeting.objects.select_related("practitioner").get(pk=meeting_pk) if claimed else None


def _retry_later(meeting: ZoomMeeting, reason: str) -> None:
    delay = RETRY_DELAYS[min(meeting.attempts, len(RETRY_DELAYS) - 1)] * random.uniform(0.8, 1.2)  # noqa: S311 - jitter
    ZoomMeeting.objects.filter(pk=meeting.pk).update(
        attempts=meeting.attempts + 1, last_error=reason[:300], claimed_until=None,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )


def _configuration_problem(meeting: ZoomMeeting, exc: ZoomError) -> None:
    """Bad credentials, a missing scope or a Zoom user gone: an admin must act; show it on the Zoom page."""
    if isinstance(exc, ZoomAuthError | ZoomScopeError) or (isinstance(exc, ZoomNotFound) and exc.code == 1001):
        connection = ZoomConnection.objects.filter(practitioner=meeting.practitioner).first()
        if connection is not None:
            _set_connection_status(connection, ConnectionStatus.FAILING, exc.message)
            connection.save(update_fields=["status", "status_reason", "status_since"])


def meeting_sync(*, meeting_pk: int) -> None:
    """Do what the row asks of Zoom (create or delete), once, and record the outcome."""
    meeting = _claim(meeting_pk)
    if meeting is None:
        return
    connection = ZoomConnection.objects.filter(practitioner=meeting.practitioner).first()
    if connection is None:
        problem = ZoomError("The practitioner has no Zoom connection.", permanent=True)
        if meeting.state == MeetingState.PENDING_CREATE:
            _create_failed(meeting, problem)
        else:
            _retry_later(meeting, problem.message)  # until an admin reconnects: the meeting must still go
        return
    client = zoom_client(connection)
    if meeting.state == MeetingState.PENDING_CREATE:
        _create(meeting, client)
    else:
        _delete(meeting, client)


MAYBE_CREATED = ("Zoom did not confirm the meeting, so it may or may not exist in Zoom. Check the practitioner's "
                 "Zoom account, then try again.")


def _create(meeting: ZoomMeeting, client: ZoomClient) -> None:
    if meeting.create_sent_at is not None:
        # An earlier attempt sent the create and never recorded what happened: never create blindly again.
        _create_failed(meeting, ZoomError(MAYBE_CREATED, permanent=True))
        return
    request = MeetingRequest(topic=meeting.topic, start_time=meeting.starts_at, duration=meeting.duration,
                             timezone=meeting.timezone, password=meeting.passcode)
    ZoomMeeting.objects.filter(pk=meeting.pk).update(create_sent_at=timezone.now())
    try:
        created = client.create_meeting(meeting.host_user, request)
    except ZoomError as exc:
        if isinstance(exc, ZoomTimeoutError):
            # Zoom may have made the meeting: tell a person instead of creating it again.
            exc = ZoomError(MAYBE_CREATED, permanent=True)
        else:
            ZoomMeeting.objects.filter(pk=meeting.pk).update(create_sent_at=None)
        _create_failed(meeting, exc)
        return
    _record_created(meeting, client, created)


def _create_failed(meeting: ZoomMeeting, exc: ZoomError) -> None:
    if not exc.permanent:
        _retry_later(meeting, exc.message)
        audit_record(actor=None, action="zoom.meeting_create_retrying", obj=meeting, summary=exc.message)
        return
    _configuration_problem(meeting, exc)
    ZoomMeeting.objects.filter(pk=meeting.pk, state=MeetingState.PENDING_CREATE).update(
        state=MeetingState.FAILED, last_error=exc.message[:300], claimed_until=None, next_attempt_at=None)
    ZoomMeeting.objects.filter(pk=meeting.pk, state=MeetingState.PENDING_DELETE, zoom_id=None).update(
        state=MeetingState.DELETED, claimed_until=None, next_attempt_at=None)
    audit_record(actor=None, action="zoom.meeting_create_failed", obj=meeting, summary=exc.message)


def _record_created(meeting: ZoomMeeting, client: ZoomClient, created) -> None:
    # R4: read the meeting back and compare Zoom's effective settings with the defaults.
    try:
        applied = client.get_meeting(created.id).settings
    except ZoomError:
        applied = created.settings
    ZoomMeeting.objects.filter(pk=meeting.pk).update(zoom_id=created.id, create_sent_at=None)
    recorded = ZoomMeeting.objects.filter(pk=meeting.pk, state=MeetingState.PENDING_CREATE).update(
        state=MeetingState.ACTIVE, join_url=created.join_url,
        passcode=created.password or meeting.passcode, settings_applied=applied.as_dict(),
        settings_warnings=settings_differences(applied), last_error="", claimed_until=None, next_attempt_at=None,
    )
    audit_record(actor=None, action="zoom.meeting_created", obj=meeting, summary=f"Zoom meeting {created.id} created",
                 changes={"zoom_id": created.id})
    if not recorded:
        # Deleted while Zoom was creating it: delete what was made.
        ZoomMeeting.objects.filter(pk=meeting.pk).update(claimed_until=None)
        meeting.refresh_from_db()
        _delete(meeting, client)


def _delete(meeting: ZoomMeeting, client: ZoomClient) -> None:
    if meeting.zoom_id is None:
        ZoomMeeting.objects.filter(pk=meeting.pk).update(state=MeetingState.DELETED, claimed_until=None,
                                                         next_attempt_at=None)
        return
    try:
        client.delete_meeting(meeting.zoom_id)  # Zoom's "not found" counts as deleted
    except ZoomError as exc:
        # Even a permanent error (credentials revoked) is retried: an admin may fix it, and the meeting
        # must not be left behind in Zoom.
        _configuration_problem(meeting, exc)
        _retry_later(meeting, exc.message)
        audit_record(actor=None, action="zoom.meeting_delete_retrying", obj=meeting, summary=exc.message)
        return
    ZoomMeeting.objects.filter(pk=meeting.pk).update(state=MeetingState.DELETED, last_error="", claimed_until=None,
                                                     next_attempt_at=None)
    audit_record(actor=None, action="zoom.meeting_deleted", obj=meeting,
                 summary=f"Zoom meeting {meeting.zoom_id} deleted")


def meetings_reconcile() -> int:
    """The beat sweep: every pending create or delete whose next attempt is due. Returns how many ran."""
    due = ZoomMeeting.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()),
        state__in=(MeetingState.PENDING_CREATE, MeetingState.PENDING_DELETE),
    ).values_list("pk", flat=True)
    count = 0
    for pk in list(due[:200]):
        meeting_sync(meeting_pk=pk)
        count += 1
    return count


def meeting_start_url(*, actor: User, meeting: ZoomMeeting) -> str:
    """A fresh host link from Zoom (it expires after 2 hours): never stored, never logged (R17)."""
    if meeting.state != MeetingState.ACTIVE or meeting.zoom_id is None:
        raise ApplicationError("This Zoom meeting is not ready yet.", code="not_ready")
    connection = ZoomConnection.objects.filter(practitioner=meeting.practitioner).first()
    if connection is None:
        raise ApplicationError("The practitioner has no Zoom connection.", code="no_zoom")
    try:
        start_url = zoom_client(connection).get_meeting(meeting.zoom_id).start_url
    except ZoomError as exc:
        audit_record(actor=actor, action="zoom.host_link_failed", obj=meeting, summary=exc.message)
        raise ApplicationError(f"Zoom did not give a start link: {exc.message}", code="zoom") from exc
    audit_record(actor=actor, action="zoom.host_link_opened", obj=meeting,
                 summary=f"Host link of Zoom meeting {meeting.zoom_id} opened")
    return start_url
