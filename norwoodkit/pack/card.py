"""The dataset card (README.md) written beside the shards: counts, how to load, the schema.

Its YAML header names one ``data_files`` entry per split, so Hugging Face ``datasets`` and the
Hub read the folder as it is. Everything on the card comes from the manifest.
"""

from __future__ import annotations

from typing import Any


def dataset_card(manifest: dict[str, Any]) -> str:
    """The README.md written beside the shards: counts, schema, how to load."""
    splits = manifest["splits"]
    first = next(iter(splits))
    return _header(manifest) + _loading(manifest, first) + _schema(manifest)


def _header(manifest: dict[str, Any]) -> str:
    """The YAML front matter, what the shards are, and the table of splits."""
    splits = manifest["splits"]
    yaml_files = "\n".join(
        f'      - split: {name}\n        path: "{name}/*.parquet"' for name in splits
    )
    rows = "\n".join(
        f"| {name} | {s['subjects']} | {s['rows']} | {len(s['shards'])} | "
        + ", ".join(f"{k}: {v}" for k, v in s["stage_counts"].items())
        + " |"
        for name, s in splits.items()
    )
    resize = manifest["options"]["resize"]
    stored = (
        "original image bytes" if resize is None else f"images re-encoded with short side {resize}"
    )
    per_row = "image" if manifest["layout"] == "image" else "subject (five image columns)"
    return f"""---
configs:
  - config_name: default
    data_files:
{yaml_files}
---

# Male Hair Loss dataset: Parquet shards

Written by norwoodkit {manifest["norwoodkit_version"]} (`norwoodkit pack`, layout
`{manifest["layout"]}`, {stored}). One row per
{per_row}; every view of a
subject is in one shard and one row group. `label` is the Norwood-Hamilton stage minus one
(class names `stage_1` .. `stage_7`); `stage` keeps the stage itself.

| split | subjects | rows | shards | subjects per stage |
|---|---|---|---|---|
{rows}

"""


def _loading(manifest: dict[str, Any], first: str) -> str:
    """Where the images came from, and how to load the shards with four tools."""
    # Without splits there is one all/ folder: point data_dir at it (the folder above also
    # holds manifest.json and this card, which are not Parquet).
    data_dir = "path/to/this/folder" + ("/all" if list(manifest["splits"]) == ["all"] else "")
    image_col = "image" if manifest["layout"] == "image" else "image_front"
    source = manifest["source"]
    return f"""Source: {source["images"]} images of {source["subjects"]} subjects, table
hash `{source["table_sha256"][:16]}`. {len(manifest["excluded"])} images were left
out (see `manifest.json`, `excluded`). Check the shards with `norwoodkit verify .`.

## Load it

Hugging Face `datasets` (images come back as PIL images, `label` with its class names):

```python
from datasets import load_dataset
ds = load_dataset("parquet", data_dir="{data_dir}")
ds["{first}"][0]["{image_col}"], ds["{first}"].features["label"].names
```

pyarrow:

```python
import pyarrow.dataset as pads
table = pads.dataset("path/to/this/folder/{first}", format="parquet").to_table()
```

DuckDB:

```sql
SELECT stage, count(*) FROM 'path/to/this/folder/{first}/*.parquet' GROUP BY stage ORDER BY stage;
```

norwoodkit's PyTorch loader (`pip install 'norwoodkit[torch]'`):

```python
from norwoodkit.loader import ShardDataset
data = ShardDataset("path/to/this/folder", split="{first}")
```

"""


def _schema(manifest: dict[str, Any]) -> str:
    """The schema section: each shard column and its Arrow type."""
    schema = "\n".join(f"| `{k}` | `{v}` |" for k, v in manifest["schema"].items())
    return f"""## Schema

| column | type |
|---|---|
{schema}
"""
