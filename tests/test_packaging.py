"""The wheel is a real project's: its licence inside, honest metadata, exactly the dependencies
the code imports, and a Python range that the interpreters at hand accept."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.message import Message
from email.parser import Parser
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import trove_classifiers
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "norwoodkit"
#: Extras a user installs for a feature; the package may import what these declare.
FEATURE_EXTRAS = ("report", "torch", "ray")
#: The Python versions the classifiers promise.
PROMISED = ("3.11", "3.12", "3.13")
PIP = (sys.executable, "-m", "pip")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """The wheel built from this source tree, as pip builds it (hatchling, no network)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("norwoodkit-*.whl")
    with zipfile.ZipFile(built) as zf:
        yield zf


def _dist_info(zf: zipfile.ZipFile, name: str) -> str:
    """A file of the wheel's ``*.dist-info`` folder, as text."""
    (path,) = [n for n in zf.namelist() if n.endswith(".dist-info/" + name)]
    return zf.read(path).decode()


@pytest.fixture(scope="module")
def metadata(wheel: zipfile.ZipFile) -> Message:
    """The wheel's METADATA (core metadata, an email-style header block)."""
    return Parser().parsestr(_dist_info(wheel, "METADATA"), headersonly=True)


def test_the_mit_licence_is_inside_the_wheel(wheel: zipfile.ZipFile, metadata: Message) -> None:
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the norwoodkit authors" in text
    assert _dist_info(wheel, "licenses/LICENSE") == text
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]


