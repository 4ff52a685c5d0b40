from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from practice import roles
from practice.forms import ClientForm
from practice.http import AuthedRequest, done, render_page, role_required
from practice.selectors import client_get, client_search
from practice.services import client_create, client_update


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_http_methods(["GET", "POST"])
def client_list(request: AuthedRequest) -> HttpResponse:
    """All clients, or those matching a search that is POSTed: what was typed (a name, a mobile, an email) never
    goes into a URL, so never into access logs, browser history or a Referer (RELIABILITY.md 29). A ``q`` in the
    query string is ignored; the page number alone may be there."""
    query = request.POST.get("q", "").strip() if request.method == "POST" else ""
    page_number = request.POST.get("page") if request.method == "POST" else request.GET.get("page")
    page = Paginator(client_search(query), 25).get_page(page_number)
    return render(request, "practice/client_list.html", {
        "page": page, "query": query, "can_edit": roles.can_manage_all_appointments(request.user),
    })


@require_POST
def client_search_results(request: AuthedRequest) -> HttpResponse:
    """The booking form's search-as-you-type list (an htmx partial), POSTed for the same reason as the list."""
    query = request.POST.get("client_query", "").strip()
    matches = client_search(query)[:8] if query else []
    return render(request, "practice/_client_matches.html", {"matches": matches, "query": query})


@require_GET
def client_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    client = client_get(pk)
    appointments = (client.appointments.select_related("practitioner", "location", "appointment_type")
                    .order_by("-starts_at")[:100])
    return render(request, "practice/client_detail.html", {
        "client": client, "appointments": appointments,
        "can_edit": roles.can_manage_all_appointments(request.user),
    })


@role_required(roles.can_manage_all_appointments)
def client_new(request: AuthedRequest) -> HttpResponse:
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        client = client_create(actor=request.user, **form.cleaned_data)
        messages.success(request, f"Added {client}.")
        return done(request, reverse("client-detail", args=[client.pk]))
    return render_page(request, "practice/_client_form.html", {"form": form, "title": "New client"})


@role_required(roles.can_manage_all_appointments)
def client_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    client = client_get(pk)
    form = ClientForm(request.POST or None, instance=client)
    if request.method == "POST" and form.is_valid():
        # Fetched again: validating the ModelForm already copied the new values onto ``client``, and the
        # service compares against the stored ones to audit what changed.
        client_update(actor=request.user, client=client_get(pk), **form.cleaned_data)
        messages.success(request, "Client details saved.")
        return done(request, reverse("client-detail", args=[client.pk]))
    return render_page(request, "practice/_client_form.html", {"form": form, "title": f"Edit {client}",
                                                                "client": client})


def permission_denied(request: AuthedRequest, exception: Exception) -> HttpResponse:
    """403, as the side panel's content when htmx asked for the panel, so the refusal is visible there."""
    return _error_page(request, "Not allowed", str(exception) or "Your role does not allow this.", 403)


def page_not_found(request: AuthedRequest, exception: Exception) -> HttpResponse:
    return _error_page(request, "Not found", "That page or record does not exist.", 404)


def _error_page(request: AuthedRequest, title: str, message: str, status: int) -> HttpResponse:
    return render_page(request, "_error.html", {"title": title, "page_title": title, "message": message},
                       status=status)
