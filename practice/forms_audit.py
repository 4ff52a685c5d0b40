"""The filters of Options → Audit trail, read from the query string."""

from datetime import date

from django import forms

from practice.timezones import validate_reasonable_day

SYSTEM = "system"  # events with no person behind them: tasks, the Scheduler


class AuditFilterForm(forms.Form):
    """Every choice comes from the trail itself, so a value not offered is a form error, never a query."""

    actor = forms.ChoiceField(label="Who", required=False)
    action = forms.ChoiceField(label="What", required=False)
    object_type = forms.ChoiceField(label="Object", required=False)
    object_id = forms.CharField(label="Object id", max_length=40, required=False,
                                widget=forms.TextInput(attrs={"size": 8, "inputmode": "numeric"}))
    date_from = forms.DateField(label="From", required=False, validators=[validate_reasonable_day],
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, validators=[validate_reasonable_day],
                              widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, actors: list[tuple[int, str]], actions: list[str], object_types: list[str],
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", "Anyone"), (SYSTEM, "System"),  # type: ignore[attr-defined]
                                        *((str(pk), name) for pk, name in actors)]
        self.fields["action"].choices = [("", "Any action"),  # type: ignore[attr-defined]
                                         *((name, name) for name in actions)]
        self.fields["object_type"].choices = [("", "Any object"),  # type: ignore[attr-defined]
                                              *((name, name) for name in object_types)]

    def clean_object_id(self) -> str:
        return self.cleaned_data["object_id"].strip()

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        start: date | None = cleaned.get("date_from")
        end: date | None = cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned
