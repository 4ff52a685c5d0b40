"""Options → Users and roles: thin views over practice.users (practice admins only)."""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.models import Group, User
from django.db.models import Prefetch
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from practice import roles, users
from practice.errors import ApplicationError
from practice.forms_users import UserCreateForm, UserEditForm, UserPasswordForm
from practice.http import AuthedRequest, role_required

admin_only = role_required(roles.is_practice_admin)


def _user_for_admin(pk: int) -> User:
    """The one way these views fetch a user: with their groups, so the role is read without another query."""
    return get_object_or_404(User.objects.prefetch_related("groups"), pk=pk)


def _show_refusal(form: Form, exc: ApplicationError) -> None:
    """The service's refusal on the field it is about, or above the form."""
    placed = False
    for name, field_errors in (exc.extra.get("errors") or {}).items():
        if name in form.fields and not form.fields[name].disabled:
            for error in field_errors:
                form.add_error(name, error)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def _role_label(user: User) -> str:
    return "Superuser" if user.is_superuser and not users.user_role(user) else users.user_role(user) or "No role"


@require_GET
@admin_only
def options_users(request: AuthedRequest) -> HttpResponse:
    people = User.objects.prefetch_related(Prefetch("groups", queryset=Group.objects.only("name"))).order_by(
        "-is_active", "last_name", "first_name", "username")
    rows = [{"user": person, "role": _role_label(person), "superuser": person.is_superuser,
             "manageable": users.may_manage(request.user, person), "me": person.pk == request.user.pk}
            for person in people]
    return render(request, "practice/options_users.html", {"rows": rows, "title": "Users and roles"})


@admin_only
def options_user_new(request: AuthedRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = users.user_create(actor=request.user, username=data["username"],
                                        first_name=data["first_name"], last_name=data["last_name"],
                                        email=data["email"], role=data["role"], password=data["password1"])
        except ApplicationError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, f"User {created.username} added as {data['role']}.")
            return redirect("options-users")
    return render(request, "practice/options_user_form.html", {"form": form, "title": "New user"})


@admin_only
def options_user_edit(request: AuthedRequest, pk: int) -> HttpResponse:
    person = _user_for_admin(pk)
    own = person.pk == request.user.pk
    form = UserEditForm(request.POST or None, user=person, current_role=users.user_role(person), own_account=own)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = users.user_update(actor=request.user, user=person, first_name=data["first_name"],
                                      last_name=data["last_name"], email=data["email"],
                                      role=data["role"] or users.user_role(person))
        except ApplicationError as exc:
            _show_refusal(form, exc)
        else:
            messages.success(request, f"User {saved.username} saved.")
            return redirect("options-users")
    return render(request, "practice/options_user_form.html", {
        "form": form, "title": "Edit user", "person": person, "own": own, "role": _role_label(person),
        "manageable": users.may_manage(request.user, person)})


@admin_only
def options_user_password(request: AuthedRequest, pk: int) -> HttpResponse:
    person = _user_for_admin(pk)
    form = UserPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            users.user_set_password(actor=request.user, user=person, password=form.cleaned_data["password1"])
        except ApplicationError as exc:
            _show_refusal(form, exc)
        else:
            if person.pk == request.user.pk:
                # A new password ends the other sessions; this one stays signed in.
                request.user.refresh_from_db()
                update_session_auth_hash(request, request.user)
            messages.success(request, f"Password of {person.username} set. Tell them in person, not by email.")
            return redirect("options-users")
    return render(request, "practice/options_user_password.html", {
        "form": form, "title": "Set password", "person": person,
        "manageable": users.may_manage(request.user, person)})


@require_POST
@admin_only
def options_user_active(request: AuthedRequest, pk: int) -> HttpResponse:
    person = _user_for_admin(pk)
    if request.POST.get("active") not in ("0", "1"):
        messages.error(request, "Nothing changed: use the Deactivate or Reactivate button.")
        return redirect("options-users")
    activate = request.POST["active"] == "1"
    try:
        users.user_set_active(actor=request.user, user=person, is_active=activate)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"User {person.username} {'reactivated' if activate else 'deactivated'}.")
    return redirect("options-users")
