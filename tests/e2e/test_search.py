"""Search everywhere (issue 9 item 6) and the duplicate hint (item 4), in a real browser."""

import re
from datetime import time

import pytest
from playwright.sync_api import expect

from practice.models import Client
from scheduling.models import Appointment
from tests.e2e.conftest import diary_url, local, login, open_panel, shot, slot

SIZES = [pytest.param((1366, 768), id="desktop"), pytest.param((390, 844), id="phone")]


def assert_accessible(page, selector: str) -> None:
    """axe-core finds no critical or serious violation in what this issue added (the rest is checked page by
    page elsewhere)."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page, context=selector).response["violations"]
    serious = [(v["id"], v["impact"], [node["target"] for node in v["nodes"]]) for v in violations
               if v["impact"] in ("critical", "serious")]
    assert not serious, serious


@pytest.fixture
def liam(book, practitioner_a, booking_day) -> Client:
    """Liam Kelly, with his next appointment on the booking day at 10:30 with Alice Allen."""
    client = Client.objects.create(first_name="Liam", last_name="Kelly", mobile="+61410000023",
                                   email="liam.kelly@example.com")
    book(practitioner_a, local(booking_day, time(10, 30)), client=client)
    Client.objects.create(first_name="Mia", last_name="Mickelson", mobile="+61410000099")
    return client


@pytest.mark.parametrize("size", SIZES)
def test_the_top_bar_search_finds_a_client_as_you_type(page, live_server, front_desk, liam, booking_day, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    box = page.get_by_role("combobox", name="Search clients")
    popup = page.locator("#global-search-results")
    expect(popup).to_be_hidden()

    # "Kelly, Li": the list's own format; the match and its next appointment appear as it is typed.
    box.press_sequentially("Kelly, Li", delay=30)
    expect(popup).to_be_visible()
    options = popup.get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("Kelly, Liam")
    expect(options.first).to_contain_text("0410 000 023")
    expect(options.first).to_contain_text(f"Next: {booking_day:%a} {booking_day.day} {booking_day:%b}")
    expect(options.first).to_contain_text("10:30 · Alice Allen")
    expect(box).to_have_attribute("aria-expanded", "true")
    box_right = page.evaluate("() => document.getElementById('global-search-results').getBoundingClientRect().right")
    assert box_right <= size[0], "the popup fits in the window"
    shot(page, f"search-topbar-{size[0]}")
    assert_accessible(page, ".global-search")

    # Keyboard: ↓ highlights the match, Enter opens the client.
    box.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", "global-search-option-1")
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/clients/{liam.pk}/")
    expect(page.locator("h1")).to_contain_text("Liam Kelly")

    # A phone in international form, with spaces; picked with the mouse (a tap on a phone).
    box = page.get_by_role("combobox", name="Search clients")
    box.press_sequentially("+61 410 000 023", delay=20)
    page.locator("#global-search-results").get_by_role("option").first.click()
    expect(page).to_have_url(f"{live_server.url}/clients/{liam.pk}/")

    # Escape closes the popup; Enter without a highlighted match lists every match on the Clients page, ranked
    # (Kelly begins a word, Mickelson only contains "kel"), and the query is not in the URL.
    box = page.get_by_role("combobox", name="Search clients")
    box.press_sequentially("kel", delay=30)
    popup = page.locator("#global-search-results")
    expect(popup.get_by_role("option")).to_have_count(2)
    box.press("Escape")
    expect(popup).to_be_hidden()
    box.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/clients/")
    rows = page.locator("#client-results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Kelly, Liam")
    expect(rows.nth(0)).to_contain_text("10:30 · Alice Allen")
    expect(rows.nth(1)).to_contain_text("Mickelson, Mia")
    expect(rows.nth(1)).to_contain_text("No upcoming appointment")
    shot(page, f"search-clients-page-{size[0]}")
    assert_accessible(page, "main")


@pytest.mark.parametrize("size", SIZES)
def test_a_typo_in_the_top_bar_offers_the_similar_name(page, live_server, front_desk, liam, booking_day, size):
    """On SQLite (the e2e database) by the names' skeletons; on PostgreSQL pg_trgm does the same."""
    Client.objects.create(first_name="Ann", last_name="Kelyl")  # typed right for her: a match, first
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    box = page.get_by_role("combobox", name="Search clients")
    box.press_sequentially("Kelyl", delay=30)
    options = page.locator("#global-search-results").get_by_role("option")
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text("Kelyl, Ann")
    expect(options.nth(0)).not_to_contain_text("similar spelling")
    expect(options.nth(1)).to_contain_text("Kelly, Liam similar spelling")
    shot(page, f"search-typo-{size[0]}")
    assert_accessible(page, ".global-search")


