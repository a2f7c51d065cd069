"""The one chart helper: an SVG bar chart (no scripts, no external service) with the same numbers in
an accessible table beside it. Suppressed values are drawn as an outlined stub marked 'suppressed'.

Horizontal bars are drawn 340 units wide, so a phone (375 px) shows their labels at about their CSS
size. A period chart (vertical=True) is drawn twice: as horizontal bars for narrow screens, where a dozen
columns cannot carry readable "Oct 2026" labels, and as columns with two-line labels ("Oct" over "2026")
from 40em up; CSS shows one (static/muster/muster.css, .muster-chart__svg--narrow / --wide)."""

from django import template

register = template.Library()

WIDTH, BAR, GAP, LABEL = 340, 20, 6, 150
PERIOD_LABEL = 80  # "Sep 2026" needs about 50 units: the bars get the rest
COLUMNS_WIDTH, COLUMNS_HEIGHT = 420, 150


def _horizontal(rows: list[dict], top: int, key: str, label: int = LABEL) -> dict:
    bars = []
    for i, row in enumerate(rows):
        value = row["value"]
        w = 0 if value is None else round((WIDTH - label - 60) * value / top, 1)
        bars.append(
            {
                "y": i * (BAR + GAP),
                "w": w,
                "label": row[key],
                "value": value,
                "x": label,
                "ty": i * (BAR + GAP) + BAR * 0.7,
                "vx": label + w + 6,
            }
        )
    return {"bars": bars, "width": WIDTH, "height": max(len(rows), 1) * (BAR + GAP), "bar": BAR, "label_x": label - 8}


def _columns(rows: list[dict], top: int) -> dict:
    slot = (COLUMNS_WIDTH - 40) / max(len(rows), 1)
    bars = []
    for i, row in enumerate(rows):
        value = row["value"]
        h = 0 if value is None else round(COLUMNS_HEIGHT * value / top, 1)
        first, _, second = row["short"].rpartition(" ")  # "Oct 2026": "Oct" over "2026"
        bars.append(
            {
                "x": round(40 + i * slot + slot * 0.15, 1),
                "w": round(slot * 0.7, 1),
                "y": 10 + COLUMNS_HEIGHT - h,
                "h": h,
                "label": row["short"],
                "lines": [first, second] if first else [second],
                "value": value,
                "lx": round(40 + i * slot + slot / 2, 1),
            }
        )
    return {"bars": bars, "width": COLUMNS_WIDTH, "height": COLUMNS_HEIGHT + 74, "base": COLUMNS_HEIGHT + 10}


@register.inclusion_tag("reporting/_chart.html")
def bar_chart(table: dict, title: str, chart_id: str, vertical: bool = False):
    rows = table["rows"]
    top = max(table["max"], 1)
    return {
        "title": title,
        "chart_id": chart_id,
        "table": table,
        "vertical": vertical,
        "bars": bool(rows),
        "narrow": _horizontal(rows, top, "short", PERIOD_LABEL) if vertical else _horizontal(rows, top, "label"),
        "wide": _columns(rows, top) if vertical else None,
    }


@register.filter
def duration(minutes: int) -> str:
    """Minutes as "2 h 05 min" or "40 min"."""
    hours, rest = divmod(int(minutes), 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"
