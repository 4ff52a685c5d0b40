"""Zoom webhooks (issue 12): real HMAC signatures, the URL validation, and each event applied once and in order."""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from practice.models import AuditEvent
from scheduling.services import appointment_telehealth_add
from telehealth import services
from telehealth.models import LiveState, MeetingState, WebhookEvent, ZoomMeeting
from telehealth.tasks import zoom_reconcile

SECRET = "whsec-practice-token-1"
OTHER_SECRET = "whsec-someone-else"
URL = "/webhooks/zoom/"


def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"HTTP_X_ZM_REQUEST_TIMESTAMP": stamp, "HTTP_X_ZM_SIGNATURE": f"v0={digest}"}


def envelope(event: str, meeting: ZoomMeeting | None = None, *, ts: int, participant: str = "",
             obj: dict | None = None, old: dict | None = None) -> dict:
    body_obj = {"id": str(meeting.zoom_id) if meeting else "999", "uuid": "mUuid==", "host_id": "h1",
                "topic": "Telehealth appointment"}
    if participant:
        body_obj["participant"] = {"user_name": "Casey Client", "email": "casey@example.com",
                                   "participant_uuid": participant, "date_time": "2030-03-03T23:02:00Z"}
    body_obj |= obj or {}
    payload: dict = {"account_id": "acc", "object": body_obj}
    if old is not None:
        payload["old_object"] = old
    return {"event": event, "event_ts": ts, "payload": payload}


@pytest.fixture
def webhook_secret(admin_user, alice_zoom):
    """Alice's connection keeps its own app (the emulator's demo app) with a webhook secret token."""
    services.webhook_secret_set(actor=admin_user, secret=SECRET, connection=alice_zoom)
    return SECRET


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST a signed delivery and run the worker's apply that is queued after commit."""

    def _post(data, *, secret: str = SECRET, timestamp: int | None = None, raw: bytes | None = None, headers=None):
        body = raw if raw is not None else json.dumps(data).encode()
        signed = sign(body, secret, timestamp) if headers is None else headers
        with django_capture_on_commit_callbacks(execute=True):
            return client.generic("POST", URL, body, content_type="application/json", **signed)

    return _post


@pytest.fixture
def meeting(webhook_secret, tele_book, practitioner_a):
    appointment = tele_book(practitioner_a)
    assert appointment.zoom_meeting.state == MeetingState.ACTIVE
    return appointment.zoom_meeting


def now_ms(offset_seconds: float = 0) -> int:
    return int((time.time() + offset_seconds) * 1000)


def fresh(meeting: ZoomMeeting) -> ZoomMeeting:
    return ZoomMeeting.objects.get(pk=meeting.pk)


# Endpoint: signature, timestamp, validation ---------------------------------------------------------------------

def test_it_is_reachable_without_login_or_csrf_token(meeting, post):
    assert reverse("zoom-webhook") == URL
    response = post(envelope("meeting.started", meeting, ts=now_ms()))
    assert response.status_code == 200
    assert fresh(meeting).live_state == LiveState.IN_PROGRESS


def test_it_refuses_a_wrong_signature(meeting, post):
    response = post(envelope("meeting.started", meeting, ts=now_ms()), secret=OTHER_SECRET)
    assert response.status_code == 401
    assert fresh(meeting).live_state == LiveState.NONE
    assert not WebhookEvent.objects.exists()


def test_it_refuses_a_body_changed_after_signing(meeting, client):
    body = json.dumps(envelope("meeting.started", meeting, ts=now_ms())).encode()
    headers = sign(body)
    response = client.generic("POST", URL, body.replace(b"started", b"ended"), content_type="application/json",
                              **headers)
    assert response.status_code == 401


@pytest.mark.parametrize("skew", [-310, 310])
def test_it_refuses_a_stale_or_future_timestamp(meeting, post, skew):
    response = post(envelope("meeting.started", meeting, ts=now_ms()), timestamp=int(time.time()) + skew)
    assert response.status_code == 401
    assert fresh(meeting).live_state == LiveState.NONE


