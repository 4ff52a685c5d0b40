"""Forms of Options → Users and roles. The services validate again (model, password validators, rules)."""

from django import forms
from django.contrib.auth.models import User
from django.contrib.auth.validators import UnicodeUsernameValidator

from practice.users import ROLE_CHOICES, validate_person_text

ROLE_FIELD_CHOICES = [(name, name) for name in ROLE_CHOICES]
ROLE_HELP = ("Front desk: the diary, clients and reminders. Practitioner: their own diary and Zoom meetings. "
             "Practice admin: everything, and Options.")


def _text(label: str, *, max_length: int, required: bool = False, **kwargs) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=required,
                           validators=[validate_person_text], **kwargs)


class _PasswordFields(forms.Form):
    password1 = forms.CharField(label="Password", strip=False, max_length=128,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                help_text="At least 12 characters, not a common password, not all digits, "
                                          "not like the user's name.")
    password2 = forms.CharField(label="Password again", strip=False, max_length=128,
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class UserCreateForm(_PasswordFields):
    username = forms.CharField(label="Username", max_length=150,
                               validators=[UnicodeUsernameValidator(), validate_person_text],
                               help_text="For logging in: letters, digits and @ . + - _ only.",
                               widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}))
    first_name = _text("First name", max_length=150, required=True)
    last_name = _text("Last name", max_length=150)
    email = forms.EmailField(label="Email", max_length=254, required=False)
    role = forms.ChoiceField(label="Role", choices=ROLE_FIELD_CHOICES, help_text=ROLE_HELP)

    field_order = ["username", "first_name", "last_name", "email", "role", "password1", "password2"]


class UserEditForm(forms.Form):
    first_name = _text("First name", max_length=150, required=True)
    last_name = _text("Last name", max_length=150)
    email = forms.EmailField(label="Email", max_length=254, required=False)
    role = forms.ChoiceField(label="Role", choices=ROLE_FIELD_CHOICES, help_text=ROLE_HELP)

    def __init__(self, *args, user: User, current_role: str, own_account: bool, **kwargs) -> None:
        kwargs.setdefault("initial", {"first_name": user.first_name, "last_name": user.last_name,
                                      "email": user.email, "role": current_role})
        super().__init__(*args, **kwargs)
        if own_account:
            # Changing one's own role is refused (a practice admin would lock themselves out): not offered either.
            role = self.fields["role"]
            role.disabled, role.required = True, False
            role.help_text = "Another practice admin can change your role."
            if not current_role:
                role.choices = [("", "No role"), *ROLE_FIELD_CHOICES]  # type: ignore[attr-defined]


class UserPasswordForm(_PasswordFields):
    pass
