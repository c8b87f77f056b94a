"""croissant.json: the pack folder described in MLCommons Croissant 1.0 JSON-LD.

Built from the manifest alone, beside the card: the shards as a FileSet (and each shard as a
FileObject with its sha256, as Croissant asks of files), one record set of the rows (every
shard column: images as ``sc:ImageObject`` from the struct's ``bytes``, ``label`` pointing at
the class names), a ``cr:Split`` record set of the split names, and the class names.
``mlcroissant`` reads the folder with it, the same rows as every other reader.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

__all__ = ["CONFORMS_TO", "CONTEXT", "CROISSANT", "croissant", "croissant_json"]

CROISSANT = "croissant.json"
CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
#: The JSON-LD context of Croissant 1.0, as the specification gives it.
CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

PARQUET = "application/x-parquet"
SHARDS = "parquet-shards"
RECORDS = "default"
SPLITS = "splits"
CLASSES = "stage_classes"

# A Hugging Face Value dtype -> the schema.org type Croissant reads it as.
_VALUE_TYPES = {
    "string": "sc:Text",
    "large_string": "sc:Text",
    "bool": "sc:Boolean",
    "float32": "sc:Float",
    "float64": "sc:Float",
}


def croissant_json(manifest: dict[str, Any]) -> str:
    """``croissant.json``'s text (indented, a newline at the end)."""
    return json.dumps(croissant(manifest), indent=2, ensure_ascii=False) + "\n"


def croissant(manifest: dict[str, Any]) -> dict[str, Any]:
    """The Croissant 1.0 document of a pack, from its manifest."""
    from norwoodkit.pack.card import DEFAULT_LICENSE, DEFAULT_PRETTY_NAME, size_category

    options = manifest["options"]
    extra = options.get("card_data") or {}
    source = manifest["source"]
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": options.get("pretty_name") or extra.get("pretty_name") or DEFAULT_PRETTY_NAME,
        "description": (
            f"Scalp photos labelled with their Norwood-Hamilton stage: {source['images']} "
            f"images of {source['subjects']} subjects in {manifest['rows']} rows "
            f"({size_category(manifest['rows'])}), packed by norwoodkit "
            f"{manifest['norwoodkit_version']} (layout {manifest['layout']})."
        ),
        "conformsTo": CONFORMS_TO,
        "license": options.get("license") or extra.get("license") or DEFAULT_LICENSE,
        "url": "https://huggingface.co/docs/hub/datasets-cards",
        "version": f"{manifest['format_version']}.0.0",
        "distribution": _distribution(manifest),
        "recordSet": [_splits(manifest), _classes(manifest), _records(manifest)],
    }


def _shards(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for s in manifest["splits"].values() for r in s["shards"]]


def _distribution(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Each shard as a FileObject (sha256, size), and the FileSet the records are read from."""
    shards = _shards(manifest)
    folders = sorted({posixpath.dirname(r["path"]) for r in shards})
    files = [
        {
            "@type": "cr:FileObject",
            "@id": r["path"],
            "name": r["path"],
            "contentUrl": r["path"],
            "contentSize": f"{r['bytes']} B",
            "encodingFormat": PARQUET,
            "sha256": r["sha256"],
        }
        for r in shards
    ]
    return [
        *files,
        {
            "@type": "cr:FileSet",
            "@id": SHARDS,
            "name": SHARDS,
            "description": "Every Parquet shard of the pack (see manifest.json).",
            "encodingFormat": PARQUET,
            "includes": [f"{folder}/*.parquet" for folder in folders],
        },
    ]


def _splits(manifest: dict[str, Any]) -> dict[str, Any]:
    """The ``cr:Split`` record set: one record per split name."""
    return {
        "@type": "cr:RecordSet",
        "@id": SPLITS,
        "name": SPLITS,
        "description": "The splits of the pack; every row's split field names one.",
        "dataType": "cr:Split",
        "key": {"@id": f"{SPLITS}/name"},
        "field": [_field(f"{SPLITS}/name", "name", "sc:Text", "The split's name.")],
        "data": [{f"{SPLITS}/name": name} for name in manifest["splits"]],
    }


def _classes(manifest: dict[str, Any]) -> dict[str, Any]:
    """The class names: ``label`` i is ``label_names[i]``."""
    return {
        "@type": "cr:RecordSet",
        "@id": CLASSES,
        "name": CLASSES,
        "description": "Class names: label i is Norwood-Hamilton stage i + 1.",
        "key": {"@id": f"{CLASSES}/label"},
        "field": [
            _field(f"{CLASSES}/label", "label", "sc:Integer", "The class index."),
            _field(f"{CLASSES}/name", "name", "sc:Text", "The class name."),
        ],
        "data": [
            {f"{CLASSES}/label": i, f"{CLASSES}/name": name}
            for i, name in enumerate(manifest["label_names"])
        ],
    }


def _records(manifest: dict[str, Any]) -> dict[str, Any]:
    """The rows: one field per shard column, read from the FileSet."""
    fields = []
    for name, feature in manifest["features"].items():
        kind = feature["_type"]
        uid = f"{RECORDS}/{name}"
        source: dict[str, Any] = {"fileSet": {"@id": SHARDS}, "extract": {"column": name}}
        if kind == "Image":
            source["transform"] = {"jsonPath": "bytes"}
            field = _field(uid, name, "sc:ImageObject", "The photo (its file's bytes).")
        elif kind == "ClassLabel":
            field = _field(uid, name, "sc:Integer", "The class index (stage - 1).")
            field["references"] = {"field": {"@id": f"{CLASSES}/label"}}
        else:
            kind_name = _VALUE_TYPES.get(feature["dtype"], "sc:Integer")
            field = _field(uid, name, kind_name, f"The shard column {name}.")
            if name == "split":
                field["references"] = {"field": {"@id": f"{SPLITS}/name"}}
        field["source"] = source
        fields.append(field)
    return {
        "@type": "cr:RecordSet",
        "@id": RECORDS,
        "name": RECORDS,
        "description": "One record per shard row.",
        "field": fields,
    }


def _field(uid: str, name: str, data_type: str, description: str) -> dict[str, Any]:
    return {
        "@type": "cr:Field",
        "@id": uid,
        "name": name,
        "description": description,
        "dataType": data_type,
    }
