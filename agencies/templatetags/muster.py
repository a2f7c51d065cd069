"""Template helpers shared by every page."""

from django import forms, template

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
