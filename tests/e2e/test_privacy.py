"""RELIABILITY.md 29 in a real browser: searches as you type without the query ever in a URL, under the strict
Content-Security-Policy (the page fixture fails the test on any refused script or style)."""

from playwright.sync_api import expect

from practice.models import Client
from tests.e2e.conftest import diary_url, login, open_panel, slot


def _record_requests(page) -> list:
    requests: list = []
    page.on("request", lambda request: requests.append((request.method, request.url)))
    return requests


def test_clients_page_searches_as_you_type_by_post(page, live_server, front_desk, client_record):
    Client.objects.create(first_name="Other", last_name="Person", email="other@example.com")
    login(page, live_server, front_desk)
    page.goto(f"{live_server.url}/clients/")
    rows = page.locator("#client-results tbody tr")
    expect(rows).to_have_count(2)
    requests = _record_requests(page)
    page.locator("main").get_by_label("Search clients").press_sequentially("casey", delay=30)
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Client, Casey")
    assert ("POST", f"{live_server.url}/clients/") in requests
    assert not [url for _, url in requests if "casey" in url.lower()]
    assert page.url == f"{live_server.url}/clients/"

    # Without waiting for the typing: the Search button posts the same form.
    page.locator("main").get_by_label("Search clients").fill("person")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Person, Other")
    assert "person" not in page.url


def test_booking_search_posts_what_was_typed(page, live_server, front_desk, practitioner_a, client_record,
                                             booking_day):
    login(page, live_server, front_desk)
    page.goto(diary_url(live_server, booking_day))
    panel = open_panel(page, slot(page, practitioner_a, booking_day, "10:00"))
    requests = _record_requests(page)
    panel.locator("#id_client_query").press_sequentially("Casey", delay=30)
    expect(panel.locator("#client-matches")).to_contain_text("Casey Client")
    assert ("POST", f"{live_server.url}/clients/search/") in requests
    assert not [url for _, url in requests if "casey" in url.lower()]
    expect(page).to_have_title("Diary · Test Practice")
