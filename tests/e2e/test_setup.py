"""Issue 8: a practice set up from an empty database to its first telehealth booking, using only the app's own
pages (the first-run checklist and Options), at 1366×768."""

import re
from datetime import time

import pytest
from playwright.sync_api import expect

from devtools.zoom_emulator import DEMO_ACCOUNT_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from practice.models import AuditEvent, Practice
from scheduling.models import Appointment
from telehealth.models import MeetingState
from tests.conftest import make_user
from tests.e2e.conftest import diary_url, expect_message, local, login, open_panel, shot

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "long-enough-password-2026"


def _save(page, name: str = "Save") -> None:
    page.get_by_role("button", name=name).first.click()
    page.wait_for_load_state()


def test_a_new_practice_is_set_up_through_its_own_pages_up_to_a_telehealth_booking(
        page, live_server, zoom, booking_day):
    zoom.add_user("a.nguyen@example.com", "Amelia", "Nguyen", type=2)
    boss = make_user("boss", "Practice admin")
    login(page, live_server, boss)

    # 1. An admin of a practice not set up lands on the checklist.
    expect(page).to_have_url(f"{live_server.url}/options/setup/")
    steps = page.locator(".setup-step")
    expect(steps).to_have_count(7)
    expect(steps.filter(has_text="Practice details")).not_to_have_class(re.compile("done"))
    shot(page, "setup-01-checklist")

    # 2. Practice details.
    steps.filter(has_text="Practice details").get_by_role("link").click()
    expect(page).to_have_url(f"{live_server.url}/options/practice/")
    page.locator("#id_name").fill("Harbourside Physio")
    page.locator("#id_phone").fill("02 9876 5432")
    page.locator("#id_email").fill("hello@harbourside.example")
    page.locator("#id_time_zone").select_option("Australia/Sydney")
    _save(page)
    expect(page.locator(".messages")).to_be_visible()
    assert Practice.load().name == "Harbourside Physio"

    # 3. A location.
    page.goto(f"{live_server.url}/options/locations/new/")
    page.locator("#id_name").fill("Clinic")
    page.locator("#id_address").fill("1 Harbour St, Sydney NSW 2000")
    _save(page, "Add location")
    expect(page.locator("main")).to_contain_text("Clinic")

    # 4. Users: the practitioner's login and the front desk.
    for username, first, last, role in (("amelia", "Amelia", "Nguyen", "Practitioner"),
                                        ("fran", "Fran", "Desk", "Front desk")):
        page.goto(f"{live_server.url}/options/users/new/")
        page.locator("#id_username").fill(username)
        page.locator("#id_first_name").fill(first)
        page.locator("#id_last_name").fill(last)
        page.locator("#id_role").select_option(role)
        page.locator("#id_password1").fill(NEW_PASSWORD)
        page.locator("#id_password2").fill(NEW_PASSWORD)
        _save(page, "Add user")
        expect(page.locator(".messages")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Fran Desk")

    # 5. The practitioner, then her week.
    page.goto(f"{live_server.url}/options/practitioners/new/")
    amelia = page.locator("#id_user option", has_text="Amelia").first.get_attribute("value")
    page.locator("#id_user").select_option(amelia)
    page.locator("#id_display_name").fill("Amelia Nguyen")
    page.locator("#id_profession").fill("Physiotherapist")
    page.locator("#id_default_location").select_option(label="Clinic")
    _save(page, "Add practitioner")
    expect(page).to_have_url(re.compile(r"/options/practitioners/\d+/hours/"))
    monday = page.locator("table.hours-table tbody tr").filter(has_text="Mon").first
    monday.locator("input[name$='-starts_at']").fill("08:00")
    monday.locator("input[name$='-ends_at']").fill("17:00")
    monday.locator("select[name$='-location']").select_option(label="Clinic")
    _save(page, "Save the week")
    expect(page.locator(".messages")).to_be_visible()

    # 6. An appointment type that is usually telehealth.
    page.goto(f"{live_server.url}/options/appointment-types/new/")
    page.locator("#id_name").fill("Video consult")
    page.locator("#id_default_duration").fill("45")
    page.locator("#id_usually_telehealth").check()
    _save(page, "Add type")
    expect(page.locator("main")).to_contain_text("Video consult")

    # 7. Zoom for Amelia.
    page.goto(f"{live_server.url}/options/zoom/")
    page.locator("table.table tbody tr").filter(has_text="Amelia Nguyen").get_by_role("link").first.click()
    own_app = page.get_by_role("link", name=re.compile("own app", re.I))
    if own_app.count():  # offered the practice's app by default; this practice has none yet
        own_app.first.click()
    page.get_by_label("Account ID").fill(DEMO_ACCOUNT_ID)
    page.get_by_label("Client ID").fill(DEMO_CLIENT_ID)
    page.get_by_label("Client secret").fill(DEMO_CLIENT_SECRET)
    page.get_by_label("Zoom user").fill("a.nguyen@example.com")
    page.get_by_role("button", name="Save and test").click()
    expect_message(page, "Connected to Zoom as Amelia Nguyen")

    # 8. The checklist says the practice is ready.
    page.goto(f"{live_server.url}/options/setup/")
    expect(page.locator("main")).to_contain_text("The practice is ready for bookings")
    shot(page, "setup-02-ready")
    assert AuditEvent.objects.filter(actor=boss).count() >= 7  # every step is in the trail

    # 9. The front desk logs in and books the first telehealth appointment.
    page.get_by_role("button", name="Log out").click()
    fran = type(boss).objects.get(username="fran")
    login(page, live_server, fran, password=NEW_PASSWORD)
    page.goto(diary_url(live_server, booking_day))
    amelia_column = page.locator('.diary .col[aria-label="Amelia Nguyen"]')
    panel = open_panel(page, amelia_column.locator(f'a.slot[href$="start={booking_day.isoformat()}T10:00"]'))
    form = panel.locator("form.booking-form")
    form.locator("#id_client_query").fill("Kelly")
    form.locator("details.quick-add > summary").click()
    form.locator("#id_new_first_name").fill("Liam")
    form.locator("#id_new_last_name").fill("Kelly")
    form.locator("#id_new_mobile").fill("0410 000 023")
    form.locator("#id_appointment_type").select_option(label="Video consult")
    expect(form.locator("#id_is_telehealth")).to_be_checked()  # the type is usually telehealth
    expect(form.locator("#id_duration")).to_have_value("45")
    form.get_by_role("button", name="Book appointment").click()
    expect_message(page, "Booked Liam Kelly with Amelia Nguyen at 10:00.")

    appointment = Appointment.objects.select_related("zoom_meeting").get()
    assert appointment.starts_at == local(booking_day, time(10))
    assert appointment.is_telehealth and appointment.zoom_meeting.state == MeetingState.ACTIVE
    shot(page, "setup-03-first-booking")


def test_an_admin_edits_every_options_page_and_each_edit_is_in_the_audit_trail(
        page, live_server, admin_user, practitioner_a, location, appointment_type, front_desk, credits):
    from practice.models import WorkingHours

    shifts = WorkingHours.objects.filter(practitioner=practitioner_a).count()
    login(page, live_server, admin_user)
    page.goto(f"{live_server.url}/options/")
    menu = page.get_by_role("navigation", name="Options")
    before = AuditEvent.objects.count()

    def section(label: str) -> None:
        menu.get_by_role("link", name=label, exact=True).click()
        page.wait_for_load_state()
        expect(menu.get_by_role("link", name=label, exact=True)).to_have_attribute("aria-current", "page")

    def saved() -> None:
        expect(page.locator(".messages")).to_be_visible()
        expect(page.locator(".form-errors")).to_have_count(0)

    section("Practice")
    page.locator("#id_phone").fill("02 9000 1234")
    _save(page)
    saved()

    section("Locations")
    page.locator("main table").get_by_role("link", name=re.compile("Edit|Clinic")).first.click()
    page.locator("#id_address").fill("2 New St, Sydney NSW 2000")
    _save(page)
    saved()

    section("Practitioners")
    page.locator("main table tbody tr").filter(has_text="Alice Allen").get_by_role(
        "link", name=re.compile("Edit|Alice", re.I)).first.click()
    page.locator("#id_profession").fill("Sports physiotherapist")
    _save(page)
    saved()

    section("Practitioners")
    page.locator("main table tbody tr").filter(has_text="Alice Allen").get_by_role(
        "link", name=re.compile("hours", re.I)).first.click()
    saturday = page.locator("table.hours-table tbody tr").filter(has_text="Sat").first
    saturday.locator("input[name$='-starts_at']").fill("10:00")
    saturday.locator("input[name$='-ends_at']").fill("14:00")
    saturday.locator("select[name$='-location']").select_option(label="Clinic")
    _save(page, "Save the week")
    saved()
    assert WorkingHours.objects.filter(practitioner=practitioner_a).count() == shifts
    assert WorkingHours.objects.get(practitioner=practitioner_a, weekday=5).starts_at == time(10)

    section("Appointment types")
    page.locator("main table").get_by_role("link", name=re.compile("Edit|Standard")).first.click()
    page.locator("#id_default_duration").fill("40")
    _save(page)
    saved()

    section("Users and roles")
    page.locator("main table tbody tr").filter(has_text="frontdesk").get_by_role(
        "link", name=re.compile("Edit|Frontdesk", re.I)).first.click()
    page.locator("#id_email").fill("desk@harbourside.example")
    _save(page)
    saved()

    section("Reminder settings")
    page.locator("#id_lead_hours").fill("48")
    _save(page, "Save settings")
    saved()

    section("Reminder templates")
    page.locator("#id_sms-body").fill("Hi {first_name}, see you {date} at {time}. {practice_name}")
    _save(page, "Save templates")
    saved()

    section("SMS credits")
    page.locator("#id_amount").fill("500")
    page.locator("#id_note").fill("Invoice 1042")
    _save(page, "Add credits")
    saved()

    section("Zoom")
    expect(page.locator("main h1")).to_have_text("Zoom connections")

    section("Audit trail")
    shot(page, "options-audit-trail")
    rows = page.locator("main table.audit-table tbody tr")
    expect(rows.first).to_contain_text("500 SMS credits added")
    made = list(AuditEvent.objects.filter(actor=admin_user).order_by("pk"))
    assert AuditEvent.objects.count() - before == len(made) == 9, [event.action for event in made]  # one each
    assert all(event.changes for event in made), [(event.action, event.changes) for event in made]
