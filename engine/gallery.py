"""The template gallery's data: every run spec in resources/templates with what
resources/templates/gallery.toml says about it (what it shows, the result to
expect, the time a real run took and its result, measured by
bench/templates.py), plus facts read from the spec and its dataset.

Pure: the GUI's gallery dialog (app/template_gallery.py) only draws this.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import tomllib

from engine.spec import RunSpec, SpecError, load_spec

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "resources" / "templates"
GALLERY_FILE = TEMPLATES_DIR / "gallery.toml"


@dataclass(frozen=True)
class GalleryEntry:
    stem: str  # the file name without .json
    path: Path
    name: str  # the spec's name
    title: str
    shows: str = ""
    expect: str = ""
    measured_time: str = ""
    measured_result: str = ""
    dataset: str = ""  # the spec's data.name

    def matches(self, text: str) -> bool:
        """Every word of `text` appears in the entry's words (case-insensitive)."""
        words = " ".join([self.stem, self.name, self.title, self.shows, self.expect, self.dataset]).lower()
        return all(w in words for w in text.lower().split())


@dataclass(frozen=True)
class Facts:
    """What the spec says once read against its dataset (computed off the UI thread)."""

    spec: Optional[RunSpec]
    dataset: str  # "classification: input 1000, 10 classes, 1,000 samples"
    params: Optional[int]
    problem: Optional[str] = None
    rows: list[Any] = field(default_factory=list)  # the summary's BlockRows, for the diagram
    input_shape: Optional[tuple[int, ...]] = None


def load_gallery(folder: Path = TEMPLATES_DIR) -> list[GalleryEntry]:
    """Every template, those the index describes first (in its order), then the rest by name."""
    index = read_index(folder / GALLERY_FILE.name)
    entries = []
    for path in sorted(folder.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            name = str(raw.get("name") or path.stem)
            dataset = str((raw.get("data") or {}).get("name", ""))
        except (OSError, ValueError, AttributeError):
            name, dataset = path.stem, ""
        about = index.get(path.stem, {})
        entries.append(GalleryEntry(
            stem=path.stem, path=path, name=name, title=str(about.get("title") or name),
            shows=str(about.get("shows", "")), expect=str(about.get("expect", "")),
            measured_time=str(about.get("measured_time", "")), measured_result=str(about.get("measured_result", "")),
            dataset=dataset))
    order = {stem: i for i, stem in enumerate(index)}
    return sorted(entries, key=lambda e: (order.get(e.stem, len(order)), e.name))


def read_index(path: Path = GALLERY_FILE) -> dict[str, dict]:
    try:
        with path.open("rb") as f:
            return {k: v for k, v in tomllib.load(f).items() if isinstance(v, dict)}
    except (OSError, tomllib.TOMLDecodeError):
        return {}  # a gallery without descriptions still lists every template


def facts(entry: GalleryEntry) -> Facts:
    """The spec, its dataset in words and its parameter count; a problem in words if it cannot be read."""
    from engine.data import DataError
    from engine.model import summarize_spec

    try:
        spec = load_spec(entry.path)
        summary, info = summarize_spec(spec)
    except (SpecError, DataError) as e:
        return Facts(None, "", None, str(e))
    shape = " × ".join(map(str, info.input_shape))
    what = (f"{info.num_classes} classes" if info.task == "classification"
            else f"{info.num_targets} target{'s' if info.num_targets != 1 else ''}")
    samples = sum(info.sizes.values())
    return Facts(spec, f"{info.name}: input {shape}, {what}, {samples:,} samples", summary.total_params,
                 rows=list(summary.rows), input_shape=tuple(info.input_shape))
