"""Click-to-enlarge without JavaScript: each thumbnail links to its photo's overlay, which the
page's CSS shows while it is the URL's target (``:target``); one overlay per photo, however often
the photo is shown, and a close link back to where it was first shown."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from norwoodkit.dataset import Dataset, decoded
from norwoodkit.parallel import ordered_map, resolve_workers
from norwoodkit.report.enlarge import ENLARGED_SIZE, Enlarged, enlarge
from norwoodkit.report.markup import data_uri, esc, thumb_figure

__all__ = ["Zoom"]


@dataclass(frozen=True)
class _Photo:
    thumb: bytes | None
    sha256: str | None
    ok: bool


@dataclass(frozen=True)
class _Shown:
    number: int
    detail: str


class Zoom:
    """The page's enlargeable photos: ``figure`` for each thumbnail, ``overlays`` once at the end.

    Numbers follow the order photos are first shown, so the same data gives the same page.
    """

    def __init__(
        self, dataset: Dataset, size: int = ENLARGED_SIZE, workers: int | None = None
    ) -> None:
        t = dataset.table
        rows = t[t["path"].notna()]
        ok = decoded(rows)
        self._root = dataset.root
        self._size = size
        self._workers = resolve_workers(workers)
        self._photos = {
            str(p): _Photo(
                bytes(b) if isinstance(b, (bytes, bytearray)) else None,
                str(h) if isinstance(h, str) else None,
                bool(k),
            )
            for p, b, h, k in zip(rows["path"], rows["thumbnail"], rows["sha256"], ok, strict=True)
        }
        self._shown: dict[str, _Shown] = {}

    def figure(self, path: str | None, caption: str, detail: str) -> str:
        """The thumbnail of ``path`` linked to its enlarged photo (a placeholder when none).

        ``caption`` goes under the thumbnail, ``detail`` (who, which view) in the overlay and the
        image's alt text.
        """
        photo = self._photos.get(path) if path is not None else None
        if path is None or photo is None or photo.thumb is None:
            return thumb_figure(None, detail, caption, path or "")
        shown = self._shown.get(path)
        anchor = ""
        if shown is None:
            shown = self._shown[path] = _Shown(len(self._shown) + 1, detail)
            anchor = f' id="at-{shown.number}"'
        return (
            f'<figure class=thumb title="{esc(path)}"><a{anchor} class=zoomin '
            f'href="#zoom-{shown.number}"><img src="{data_uri("image/jpeg", photo.thumb)}" '
            f'alt="{esc(detail)}"></a><figcaption>{esc(caption)}</figcaption></figure>'
        )

    @property
    def count(self) -> int:
        """How many photos the page lets a reviewer enlarge."""
        return len(self._shown)

    def overlays(self) -> str:
        """One hidden overlay per photo shown; reads each photo again (``enlarge``).

        Threads, not processes: Pillow decodes and resizes without the GIL, and a few hundred
        photos do not pay for starting a process pool.
        """
        shown = list(self._shown.items())
        tasks = [(self._root, p, self._photos[p].sha256, self._size) for p, _ in shown]
        with ThreadPoolExecutor(self._workers) as pool:
            bigs = ordered_map(enlarge, tasks, pool=pool, ahead=2 * self._workers)
            return "".join(
                self._overlay(p, s, big) for (p, s), big in zip(shown, bigs, strict=True)
            )

    def _overlay(self, path: str, shown: _Shown, big: Enlarged) -> str:
        photo = self._photos[path]
        if not photo.ok:
            big = Enlarged(None, "the probe could not decode it")
        jpeg = big.jpeg if big.jpeg is not None else photo.thumb
        assert jpeg is not None  # only photos with a thumbnail are shown
        note = (
            f"<p class=zoomnote>Shown at thumbnail size: {esc(big.note)}.</p>"
            if big.jpeg is None
            else ""
        )
        back = f"#at-{shown.number}"
        return (
            f'<div class=zoom id="zoom-{shown.number}"><a class=shut href="{back}" '
            f'aria-label="close"></a><figure><img src="{data_uri("image/jpeg", jpeg)}" '
            f'alt="{esc(shown.detail)}"><figcaption>{esc(shown.detail)}<br>{esc(path)}{note}'
            f' <a href="{back}">close</a></figcaption></figure></div>'
        )
