from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from practice import roles
from practice.errors import ApplicationError
from practice.http import AuthedRequest, role_required
from telehealth import selectors, services
from telehealth.forms import ZoomConnectionForm
from telehealth.models import ZoomConnection


@require_GET
@role_required(roles.is_practice_admin)
def zoom_connections(request: AuthedRequest) -> HttpResponse:
    """Options → Zoom: one row per practitioner (R1)."""
    return render(request, "telehealth/zoom_connections.html", {
        "practitioners": selectors.practitioners_with_connections(), "title": "Zoom connections",
        "now": timezone.now(),
    })


@role_required(roles.is_practice_admin)
def zoom_connection_edit(request: AuthedRequest, practitioner_pk: int) -> HttpResponse:
    practitioner = selectors.practitioner_get(practitioner_pk)
    connection = ZoomConnection.objects.filter(practitioner=practitioner).first()
    initial = {name: getattr(connection, name) for name in ("account_id", "client_id", "zoom_user")} if connection \
        else {"zoom_user": practitioner.user.email}
    form = ZoomConnectionForm(request.POST or None, initial=initial, has_secret=connection is not None)
    if request.method == "POST" and form.is_valid():
        try:
            connection = services.connection_save(actor=request.user, practitioner=practitioner, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            connection = services.connection_test(actor=request.user, connection=connection)
            _report_test(request, connection)
            return redirect(reverse("zoom-connection", args=[practitioner.pk]))
    return render(request, "telehealth/zoom_connection.html", {
        "form": form, "practitioner": practitioner, "connection": connection,
        "title": f"Zoom for {practitioner}", "now": timezone.now(),
    })


@role_required(roles.is_practice_admin)
def zoom_connection_test(request: AuthedRequest, practitioner_pk: int) -> HttpResponse:
    if request.method != "POST":
        return redirect(reverse("zoom-connection", args=[practitioner_pk]))
    connection = ZoomConnection.objects.filter(practitioner_id=practitioner_pk).first()
    if connection is None:
        messages.error(request, "Enter the Zoom connection first.")
    else:
        _report_test(request, services.connection_test(actor=request.user, connection=connection))
    return redirect(reverse("zoom-connection", args=[practitioner_pk]))


def _report_test(request: AuthedRequest, connection: ZoomConnection) -> None:
    if connection.last_test_problem:
        # Zoom (or the token cache) could not be reached: nothing was learnt about the credentials.
        messages.warning(request, f"{connection.last_test_problem} The connection's status is unchanged "
                                  f"({connection.get_status_display()}); test again in a moment.")
    elif connection.is_connected:
        messages.success(request, f"Connected to Zoom as {connection.zoom_user_name} ({connection.zoom_user_email}), "
                                  f"{connection.plan} plan.")
    else:
        messages.error(request, f"The Zoom connection failed: {connection.status_reason}")
