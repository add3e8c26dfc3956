"""Small inline SVG line charts: the report's trend plots, with no script and no network (the
HTML file opens offline). Every text is escaped; values are numbers."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

W, H = 480, 150
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 30
COLOURS = ("#2563eb", "#ea580c", "#9ca3af", "#9333ea")


Series = Sequence[tuple[str, Sequence[float | None]]]


def line_chart(title: str, days: Sequence[str], series: Series,
               *, references: Sequence[tuple[str, float | None]] = (), percent: bool = False
               ) -> Markup:
    """Daily values as lines (gaps where a day had too few calls), with dashed horizontal
    reference lines (last period, baseline)."""
    values = [v for _, vs in series for v in vs if v is not None]
    values += [v for _, v in references if v is not None]
    if not values or not days:
        return Markup(f'<p class="nodata">{escape(title)}: not enough calls for a daily '
                      "trend.</p>")
    lo, hi = min(0.0, min(values)), max(values)
    hi = hi if hi > lo else lo + 1.0
    hi += (hi - lo) * 0.1
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / len(days))

    def y(v: float) -> float:
        return TOP + plot_h * (1 - (v - lo) / (hi - lo))

    def fmt(v: float) -> str:
        if percent:
            return f"{v:.1%}"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"

    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>",
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{W - RIGHT}" y2="{TOP + plot_h}" '
             'class="axis"/>',
             f'<text x="{LEFT - 6}" y="{y(hi) + 4:.1f}" class="ylabel">{escape(fmt(hi))}</text>',
             f'<text x="{LEFT - 6}" y="{y(lo) + 4:.1f}" class="ylabel">{escape(fmt(lo))}</text>']
    for n, (name, value) in enumerate(references):
        if value is None:
            continue
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}"'
                     f' class="ref ref{n}"><title>{escape(name)}: {escape(fmt(value))}</title>'
                     "</line>")
    step = max(1, len(days) // 8)
    for i, day in enumerate(days):
        if i % step == 0:
            parts.append(f'<text x="{x(i):.1f}" y="{H - 10}" class="xlabel">{escape(day[5:])}'
                         "</text>")
    for n, (name, vs) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        run: list[str] = []
        for i, v in enumerate(list(vs) + [None]):
            if v is not None:
                run.append(f"{x(i):.1f},{y(v):.1f}")
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}">'
                             f"<title>{escape(name)} {escape(days[i])}: {escape(fmt(v))}</title>"
                             "</circle>")
            elif run:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                             f'points="{" ".join(run)}"/>')
                run = []
    parts.append("</svg>")
    legend = " ".join(
        f'<span class="key" style="color:{COLOURS[n % len(COLOURS)]}">━ {escape(name)}</span>'
        for n, (name, _) in enumerate(series))
    legend += " ".join(f' <span class="key ref{n}">┄ {escape(name)} {escape(fmt(v))}</span>'
                       for n, (name, v) in enumerate(references) if v is not None)
    return Markup(f'<figure><figcaption>{escape(title)}</figcaption>{"".join(parts)}'
                  f'<div class="legend">{legend}</div></figure>')


def bar_chart(labels: Sequence[str], series: Sequence[Sequence[float]],
              names: Sequence[str], *, width: int = 560) -> Markup:
    """Grouped horizontal bars of rates (0–1), one group per label, one bar per series,
    with a legend: a replay's flag rates, serving beside candidate."""
    if not labels:
        return Markup("")
    bar, gap, left = 10, 8, 150
    group = bar * len(series) + gap
    height = TOP + group * len(labels) + 24
    top = max([0.0, *(v for s in series for v in s)]) or 1.0
    scale = (width - left - 60) / top
    parts = [f'<svg class="chart" width="{width}" height="{height}" role="img" '
             f'viewBox="0 0 {width} {height}">']
    for i, label in enumerate(labels):
        y0 = TOP + i * group
        parts.append(f'<text class="ylabel" x="{left - 6}" y="{y0 + bar * len(series) / 2 + 3}"'
                     f'>{escape(label)}</text>')
        for j, values in enumerate(series):
            v = float(values[i])
            y = y0 + j * bar
            parts.append(f'<rect x="{left}" y="{y}" width="{max(v * scale, 0.5):.1f}" '
                         f'height="{bar - 2}" fill="{COLOURS[j % len(COLOURS)]}"/>'
                         f'<text x="{left + v * scale + 4:.1f}" y="{y + bar - 3}">'
                         f'{100 * v:.1f} %</text>')
    legend_y = height - 8
    for j, name in enumerate(names):
        parts.append(f'<rect x="{left + j * 110}" y="{legend_y - 8}" width="10" height="10" '
                     f'fill="{COLOURS[j % len(COLOURS)]}"/><text x="{left + j * 110 + 14}" '
                     f'y="{legend_y}">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
