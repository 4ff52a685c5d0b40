from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from practice import roles, selectors, services
from practice.errors import ApplicationError
from practice.forms import (
    ClientForm,
    LocationForm,
    NewClientForm,
    NewPractitionerForm,
    PracticeForm,
    PractitionerForm,
    ShiftFormSet,
)
from practice.http import AuthedRequest, done, render_page, role_required
from practice.models import WEEKDAYS, Location, Practice, Practitioner
from practice.selectors import (
    client_get,
    client_matches,
    client_possible_duplicates,
    client_rows,
    client_search_page,
    client_search_similar,
)
from practice.services import client_create, client_update


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_http_methods(["GET", "POST"])
def client_list(request: AuthedRequest) -> HttpResponse:
    """All clients, or those matching a search that is POSTed (as you type, with Search, or from the top bar's
    box): what was typed (a name, a mobile, an email) never goes into a URL, so never into access logs, browser
    history or a Referer (RELIABILITY.md 29). A ``q`` in the query string is ignored; the page number alone may
    be there. Matches are ranked (practice.selectors.client_search); with none, similar spellings are offered."""
    query = request.POST.get("q", "").strip() if request.method == "POST" else ""
    page_number = request.POST.get("page") if request.method == "POST" else request.GET.get("page")
    page, rows = client_search_page(query, page_number)
    similar = False
    if query and not rows:
        rows = client_rows(client_search_similar(query))
        similar = bool(rows)
    return render(request, "practice/client_list.html", {
        "page": page, "rows": rows, "similar": similar, "query": query,
        "can_edit": roles.can_manage_all_appointments(request.user),
    })


@require_POST
def client_search_results(request: AuthedRequest) -> HttpResponse:
    """The booking form's search-as-you-type list (an htmx partial), POSTed for the same reason as the list."""
    query = request.POST.get("client_query", "").strip()
    rows, similar = client_matches(query, limit=8) if query else ([], False)
    return render(request, "practice/_client_matches.html", {"matches": rows, "similar": similar, "query": query})


@require_POST
def client_quick_search(request: AuthedRequest) -> HttpResponse:
    """The top bar's search box as you type: the best matches with their next appointment (an htmx partial).
    Enter in the box POSTs to the Clients page instead, for every match."""
    query = request.POST.get("q", "").strip()
    rows, similar = client_matches(query, limit=8) if query else ([], False)
    return render(request, "practice/_search_dropdown.html", {"rows": rows, "similar": similar, "query": query})


@require_POST
def client_duplicates(request: AuthedRequest) -> HttpResponse:
    """The "Possible duplicate" hint while a new client is typed: in the booking form's New client (fields
    new_*) or on the New client page. The same check refuses the create itself (practice.services.client_create),
    so this is only the early warning."""
    in_booking = any(name.startswith("new_") for name in request.POST)
    prefix = "new_" if in_booking else ""
    duplicates = client_possible_duplicates(
        first_name=request.POST.get(f"{prefix}first_name", ""), last_name=request.POST.get(f"{prefix}last_name", ""),
        mobile=request.POST.get(f"{prefix}mobile", ""))
    return render(request, "practice/_duplicate_hint.html", {
        "duplicates": duplicates, "in_booking": in_booking, "anyway_name": f"{prefix}create_anyway",
        "anyway": bool(request.POST.get(f"{prefix}create_anyway")),
    })


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
    form = NewClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        allow_duplicate = fields.pop("create_anyway")
        try:
            client = client_create(actor=request.user, allow_duplicate=allow_duplicate, **fields)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Added {client}.")
            return done(request, reverse("client-detail", args=[client.pk]))
    duplicates = []
    if form.is_bound:
        duplicates = client_possible_duplicates(first_name=request.POST.get("first_name", ""),
                                                last_name=request.POST.get("last_name", ""),
                                                mobile=request.POST.get("mobile", ""))
    return render_page(request, "practice/_client_form.html", {
        "form": form, "title": "New client", "duplicates": duplicates, "anyway_name": "create_anyway",
        "anyway": form.is_bound and bool(request.POST.get("create_anyway")),
    })


