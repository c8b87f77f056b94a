"""The dataset card (README.md) written beside the shards: counts, how to load, the schema.

Its YAML header's ``configs`` are the manifest's, so Hugging Face ``datasets`` and the Hub read
the folder as it is. Everything on the card comes from the manifest.
"""

from __future__ import annotations

import json
from typing import Any


def dataset_card(manifest: dict[str, Any]) -> str:
    """The README.md written beside the shards: counts, schema, how to load."""
    splits = manifest["splits"]
    first = next(iter(splits))
    return _header(manifest) + _loading(manifest, first) + _schema(manifest)


def _header(manifest: dict[str, Any]) -> str:
    """The YAML front matter, what the shards are, and the table of splits."""
    splits = manifest["splits"]
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
{configs_yaml(manifest["configs"])}
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


def configs_yaml(configs: list[dict[str, Any]]) -> str:
    """The manifest's ``configs`` as YAML, every value a quoted string (a fold named ``0``
    unquoted would be a number, which ``datasets`` refuses)."""
    lines = ["configs:"]
    for config in configs:
        lines += [f"  - config_name: {json.dumps(config['config_name'])}", "    data_files:"]
        for files in config["data_files"]:
            lines += [f"      - split: {json.dumps(files['split'])}", "        path:"]
            lines += [f"          - {json.dumps(path)}" for path in files["path"]]
    return "\n".join(lines)


def _loading(manifest: dict[str, Any], first: str) -> str:
    """Where the images came from, and the calls that read this folder as it is."""
    image_col = "image" if manifest["layout"] == "image" else "image_front"
    source = manifest["source"]
    folds = manifest.get("folds")
    fold_line = (
        f'\nds = load_dataset("path/to/this/folder", "fold_0")  # train: the other {folds - 1} '
        "folds, validation: fold 0"
        if folds
        else ""
    )
    return f"""Source: {source["images"]} images of {source["subjects"]} subjects, table
hash `{source["table_sha256"][:16]}`. {len(manifest["excluded"])} images were left
out (see `manifest.json`, `excluded`). Check the shards with `norwoodkit verify .`.

## Load it

Every shard is `data/<split>-NNNNN-of-NNNNN.parquet`. Hugging Face `datasets` (images come back
as PIL images, `label` with its class names), through this card's configs or the file names
alone:

```python
from datasets import load_dataset
ds = load_dataset("path/to/this/folder")  # or load_dataset("parquet", data_dir=...)
ds["{first}"][0]["{image_col}"], ds["{first}"].features["label"].names{fold_line}
```

pyarrow reads the `data/` folder (this card and `manifest.json` at the top are not Parquet):

```python
import pyarrow.dataset as pads
table = pads.dataset("path/to/this/folder/data", format="parquet").to_table()
# or pads.dataset("path/to/this/folder", format="parquet", exclude_invalid_files=True)
# or pyarrow.parquet.read_table("path/to/this/folder/data")
```

DuckDB and Polars (the `split` column names each row's split):

```sql
SELECT split, stage, count(*) FROM 'path/to/this/folder/data/*.parquet' GROUP BY ALL;
```

```python
import polars as pl
pl.scan_parquet("path/to/this/folder/data/*.parquet").filter(pl.col("split") == "{first}")
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
