"""Progress bars for Python API calls: a ``tqdm.auto`` bar behind the ``progress`` callbacks.

Long library functions (``DatasetSource.probe``, ``probe.run``, ``dedupe.find``, ``pack.write``,
``pack.verify``, ``sample.write``) report progress through ``progress: Callable[[int], None]``,
called with the number of items just finished. The CLI connects that callback to a Rich bar on
stderr (``cli.app.progress_bar``) and never imports this module; a notebook or a script gets the
same reports here as a ``tqdm.auto`` bar: a widget in Jupyter, text on stderr elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm.auto import tqdm

__all__ = ["tqdm_progress"]


@contextmanager
def tqdm_progress(
    total: int | None = None,
    desc: str | None = None,
    *,
    unit: str = "image",
    leave: bool = True,
    disable: bool | None = False,
    file: TextIO | None = None,
) -> Iterator[Callable[[int], None]]:
    """A ``progress`` callback that advances a ``tqdm.auto`` bar, closed when the block ends.

    Args:
        total: the number of items the call will report (``len(ds.images)`` for a probe);
            None: a running count without a percentage.
        desc: the bar's label.
        unit: what one item is, for the rate shown.
        leave: keep the finished bar on screen.
        disable: True: no bar; None: no bar unless the output is a terminal (tqdm's rule).
        file: where a text bar goes (default stderr); notebooks show a widget instead.

    Example::

        with tqdm_progress(len(ds.images), "probing") as update:
            probed = source.probe(ds, progress=update)
    """
    bar = tqdm(total=total, desc=desc, unit=unit, leave=leave, disable=disable, file=file)
    try:
        # tqdm's own ``update`` takes floats and returns a flag; the library's callbacks take
        # an int and return nothing, so strict type checkers accept this one where they
        # would refuse ``bar.update``.
        def advance(n: int) -> None:
            bar.update(n)

        yield advance
    finally:
        bar.close()
