from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from options.sections import available_sections
from options.setup import setup_complete, setup_steps
from practice import roles
from practice.http import AuthedRequest, role_required

practice_admin_only = role_required(roles.is_practice_admin)


@require_GET
def home(request: AuthedRequest) -> HttpResponse:
    """Where a login lands: the first-run checklist for an admin of a practice not set up yet, else the diary."""
    if roles.is_practice_admin(request.user) and not setup_complete():
        return redirect("options-setup")
    return redirect("diary")


@require_GET
@practice_admin_only
def options_index(request: AuthedRequest) -> HttpResponse:
    return render(request, "options/index.html", {"sections": available_sections(),
                                                  "setup_done": setup_complete()})


@require_GET
@practice_admin_only
def setup(request: AuthedRequest) -> HttpResponse:
    steps = setup_steps()
    return render(request, "options/setup.html", {
        "steps": steps, "complete": all(step.done for step in steps if step.required)})
