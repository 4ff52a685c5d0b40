from django import forms

from telehealth.zoom import credentials_problem


class ZoomConnectionForm(forms.Form):
    account_id = forms.CharField(label="Account ID", max_length=100)
    client_id = forms.CharField(label="Client ID", max_length=100)
    # Write-only: a stored secret is never sent back to the browser.
    client_secret = forms.CharField(
        label="Client secret", max_length=200, required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    zoom_user = forms.CharField(label="Zoom user", max_length=200,
                                help_text="The practitioner's Zoom email or user ID (each practitioner their own).")

    def __init__(self, *args, has_secret: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client_secret"].help_text = (
            "A secret is stored. Leave empty to keep it, or enter a new one." if has_secret
            else "From the Zoom Server-to-Server OAuth app (App credentials).")
        self.fields["client_secret"].required = not has_secret

    def clean(self) -> dict:
        data = super().clean() or {}
        # Zoom credentials are plain ASCII: anything else could never be sent in the token request's Basic header.
        for name in ("account_id", "client_id", "client_secret"):
            value = data.get(name) or ""
            values = {"account_id": "", "client_id": "", "client_secret": "", name: value}
            problem = credentials_problem(**values)
            if problem:
                self.add_error(name, problem)
        zoom_user = data.get("zoom_user") or ""
        if any(c.isspace() or not c.isprintable() for c in zoom_user) or zoom_user.strip().lower() == "me":
            self.add_error("zoom_user", "Enter the practitioner's Zoom email or user ID (no spaces; not 'me').")
        return data