@pytest.mark.parametrize("size", SIZES)
def test_the_clients_page_searches_as_you_type(page, live_server, front_desk, liam, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, live_server, front_desk)
    page.goto(f"{live_server.url}/clients/")
    search = page.locator("main input[name=q]")
    search.press_sequentially("0410000023", delay=20)
    rows = page.locator("#client-results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Kelly, Liam")
    expect(rows.first).to_contain_text("Alice Allen")
    assert page.url == f"{live_server.url}/clients/"


def test_the_booking_form_offers_a_possible_duplicate(page, live_server, front_desk, liam, practitioner_a,
                                                      appointment_type, booking_day):
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    panel = open_panel(page, slot(page, practitioner_a, booking_day, "14:00"))
    form = panel.locator("form.booking-form")

    # The search shows Liam's next appointment too.
    form.locator("#id_client_query").press_sequentially("liam kel", delay=30)
    expect(form.locator("#client-matches")).to_contain_text("Next: ")
    expect(form.locator("#client-matches")).to_contain_text("10:30 · Alice Allen")

    # Typing him as a new client: the hint offers the existing Liam Kelly.
    form.locator("#id_client_query").fill("")
    form.locator("details.quick-add > summary").click()
    form.locator("#id_new_first_name").fill("")
    form.locator("#id_new_first_name").press_sequentially("liam", delay=20)
    form.locator("#id_new_last_name").fill("")
    form.locator("#id_new_last_name").press_sequentially("KELLY", delay=20)
    hint = form.locator("#duplicate-hint")
    expect(hint).to_contain_text("Possible duplicate: Liam Kelly, 0410 000 023")
    shot(page, "search-duplicate-hint")
    assert_accessible(page, "form.booking-form")
    hint.get_by_role("button", name="use this client").click()
    expect(form.locator(".chosen")).to_contain_text("Liam Kelly")
    form.locator("#id_appointment_type").select_option(label=appointment_type.name)
    form.get_by_role("button", name="Book appointment").click()
    expect(page.locator(".messages")).to_contain_text("Booked Liam Kelly with Alice Allen at 14:00.")
    assert Client.objects.filter(last_name="Kelly").count() == 1
    assert Appointment.objects.filter(client=liam).count() == 2


def test_the_new_client_page_warns_before_adding_someone_twice(page, live_server, front_desk, liam):
    login(page, live_server, front_desk)
    page.goto(f"{live_server.url}/clients/new/")
    page.locator("#id_first_name").fill("Lee")
    page.locator("#id_last_name").fill("Kelly")
    page.locator("#id_mobile").press_sequentially("0410 000 023", delay=20)
    hint = page.locator("#duplicate-hint")
    expect(hint).to_contain_text("Possible duplicate: Liam Kelly, 0410 000 023")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".form-errors")).to_contain_text("Possible duplicate: Liam Kelly")
    page.locator("#duplicate-hint").get_by_label("Create anyway: this is a different person").check()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/clients/\d+/$"))
    assert Client.objects.filter(last_name="Kelly").count() == 2
