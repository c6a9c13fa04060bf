"""Small line charts written as SVG, for the benchmark's plots.

matplotlib would do, but on Debian 12 it pulls in python3-scipy and, through
pythran, libboost-dev 1.74, which conflicts with the libboost1.81-dev this
project builds with: apt refuses, and the benchmark would not run on a machine
set up as the README says. These charts need only the standard library.
"""

import html
import math

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"]
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


def nice_ticks(low, high, count=5):
    """Round tick values covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        if value >= low - step * 1e-9:
            ticks.append(round(value, 10))
        value += step
    return ticks


def tick_text(value):
    if abs(value) >= 1000:
        return f"{value:,.0f}".replace(",", " ")
    return f"{value:g}"


class Panel:
    """One chart: series of points, optional reference lines, axes and a legend."""

    def __init__(self, title, xlabel="", ylabel="", x_scale="linear", y_scale="linear"):
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.x_scale, self.y_scale = x_scale, y_scale
        self.series = []   # (xs, ys, color, dashed, label, markers, circled)
        self.hlines = []   # (y, label)
        self.vlines = []   # (x, label)
        self.xticks = None
        self.yticks = None  # [(value, text)]
        self.ylim = None

    def line(self, xs, ys, label, color=None, dashed=False, markers=True):
        self.series.append((list(xs), list(ys), color, dashed, label, markers, False))

    def circles(self, xs, ys, label):
        """Open circles around points (for example: generator-bound)."""
        self.series.append((list(xs), list(ys), "#000000", False, label, False, True))

    # ---- scales ----
    def _fx(self, x):
        return math.log10(x) if self.x_scale == "log" else x

    def _fy(self, y):
        if self.y_scale == "logit":
            y = min(max(y, 1e-6), 1 - 1e-6)
            return math.log10(y / (1 - y))
        return y

    def render(self, width, height):
        left, right, top, bottom = 70, 15, 40, 45
        plot_w, plot_h = width - left - right, height - top - bottom
        points = [(x, y) for s in self.series for x, y in zip(s[0], s[1])
                  if (self.x_scale != "log" or x > 0)]
        xs = [self._fx(x) for x, _ in points] + [self._fx(x) for x, _ in self.vlines]
        x_low, x_high = (min(xs), max(xs)) if xs else (0, 1)
        if x_low == x_high:
            x_low, x_high = x_low - 1, x_high + 1
        pad = (x_high - x_low) * 0.05
        x_low, x_high = x_low - pad, x_high + pad
        if self.ylim:
            y_low, y_high = self._fy(self.ylim[0]), self._fy(self.ylim[1])
        else:
            ys = [self._fy(y) for _, y in points] + [self._fy(y) for y, _ in self.hlines]
            y_low, y_high = 0, (max(ys) * 1.08 if ys and max(ys) > 0 else 1)

        def px(x):
            return left + (self._fx(x) - x_low) / (x_high - x_low) * plot_w

        def py(y):
            return top + plot_h - (self._fy(y) - y_low) / (y_high - y_low) * plot_h

        out = [f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13" {FONT}>'
               f'{html.escape(self.title)}</text>',
               f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>']
        # x ticks
        if self.x_scale == "log":
            xticks = [10 ** k for k in range(math.floor(x_low), math.ceil(x_high) + 1)
                      if x_low <= k <= x_high]
        else:
            xticks = self.xticks or nice_ticks(x_low, x_high)
        for x in xticks:
            X = px(x)
            out.append(f'<line x1="{X:.1f}" y1="{top}" x2="{X:.1f}" y2="{top + plot_h}" stroke="#ddd"/>')
            out.append(f'<text x="{X:.1f}" y="{top + plot_h + 15}" text-anchor="middle" font-size="10" '
                       f'{FONT}>{tick_text(x)}</text>')
        # y ticks
        yticks = self.yticks or [(v, tick_text(v)) for v in nice_ticks(0, y_high)]
        for y, text in yticks:
            Y = py(y)
            if Y < top - 0.5 or Y > top + plot_h + 0.5:
                continue
            out.append(f'<line x1="{left}" y1="{Y:.1f}" x2="{left + plot_w}" y2="{Y:.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{left - 5}" y="{Y + 3:.1f}" text-anchor="end" font-size="10" {FONT}>'
                       f'{html.escape(text)}</text>')
        out.append(f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle" font-size="11" '
                   f'{FONT}>{html.escape(self.xlabel)}</text>')
        out.append(f'<text transform="translate(14,{top + plot_h / 2}) rotate(-90)" text-anchor="middle" '
                   f'font-size="11" {FONT}>{html.escape(self.ylabel)}</text>')
        legend = []
        for y, label in self.hlines:
            Y = py(y)
            out.append(f'<line x1="{left}" y1="{Y:.1f}" x2="{left + plot_w}" y2="{Y:.1f}" stroke="#777" '
                       'stroke-dasharray="5,4"/>')
            if label:
                legend.append(("#777", True, label, False))
        for x, label in self.vlines:
            X = px(x)
            out.append(f'<line x1="{X:.1f}" y1="{top}" x2="{X:.1f}" y2="{top + plot_h}" stroke="#777" '
                       'stroke-dasharray="2,3"/>')
            if label:
                legend.append(("#777", True, label, False))
        # Data stays inside the plot area (a CDF runs past the quantiles shown).
        clip = f"clip{id(self)}"
        out.append(f'<clipPath id="{clip}"><rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}"/>'
                   '</clipPath>')
        out.append(f'<g clip-path="url(#{clip})">')
        for i, (sx, sy, color, dashed, label, markers, circled) in enumerate(self.series):
            color = color or PALETTE[i % len(PALETTE)]
            pts = [(px(x), py(y)) for x, y in zip(sx, sy) if self.x_scale != "log" or x > 0]
            if circled:
                for X, Y in pts:
                    out.append(f'<circle cx="{X:.1f}" cy="{Y:.1f}" r="8" fill="none" stroke="{color}"/>')
            else:
                dash = ' stroke-dasharray="6,4"' if dashed else ""
                path = " ".join(f"{X:.1f},{Y:.1f}" for X, Y in pts)
                out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.6"{dash}/>')
                if markers:
                    out += [f'<circle cx="{X:.1f}" cy="{Y:.1f}" r="3" fill="{color}"/>' for X, Y in pts]
            legend.append((color, dashed, label, circled))
        out.append("</g>")
        # The legend sits in the lower right corner, where these charts leave room.
        legend_x = left + plot_w - 190
        for i, (color, dashed, label, circled) in enumerate(legend):
            Y = top + plot_h - 8 - (len(legend) - 1 - i) * 14
            if circled:
                out.append(f'<circle cx="{legend_x + 18}" cy="{Y - 3}" r="5" fill="none" stroke="{color}"/>')
            else:
                dash = ' stroke-dasharray="4,3"' if dashed else ""
                out.append(f'<line x1="{legend_x + 8}" y1="{Y - 3}" x2="{legend_x + 28}" y2="{Y - 3}" '
                           f'stroke="{color}" stroke-width="2"{dash}/>')
            out.append(f'<text x="{legend_x + 33}" y="{Y}" font-size="10" {FONT}>{html.escape(label)}</text>')
        return "\n".join(out)


def write_figure(path, panels, columns, title, panel_width=420, panel_height=300):
    """Lays the panels out in a grid under `title` and writes one SVG file."""
    rows = math.ceil(len(panels) / columns)
    width, height = columns * panel_width, rows * panel_height + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="15" {FONT}>{html.escape(title)}</text>']
    for i, panel in enumerate(panels):
        x, y = (i % columns) * panel_width, 30 + (i // columns) * panel_height
        parts.append(f'<g transform="translate({x},{y})">')
        parts.append(panel.render(panel_width, panel_height))
        parts.append("</g>")
    parts.append("</svg>\n")
    with open(path, "w") as f:
        f.write("\n".join(parts))
