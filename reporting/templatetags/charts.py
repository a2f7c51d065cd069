"""The one chart helper: an SVG bar chart (no scripts, no external service) with the same numbers in
an accessible table beside it. Suppressed values are drawn as an outlined stub marked 'suppressed'."""

from django import template

register = template.Library()

WIDTH, BAR, GAP, LABEL = 420, 20, 6, 150


@register.inclusion_tag("reporting/_chart.html")
def bar_chart(table: dict, title: str, chart_id: str, vertical: bool = False):
    rows = table["rows"]
    top = max(table["max"], 1)
    bars = []
    if vertical:
        slot = (WIDTH - 40) / max(len(rows), 1)
        height = 150
        for i, row in enumerate(rows):
            value = row["value"]
            h = 0 if value is None else round(height * value / top, 1)
            bars.append(
                {
                    "x": round(40 + i * slot + slot * 0.15, 1),
                    "w": round(slot * 0.7, 1),
                    "y": 10 + height - h,
                    "h": h,
                    "label": row["short"],
                    "value": value,
                    "lx": round(40 + i * slot + slot / 2, 1),
                }
            )
        return {
            "title": title,
            "chart_id": chart_id,
            "table": table,
            "vertical": True,
            "bars": bars,
            "width": WIDTH,
            "height": height + 60,
            "base": height + 10,
        }
    for i, row in enumerate(rows):
        value = row["value"]
        w = 0 if value is None else round((WIDTH - LABEL - 60) * value / top, 1)
        bars.append(
            {
                "y": i * (BAR + GAP),
                "w": w,
                "label": row["label"],
                "value": value,
                "x": LABEL,
                "ty": i * (BAR + GAP) + BAR * 0.7,
                "vx": LABEL + w + 6,
            }
        )
    return {
        "title": title,
        "chart_id": chart_id,
        "table": table,
        "vertical": False,
        "bars": bars,
        "width": WIDTH,
        "height": max(len(rows), 1) * (BAR + GAP),
        "bar": BAR,
        "label_x": LABEL - 8,
    }


@register.filter
def duration(minutes: int) -> str:
    """Minutes as "2 h 05 min" or "40 min"."""
    hours, rest = divmod(int(minutes), 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"
