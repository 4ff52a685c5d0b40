"""Front desk (and practice admin) journeys through the diary, in a real browser."""

from datetime import date, time

from playwright.sync_api import expect

from practice.models import Client
from scheduling.models import Appointment, Status
from tests.e2e.conftest import column, diary_url, expect_message, local, login, open_panel, save_move, slot


def test_front_desk_books_moves_cancels_and_reinstates(
    page, live_server, front_desk, practitioner_a, practitioner_b, appointment_type, location, booking_day,
):
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    expect(page.locator("h1.day-title")).to_contain_text(f"{booking_day:%A} {booking_day.day} {booking_day:%B %Y}")
    expect(page.locator(".diary .colhead strong")).to_have_text(["Alice Allen", "Bob Brown"])
    alice, bob = column(page, practitioner_a), column(page, practitioner_b)
    expect(alice.locator("a.appt")).to_have_count(0)

    # 1. Click Alice's empty 10:00 slot: the booking form opens in the side panel, filled in from the slot.
    panel = open_panel(page, slot(page, practitioner_a, booking_day, "10:00"))
    form = panel.locator("form.booking-form")
    expect(panel.locator(".panel-head h2")).to_have_text("New appointment")
    expect(form.locator("#id_practitioner option:checked")).to_have_text("Alice Allen")
    expect(form.locator("#id_date")).to_have_value(booking_day.isoformat())
    expect(form.locator("#id_start_time")).to_have_value("10:00")
    expect(form.locator("#id_location option:checked")).to_have_text("Clinic")
    expect(page).to_have_url(diary_url(live_server, booking_day))  # the diary stays behind the panel

    # The client is new: searching finds nobody, so add them inline.
    form.locator("#id_client_query").fill("Newman")
    expect(form.locator("#client-matches")).to_contain_text("No client matches “Newman”")
    form.locator("details.quick-add > summary").click()
    form.locator("#id_new_first_name").fill("Jamie")
    form.locator("#id_new_last_name").fill("Newman")
    form.locator("#id_new_mobile").fill("0412 555 777")
    form.locator("#id_new_email").fill("jamie@example.com")
    form.locator("#id_appointment_type").select_option(label="Standard")
    expect(form.locator("#id_duration")).to_have_value("30")  # booking.js fills in the type's length
    form.locator("#id_notes").fill("First visit")
    form.get_by_role("button", name="Book appointment").click()

    # Back on the diary: a success message and the block in Alice's column.
    expect_message(page, "Booked Jamie Newman with Alice Allen at 10:00.")
    expect(page.locator(".msg-warning")).to_have_count(0)
    block = alice.locator("a.appt")
    expect(block).to_have_count(1)
    expect(block.locator(".t")).to_have_text("10:00–10:30")
    expect(block).to_contain_text("Jamie Newman")
    expect(block).to_contain_text("Standard")
    expect(bob.locator("a.appt")).to_have_count(0)

    client = Client.objects.get(last_name="Newman")
    assert (client.first_name, client.mobile, client.email) == ("Jamie", "+61412555777", "jamie@example.com")
    appointment = Appointment.objects.get(client=client)
    assert appointment.practitioner == practitioner_a
    assert appointment.starts_at == local(booking_day, time(10))
    assert appointment.ends_at == local(booking_day, time(10, 30))
    assert appointment.notes == "First visit"

    # 2. The new appointment's panel opened by itself after booking (its heading takes the focus once it is
    # settled: clicking the block as well would race that load). Move it to Bob at 14:15.
    panel = page.locator("#panel")
    expect(panel.locator(".panel-head h2")).to_have_text(f"Jamie Newman · {booking_day:%a %d %b} 10:00")
    expect(panel.locator(".panel-head h2")).to_be_focused()
    expect(panel.locator(".facts")).to_contain_text("Alice Allen")
    panel.locator("details.section > summary", has_text="Move or change time").click()
    move = panel.locator(f'form[action="/appointments/{appointment.pk}/move/"]')
    expect(move.locator("#id_date")).to_have_value(booking_day.isoformat())
    expect(move.locator("#id_start_time")).to_have_value("10:00")
    expect(move.locator("#id_duration")).to_have_value("30")
    move.locator("#id_practitioner").select_option(label="Bob Brown")
    move.locator("#id_start_time").fill("14:15")
    save_move(move)

    expect_message(page, "Appointment moved.")
    block = bob.locator("a.appt")
    expect(block).to_have_count(1)
    expect(block.locator(".t")).to_have_text("14:15–14:45")
    expect(block).to_contain_text("Jamie Newman")
    expect(alice.locator("a.appt")).to_have_count(0)

    appointment.refresh_from_db()
    assert appointment.practitioner == practitioner_b
    assert appointment.starts_at == local(booking_day, time(14, 15))
    assert appointment.ends_at == local(booking_day, time(14, 45))

    # 3. Cancel it: the block leaves the grid and shows in the Cancelled strip.
    panel = open_panel(page, block)
    expect(panel.locator(".facts")).to_contain_text("Bob Brown")
    panel.locator("details.section > summary", has_text="Cancel appointment").click()
    panel.locator("#id_reason").fill("Client is unwell")
    panel.get_by_role("button", name="Cancel appointment").click()

    expect_message(page, "Appointment cancelled. The time is free to book again.")
    expect(page.locator(".diary a.appt")).to_have_count(0)
    cancelled = page.locator("section.cancelled")
    expect(cancelled.locator("h2")).to_have_text("Cancelled")
    expect(cancelled.locator("li")).to_have_text(["14:15 Jamie Newman"])
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED

    # 4. The cancelled appointment can be opened from the strip and reinstated.
    panel = open_panel(page, cancelled.get_by_role("link", name="14:15 Jamie Newman"))
    expect(panel.locator(".facts .status")).to_have_text("Cancelled")
    expect(panel.get_by_role("button", name="Save move")).to_have_count(0)
    panel.get_by_role("button", name="Reinstate").click()

    expect_message(page, "Appointment reinstated.")
    expect(page.locator("section.cancelled")).to_have_count(0)
    expect(bob.locator("a.appt .t")).to_have_text("14:15–14:45")
    appointment.refresh_from_db()
    assert appointment.status == Status.BOOKED


