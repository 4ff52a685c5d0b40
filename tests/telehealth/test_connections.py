"""Zoom connections: secrets encrypted at rest and write-only (RELIABILITY.md 15), the Options → Zoom page."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db
from django.urls import reverse

from devtools.zoom_emulator import DEMO_ACCOUNT_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from practice.errors import ApplicationError
from telehealth import crypto
from telehealth.models import ConnectionStatus, ZoomConnection
from telehealth.services import connection_save
from telehealth.tasks import zoom_reconcile


def _raw_secret_column() -> str:
    with db.cursor() as cursor:
        cursor.execute("SELECT client_secret_encrypted FROM telehealth_zoomconnection")
        return cursor.fetchone()[0]


def test_the_secret_is_ciphertext_in_the_database(alice_zoom):
    raw = _raw_secret_column()
    assert DEMO_CLIENT_SECRET not in raw
    assert crypto.decrypt(raw) == DEMO_CLIENT_SECRET


def test_rotation_re_encrypts_with_the_newest_key(alice_zoom, settings):
    old_raw = _raw_secret_column()
    newest = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [newest, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_field_encryption")
    new_raw = _raw_secret_column()
    assert new_raw != old_raw
    assert Fernet(newest).decrypt(new_raw.encode()).decode() == DEMO_CLIENT_SECRET  # readable with the new key alone


def test_rotation_re_encrypts_the_webhook_secret_token_too(alice_zoom, admin_user, settings):
    from telehealth.services import webhook_secret_set

    webhook_secret_set(actor=admin_user, secret="whsec-rotate-me", connection=alice_zoom)
    newest = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [newest, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_field_encryption")
    raw = ZoomConnection.objects.get(pk=alice_zoom.pk).webhook_secret_encrypted
    assert Fernet(newest).decrypt(raw.encode()).decode() == "whsec-rotate-me"


def test_the_form_never_shows_the_stored_secret(alice_zoom, client, admin_user, practitioner_a):
    client.force_login(admin_user)
    html = client.get(reverse("zoom-connection", args=[practitioner_a.pk])).content.decode()
    assert DEMO_CLIENT_SECRET not in html and _raw_secret_column() not in html
    assert 'name="client_secret"' in html and "A secret is stored" in html


def test_saving_without_a_secret_keeps_the_stored_one(alice_zoom, client, admin_user, practitioner_a):
    client.force_login(admin_user)
    response = client.post(reverse("zoom-connection", args=[practitioner_a.pk]), {
        "account_id": DEMO_ACCOUNT_ID, "client_id": DEMO_CLIENT_ID, "client_secret": "",
        "zoom_user": "alice@example.com"}, follow=True)
    assert "Connected to Zoom as Alice Allen (alice@example.com), Licensed plan." in response.content.decode()
    assert crypto.decrypt(_raw_secret_column()) == DEMO_CLIENT_SECRET


def test_a_new_connection_needs_a_secret(practitioner_a, admin_user):
    with pytest.raises(ApplicationError, match="client secret"):
        connection_save(actor=admin_user, practitioner=practitioner_a, account_id="a", client_id="b",
                        client_secret="", zoom_user="x@example.com")


def test_the_admin_page_sets_up_and_tests_a_connection(zoom, client, admin_user, practitioner_a):
    zoom.add_user("alice@example.com", "Alice", "Allen", type=1)
    client.force_login(admin_user)
    response = client.post(reverse("zoom-connection", args=[practitioner_a.pk]), {
        "account_id": DEMO_ACCOUNT_ID, "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
        "zoom_user": "alice@example.com"}, follow=True)
    html = response.content.decode()
    assert "Basic plan" in html and "one meeting at a time" in html
    listing = client.get(reverse("zoom-connections")).content.decode()
    assert "Alice Allen" in listing and "Connected" in listing
    assert ZoomConnection.objects.get().status == ConnectionStatus.CONNECTED


def test_the_secret_never_reaches_the_audit_trail_or_the_logs(zoom, client, admin_user, practitioner_a, caplog):
    zoom.add_user("alice@example.com", "Alice", "Allen")
    client.force_login(admin_user)
    client.post(reverse("zoom-connection", args=[practitioner_a.pk]), {
        "account_id": DEMO_ACCOUNT_ID, "client_id": DEMO_CLIENT_ID, "client_secret": "wrong-secret-value",
        "zoom_user": "alice@example.com"})
    from practice.models import AuditEvent

    everything = str(list(AuditEvent.objects.values())) + caplog.text
    assert "wrong-secret-value" not in everything
    assert ZoomConnection.objects.get().status == ConnectionStatus.FAILING


def test_the_booking_form_says_why_telehealth_is_unavailable(zoom, client, front_desk, practitioner_a, location,
                                                             appointment_type, client_record):
    client.force_login(front_desk)
    form = client.get(reverse("appointment-new")).content.decode()
    assert "No practitioner has a working Zoom connection yet" in form
    response = client.post(reverse("appointment-new"), {
        "client": client_record.pk, "practitioner": practitioner_a.pk, "date": "2030-03-04",
        "start_time": "10:00", "appointment_type": appointment_type.pk, "location": location.pk,
        "is_telehealth": "on"})
    assert "Alice Allen has no Zoom connection yet" in response.content.decode()


def test_the_reconcile_task_runs_the_sweep(db):
    assert zoom_reconcile.apply().get() == 0


def test_a_missing_scope_is_named_and_fails_the_connection(zoom, client, admin_user, practitioner_a):
    zoom.add_user("alice@example.com", "Alice", "Allen")
    zoom.scopes = ("meeting:write:meeting:admin", "meeting:read:meeting:admin", "user:read:user:admin")
    client.force_login(admin_user)
    response = client.post(reverse("zoom-connection", args=[practitioner_a.pk]), {
        "account_id": DEMO_ACCOUNT_ID, "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
        "zoom_user": "alice@example.com"}, follow=True)
    connection = ZoomConnection.objects.get()
    assert connection.status == ConnectionStatus.FAILING
    assert any("meeting:delete:meeting:admin" in scope for scope in connection.missing_scopes)
    assert "meeting:delete:meeting:admin" in response.content.decode()


def test_failed_zoom_operations_are_audited_with_the_reason(alice_zoom, practitioner_a, front_desk, location,
                                                            appointment_type, client_record, zoom,
                                                            django_capture_on_commit_callbacks):
    from practice.models import AuditEvent
    from scheduling.services import appointment_book
    from tests.conftest import sydney

    zoom.fail_next(503, count=1, message="Zoom is down")
    with django_capture_on_commit_callbacks(execute=True):
        appointment_book(actor=front_desk, client=client_record, practitioner=practitioner_a, location=location,
                         appointment_type=appointment_type, starts_at=sydney(2030, 3, 4, 10), is_telehealth=True)
    event = AuditEvent.objects.get(action="zoom.meeting_create_retrying")
    assert "503" in event.summary or "Zoom" in event.summary
    from telehealth.models import ZoomMeeting

    meeting = ZoomMeeting.objects.get()
    assert event.object_id == str(meeting.pk) and event.actor is None
    assert event.summary == meeting.last_error and meeting.last_error  # the reason, as shown to staff
