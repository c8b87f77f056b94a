"""Write the JSON Schemas of every ``--json`` document into docs/schemas/ from one definition.

    python tools/json_schemas.py            # (re)write docs/schemas/*.json
    python tools/json_schemas.py --check    # exit 1 when a file there is missing or out of date

The definition is ``norwoodkit/cli/schemas.py``; the files are generated, never edited by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # this checkout's norwoodkit, not an installed one

from norwoodkit.cli.schemas import all_schemas  # noqa: E402

OUT = REPO / "docs" / "schemas"


def rendered() -> dict[str, str]:
    """Each schema file's name and its exact text."""
    return {name: json.dumps(s, indent=2) + "\n" for name, s in all_schemas().items()}


def main(argv: list[str] | None = None) -> int:
    """Write the files (or, with --check, compare them); the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    files = rendered()
    if args.check:
        stale = [n for n, text in files.items() if _read(OUT / n) != text]
        stale += sorted(p.name for p in OUT.glob("*.json") if p.name not in files)
        for name in stale:
            print(f"docs/schemas/{name}: out of date; run python tools/json_schemas.py")
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text, encoding="utf-8")
    for extra in OUT.glob("*.json"):
        if extra.name not in files:
            extra.unlink()
    print(f"wrote {len(files)} schemas to {OUT.relative_to(REPO)}")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


if __name__ == "__main__":
    sys.exit(main())
