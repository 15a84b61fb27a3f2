"""Small HTML helpers shared by the report pages: every string from a report is escaped here."""

from __future__ import annotations

import html

from eflowgpu.report.labels import Label

DASH = "\u2014"
"""Shown for a missing value."""


def escape(value: object) -> str:
    """Escape any report value for HTML text, a quoted attribute or SVG text."""
    return html.escape(str(value), quote=True)


def text(value: object, default: str = DASH) -> str:
    """Escaped ``value``, or the (trusted) ``default`` when it is missing or empty."""
    if value is None or value == "":
        return default
    return escape(value)


def badge(label: Label) -> str:
    """A coloured verdict or status badge."""
    return f'<span class="badge b-{label.key}">{escape(label.text)}</span>'