def test_front_desk_books_an_existing_client_found_by_search(
    page, live_server, front_desk, practitioner_a, practitioner_b, appointment_type, client_record, booking_day,
):
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    form = open_panel(page, slot(page, practitioner_b, booking_day, "11:30")).locator("form.booking-form")
    expect(form.locator("#id_practitioner option:checked")).to_have_text("Bob Brown")

    form.locator("#id_client_query").fill("0412 345")  # the mobile as typed at the desk, stored as +61412…
    form.locator("#client-matches").get_by_role("radio", name="Casey Client").check()
    form.locator("#id_appointment_type").select_option(label="Standard")
    form.locator("#id_duration").fill("45")
    form.get_by_role("button", name="Book appointment").click()

    expect_message(page, "Booked Casey Client with Bob Brown at 11:30.")
    expect(column(page, practitioner_b).locator("a.appt .t")).to_have_text("11:30–12:15")
    assert Client.objects.count() == 1  # nobody was added
    appointment = Appointment.objects.get()
    assert (appointment.client, appointment.practitioner) == (client_record, practitioner_b)
    assert appointment.ends_at == local(booking_day, time(12, 15))


def test_move_into_a_taken_time_explains_why(page, live_server, front_desk, practitioner_a, book, booking_day):
    first = book(practitioner_a, local(booking_day, time(9)), minutes=30)
    book(practitioner_a, local(booking_day, time(11)), minutes=30)
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    panel = open_panel(page, page.locator(f'.diary a.appt[href="/appointments/{first.pk}/"]'))
    panel.locator("summary", has_text="Move or change time").click()
    panel.locator("#id_start_time").fill("11:00")
    save_move(panel)

    expect(panel).to_contain_text(
        f"Alice Allen already has an appointment at {booking_day:%a %d %b} 11:00–11:30. Choose another time.",
        timeout=2000)
    first.refresh_from_db()
    assert first.starts_at == local(booking_day, time(9))


