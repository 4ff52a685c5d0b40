from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from practice import roles
from practice.errors import ApplicationError
from practice.http import AuthedRequest, role_required
from telehealth import selectors, services
from telehealth.forms import PracticeZoomAppForm, ZoomConnectionForm, ZoomUserForm
from telehealth.models import ZoomConnection
from telehealth.webhooks import WebhookRejected

# The connections re-tested by the last change of the practice app: shown once, on the page after saving.
RETESTED_SESSION_KEY = "zoom_retested"


def _connections_page(request: AuthedRequest, app_form: PracticeZoomAppForm, status: int = 200) -> HttpResponse:
    retested = request.session.pop(RETESTED_SESSION_KEY, None) if request.method == "GET" else None
    retest_rows = []
    if retested:
        by_pk = {c.pk: c for c in ZoomConnection.objects.filter(pk__in=[pk for pk, _ in retested])
                 .select_related("practitioner")}
        retest_rows = [(by_pk[pk], tested) for pk, tested in retested if pk in by_pk]
    return render(request, "telehealth/zoom_connections.html", {
        "practitioners": selectors.practitioners_with_connections(), "title": "Zoom connections",
        "now": timezone.now(), "app": selectors.practice_app_get(), "app_form": app_form,
        "app_users": selectors.connections_using_practice_app().count(), "retested": retest_rows,
    }, status=status)


def _app_form(data: dict | None = None) -> PracticeZoomAppForm:
    app = selectors.practice_app_get()
    initial = {"account_id": app.account_id, "client_id": app.client_id} if app else {}
    return PracticeZoomAppForm(data, initial=initial, has_secret=app is not None,
                               has_webhook_secret=bool(app and app.webhook_secret_encrypted))


@require_GET
@role_required(roles.is_practice_admin)
def zoom_connections(request: AuthedRequest) -> HttpResponse:
    """Options → Zoom: the practice's app, and one row per practitioner (R1)."""
    return _connections_page(request, _app_form())


@role_required(roles.is_practice_admin)
def zoom_practice_app(request: AuthedRequest) -> HttpResponse:
    """Save the practice's Zoom app; a change re-tests every connection using it (results on the next page)."""
    if request.method != "POST":
        return redirect(reverse("zoom-connections"))
    form = _app_form(request.POST)
    if form.is_valid():
        webhook_secret = form.cleaned_data.pop("webhook_secret", "")
        try:
            _app, changed = services.practice_app_save(actor=request.user, **form.cleaned_data)
            webhook_changed = services.webhook_secret_set(actor=request.user, secret=webhook_secret)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if not changed:
                if webhook_changed:
                    messages.success(request, "The webhook secret token of the practice's Zoom app was saved.")
                else:
                    messages.info(request, "The practice's Zoom app is unchanged.")
                return redirect(reverse("zoom-connections"))
            results = services.practice_app_retest(actor=request.user)
            request.session[RETESTED_SESSION_KEY] = [(r.connection.pk, r.tested) for r in results]
            working = sum(1 for r in results if r.connection.is_connected)
            # Green only when every connection using the app still works: otherwise telehealth is at risk.
            report = messages.success if working == len(results) else messages.warning
            report(request, "The practice's Zoom app was saved." + (
                f" Re-tested the connections using it: {working} of {len(results)} connected." if results else ""))
            return redirect(reverse("zoom-connections"))
    return _connections_page(request, form, status=200)


def _mode(request: AuthedRequest, connection: ZoomConnection | None, has_app: bool) -> str:
    """Which app the page edits: what the POST says, else ?app=, else the connection's, else the practice's."""
    wanted = request.POST.get("app") or request.GET.get("app")
    if wanted == "practice" and has_app:
        return "practice"
    if wanted == "own":
        return "own"
    if connection is not None:
        return "practice" if connection.uses_practice_app and has_app else "own"
    return "practice" if has_app else "own"


@role_required(roles.is_practice_admin)
def zoom_connection_edit(request: AuthedRequest, practitioner_pk: int) -> HttpResponse:
    practitioner = selectors.practitioner_get(practitioner_pk)
    connection = ZoomConnection.objects.filter(practitioner=practitioner).first()
    app = selectors.practice_app_get()
    mode = _mode(request, connection, app is not None)
    data = request.POST if request.method == "POST" else None
    zoom_user = connection.zoom_user if connection else practitioner.user.email
    form: ZoomUserForm | ZoomConnectionForm
    if mode == "practice":
        form = ZoomUserForm(data, initial={"zoom_user": zoom_user}, users=services.practice_app_users(),
                            taken=selectors.zoom_users_taken(except_practitioner=practitioner),
                            current=connection.zoom_user if connection else "")
    else:
        own = connection is not None and not connection.uses_practice_app
        initial = {"zoom_user": zoom_user} | (
            {"account_id": connection.account_id, "client_id": connection.client_id} if own and connection else {})
        form = ZoomConnectionForm(data, initial=initial,
                                  has_secret=own and bool(connection and connection.client_secret_encrypted),
                                  has_webhook_secret=own and bool(connection and connection.webhook_secret_encrypted))
    if request.method == "POST" and form.is_valid():
        webhook_secret = form.cleaned_data.pop("webhook_secret", "")
        try:
            connection = services.connection_save(actor=request.user, practitioner=practitioner,
                                                  uses_practice_app=mode == "practice", **form.cleaned_data)
            services.webhook_secret_set(actor=request.user, secret=webhook_secret, connection=connection)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            connection = services.connection_test(actor=request.user, connection=connection)
            _report_test(request, connection)
            return redirect(reverse("zoom-connection", args=[practitioner.pk]))
    return render(request, "telehealth/zoom_connection.html", {
        "form": form, "practitioner": practitioner, "connection": connection, "mode": mode, "app": app,
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


@csrf_exempt  # Zoom can't send our CSRF token; its own signature is checked instead
@login_not_required
@require_POST
def zoom_webhook(request: HttpRequest) -> HttpResponse:
    """Zoom's event notifications (issue 12): verified, recorded and answered at once; a worker applies them."""
    try:
        answer = services.webhook_receive(body=request.body, timestamp=request.headers.get("x-zm-request-timestamp"),
                                          signature=request.headers.get("x-zm-signature"))
    except WebhookRejected as exc:
        return HttpResponse(exc.message, status=exc.status, content_type="text/plain")
    if answer is not None:
        return JsonResponse(answer)
    return HttpResponse(status=200)
