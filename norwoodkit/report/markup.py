"""Small HTML pieces the report's sections share: escaping, data: URIs, tables, figures."""

from __future__ import annotations

import base64
import html
import logging
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import pandas as pd

from norwoodkit.stats import TABLE_TITLES, Summary, format_value

if TYPE_CHECKING:
    pass

from norwoodkit.report.plots import PLOT_CAPTIONS, PLOT_TITLES

log = logging.getLogger(__name__)


#: Characters no HTML page should carry: C0 controls but tab, newline and CR; DEL; surrogates
#: (a file name that is not UTF-8); U+FFFE and U+FFFF.
_UNSHOWABLE = re.compile("[^\t\n\r\x20-\x7e\x80-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def esc(value: object) -> str:
    """Any value as HTML text or an attribute value: markup characters and quotes escaped,
    unshowable characters as U+FFFD. Every string that comes from the data goes through it."""
    return html.escape(_UNSHOWABLE.sub("\ufffd", str(value)), quote=True)


def data_uri(mime: str, data: bytes) -> str:
    """``data`` as a ``data:`` URI, the only kind of image the page's policy lets load."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def html_table(
    shown: pd.DataFrame,
    *,
    numeric: Iterable[str] = (),
    caption: str | None = None,
    cls: str = "",
) -> str:
    right = set(numeric)
    head = "".join(
        f"<th{' class=num' if c in right else ''}>{esc(str(c).replace('_', ' '))}</th>"
        for c in shown.columns
    )
    body = []
    for row in shown.itertuples(index=False, name=None):
        cells = "".join(
            f"<td{' class=num' if c in right else ''}>{esc(v)}</td>"
            for c, v in zip(shown.columns, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    klass = f' class="{esc(cls)}"' if cls else ""
    return (
        f"<div class=scroll><table{klass}>{cap}<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def summary_table(summary: Summary, name: str) -> str:
    """A ``stats`` table; numeric columns that are zero in every row are left out, and named."""
    raw = summary.table(name)
    numeric = [
        str(c)
        for c in raw.columns
        if pd.api.types.is_numeric_dtype(raw[c].dtype) and not pd.api.types.is_bool_dtype(raw[c])
    ]
    zero = [c for c in numeric if len(raw) and bool((raw[c].fillna(0) == 0).all())]
    shown = summary.display_frame(name).drop(columns=zero, errors="ignore")
    note = f"<p class=zero>Left out, zero in every row: {esc(', '.join(zero))}.</p>" if zero else ""
    return html_table(shown, numeric=numeric, caption=TABLE_TITLES.get(name, name)) + note


def plot_figure(plots: Mapping[str, bytes], name: str) -> str:
    """A plot, its title as alt text and a caption saying what to look for."""
    title = PLOT_TITLES[name]
    return (
        f'<figure class=plot><img src="{data_uri("image/png", plots[name])}" '
        f'alt="{esc(title)}"><figcaption><b>{esc(title)}.</b> {esc(PLOT_CAPTIONS[name])}'
        "</figcaption></figure>"
    )


def no_photo_figure(caption: str, title: str = "", why: str = "") -> str:
    """A thumbnail's place with no photo in it (none decodable, or ``why`` it is not shown)."""
    tip = f' title="{esc(title)}"' if title else ""
    note = f"<br>not shown: {esc(why)}" if why else ""
    return (
        f"<figure class=thumb{tip}><div class=nothumb>no photo</div>"
        f"<figcaption>{esc(caption)}{note}</figcaption></figure>"
    )


def display_frame(frame: pd.DataFrame, share: bool = False) -> pd.DataFrame:
    """Every cell as the text a table shows (shares as percentages when ``share``)."""
    return pd.DataFrame(
        {
            str(c): [
                format_value(v, share=share or str(c) == "share") if c != "split" else str(v)
                for v in frame[c].tolist()
            ]
            for c in frame.columns
        }
    )
