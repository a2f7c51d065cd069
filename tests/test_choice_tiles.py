"""The `{% choices %}` tag (agencies/templatetags/muster.py) writes each radio and checkbox in Python instead of
through Django's widget templates (docs/performance.md). It must write exactly what Django would."""

from django import forms
from django.template import Context, Template

from encounters.forms import EncounterForm


class _Sample(forms.Form):
    single = forms.ChoiceField(
        choices=[("a", "A & B"), ("b", 'Say "b"')], widget=forms.RadioSelect(attrs={"class": "usa-radio__input"})
    )
    several = forms.MultipleChoiceField(
        choices=[("1", "One"), ("2", "Two")],
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "usa-checkbox__input", "disabled": True}),
    )


def _tiles(field, *, multiple: bool) -> str:
    return Template("{% load muster %}{% choices field multiple=multiple %}").render(
        Context({"field": field, "multiple": multiple})
    )


def _inputs(html: str) -> list[str]:
    return [line.strip() for line in html.splitlines() if line.strip().startswith("<input")]


def test_the_tiles_write_the_same_inputs_as_djangos_widgets():
    form = _Sample({"single": "a", "several": ["2"]})
    for name, multiple in (("single", False), ("several", True)):
        bound = form[name]
        ours = _inputs(_tiles(bound, multiple=multiple))
        djangos = [str(choice.tag()) for choice in bound]
        assert ours == djangos
        assert any("checked" in tag for tag in djangos)  # the comparison covers a selected choice


def test_the_encounter_forms_tiles_are_djangos_inputs(db, world):
    from network.selectors import standard_current

    agency = world.agency_a
    form = EncounterForm(
        agency=agency, user=world.a["peer_supporter"], standard=standard_current(agency.network), notes_enabled=True
    )
    bound = form["topics"]
    ours = _inputs(_tiles(bound, multiple=True))
    assert ours == [str(choice.tag()) for choice in bound] and len(ours) > 5
