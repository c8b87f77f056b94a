"""The page's photos: thumbnails that link to an enlarged copy, drawn once the page is laid out.

Sections ask for a photo with ``Zoom.figure`` while they are written and get a marker back; once
every section is written, ``Zoom.fill`` reads each photo asked for once (a thread pool,
``enlarge``), makes its thumbnail and its enlarged copy from the same decode, and puts the
figures and the overlays in place of the markers. Click-to-enlarge needs no JavaScript: each
thumbnail links to its photo's overlay, which the page's CSS shows while it is the URL's target
(``:target``); one overlay per photo, however often the photo is shown, and a close link back to
where it was first shown. A photo that cannot be read again unchanged is a placeholder saying
why.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from norwoodkit.dataset import Dataset, decoded
from norwoodkit.parallel import ordered_map, resolve_workers
from norwoodkit.report.enlarge import ENLARGED_SIZE, Enlarged, enlarge
from norwoodkit.report.markup import data_uri, esc, no_photo_figure

__all__ = ["Zoom"]

#: A marker: NUL, a figure's number or ``overlays``, NUL. ``esc`` turns every NUL in the data
#: into U+FFFD, so no text of the dataset can make one.
_MARKER = re.compile("\x00(overlays|[0-9]+)\x00")


@dataclass(frozen=True)
class _Asked:
    """One ``figure`` call: which photo, under what caption, described how."""

    path: str
    caption: str
    detail: str


class Zoom:
    """The page's photos: ``figure`` for each place one is shown, ``OVERLAYS`` where the
    enlarged copies go, then ``fill`` on the finished page.

    Photos are numbered in the order they are first asked for, so the same data gives the same
    page.
    """

    #: Where the overlays go: put it in the page once, after every figure.
    OVERLAYS = "\x00overlays\x00"

    def __init__(
        self, dataset: Dataset, size: int = ENLARGED_SIZE, workers: int | None = None
    ) -> None:
        t = dataset.table
        rows = t[t["path"].notna() & decoded(t)]
        self._root = dataset.root
        self._size = size
        self._workers = resolve_workers(workers)
        #: Each decodable photo's sha256: it is shown only if its bytes still hash to it.
        self._sha256 = {
            str(p): str(h) if isinstance(h, str) else None
            for p, h in zip(rows["path"], rows["sha256"], strict=True)
        }
        self._asked: list[_Asked] = []
        #: Photo -> its number (in the order first asked for) and its first detail.
        self._shown: dict[str, tuple[int, str]] = {}
        self._read: dict[str, Enlarged] = {}

    def figure(self, path: str | None, caption: str, detail: str) -> str:
        """The thumbnail of ``path``, linked to its enlarged copy, as a marker ``fill`` replaces;
        a placeholder at once when the probe decoded no such photo.

        ``caption`` goes under the thumbnail, ``detail`` (who, which view) in the overlay and the
        image's alt text.
        """
        if path is None or path not in self._sha256:
            return no_photo_figure(caption, path or "")
        self._shown.setdefault(path, (len(self._shown) + 1, detail))
        self._asked.append(_Asked(path, caption, detail))
        return f"\x00{len(self._asked) - 1}\x00"

    def fill(self, page: str) -> str:
        """``page`` with every marker replaced: each photo read again once (``enlarge``).

        Threads, not processes: Pillow decodes and resizes without the GIL, and a few hundred
        photos do not pay for starting a process pool.
        """
        paths = list(self._shown)
        tasks = [(self._root, p, self._sha256[p], self._size) for p in paths]
        with ThreadPoolExecutor(self._workers) as pool:
            read = ordered_map(enlarge, tasks, pool=pool, ahead=2 * self._workers)
            self._read = dict(zip(paths, read, strict=True))
        first: set[str] = set()

        def place(match: re.Match[str]) -> str:
            if match[1] == "overlays":
                return self._overlays()
            asked = self._asked[int(match[1])]
            html = self._figure(asked, asked.path not in first)
            first.add(asked.path)
            return html

        return _MARKER.sub(place, page)

    def _figure(self, asked: _Asked, first: bool) -> str:
        big, (number, _) = self._read[asked.path], self._shown[asked.path]
        if big.thumb is None:
            return no_photo_figure(asked.caption, asked.path, big.note)
        anchor = f' id="at-{number}"' if first else ""
        return (
            f'<figure class=thumb title="{esc(asked.path)}"><a{anchor} class=zoomin '
            f'href="#zoom-{number}"><img src="{data_uri("image/jpeg", big.thumb)}" '
            f'alt="{esc(asked.detail)}"></a><figcaption>{esc(asked.caption)}</figcaption></figure>'
        )

    def _overlays(self) -> str:
        """One hidden overlay per photo that could be read again, in number order."""
        return "".join(
            self._overlay(path, number, detail)
            for path, (number, detail) in self._shown.items()
            if self._read[path].jpeg is not None
        )

    def _overlay(self, path: str, number: int, detail: str) -> str:
        jpeg = self._read[path].jpeg
        assert jpeg is not None
        back = f"#at-{number}"
        return (
            f'<div class=zoom id="zoom-{number}"><a class=shut href="{back}" '
            f'aria-label="close"></a><figure><img src="{data_uri("image/jpeg", jpeg)}" '
            f'alt="{esc(detail)}"><figcaption>{esc(detail)}<br>{esc(path)}'
            f' <a href="{back}">close</a></figcaption></figure></div>'
        )