def test_it_accepts_a_timestamp_within_five_minutes(meeting, post):
    assert post(envelope("meeting.started", meeting, ts=now_ms()), timestamp=int(time.time()) - 290
                ).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"HTTP_X_ZM_SIGNATURE": "v0=00"}, {"HTTP_X_ZM_REQUEST_TIMESTAMP": "1"},
                                     {"HTTP_X_ZM_REQUEST_TIMESTAMP": "soon", "HTTP_X_ZM_SIGNATURE": "v0=00"}])
def test_it_refuses_missing_or_malformed_headers(meeting, post, headers):
    assert post(envelope("meeting.started", meeting, ts=now_ms()), headers=headers).status_code == 401


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'{"payload": {}}', b'{"event": "meeting.started"}',
                                 b"\xff\xfe", b'{"event": "endpoint.url_validation", "payload": {}}'])
def test_it_answers_unreadable_bodies_with_400_never_500(meeting, post, raw):
    assert post(None, raw=raw).status_code == 400


def test_without_any_secret_it_refuses_everything(alice_zoom, post):
    response = post(envelope("endpoint.url_validation", ts=now_ms()) | {"payload": {"plainToken": "abc"}})
    assert response.status_code == 403


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


def test_url_validation_answers_with_the_encrypted_token(webhook_secret, post):
    response = post({"event": "endpoint.url_validation", "event_ts": now_ms(),
                     "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}})
    assert response.status_code == 200
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert response.json() == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}


def test_url_validation_uses_the_secret_that_signed_it(webhook_secret, admin_user, post):
    from telehealth.forms import PracticeZoomAppForm  # noqa: F401 - the practice app has its own token

    services.practice_app_save(actor=admin_user, account_id="acc2", client_id="cid2", client_secret="sec2")
    services.webhook_secret_set(actor=admin_user, secret="practice-token")
    response = post({"event": "endpoint.url_validation", "event_ts": now_ms(), "payload": {"plainToken": "p"}},
                    secret="practice-token")
    assert response.json()["encryptedToken"] == hmac.new(b"practice-token", b"p", hashlib.sha256).hexdigest()


def test_unknown_events_and_meetings_are_acknowledged_and_ignored(meeting, post):
    assert post(envelope("recording.completed", meeting, ts=now_ms())).status_code == 200
    assert post(envelope("meeting.started", None, ts=now_ms())).status_code == 200  # a meeting the app never made
    assert not WebhookEvent.objects.exists()
    assert fresh(meeting).live_state == LiveState.NONE


def test_a_secret_only_changes_meetings_of_its_own_app(meeting, admin_user, post, connect, practitioner_b,
                                                       tele_book):
    connect(practitioner_b, "bob@example.com")
    bobs = tele_book(practitioner_b, starts_at=meeting.starts_at + timedelta(hours=2)).zoom_meeting
    services.webhook_secret_set(actor=admin_user, secret=OTHER_SECRET,
                                connection=practitioner_b.zoom_connection)
    # Signed with Bob's app's token, about Alice's meeting: acknowledged, but it changes nothing.
    assert post(envelope("meeting.deleted", meeting, ts=now_ms()), secret=OTHER_SECRET).status_code == 200
    assert fresh(meeting).state == MeetingState.ACTIVE
    assert post(envelope("meeting.started", bobs, ts=now_ms()), secret=OTHER_SECRET).status_code == 200
    assert fresh(bobs).live_state == LiveState.IN_PROGRESS


# Idempotency and order -----------------------------------------------------------------------------------------

def test_a_replayed_event_is_recorded_and_applied_once(meeting, post):
    event = envelope("meeting.participant_joined_waiting_room", meeting, ts=now_ms(), participant="p1")
    assert post(event).status_code == 200
    assert post(event).status_code == 200  # Zoom's retry, or a replay within the 5 minutes
    assert WebhookEvent.objects.count() == 1
    assert AuditEvent.objects.filter(action="zoom.waiting_room").count() == 1


def test_two_meetings_events_of_the_same_millisecond_are_both_applied(meeting, post, tele_book):
    other = tele_book(meeting.appointment.practitioner, starts_at=meeting.starts_at + timedelta(hours=2)).zoom_meeting
    ts = now_ms()
    for each in (meeting, other):  # Zoom's payloads may carry no uuid
        assert post(envelope("meeting.started", each, ts=ts, obj={"uuid": ""})).status_code == 200
    assert WebhookEvent.objects.count() == 2
    assert fresh(meeting).live_state == fresh(other).live_state == LiveState.IN_PROGRESS


def test_an_older_event_never_overwrites_a_newer_state(meeting, post):
    ts = now_ms()
    post(envelope("meeting.ended", meeting, ts=ts))
    post(envelope("meeting.started", meeting, ts=ts - 60_000))  # delivered late
    assert fresh(meeting).live_state == LiveState.ENDED
    post(envelope("meeting.started", meeting, ts=ts + 60_000))  # started again later
    assert fresh(meeting).live_state == LiveState.IN_PROGRESS


def test_a_late_waiting_room_join_from_before_the_end_is_ignored(meeting, post):
    ts = now_ms()
    post(envelope("meeting.ended", meeting, ts=ts))
    post(envelope("meeting.participant_joined_waiting_room", meeting, ts=ts - 1000, participant="p1"))
    assert fresh(meeting).waiting_since is None


def test_an_admission_delivered_before_the_join_leaves_nobody_waiting(meeting, post):
    ts = now_ms()
    post(envelope("meeting.participant_admitted", meeting, ts=ts, participant="p1"))
    post(envelope("meeting.participant_joined_waiting_room", meeting, ts=ts - 5000, participant="p1"))
    assert fresh(meeting).waiting_since is None


def test_a_lost_task_is_applied_by_the_sweep(meeting, client, time_machine):
    body = json.dumps(envelope("meeting.started", meeting, ts=now_ms())).encode()
    response = client.generic("POST", URL, body, content_type="application/json", **sign(body))  # no on_commit run
    assert response.status_code == 200
    assert WebhookEvent.objects.get().applied_at is None
    time_machine.move_to(datetime.now(UTC) + timedelta(minutes=2))
    zoom_reconcile.apply()
    assert fresh(meeting).live_state == LiveState.IN_PROGRESS
    assert services.webhook_event_apply(event_pk=WebhookEvent.objects.get().pk) == "already applied"
    time_machine.move_to(datetime.now(UTC) + services.WEBHOOK_KEEP)
    zoom_reconcile.apply()
    assert not WebhookEvent.objects.exists()  # kept a week for redeliveries, then forgotten


# What each event does ------------------------------------------------------------------------------------------

def test_waiting_room_join_shows_since_when_and_admission_clears_it(meeting, post):
    ts = now_ms()
    post(envelope("meeting.participant_joined_waiting_room", meeting, ts=ts, participant="p1"))
    waiting = fresh(meeting)
    assert waiting.waiting_since == datetime.fromtimestamp(ts / 1000, UTC)
    stored = json.dumps([waiting.waiting_room, WebhookEvent.objects.get().facts])
    assert "Casey" not in stored and "casey@example.com" not in stored  # state and times only
    post(envelope("meeting.participant_admitted", meeting, ts=ts + 1000, participant="p1"))
    assert fresh(meeting).waiting_since is None


@pytest.mark.parametrize("clearing", ["meeting.participant_left_waiting_room", "meeting.participant_left"])
def test_leaving_the_waiting_room_clears_it(meeting, post, clearing):
    ts = now_ms()
    post(envelope("meeting.participant_jbh_waiting", meeting, ts=ts, participant="p1"))
    assert fresh(meeting).waiting_since is not None
    post(envelope(clearing, meeting, ts=ts + 1000, participant="p1"))
    assert fresh(meeting).waiting_since is None


def test_two_waiting_show_the_earliest_until_both_are_in(meeting, post):
    ts = now_ms()
    post(envelope("meeting.participant_joined_waiting_room", meeting, ts=ts, participant="p1"))
    post(envelope("meeting.participant_joined_waiting_room", meeting, ts=ts + 5000, participant="p2"))
    post(envelope("meeting.participant_admitted", meeting, ts=ts + 6000, participant="p1"))
    assert fresh(meeting).waiting_since == datetime.fromtimestamp((ts + 5000) / 1000, UTC)
    post(envelope("meeting.ended", meeting, ts=ts + 9000))
    ended = fresh(meeting)
    assert ended.waiting_since is None and ended.live_state == LiveState.ENDED


def test_started_then_ended(meeting, post):
    ts = now_ms()
    post(envelope("meeting.started", meeting, ts=ts))
    assert fresh(meeting).live_state == LiveState.IN_PROGRESS
    post(envelope("meeting.ended", meeting, ts=ts + 1000))
    assert fresh(meeting).live_state == LiveState.ENDED
    assert AuditEvent.objects.filter(action__in=["zoom.meeting_started", "zoom.meeting_ended"]).count() == 2


def test_deleted_outside_the_app_is_flagged_and_audited(meeting, post):
    post(envelope("meeting.deleted", meeting, ts=now_ms()))
    deleted = fresh(meeting)
    assert deleted.state == MeetingState.DELETED and deleted.deleted_in_zoom_at is not None
    assert "Deleted in Zoom" in deleted.last_error
    assert AuditEvent.objects.filter(action="zoom.meeting_deleted_in_zoom", object_id=str(meeting.pk)).exists()


def test_the_echo_of_the_apps_own_delete_is_ignored(meeting, post, committed, front_desk):
    from scheduling.services import appointment_telehealth_remove

    appointment = meeting.appointment
    committed(appointment_telehealth_remove, actor=front_desk, appointment=appointment)
    assert fresh(meeting).state == MeetingState.DELETED
    post(envelope("meeting.deleted", meeting, ts=now_ms()))
    assert fresh(meeting).deleted_in_zoom_at is None
    assert not AuditEvent.objects.filter(action="zoom.meeting_deleted_in_zoom").exists()


def test_recreate_after_a_delete_in_zoom_makes_a_new_meeting(meeting, post, committed, front_desk, zoom):
    appointment = meeting.appointment
    post(envelope("meeting.deleted", meeting, ts=now_ms()))
    committed(appointment_telehealth_add, actor=front_desk, appointment=appointment)
    appointment.refresh_from_db()
    new = appointment.zoom_meeting
    assert new.pk != meeting.pk and new.state == MeetingState.ACTIVE and new.zoom_id != meeting.zoom_id
    assert fresh(meeting).attention_resolved_at is not None  # it leaves Needs attention


def test_time_and_settings_changed_in_zoom_say_what_changed(meeting, post):
    moved = meeting.starts_at + timedelta(hours=1)
    post(envelope("meeting.updated", meeting, ts=now_ms(),
                  obj={"start_time": moved.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "duration": 45,
                       "password": "", "settings": {"waiting_room": False, "auto_recording": "cloud"}},
                  old={"start_time": "x", "duration": 30, "settings": {"waiting_room": True}}))
    changed = fresh(meeting)
    assert changed.changed_in_zoom_at is not None
    texts = " ".join(changed.zoom_change_texts)
    assert "Time changed in Zoom to 11:00" in texts and "(booked 10:00" in texts
    assert "Length changed in Zoom to 45 minutes (booked 30)" in texts
    assert "Passcode removed in Zoom" in texts
    assert "Waiting room turned off in Zoom" in texts and "recording set to 'cloud'" in texts
    assert AuditEvent.objects.filter(action="zoom.meeting_changed_in_zoom").count() == 1


def test_an_update_that_changes_nothing_watched_flags_nothing(meeting, post):
    post(envelope("meeting.updated", meeting, ts=now_ms(), obj={"topic": "Renamed", "agenda": "x"}))
    assert fresh(meeting).changed_in_zoom_at is None


def test_an_update_back_to_the_booked_values_clears_the_flag(meeting, post):
    ts = now_ms()
    post(envelope("meeting.updated", meeting, ts=ts, obj={"duration": 45}))
    post(envelope("meeting.updated", meeting, ts=ts + 1000, obj={"duration": meeting.duration}))
    assert fresh(meeting).changed_in_zoom_at is None
    post(envelope("meeting.updated", meeting, ts=ts - 1000, obj={"duration": 60}))  # older: ignored
    assert fresh(meeting).changed_in_zoom_at is None
