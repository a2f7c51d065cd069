"""Forms of a deployment on site: planning a rotation, swapping a shift, the check-in page's buttons and the
supporter's own wellbeing choice."""

from __future__ import annotations

from django import forms

from activations.models import SupporterWellbeing


class _PersonChoice(forms.ChoiceField):
    """A confirmed person of the deployment, by id, among those the page read (no second query)."""

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, choices=[("", "Choose")], **kwargs)
        self.people = {str(p.pk): p for p in people}
        self.choices = [("", "Choose"), *((str(p.pk), _label(p)) for p in people)]

    def clean(self, value):
        value = super().clean(value)
        return self.people[value]


def _label(person) -> str:
    return f"{person.supporter.get_full_name()} ({person.home_agency.name})"


class ShiftPlanForm(forms.Form):
    person = forms.CharField(widget=forms.HiddenInput)  # replaced in __init__
    first_day = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    days = forms.IntegerField(label="Days in a row", min_value=1, max_value=31, initial=1)
    start_time = forms.TimeField(label="Shift starts at", widget=forms.TimeInput(attrs={"type": "time"}))

    def __init__(self, *args, people=(), deployment=None, **kwargs):
        if deployment is not None:
            kwargs.setdefault("initial", {}).setdefault("first_day", deployment.starts_on)
            kwargs["initial"].setdefault("start_time", "08:00")
        super().__init__(*args, **kwargs)
        self.fields["person"] = _PersonChoice(label="Supporter", people=people)


class ShiftSwapForm(forms.Form):
    shift = forms.TypedChoiceField(label="Shift", coerce=int, choices=())
    to_person = forms.CharField()  # replaced in __init__

    def __init__(self, *args, swappable=(), people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.shifts = {shift.pk: shift for shift, _person in swappable}
        self.fields["shift"].choices = [("", "Choose")] + [
            (shift.pk, f"{shift.starts_at:%b %-d %H:%M}, {_label(person)}") for shift, person in swappable
        ]
        self.fields["to_person"] = _PersonChoice(label="Hand it to", people=people)

    def clean_shift(self):
        return self.shifts[self.cleaned_data["shift"]]


class WellbeingForm(forms.Form):
    choice = forms.ChoiceField(choices=SupporterWellbeing.Choice.choices)
