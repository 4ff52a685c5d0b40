"""Reminder settings, templates and SMS credits under Options (issue 8): one audit event per change, with the
field changes; the Options layout for admins; bad input is a form error, never a 500, and never stored."""

from datetime import time

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from practice.errors import ApplicationError
from practice.models import AuditEvent
from reminders import services
from reminders.models import Channel, CreditEntry, ReminderSettings, UsualTemplate

SETTINGS = {"scheduler_enabled": "on", "lead_hours": "24", "quiet_start": "20:00", "quiet_end": "08:00",
            "low_balance_warning": "50"}
TEMPLATES = {"sms-subject": "", "sms-body": "Hi {first_name}, see you {date} at {time}.",
             "email-subject": "Reminder: {date}", "email-body": "Hi {first_name},\n\nSee you at {time}."}
MENU = 'aria-label="Options"'


@pytest.fixture
def templates_saved(db):
    """Both templates as TEMPLATES says, written without the service (no audit event)."""
    UsualTemplate.objects.create(channel=Channel.SMS, body=TEMPLATES["sms-body"])
    UsualTemplate.objects.create(channel=Channel.EMAIL, subject=TEMPLATES["email-subject"],
                                 body=TEMPLATES["email-body"])


# Access and layout ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url_name", ["reminder-settings", "reminder-templates"])
def test_settings_and_templates_are_options_pages_for_admins_only(client, admin_user, front_desk, practitioner_a,
                                                                   url_name):
    assert client.get(reverse(url_name)).status_code == 302
    for user in (front_desk, practitioner_a.user):
        client.force_login(user)
        assert client.get(reverse(url_name)).status_code == 403
    client.force_login(admin_user)
    response = client.get(reverse(url_name))
    assert response.status_code == 200 and MENU in response.content.decode()


def test_front_desk_sees_the_credits_without_the_options_menu_and_admins_with_it(client, admin_user, front_desk,
                                                                                 practitioner_a, credits):
    assert client.get(reverse("credits")).status_code == 302
    client.force_login(practitioner_a.user)
    assert client.get(reverse("credits")).status_code == 403
    client.force_login(front_desk)
    html = client.get(reverse("credits")).content.decode()
    assert "Balance: <strong>100</strong>" in html and MENU not in html and "Add a purchase" not in html
    assert client.post(reverse("credits"), {"amount": "5"}).status_code == 403
    client.force_login(admin_user)
    html = client.get(reverse("credits")).content.decode()
    assert "Balance: <strong>100</strong>" in html and MENU in html and "Add a purchase" in html


# One audit event per change, with its field changes ----------------------------------------------------------

def test_a_settings_edit_writes_one_audit_event_with_its_field_changes(client, admin_user):
    ReminderSettings.load()
    client.force_login(admin_user)
    response = client.post(reverse("reminder-settings"), {**SETTINGS, "lead_hours": "48", "quiet_end": "07:30"})
    assert response.status_code == 302
    [event] = AuditEvent.objects.all()
    assert (event.action, event.actor, event.object_type) == ("reminders.settings_changed", admin_user,
                                                              "remindersettings")
    assert event.changes == {"lead_hours": [24, 48], "quiet_end": ["08:00:00", "07:30:00"]}


def test_saving_the_settings_unchanged_writes_no_event(client, admin_user):
    ReminderSettings.load()
    client.force_login(admin_user)
    assert client.post(reverse("reminder-settings"), SETTINGS).status_code == 302
    assert not AuditEvent.objects.exists()
    assert ReminderSettings.load().quiet_start == time(20)


def test_a_template_edit_writes_one_audit_event_with_its_field_changes(client, admin_user, templates_saved):
    client.force_login(admin_user)
    response = client.post(reverse("reminder-templates"), {**TEMPLATES, "sms-body": "See you {date}, {first_name}"})
    assert response.status_code == 302
    [event] = AuditEvent.objects.all()
    assert (event.action, event.actor, event.object_type) == ("reminders.templates_changed", admin_user,
                                                              "usualtemplate")
    assert event.object_id == str(UsualTemplate.objects.get(channel=Channel.SMS).pk)
    assert event.changes == {"sms_body": [TEMPLATES["sms-body"], "See you {date}, {first_name}"]}
    assert UsualTemplate.objects.get(channel=Channel.SMS).updated_by == admin_user


def test_editing_both_templates_in_one_save_is_still_one_event(client, admin_user, templates_saved):
    client.force_login(admin_user)
    client.post(reverse("reminder-templates"), {**TEMPLATES, "sms-body": "Hi {first_name}",
                                                "email-subject": "See you {date}", "email-body": "Hi\r\nthere"})
    [event] = AuditEvent.objects.all()
    assert event.changes == {"sms_body": [TEMPLATES["sms-body"], "Hi {first_name}"],
                             "email_subject": [TEMPLATES["email-subject"], "See you {date}"],
                             "email_body": [TEMPLATES["email-body"], "Hi\nthere"]}
    assert "SMS and Email" in event.summary


def test_saving_the_templates_unchanged_writes_no_event(client, admin_user, templates_saved):
    client.force_login(admin_user)
    assert client.post(reverse("reminder-templates"), {**TEMPLATES, "email-body": "Hi {first_name},\r\n\r\n"
                                                                                  "See you at {time}."}
                       ).status_code == 302
    assert not AuditEvent.objects.exists()


def test_a_credit_purchase_writes_one_audit_event_with_its_field_changes(client, admin_user, credits):
    client.force_login(admin_user)
    response = client.post(reverse("credits"), {"amount": "250", "note": "INV-42"})
    assert response.status_code == 302
    [event] = AuditEvent.objects.all()
    assert (event.action, event.actor, event.object_type) == ("credits.purchased", admin_user, "creditentry")
    assert event.changes == {"amount": [None, 250], "note": ["", "INV-42"], "balance": [100, 350]}


# Every path validates ---------------------------------------------------------------------------------------

def test_the_services_refuse_what_the_pages_refuse(admin_user):
    with pytest.raises(ApplicationError, match="Unknown merge field"):
        services.usual_templates_update(actor=admin_user, sms_body="Hi {nickname}", email_subject="",
                                        email_body="Hi")
    with pytest.raises(ApplicationError, match="control characters"):
        services.usual_templates_update(actor=admin_user, sms_body="Hi\x00", email_subject="", email_body="Hi")
    with pytest.raises(ApplicationError, match="800"):
        services.usual_templates_update(actor=admin_user, sms_body="x" * 801, email_subject="", email_body="Hi")
    with pytest.raises(ApplicationError, match="one line"):
        services.usual_templates_update(actor=admin_user, sms_body="Hi", email_subject="a\r\nBcc: x",
                                        email_body="Hi")
    for amount in (0, -5, 100_001, 2147483647):
        with pytest.raises(ApplicationError):
            services.credits_purchase(actor=admin_user, amount=amount)
    with pytest.raises(ApplicationError):
        services.credits_purchase(actor=admin_user, amount=5, note="a\x00b")
    with pytest.raises(ApplicationError):
        services.credits_purchase(actor=admin_user, amount=5, note="x" * 201)
    assert not CreditEntry.objects.exists() and not AuditEvent.objects.exists()
    assert not UsualTemplate.objects.filter(body__contains="nickname").exists()
    with pytest.raises(ValidationError):
        UsualTemplate(channel=Channel.EMAIL, subject="Hi {nickname}", body="x").full_clean()


# Fuzz ----------------------------------------------------------------------------------------------------------

HOSTILE = ["\x00", "a\x00b", "x" * 10_000, "😀👩🏽‍⚕️ 🇦🇺", "\u202eevil", "محمد العربي", "line1\r\nline2",
           "\r\nBcc: victim@example.com", "2147483647", "99999999999999999999", "-1", "1e309", "²", "NaN", "",
           "25:61", "{nickname}", "<script>alert(1)</script>"]


def _fields_stay_valid() -> None:
    for model in (ReminderSettings, UsualTemplate, CreditEntry):
        for row in model.objects.all():
            row.full_clean()  # every stored row is one the pages would accept


@pytest.mark.parametrize(("url_name", "data"), [
    ("reminder-settings", SETTINGS),
    ("reminder-templates", TEMPLATES),
    ("credits", {"amount": "10", "note": "INV-1"}),
])
def test_hostile_input_is_a_form_error_never_a_500_and_nothing_invalid_is_stored(client, admin_user, credits,
                                                                               url_name, data):
    client.force_login(admin_user)
    for field in data:
        for value in HOSTILE:
            response = client.post(reverse(url_name), {**data, field: value})
            assert response.status_code in (200, 302), (field, value)
            if value in ("\x00", "a\x00b", "x" * 10_000) and field not in ("scheduler_enabled", "sms-subject"):
                assert response.status_code == 200 and "error" in response.content.decode(), (field, value)
            _fields_stay_valid()
    sms = services.usual_template(Channel.SMS).body
    assert "\x00" not in sms and len(sms) <= 800
