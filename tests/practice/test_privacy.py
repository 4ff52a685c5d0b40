"""RELIABILITY.md 29: health data hygiene. No client names, phones or emails in URLs or page titles; authenticated
pages are not cached; a Content-Security-Policy on every response, and pages that keep to it."""

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.urls import reverse

from practice.models import Client
from tests.conftest import sydney
from tests.test_fuzz import discover_urls

REQUIRED_CSP = ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
                "object-src 'none'", "base-uri 'self'", "frame-ancestors 'none'", "form-action 'self'"]


@pytest.fixture
def clinic(practice, front_desk, admin_user, practitioner_a, client_record, book):
    client_record.last_name = "Zeller"  # a name no page says by itself (unlike "Client")
    client_record.save()
    appointment = book(practitioner_a, sydney(2030, 3, 4, 9))
    return {"appointment": appointment, "client": client_record,
            "users": {"front desk": front_desk, "practitioner": practitioner_a.user, "practice admin": admin_user},
            "pk_for": lambda url_name: (client_record.pk if url_name.startswith("client-") else appointment.pk),
            "practitioner": practitioner_a}


def _title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    return match.group(1).strip() if match else ""


# --- 1. the client search never puts what was typed into a URL ----------------------------------------------------


def test_the_booking_search_is_a_post_and_a_get_is_refused(client, front_desk, client_record):
    client.force_login(front_desk)
    assert client.get(reverse("client-search"), {"client_query": "casey"}).status_code == 405
    html = client.post(reverse("client-search"), {"client_query": "casey"}).content.decode()
    assert "Casey Client" in html


def test_the_booking_form_searches_as_you_type_by_post(client, front_desk, practitioner_a):
    client.force_login(front_desk)
    html = client.get(reverse("appointment-new")).content.decode()
    search = re.search(r'<input[^>]*name="client_query"[^>]*>', html).group(0)
    assert f'hx-post="{reverse("client-search")}"' in search
    assert "hx-get" not in search
    assert "input changed delay:200ms" in search
    # Without JavaScript, Find posts the booking form itself.
    assert re.search(r'<form method="post" action="/appointments/new/"', html)
    assert 'name="find"' in html


def test_the_clients_page_searches_by_post_and_ignores_a_query_in_the_url(client, front_desk, client_record):
    Client.objects.create(first_name="Other", last_name="Person")
    client.force_login(front_desk)
    html = client.get(reverse("client-list"), {"q": "person"}).content.decode()
    assert "Client, Casey" in html and "Person, Other" in html  # ?q= does nothing
    page = client.get(reverse("client-list")).content.decode()
    assert re.search(r'<form method="post" action="/clients/" role="search">', page)
    assert f'hx-post="{reverse("client-list")}"' in page
    html = client.post(reverse("client-list"), {"q": "person"}).content.decode()
    assert "Person, Other" in html and "Client, Casey" not in html


def test_pages_of_a_search_are_posted_too(client, front_desk):
    Client.objects.bulk_create([Client(first_name=f"Sam{n:02}", last_name="Smith") for n in range(30)])
    client.force_login(front_desk)
    html = client.post(reverse("client-list"), {"q": "smith"}).content.decode()
    assert 'name="page" value="2"' in html
    assert "smith" not in " ".join(re.findall(r'(?:href|action)="([^"]*)"', html)).lower()
    second = client.post(reverse("client-list"), {"q": "smith", "page": "2"}).content.decode()
    assert "Page 2 of 2" in second and "Sam29" in second


@pytest.mark.parametrize("query", ["\x00", "cas\x00ey", "casey \x00"])
def test_a_nul_in_a_search_is_an_empty_result(client, front_desk, client_record, query):
    """PostgreSQL refuses a NUL even in a LIKE pattern (DataError → 500); no stored text can contain one."""
    client.force_login(front_desk)
    response = client.post(reverse("client-list"), {"q": query})
    assert response.status_code == 200 and "Client, Casey" not in response.content.decode()
    response = client.post(reverse("client-search"), {"client_query": query})
    assert response.status_code == 200 and "Casey Client" not in response.content.decode()


