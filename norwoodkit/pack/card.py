"""The dataset card (README.md): a ``huggingface_hub`` dataset card built from the manifest alone.

The YAML header is a ``DatasetCardData`` (configs, ``dataset_info`` with features and split
sizes, task and size categories, license, pretty name, and the user's ``--card-data`` fields),
serialised as ``DatasetCard`` serialises it, so a split named ``0`` is quoted and the Hub's
parser reads back exactly what we meant. The body says what the shards hold, how the split was
made (``card_split``: in full when the split file was a ``split --json`` document), what was left
out and why, and how to load and upload the folder.
``huggingface_hub`` is imported when a card is built, never when this module is.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import posixpath
import stat
from collections import Counter
from pathlib import Path
from typing import Any

from norwoodkit.errors import InputError, ParameterError
from norwoodkit.pack.card_split import split_section

__all__ = [
    "COMPUTED_FIELDS",
    "DEFAULT_LICENSE",
    "DEFAULT_PRETTY_NAME",
    "card_data",
    "check_card_options",
    "config_splits",
    "dataset_card",
    "read_card_data",
    "size_category",
]

#: The license a card states when ``--license`` is not given: the Hub's word for "see the card".
DEFAULT_LICENSE = "other"
DEFAULT_PRETTY_NAME = "Male Hair Loss (Norwood-Hamilton stages)"
#: Card fields derived from the shards: a ``--card-data`` file may not set them (the card would
#: then describe files that are not there).
COMPUTED_FIELDS = frozenset({"configs", "dataset_info", "size_categories"})
#: The most a ``--card-data`` file may hold: bytes on disk, and values once parsed (YAML aliases
#: can make a small file stand for a huge document).
MAX_CARD_DATA_BYTES = 1 << 20
MAX_CARD_DATA_VALUES = 10_000

_SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)
# A license id as the Hub spells them: mit, apache-2.0, cc-by-nc-4.0, other.
_LICENSE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-+_")


def dataset_card(manifest: dict[str, Any]) -> str:
    """The README.md written beside the shards: the ``DatasetCardData`` header, then the body.

    The header is what ``DatasetCard`` writes (``card_data(manifest).to_yaml()``, the same
    text), emitted by libyaml where PyYAML has it: the pure-Python emitter alone took longer
    than the 1 % of a pack the card may cost, and ``DatasetCard`` itself would import the Hub
    client (about 0.5 s) to assemble a string.
    """
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    header = yaml.dump(
        card_data(manifest).to_dict(), Dumper=dumper, sort_keys=False, allow_unicode=True
    )
    return f"---\n{header.strip()}\n---\n\n{_body(manifest)}"


def card_data(manifest: dict[str, Any]) -> Any:
    """The card's ``DatasetCardData``: what the Hub and ``datasets`` read from the header."""
    from huggingface_hub.repocard_data import DatasetCardData

    options = manifest["options"]
    extra = dict(options.get("card_data") or {})
    # The flags win over the file, the file over our defaults.
    license = options.get("license") or extra.pop("license", None) or DEFAULT_LICENSE
    pretty = options.get("pretty_name") or extra.pop("pretty_name", None) or DEFAULT_PRETTY_NAME
    extra.pop("license", None)
    extra.pop("pretty_name", None)
    infos = [_dataset_info(manifest, c) for c in manifest["configs"]]
    return DatasetCardData(
        license=license,
        pretty_name=pretty,
        task_categories=extra.pop("task_categories", ["image-classification"]),
        size_categories=[size_category(manifest["rows"])],
        **extra,
        configs=manifest["configs"],
        dataset_info=infos[0] if len(infos) == 1 else infos,
    )


def size_category(rows: int) -> str:
    """The Hub's size category for ``rows`` rows (``n<1K`` .. ``n>1T``)."""
    for bound, name in _SIZE_CATEGORIES:
        if rows < bound:
            return name
    return "1B<n<10B" if rows < 10_000_000_000 else "n>1T"