@role_required(roles.can_manage_all_appointments)
def client_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    client = client_get(pk)
    form = ClientForm(request.POST or None, instance=client)
    if request.method == "POST" and form.is_valid():
        # Fetched again: validating the ModelForm already copied the new values onto ``client``, and the
        # service compares against the stored ones to audit what changed.
        try:
            client_update(actor=request.user, client=client_get(pk), **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
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


# Options → Practice, Locations, Practitioners (issue 8) ---------------------------------------------------------

admin_only = role_required(roles.is_practice_admin)


@admin_only
@require_http_methods(["GET", "POST"])
def options_practice(request: AuthedRequest) -> HttpResponse:
    practice = Practice.load()
    form = PracticeForm(request.POST or None, instance=practice)
    if request.method == "POST" and form.is_valid():
        try:
            services.practice_update(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Practice details saved.")
            return redirect("options-practice")
    return render(request, "practice/options_practice.html", {"form": form, "title": "Practice"})


@admin_only
@require_GET
def options_locations(request: AuthedRequest) -> HttpResponse:
    return render(request, "practice/options_locations.html",
                  {"locations": selectors.locations_for_options(), "title": "Locations"})


@admin_only
@require_http_methods(["GET", "POST"])
def options_location_new(request: AuthedRequest) -> HttpResponse:
    form = LocationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            location = services.location_create(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Location {location.name} added.")
            return redirect("options-locations")
    return render(request, "practice/options_location_form.html", {"form": form, "title": "New location"})


@admin_only
@require_http_methods(["GET", "POST"])
def options_location_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    location = get_object_or_404(Location, pk=pk)
    form = LocationForm(request.POST or None, instance=location)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.location_update(actor=request.user, location=location, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Location {saved.name} saved.")
            return redirect("options-locations")
    return render(request, "practice/options_location_form.html",
                  {"form": form, "title": "Edit location", "location": location,
                   "in_use": location.appointments.count()})  # type: ignore[attr-defined]


@admin_only
@require_POST
def options_location_active(request: AuthedRequest, pk: int) -> HttpResponse:
    """Deactivate or reactivate (there is no delete: appointments keep their location)."""
    location = get_object_or_404(Location, pk=pk)
    active = request.POST.get("active") == "1"
    try:
        saved = services.location_set_active(actor=request.user, location=location, active=active)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Location {saved.name} {'reactivated' if active else 'deactivated'}.")
    return redirect("options-locations")


@admin_only
@require_GET
def options_practitioners(request: AuthedRequest) -> HttpResponse:
    practitioners = selectors.practitioners_for_options()
    rows = [(p, selectors.week_summary(p)) for p in practitioners]
    return render(request, "practice/options_practitioners.html",
                  {"rows": rows, "title": "Practitioners",
                   "candidates": services.practitioner_candidates().exists()})


@admin_only
@require_http_methods(["GET", "POST"])
def options_practitioner_new(request: AuthedRequest) -> HttpResponse:
    candidates = services.practitioner_candidates()
    form = NewPractitionerForm(request.POST or None, candidates=candidates)
    if request.method == "POST" and form.is_valid():
        try:
            practitioner = services.practitioner_create(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"{practitioner.display_name} added. Now set their working hours.")
            return redirect("options-practitioner-hours", pk=practitioner.pk)
    return render(request, "practice/options_practitioner_form.html",
                  {"form": form, "title": "New practitioner", "no_candidates": not candidates.exists()})


@admin_only
@require_http_methods(["GET", "POST"])
def options_practitioner_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    practitioner = get_object_or_404(Practitioner.objects.select_related("user"), pk=pk)
    form = PractitionerForm(request.POST or None, instance=practitioner)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.practitioner_update(actor=request.user, practitioner=practitioner, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"{saved.display_name} saved.")
            return redirect("options-practitioners")
    return render(request, "practice/options_practitioner_form.html",
                  {"form": form, "title": "Edit practitioner", "practitioner": practitioner})


def _week_initial(practitioner: Practitioner) -> list[dict]:
    """Each day's shifts, then an empty row for that day to add one."""
    shifts = list(practitioner.working_hours.order_by("weekday", "starts_at"))
    rows: list[dict] = []
    for weekday, _name in WEEKDAYS:
        rows += [{"weekday": s.weekday, "starts_at": s.starts_at, "ends_at": s.ends_at, "location": s.location}
                 for s in shifts if s.weekday == weekday]
        rows.append({"weekday": weekday, "location": practitioner.default_location})
    return rows


@admin_only
@require_http_methods(["GET", "POST"])
def options_practitioner_hours(request: AuthedRequest, pk: int) -> HttpResponse:
    practitioner = get_object_or_404(Practitioner, pk=pk)
    used = Location.objects.filter(pk__in=practitioner.working_hours.values("location"))
    locations = Location.objects.filter(Q(is_active=True) | Q(pk__in=used)).order_by("name")
    initial, refusal = _week_initial(practitioner), ""
    if request.method == "POST":
        formset = ShiftFormSet(request.POST, locations=locations, prefix="shift")
        if formset.is_valid():
            try:
                services.working_hours_set(actor=request.user, practitioner=practitioner,
                                           shifts=formset.shifts())
            except ApplicationError as exc:
                refusal = exc.message
            else:
                messages.success(request, f"Working hours of {practitioner.display_name} saved.")
                return redirect("options-practitioner-hours", pk=practitioner.pk)
    else:
        formset = ShiftFormSet(initial=initial, locations=locations, prefix="shift")
    return render(request, "practice/options_practitioner_hours.html",
                  {"formset": formset, "practitioner": practitioner, "title": "Working hours",
                   "refusal": refusal})