def test_the_wheel_holds_the_package_typed_with_its_command(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert "norwoodkit/py.typed" in names
    assert "norwoodkit/cli/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "benchmarks/", "tools/", "docs/"))]
    assert "norwoodkit = norwoodkit.cli:main" in _dist_info(wheel, "entry_points.txt")


def test_the_metadata_describes_the_project(metadata: Message) -> None:
    assert metadata["Author"] == "the norwoodkit authors"
    assert metadata["Keywords"]
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues", "Documentation"} <= set(urls)
    assert all(u.startswith("https://github.com/norwoodkit/norwoodkit") for u in urls.values())
    classifiers = metadata.get_all("Classifier") or []
    unknown = [c for c in classifiers if c not in trove_classifiers.classifiers]
    assert not unknown, unknown
    for wanted in (
        "Operating System :: OS Independent",
        "Typing :: Typed",
        "Topic :: Scientific/Engineering :: Medical Science Apps.",
        "Topic :: Scientific/Engineering :: Image Processing",
    ):
        assert wanted in classifiers
    # A licence classifier beside License-Expression is an error for PyPI (PEP 639).
    assert not [c for c in classifiers if c.startswith("License ::")]


def test_the_python_classifiers_match_requires_python(metadata: Message) -> None:
    allowed = SpecifierSet(metadata["Requires-Python"])
    prefix = "Programming Language :: Python :: "
    versions = {
        c.removeprefix(prefix)
        for c in metadata.get_all("Classifier") or []
        if c.startswith(prefix) and c.removeprefix(prefix)[:1].isdigit() and "." in c
    }
    assert versions == set(PROMISED)
    assert all(Version(v) in allowed for v in versions)
    assert Version("3.10") not in allowed, "3.10 lacks what the code uses (typing, tomllib)"


def _imported_top_names() -> dict[str, set[str]]:
    """Every third-party top-level module the package imports -> the files importing it."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "norwoodkit" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(path.relative_to(REPO).as_posix())
    return found


def _declared(metadata: Message) -> dict[str, set[str]]:
    """Requires-Dist as ``{"": runtime names, extra: its names}``, names canonicalised."""
    declared: dict[str, set[str]] = {"": set()}
    for line in metadata.get_all("Requires-Dist") or []:
        req = Requirement(line)
        marker = str(req.marker) if req.marker else ""
        extra = marker.split("extra ==")[1].strip(" '\"") if "extra ==" in marker else ""
        declared.setdefault(extra, set()).add(canonicalize_name(req.name))
    return declared


def test_requires_dist_is_what_the_code_imports(metadata: Message) -> None:
    """Runtime dependencies are imported by the package, and every import is declared."""
    to_dist = packages_distributions()
    imported: dict[str, set[str]] = {}  # distribution -> files that import it
    for top, files in _imported_top_names().items():
        assert top in to_dist, f"{top} (imported by {sorted(files)}) is not installed"
        for dist in to_dist[top]:
            imported.setdefault(canonicalize_name(dist), set()).update(files)
    declared = _declared(metadata)
    features = set().union(*(declared[e] for e in FEATURE_EXTRAS))
    undeclared = {d: sorted(f) for d, f in imported.items() if d not in declared[""] | features}
    assert not undeclared, f"imported but not declared (runtime or {FEATURE_EXTRAS}): {undeclared}"
    unused = declared[""] - set(imported)
    assert not unused, f"runtime dependencies nothing in norwoodkit/ imports: {sorted(unused)}"
    for extra in FEATURE_EXTRAS:
        assert declared[extra] <= set(imported), f"extra {extra!r} declares what is never used"
    # Only tests import imagehash: it must not weigh on every install.
    assert "imagehash" not in declared[""] and "imagehash" in declared["test"]


def test_feature_extras_are_not_needed_to_import(metadata: Message) -> None:
    """``import norwoodkit`` and the CLI load nothing from the report or torch extras."""
    to_dist = packages_distributions()
    optional = set().union(*(_declared(metadata)[e] for e in FEATURE_EXTRAS))
    code = "import sys, norwoodkit, norwoodkit.cli; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in done.stdout.split()}
    from_extras = {
        m for m in loaded if any(canonicalize_name(d) in optional for d in to_dist.get(m, []))
    }
    assert not from_extras


def _version_of(exe: str) -> str | None:
    """``"3.12"`` for a Python that runs; None for a shim or a file that does not."""
    try:
        done = subprocess.run(
            [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _interpreters() -> dict[str, str]:
    """Every promised Python found on this machine -> its path: this one, PATH, /usr/bin and
    pyenv's versions (whose shims fail for versions that are installed but not selected)."""
    found = {f"{sys.version_info.major}.{sys.version_info.minor}": sys.executable}
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for v in PROMISED:
        candidates = [shutil.which(f"python{v}"), shutil.which(f"python{v}", path="/usr/bin")]
        candidates += [str(p) for p in sorted(pyenv.glob(f"{v}.*/bin/python{v}"))]
        for exe in candidates:
            if v not in found and exe and _version_of(exe) == v:
                found[v] = exe
    return found


def test_the_source_compiles_on_every_promised_python_found(metadata: Message) -> None:
    """Each of Python 3.11, 3.12 and 3.13 that is present compiles every module and test."""
    allowed = SpecifierSet(metadata["Requires-Python"])
    sources = [str(p) for d in ("norwoodkit", "tests") for p in sorted((REPO / d).rglob("*.py"))]
    script = (
        "import sys\n"
        "for path in sys.argv[1:]:\n"
        "    compile(open(path, encoding='utf-8').read(), path, 'exec', dont_inherit=True)\n"
    )
    found = _interpreters()
    assert set(found) <= set(PROMISED), f"running on a Python the classifiers omit: {found}"
    for version, exe in found.items():
        assert Version(version) in allowed
        done = subprocess.run([exe, "-c", script, *sources], capture_output=True, text=True)
        assert done.returncode == 0, f"python{version}: {done.stderr}"


def test_the_installed_wheel_runs(wheel: zipfile.ZipFile, tmp_path: Path) -> None:
    """Installed alone (its dependencies from this environment), the wheel knows its version
    and its command runs."""
    target = tmp_path / "site"
    subprocess.run(
        [*PIP, "install", "--no-deps", "-q", "--target", str(target), str(wheel.filename)],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-m", "norwoodkit", "--version"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "0.1.0"
    where = subprocess.run(
        [sys.executable, "-c", "import norwoodkit; print(norwoodkit.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert where.stdout.strip().startswith(str(target))