def _dataset_info(manifest: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """One config's ``dataset_info``: its features and, per split, its rows and bytes."""
    splits = config_splits(manifest, config)
    return {
        "config_name": config["config_name"],
        "features": [_yaml_feature(k, v) for k, v in manifest["features"].items()],
        "splits": [
            {"name": name, "num_bytes": sum(r["bytes"] for r in recs), "num_examples": _rows(recs)}
            for name, recs in splits.items()
        ],
        "download_size": sum(r["bytes"] for recs in splits.values() for r in recs),
        "dataset_size": sum(r["bytes"] for recs in splits.values() for r in recs),
    }


def _rows(records: list[dict[str, Any]]) -> int:
    return sum(int(r["rows"]) for r in records)


def config_splits(manifest: dict[str, Any], config: dict[str, Any]) -> dict[str, list[Any]]:
    """The shard records each split of a config reads (its ``data_files`` patterns matched)."""
    records = [r for s in manifest["splits"].values() for r in s["shards"]]
    out: dict[str, list[Any]] = {}
    for entry in config["data_files"]:
        paths = entry["path"]
        patterns = [paths] if isinstance(paths, str) else list(paths)
        out[entry["split"]] = [
            r for r in records if any(fnmatch.fnmatchcase(r["path"], p) for p in patterns)
        ]
    return out


def _yaml_feature(name: str, feature: dict[str, Any]) -> dict[str, Any]:
    """A feature in the card's YAML form (``datasets``' ``Features._to_yaml_list``)."""
    kind = feature["_type"]
    if kind == "Image":
        return {"name": name, "dtype": "image"}
    if kind == "ClassLabel":
        names = {str(i): n for i, n in enumerate(feature["names"])}
        return {"name": name, "dtype": {"class_label": {"names": names}}}
    return {"name": name, "dtype": feature["dtype"]}


def _body(manifest: dict[str, Any]) -> str:
    """The Markdown under the header: every section, in reading order."""
    sections = (
        _intro,
        split_section,
        _excluded_section,
        _orientation,
        _loading,
        _other_readers,
        _schema,
    )
    return "\n".join(f(manifest) for f in sections)


def _pretty_name(manifest: dict[str, Any]) -> str:
    options = manifest["options"]
    extra = options.get("card_data") or {}
    return str(options.get("pretty_name") or extra.get("pretty_name") or DEFAULT_PRETTY_NAME)


def _intro(manifest: dict[str, Any]) -> str:
    """The title, what one row is, the license note, and the table of splits."""
    options = manifest["options"]
    resize = options["resize"]
    stored = "original image bytes" if resize is None else f"re-encoded, short side {resize}"
    per_row = "image" if manifest["layout"] == "image" else "subject (five image columns)"
    rows = "\n".join(
        f"| {name} | {s['subjects']} | {s['rows']} | {len(s['shards'])} | "
        + ", ".join(f"{k}: {v}" for k, v in s["stage_counts"].items())
        + " |"
        for name, s in manifest["splits"].items()
    )
    source = manifest["source"]
    license = options.get("license") or (options.get("card_data") or {}).get("license")
    license_note = (
        f"License: `{license}`."
        if license
        else "License: not stated (`other` in the header). The photos' license is their "
        "publisher's: set it with `norwoodkit pack --license ID` before sharing this folder."
    )
    return f"""# {_pretty_name(manifest)}

Parquet shards written by norwoodkit {manifest["norwoodkit_version"]} (`norwoodkit pack`,
layout `{manifest["layout"]}`, {stored}). One row per {per_row}; every view of a subject is in
one shard and one row group. `label` is the Norwood-Hamilton stage minus one (class names
`stage_1` .. `stage_7`); `stage` keeps the stage itself.

Source: {source["images"]} images of {source["subjects"]} subjects, table hash
`{source["table_sha256"][:16]}`. Check the shards with `norwoodkit verify .`.

{license_note}

| split | subjects | rows | shards | subjects per stage |
|---|---|---|---|---|
{rows}
"""


def _excluded_section(manifest: dict[str, Any]) -> str:
    """What was left out, counted by reason."""
    counts = excluded_counts(manifest)
    head = "## What was left out\n\n"
    if not counts:
        return head + "Nothing: every image of the source is in the shards.\n"
    rows = "\n".join(f"| {reason} | {n} |" for reason, n in counts.most_common())
    return (
        head + f"{sum(counts.values())} images are not in the shards (each is listed with its path "
        "and reason in `manifest.json`, `excluded`):\n\n| reason | images |\n|---|---|\n"
        + rows
        + "\n"
    )


def _orientation(manifest: dict[str, Any]) -> str:
    """How EXIF orientation was handled, so every reader knows which pixels are upright."""
    options = manifest["options"]
    head = "## Orientation\n\n"
    tag = "The `orientation` column keeps each photo's EXIF tag as the source had it.\n"
    if options["resize"] is not None:
        return head + (
            "Images were re-encoded with their EXIF orientation applied: every reader sees "
            "the same upright pixels, and `width`/`height` describe them. " + tag
        )
    # Packs written before `--orientation` existed stored original bytes: `keep`.
    if options.get("orientation", "keep") == "apply":
        return head + (
            "Packed with `--orientation apply` (the default): photos whose EXIF orientation "
            "was not 1 are stored upright (re-encoded with their own JPEG quantization tables, "
            "the tag removed), every other photo as its original bytes. Every reader, a plain "
            "`PIL.Image.open` included, sees the same upright pixels, and `width`/`height` "
            "describe them. " + tag
        )
    return head + (
        "Packed with `--orientation keep`: original bytes, EXIF tags kept. Readers that apply "
        "the tag (Hugging Face `datasets`, norwoodkit's loader) and readers that do not (a plain "
        "`PIL.Image.open`, Daft) see photos with an `orientation` other than 1 differently; "
        "apply it with `PIL.ImageOps.exif_transpose`. `width`/`height` are the stored pixels, "
        "before it. " + tag
    )


def _loading(manifest: dict[str, Any]) -> str:
    """How to load the folder with Hugging Face datasets, pyarrow, DuckDB and Polars."""
    first_config = manifest["configs"][0]
    first = first_config["data_files"][0]["split"]
    config = (
        "" if first_config["config_name"] == "default" else f', "{first_config["config_name"]}"'
    )
    folders = sorted(
        {posixpath.dirname(r["path"]) for s in manifest["splits"].values() for r in s["shards"]}
    )
    glob = f"{folders[0]}/*.parquet" if len(folders) == 1 else "*/*.parquet"
    image_col = "image" if manifest["layout"] == "image" else "image_front"
    folds = manifest.get("folds")
    fold_line = (
        f'\nds = load_dataset("path/to/this/folder", "fold_0")  # train: the other {folds - 1} '
        "folds, validation: fold 0"
        if folds
        else ""
    )
    return f"""## Load it

Hugging Face `datasets` (images as PIL images, `label` with its class names), through this
card's configs or the file names alone:

```python
from datasets import load_dataset
ds = load_dataset("path/to/this/folder"{config})  # or load_dataset("parquet", data_dir=...)
ds["{first}"][0]["{image_col}"], ds["{first}"].features["label"].names{fold_line}
```

pyarrow, DuckDB and Polars read the shards under `{folders[0] if len(folders) == 1 else "*"}/`
(the card, `manifest.json` and `croissant.json` beside it are not Parquet):

```python
import pyarrow.dataset as pads
table = pads.dataset("path/to/this/folder/{folders[0]}", format="parquet").to_table()
```

```sql
SELECT split, stage, count(*) FROM 'path/to/this/folder/{glob}' GROUP BY ALL ORDER BY ALL;
```

```python
import polars as pl
frame = pl.scan_parquet("path/to/this/folder/{glob}").collect()
```
"""


def _other_readers(manifest: dict[str, Any]) -> str:
    """Our loader and Croissant, and the one command that uploads the folder as it is."""
    loader_split = next(iter(manifest["splits"]))
    return f"""norwoodkit's PyTorch loader (`pip install 'norwoodkit[torch]'`):

```python
from norwoodkit.loader import ShardDataset
data = ShardDataset("path/to/this/folder", split="{loader_split}")
```

Croissant (`croissant.json` describes the same files, splits and class names):

```python
import mlcroissant as mlc
records = mlc.Dataset("path/to/this/folder/croissant.json").records("default")
```

## Share it

The folder is a Hugging Face dataset repository as it is; one command uploads it:

```sh
hf upload YOUR_NAME/DATASET_NAME path/to/this/folder --repo-type dataset
```

(or `HfApi().upload_folder(repo_id=..., folder_path=..., repo_type="dataset")` in Python).
"""


def _schema(manifest: dict[str, Any]) -> str:
    """The schema section: each shard column and its Arrow type."""
    rows = "\n".join(f"| `{k}` | `{v}` |" for k, v in manifest["schema"].items())
    return f"## Schema\n\n| column | type |\n|---|---|\n{rows}\n"


def check_card_options(
    license: str | None, pretty_name: str | None, card_data: dict[str, Any] | None
) -> None:
    """Refuse a license id, pretty name or card-data mapping the card cannot carry.

    Raises:
        ParameterError: names ``license``, ``pretty_name`` or ``card_data``.
    """
    if license is not None and not (0 < len(license) <= 64 and set(license) <= _LICENSE_CHARS):
        raise ParameterError(
            "license",
            f"{license[:64]!r} is not a license id; use the Hub's lowercase id, e.g. mit, "
            "cc-by-4.0, apache-2.0 or other",
        )
    if pretty_name is not None and not (
        len(pretty_name.strip()) > 0 and len(pretty_name) <= 200 and pretty_name.isprintable()
    ):
        raise ParameterError(
            "pretty_name", "must be one printable line of 1 to 200 characters, e.g. 'Scalp photos'"
        )
    taken = sorted(COMPUTED_FIELDS & set(card_data or {}))
    if taken:
        raise ParameterError("card_data", _computed_problem(taken))


def read_card_data(path: str | os.PathLike[str], parameter: str = "card_data") -> dict[str, Any]:
    """Extra card fields from a YAML file: a mapping of plain values (dates become ISO text).

    Raises:
        InputError: the file is missing, not a regular file, too large, not UTF-8, not valid
            YAML (names the line), not a mapping, or holds values a card cannot carry.
    """
    import yaml

    p = Path(path)
    text = _read_small(p, parameter)
    try:
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise _bad(p, parameter, f"not valid YAML{where} ({exc.problem})") from None
    except yaml.YAMLError:
        raise _bad(p, parameter, "not valid YAML") from None
    if not isinstance(doc, dict):
        raise _bad(p, parameter, "not a mapping; write one 'field: value' per line")
    taken = sorted(COMPUTED_FIELDS & set(doc))
    if taken:
        raise _bad(p, parameter, _computed_problem(taken))
    counter = [0]
    return {_key(k, p, parameter): _plain(v, p, parameter, counter) for k, v in doc.items()}


def _computed_problem(taken: list[str]) -> str:
    return (
        f"sets {', '.join(taken)}, which pack computes from the shards; remove "
        f"{'it' if len(taken) == 1 else 'them'} from the file"
    )


def _read_small(p: Path, parameter: str) -> str:
    """A regular file's UTF-8 text, at most ``MAX_CARD_DATA_BYTES`` (never a FIFO or device)."""
    try:
        st = os.stat(p)
    except OSError:
        raise InputError(f"{parameter} {p}: no such file", code="input-missing") from None
    if not stat.S_ISREG(st.st_mode):
        raise _bad(p, parameter, "not a regular file")
    if st.st_size > MAX_CARD_DATA_BYTES:
        raise _bad(p, parameter, f"larger than {MAX_CARD_DATA_BYTES >> 20} MiB")
    try:
        with open(p, "rb") as fh:
            return fh.read(MAX_CARD_DATA_BYTES + 1).decode("utf-8-sig")
    except OSError as exc:
        raise _bad(p, parameter, f"cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise _bad(p, parameter, "not UTF-8 text") from None


def _bad(p: Path, parameter: str, problem: str) -> InputError:
    return InputError(
        f"{parameter} {p}: {problem}; give a YAML mapping of card fields, e.g. "
        "'language: [en]' on a line",
        code="card-data-invalid",
    )


def _key(key: Any, p: Path, parameter: str) -> str:
    if not isinstance(key, str) or not key:
        raise _bad(p, parameter, f"field name {str(key)[:40]!r} is not text")
    return key


def _plain(value: Any, p: Path, parameter: str, counter: list[int]) -> Any:
    """``value`` as JSON-ready data (it is stored in the manifest too), within the size bound."""
    counter[0] += 1
    if counter[0] > MAX_CARD_DATA_VALUES:
        raise _bad(p, parameter, f"more than {MAX_CARD_DATA_VALUES:,} values once read")
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v, p, parameter, counter) for v in value]
    if isinstance(value, dict):
        return {_key(k, p, parameter): _plain(v, p, parameter, counter) for k, v in value.items()}
    raise _bad(p, parameter, f"a value of type {type(value).__name__} is not plain YAML")


def excluded_counts(manifest: dict[str, Any]) -> Counter[str]:
    """How many images were left out for each reason."""
    return Counter(str(e["reason"]) for e in manifest["excluded"])
