from django import forms

from telehealth.webhooks import secret_token_problem
from telehealth.zoom import ZoomUser, credentials_problem

ZOOM_USER_HELP = "The practitioner's Zoom email or user ID (each practitioner their own)."


def _secret_field(has_secret: bool) -> forms.CharField:
    # Write-only: a stored secret is never sent back to the browser.
    return forms.CharField(
        label="Client secret", max_length=200, required=not has_secret, strip=True,
        help_text=("A secret is stored. Leave empty to keep it, or enter a new one." if has_secret
                   else "From the Zoom Server-to-Server OAuth app (App credentials)."),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


def _webhook_secret_field(has_secret: bool) -> forms.CharField:
    # Write-only like the client secret. Optional: without it Zoom's webhooks (live waiting room) stay off.
    return forms.CharField(
        label="Webhook secret token", max_length=200, required=False, strip=True,
        help_text=("A secret token is stored. Leave empty to keep it, or enter a new one." if has_secret
                   else "Optional. From the Zoom app's Features page (Event Subscriptions, Secret Token), with the "
                        "endpoint URL: this site's address followed by /webhooks/zoom/. Shows the waiting room and "
                        "Zoom-side changes on the diary."),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


def _check_webhook_secret(form: forms.Form, data: dict) -> None:
    problem = secret_token_problem(data.get("webhook_secret") or "")
    if problem:
        form.add_error("webhook_secret", problem)


def _check_credentials(form: forms.Form, data: dict) -> None:
    # Zoom credentials are plain ASCII: anything else could never be sent in the token request's Basic header.
    for name in ("account_id", "client_id", "client_secret"):
        value = data.get(name) or ""
        values = {"account_id": "", "client_id": "", "client_secret": "", name: value}
        problem = credentials_problem(**values)
        if problem:
            form.add_error(name, problem)


def _check_zoom_user(form: forms.Form, zoom_user: str) -> None:
    if any(c.isspace() or not c.isprintable() for c in zoom_user) or zoom_user.strip().lower() == "me":
        form.add_error("zoom_user", "Enter the practitioner's Zoom email or user ID (no spaces; not 'me').")


class PracticeZoomAppForm(forms.Form):
    """The practice's one Server-to-Server app (Options → Zoom)."""

    account_id = forms.CharField(label="Account ID", max_length=100)
    client_id = forms.CharField(label="Client ID", max_length=100)

    def __init__(self, *args, has_secret: bool, has_webhook_secret: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client_secret"] = _secret_field(has_secret)
        self.fields["webhook_secret"] = _webhook_secret_field(has_webhook_secret)

    def clean(self) -> dict:
        data = super().clean() or {}
        _check_credentials(self, data)
        _check_webhook_secret(self, data)
        return data


class ZoomConnectionForm(forms.Form):
    """A connection with an app of its own: credentials and the practitioner's Zoom user."""

    account_id = forms.CharField(label="Account ID", max_length=100)
    client_id = forms.CharField(label="Client ID", max_length=100)
    zoom_user = forms.CharField(label="Zoom user", max_length=200, help_text=ZOOM_USER_HELP)

    def __init__(self, *args, has_secret: bool, has_webhook_secret: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client_secret"] = _secret_field(has_secret)
        self.fields["webhook_secret"] = _webhook_secret_field(has_webhook_secret)
        self.order_fields(["account_id", "client_id", "client_secret", "zoom_user", "webhook_secret"])

    def clean(self) -> dict:
        data = super().clean() or {}
        _check_credentials(self, data)
        _check_webhook_secret(self, data)
        _check_zoom_user(self, data.get("zoom_user") or "")
        return data


class ZoomUserForm(forms.Form):
    """A connection using the practice's app: only the practitioner's Zoom user.

    Picked from the account's users when the app may list them (``users``), else typed by email.
    """

    zoom_user = forms.CharField(label="Zoom user", max_length=200, help_text=ZOOM_USER_HELP)

    def __init__(self, *args, users: list[ZoomUser] | None, taken: dict[str, str], current: str = "",
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if users:
            choices = [("", "Choose the practitioner's Zoom user…")]
            for user in sorted(users, key=lambda u: (u.display_name.lower(), u.email.lower())):
                owner = taken.get(user.email.lower())
                label = f"{user.display_name} · {user.email} · {user.plan}" + (f" (used by {owner})" if owner else "")
                choices.append((user.email, label))
            if current and current.lower() not in {user.email.lower() for user in users}:
                choices.append((current, f"{current} (not an active user of the practice's Zoom account)"))
            self.fields["zoom_user"] = forms.ChoiceField(
                label="Zoom user", choices=choices,
                help_text="The active users of the practice's Zoom account; each practitioner their own.")

    def clean(self) -> dict:
        data = super().clean() or {}
        _check_zoom_user(self, data.get("zoom_user") or "")
        return data
