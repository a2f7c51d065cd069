"""Template helpers shared by every page."""

from django import forms, template
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe

register = template.Library()

_WIDGET_CLASSES = {
    forms.Select: "usa-select",
    forms.SelectMultiple: "usa-select",
    forms.Textarea: "usa-textarea",
    forms.CheckboxInput: "usa-checkbox__input",
    forms.RadioSelect: "usa-radio__input",
}


@register.filter
def uswds(bound_field: forms.BoundField):
    """Render a form field's widget with the U.S. Web Design System class for its kind."""
    widget = bound_field.field.widget
    css = next((css for kind, css in _WIDGET_CLASSES.items() if isinstance(widget, kind)), "usa-input")
    if bound_field.errors:
        css += " usa-input--error"
    attrs = {"class": css}
    if bound_field.errors:
        attrs["aria-describedby"] = f"{bound_field.auto_id}_error"
    return bound_field.as_widget(attrs=attrs)


def _input_attrs(attrs: dict) -> str:
    """Django's django/forms/widgets/attrs.html: ` name="value"`, a bare ` name` for True, nothing for False."""
    return "".join(
        "" if value is False else f" {name}" if value is True else f' {name}="{escape(str(value))}"'
        for name, value in attrs.items()
    )


@register.simple_tag
def choices(field: forms.BoundField, multiple: bool = False) -> str:
    """A radio or checkbox group as a fieldset of large tap targets (USWDS tiles), with its legend, hint and
    errors. Written in Python rather than as an included template: a form of a hundred choices spent a third
    of its time resolving the template's variables (docs/performance.md). Each input is what Django's own
    widget template writes (tests/test_choice_tiles.py)."""
    auto_id, errors = escape(field.auto_id), field.errors
    kind = "usa-checkbox" if multiple else "usa-radio"
    described = f' aria-describedby="{auto_id}_error"' if errors else ""
    parts = [
        f'<fieldset class="usa-fieldset muster-choices{" usa-form-group--error" if errors else ""}" '
        f'id="{auto_id}_group"{described}>',
        f'<legend class="usa-legend">{conditional_escape(field.label)}'
        + (' <span class="usa-hint usa-hint--required" aria-hidden="true">*</span>' if field.field.required else "")
        + "</legend>",
    ]
    if field.help_text:
        parts.append(f'<div class="usa-hint">{conditional_escape(field.help_text)}</div>')
    if errors:
        parts.append(
            f'<span class="usa-error-message" id="{auto_id}_error" role="alert">'
            f"{' '.join(conditional_escape(e) for e in errors)}</span>"
        )
    parts.append('<div class="muster-choices__options">')
    for choice in field:
        data = choice.data
        value = "" if data["value"] is None else f' value="{escape(str(data["value"]))}"'
        label = conditional_escape(choice.choice_label)
        parts.append(
            f'<div class="{kind}">\n'
            f'<input type="{escape(data["type"])}" name="{escape(data["name"])}"{value}{_input_attrs(data["attrs"])}>\n'
            f'<label class="{kind}__label" for="{escape(choice.id_for_label)}">{label}</label>\n</div>'
        )
    parts.append("</div>\n</fieldset>")
    return mark_safe("\n".join(parts))  # noqa: S308 - every value above is escaped
