"""The sweep's results as a terminal table, a JSON document and a self-contained HTML page."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from evalsuite.perf.stats import Distribution, LevelResult

_COLUMNS = (
    ("level", 8), ("ok", 6), ("fail", 5), ("req/s", 8), ("out tok/s", 10), ("in-flight", 10),
    ("TTFT p50", 9), ("p99", 8), ("TPOT p50", 9), ("p99", 8), ("ITL p50", 8), ("p99", 8),
    ("lat p50", 9), ("p90", 9), ("p99", 9),
)  # fmt: skip


def level_label(result: LevelResult) -> str:
    """``8`` for a concurrency, ``4.0/s`` for an arrival rate."""
    return f"{int(result.level)}" if result.mode == "parallel" else f"{result.level:g}/s"


def _ms(dist: Distribution | None, field: str) -> str:
    return "n/a" if dist is None else f"{1000 * getattr(dist, field):.1f}"


def table_row(result: LevelResult) -> tuple[str, ...]:
    """The cells of one level's row (timings in milliseconds)."""
    return (
        level_label(result),
        str(result.completed),
        str(result.failed),
        f"{result.request_throughput:.2f}",
        f"{result.output_throughput:.1f}",
        f"{result.peak_in_flight}/{result.mean_in_flight:.1f}",
        _ms(result.ttft_s, "p50"), _ms(result.ttft_s, "p99"),
        _ms(result.tpot_s, "p50"), _ms(result.tpot_s, "p99"),
        _ms(result.itl_s, "p50"), _ms(result.itl_s, "p99"),
        _ms(result.latency_s, "p50"), _ms(result.latency_s, "p90"), _ms(result.latency_s, "p99"),
    )  # fmt: skip


def format_table(results: Sequence[LevelResult], *, title: str = "") -> str:
    """One row per level; timings in ms, in-flight as peak/mean, errors listed under the table."""
    lines = [title] if title else []
    lines.append("".join(f"{name:>{width}}" for name, width in _COLUMNS))
    for result in results:
        lines.append(
            "".join(f"{cell:>{width}}" for cell, (_, width) in zip(table_row(result), _COLUMNS, strict=True))
        )
    for result in results:
        if result.mean_prompt_tokens or result.mean_output_tokens:
            tokens = f"{result.mean_prompt_tokens:.0f} prompt + {result.mean_output_tokens:.0f} output tokens"
        else:
            tokens = "no tokens"
        note = f"level {level_label(result)}: {result.requests} sent in {result.wall_s:.2f} s, mean {tokens}"
        if result.not_sent:
            note += f", {result.not_sent} not sent before the deadline"
        lines.append(note)
        lines += [f"  error: {e}" for e in result.error_samples]
    return "\n".join(lines)


def to_json(results: Sequence[LevelResult], meta: Mapping[str, Any]) -> str:
    """The run's settings and every level's figures (seconds) as a JSON document."""
    return json.dumps({**meta, "levels": [asdict(r) for r in results]}, indent=2, default=str) + "\n"


def _polyline(points: Sequence[tuple[float, float]], box: tuple[float, float], size: tuple[int, int]) -> str:
    (x_max, y_max), (width, height) = box, size
    return " ".join(
        f"{40 + (width - 60) * x / x_max:.1f},{height - 30 - (height - 60) * y / y_max:.1f}"
        for x, y in points
    )


def svg_chart(
    series: Mapping[str, Sequence[tuple[float, float, str]]], *, x_label: str, y_label: str, size=(560, 320)
) -> str:
    """A line chart (inline SVG) of labelled points, one polyline per series, axes from zero."""
    width, height = size
    all_points = [p for points in series.values() for p in points]
    x_max = max((p[0] for p in all_points), default=1.0) * 1.1 or 1.0
    y_max = max((p[1] for p in all_points), default=1.0) * 1.1 or 1.0
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<line x1="40" y1="{height - 30}" x2="{width - 20}" y2="{height - 30}" stroke="#444"/>',
        f'<line x1="40" y1="30" x2="40" y2="{height - 30}" stroke="#444"/>',
        f'<text x="{width / 2}" y="{height - 5}" text-anchor="middle">{html.escape(x_label)}</text>',
        f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" text-anchor="middle">'
        f"{html.escape(y_label)}</text>",
        f'<text x="40" y="{height - 16}" font-size="10">0</text>',
        f'<text x="{width - 20}" y="{height - 16}" font-size="10" text-anchor="end">{x_max:.3g}</text>',
        f'<text x="42" y="38" font-size="10">{y_max:.3g}</text>',
    ]
    for index, (name, points) in enumerate(series.items()):
        colour = colours[index % len(colours)]
        coords = _polyline([(x, y) for x, y, _ in points], (x_max, y_max), size)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>')
        for (x, y, label), xy in zip(points, coords.split(), strict=True):
            cx, cy = xy.split(",")
            parts.append(
                f'<circle cx="{cx}" cy="{cy}" r="3.5" fill="{colour}"><title>{html.escape(label)}: '
                f"{x:.4g}, {y:.4g}</title></circle>"
                f'<text x="{cx}" y="{float(cy) - 6:.1f}" font-size="10" text-anchor="middle">{html.escape(label)}</text>'
            )
        parts.append(
            f'<text x="{60 + 130 * index}" y="16" font-size="11" fill="{colour}">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _curve(results: Sequence[LevelResult], y: str, field: str) -> list[tuple[float, float, str]]:
    points = []
    for r in results:
        dist = getattr(r, y)
        if dist is not None:
            points.append((r.output_throughput, 1000 * getattr(dist, field), level_label(r)))
    return points


def to_html(results: Sequence[LevelResult], meta: Mapping[str, Any]) -> str:
    """A self-contained page: settings, the table, latency-vs-throughput and TTFT/TPOT curves per mode."""
    sections = []
    for mode, heading in (
        ("parallel", "Concurrency sweep (closed loop)"),
        ("rate", "Poisson arrivals (open loop)"),
    ):
        group = [r for r in results if r.mode == mode]
        if not group:
            continue
        charts = [
            svg_chart(
                {f"latency {f}": _curve(group, "latency_s", f) for f in ("p50", "p99")},
                x_label="output tokens/s",
                y_label="end-to-end latency (ms)",
            ),
            svg_chart(
                {f"TTFT {f}": _curve(group, "ttft_s", f) for f in ("p50", "p99")},
                x_label="output tokens/s",
                y_label="time to first token (ms)",
            ),
            svg_chart(
                {f"TPOT {f}": _curve(group, "tpot_s", f) for f in ("p50", "p99")},
                x_label="output tokens/s",
                y_label="time per output token (ms)",
            ),
        ]
        sections.append(f"<h2>{heading}</h2><div class='charts'>{''.join(charts)}</div>")
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in _COLUMNS)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in table_row(r)) + "</tr>" for r in results
    )
    settings = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v, default=str))}</td></tr>"
        for k, v in meta.items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>evalsuite perf</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}.charts{display:flex;flex-wrap:wrap;gap:1em}"
        "svg{border:1px solid #eee}.meta td{text-align:left}</style></head><body><h1>evalsuite perf</h1>"
        f"<table class='meta'>{settings}</table><h2>Levels</h2><p>Timings in ms; in-flight is peak/mean.</p>"
        f"<table><tr>{head}</tr>{rows}</table>{''.join(sections)}</body></html>\n"
    )