# --- 2. page titles name a kind of page, never a client ----------------------------------------------------------


def test_no_page_title_names_the_client(clinic):
    client_record = clinic["client"]
    secrets = [client_record.first_name, client_record.last_name, client_record.email, "412", "345 678"]
    seen = 0
    for role, user in clinic["users"].items():
        http = HttpClient()
        http.force_login(user)
        for _url_name, url in discover_urls(clinic):
            response = http.get(url)
            if response.status_code != 200 or not response.get("Content-Type", "").startswith("text/html"):
                continue
            title = _title(response.content.decode())
            seen += bool(title)
            assert not any(secret in title for secret in secrets), (role, url, title)
    assert seen > 20


def test_titles_of_client_and_appointment_pages_are_generic(client, clinic):
    client.force_login(clinic["users"]["front desk"])
    detail = client.get(reverse("client-detail", args=[clinic["client"].pk])).content.decode()
    assert _title(detail) == "Client · Test Practice"
    appointment = client.get(reverse("appointment-detail", args=[clinic["appointment"].pk])).content.decode()
    assert _title(appointment) == "Appointment · Test Practice"
    assert "Casey Zeller" in appointment  # the panel's heading still says who it is
    edit = client.get(reverse("client-edit", args=[clinic["client"].pk])).content.decode()
    assert _title(edit) == "Client · Test Practice"
    diary = client.get(reverse("diary"), {"date": "2030-03-04"}).content.decode()
    assert _title(diary) == "Diary · Test Practice"


# --- 3. no-store on everything a signed-in user gets ---------------------------------------------------------------


def test_authenticated_pages_are_not_stored(clinic):
    http = HttpClient()
    http.force_login(clinic["users"]["front desk"])
    for url in (reverse("diary"), reverse("client-detail", args=[clinic["client"].pk]), reverse("client-list"),
                reverse("appointment-detail", args=[clinic["appointment"].pk]), "/no-such-page/"):
        cache_control = http.get(url).get("Cache-Control", "")
        assert "no-store" in cache_control and "private" in cache_control, (url, cache_control)
    response = http.post(reverse("client-search"), {"client_query": "cas"})
    assert "no-store" in response["Cache-Control"]


def test_static_files_keep_their_caching(client, front_desk):
    client.force_login(front_desk)
    response = client.get(settings.STATIC_URL + "css/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


# --- 4. a Content-Security-Policy on every response, and pages that keep to it -------------------------------------


def test_every_response_carries_the_policy(client, clinic):
    policy = settings.CONTENT_SECURITY_POLICY
    for directive in REQUIRED_CSP:
        assert directive in policy
    assert "'unsafe-eval'" not in policy and "script-src 'self' 'unsafe-inline'" not in policy
    assert client.get(reverse("login"))["Content-Security-Policy"] == policy
    assert client.get(reverse("diary"))["Content-Security-Policy"] == policy  # the redirect to the login
    client.force_login(clinic["users"]["practice admin"])
    for url in (reverse("diary"), reverse("admin:index"), "/no-such-page/",
                reverse("appointment-detail", args=[clinic["appointment"].pk])):
        assert client.get(url)["Content-Security-Policy"] == policy, url


class _InlineCode(HTMLParser):
    """What a strict policy would refuse: inline scripts, on*= handlers, <style> elements, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        attributes = dict(attrs)
        if tag == "script" and not attributes.get("src"):
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name}= handler on <{tag}>")
            if name in ("href", "action", "src") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL on <{tag}>")


def test_no_page_needs_what_the_policy_refuses(clinic):
    for role, user in clinic["users"].items():
        http = HttpClient()
        http.force_login(user)
        for _url_name, url in discover_urls(clinic):
            response = http.get(url)
            if not response.get("Content-Type", "").startswith("text/html"):
                continue
            parser = _InlineCode()
            parser.feed(response.content.decode())
            assert not parser.found, (role, url, parser.found)


def test_htmx_is_told_not_to_inject_styles_or_eval(client, front_desk):
    client.force_login(front_desk)
    html = client.get(reverse("diary")).content.decode()
    assert '"includeIndicatorStyles": false' in html and '"allowEval": false' in html