def test_the_reopened_panel_gives_way_to_what_the_user_opened(
    page, live_server, front_desk, practitioner_a, book, booking_day,
):
    """After a booking the diary reopens its panel (?open=<pk>). If that answer comes after the user has opened
    another appointment, it must not replace theirs (and close the section they are working in)."""
    booked = book(practitioner_a, local(booking_day, time(9)), minutes=30)
    other = book(practitioner_a, local(booking_day, time(11)), minutes=30)
    login(page, live_server, front_desk)
    held = []

    def hold_the_reopening(route):
        held.append(route)  # answered only once the user is working in the other appointment

    page.route(f"**/appointments/{booked.pk}/", hold_the_reopening)
    page.goto(diary_url(live_server, booking_day) + f"&open={booked.pk}")
    for _ in range(50):  # the diary asks for the reopened panel once it has loaded
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1
    panel = open_panel(page, page.locator(f'.diary a.appt[href="/appointments/{other.pk}/"]'))
    panel.locator("summary", has_text="Move or change time").click()
    panel.locator("#id_start_time").fill("12:00")

    held[0].continue_()  # the browser may have dropped it already (what the app should do): then it goes nowhere
    page.wait_for_timeout(1000)
    expect(panel.locator("#id_start_time")).to_be_visible()
    expect(panel.locator("#id_start_time")).to_have_value("12:00")
    expect(panel.locator(".facts")).to_contain_text("11:00–11:30")


def test_without_javascript_the_move_form_opens_from_its_link_and_moves(
    browser, live_server, front_desk, practitioner_a, book, booking_day,
):
    """With JavaScript the panel asks for its move form when the section opens; without, the section's link opens
    the appointment with the form, and the move works."""
    appointment = book(practitioner_a, local(booking_day, time(9)), minutes=30)
    context = browser.new_context(java_script_enabled=False, locale="en-AU")
    try:
        page = context.new_page()
        login(page, live_server, front_desk)
        page.goto(f"{live_server.url}/appointments/{appointment.pk}/")
        page.locator("summary", has_text="Move or change time").click()
        page.get_by_role("link", name="Show the move form").click()
        page.locator("#id_start_time").fill("11:00")
        page.get_by_role("button", name="Save move").click()
        expect(page.locator(".messages")).to_contain_text("Appointment moved.")
    finally:
        context.close()
    appointment.refresh_from_db()
    assert appointment.starts_at == local(booking_day, time(11))


def test_saving_a_client_keeps_the_date_of_birth(page, live_server, front_desk, client_record):
    client_record.date_of_birth = date(1990, 2, 1)
    client_record.save()
    login(page, live_server, front_desk)
    page.goto(f"{live_server.url}/clients/{client_record.pk}/edit/")
    expect(page.locator("#id_first_name")).to_have_value("Casey")
    # <input type=date> only takes an ISO value: a localised one (01/02/1990) showed an empty field,
    # and saving any other change then erased the date of birth.
    expect(page.locator("#id_date_of_birth")).to_have_value("1990-02-01")
    page.locator("#id_notes").fill("Prefers mornings")
    page.get_by_role("button", name="Save", exact=True).click()

    expect_message(page, "Client details saved.")
    client_record.refresh_from_db()
    assert client_record.notes == "Prefers mornings"
    assert client_record.date_of_birth == date(1990, 2, 1)


def test_practice_admin_opens_options(page, live_server, admin_user, practitioner_a):
    login(page, live_server, admin_user)
    expect(page.locator("header .role")).to_have_text("Practice admin")
    page.locator("nav.mainnav").get_by_role("link", name="Options").click()

    expect(page).to_have_url(f"{live_server.url}/options/")
    expect(page.get_by_role("heading", name="Options", exact=True)).to_be_visible()
    menu = page.get_by_role("navigation", name="Options")
    expect(menu.get_by_role("link", name="Locations", exact=True)).to_be_visible()
    menu.get_by_role("link", name="Practitioners", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/options/practitioners/")
    expect(page.locator("main")).to_contain_text("Alice Allen")
    expect(menu.get_by_role("link", name="Practitioners", exact=True)).to_have_attribute("aria-current", "page")


def test_front_desk_has_no_options(page, live_server, front_desk):
    login(page, live_server, front_desk)
    expect(page.locator("header .role")).to_have_text("Front desk")
    expect(page.locator("nav.mainnav").get_by_role("link", name="Options")).to_have_count(0)
    response = page.goto(f"{live_server.url}/options/")
    assert response is not None and response.status == 403
    response = page.goto(f"{live_server.url}/django-admin/")  # the stock admin is for superusers only
    assert response is not None and response.status == 403
