"""Datasets from the user's files: CSV (csv_file.py), NPZ arrays and image
folders. Files are read, never executed: NPZ loads with allow_pickle=False."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

from engine.data.csv_file import load_csv as _load_csv_table
from engine.data.dataset import DataError, Kind, Task
from engine.data.splits import RawData
from engine.spec import DataSpec

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
DEFAULT_IMAGE_SIZE = 28
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "F", "P;L"}


def resolve_path(data: DataSpec, what: str, folder: bool = False) -> Path:
    """The spec's path as given, made absolute against the working directory."""
    noun = "folder" if folder else "file"
    if not data.path:
        raise DataError(f"{data.name} needs data.path: choose the {what} {noun}")
    p = Path(data.path).expanduser()
    if not p.exists():
        raise DataError(f"{what} {noun} not found: {p} (data.path); check the path or choose the {noun} again")
    if folder and not p.is_dir():
        raise DataError(f"{what} path {p} is a file; data.path must be a folder with one subfolder per class")
    if not folder and p.is_dir():
        raise DataError(f"{what} path {p} is a folder; data.path must be a {what} file")
    return p.resolve()


def fingerprint(data: DataSpec) -> tuple[Any, ...]:
    """Changes when the file (or any image in a folder) changes, so the cache
    never serves stale data. One stat per image: ~2 ms per thousand files,
    far less than decoding them again."""
    if not data.path:
        return ()
    p = Path(data.path).expanduser()
    try:
        if p.is_dir():
            stamps = []
            for c in sorted(c for c in p.iterdir() if c.is_dir()):
                stats = [e.stat() for e in os.scandir(c) if e.is_file()]
                stamps.append((c.name, len(stats), max((st.st_mtime_ns for st in stats), default=0),
                               sum(st.st_size for st in stats)))
            return (str(p.resolve()), tuple(stamps))
        st = p.stat()
        return (str(p.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        return (str(p),)  # missing: the loader reports it


def load_csv(data: DataSpec, options: dict[str, Any]) -> RawData:
    return _load_csv_table(data, options, resolve_path(data, "CSV"))


# --- NPZ -----------------------------------------------------------------------

def load_npz(data: DataSpec, options: dict[str, Any]) -> RawData:
    path = resolve_path(data, "NPZ")
    where = f"NPZ {path.name}"
    how = "save them with numpy.savez(path, x=inputs, y=targets)"
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic.startswith(b"\x93NUMPY"):
        raise DataError(f"{where}: is a single .npy array, not named arrays; {how}")
    if not magic.startswith(b"PK"):  # every .npz is a zip archive
        raise DataError(f"{where}: not a readable NPZ file (not a zip archive of arrays); {how}")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise DataError(f"{where}: an array holds Python objects, which are not loaded for safety; "
                            f"store plain numeric arrays ({how})") from None
        raise DataError(f"{where}: not a readable NPZ file ({e}); {how}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{where}: not a readable NPZ file ({e}); {how}") from None

    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        found = ", ".join(sorted(arrays)) or "none"
        raise DataError(f"{where}: no array named {' or '.join(map(repr, missing))} (found: {found}); {how}")
    x, y = arrays["x"], arrays["y"]
    if x.ndim == 0 or y.ndim == 0:
        raise DataError(f"{where}: x and y need one row per sample; got shapes {x.shape} and {y.shape}")
    if y.ndim == 2 and y.shape[1] == 1 and y.dtype.kind in "biuUS":
        y = y[:, 0]  # a column of labels, as often saved from a DataFrame
    if len(x) == 0:
        raise DataError(f"{where}: x and y hold no samples")
    if len(x) != len(y):
        raise DataError(f"{where}: x has {len(x)} samples but y has {len(y)}; "
                        f"their first dimensions must match")
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: x must be numeric, got dtype {x.dtype}")
    if x.ndim == 1:
        x = x[:, None]
    kinds: dict[int, Kind] = {2: "tabular", 3: "sequence", 4: "image"}
    if x.ndim not in kinds:
        raise DataError(f"{where}: x has shape {x.shape}; use (N, features), (N, steps, features) "
                        f"or (N, channels, height, width)")
    x = x.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(x.reshape(len(x), -1)).all(axis=1))
    if bad.size:
        raise DataError(f"{where}: x has NaN or infinite values (first in sample {int(bad[0])}); replace them")

    task, y_enc, names = _npz_targets(y, options["task"], arrays.get("class_names"), where)
    return RawData(x, y_enc, task, kinds[x.ndim], names, title=path.name)


def _npz_targets(y: np.ndarray, task: str, class_names: Optional[np.ndarray],
                 where: str) -> tuple[Task, np.ndarray, list[str]]:
    """Integer, bool or text y -> classes; float y -> regression (a 2-D y is several targets)."""
    if task == "auto":
        task = "classification" if y.dtype.kind in "biuUS" and y.ndim == 1 else "regression"
    if task == "regression":
        if y.dtype.kind not in "biuf":
            raise DataError(f"{where}: y has dtype {y.dtype}; regression needs numbers")
        y2 = y.reshape(len(y), -1).astype(np.float32)
        if not np.isfinite(y2).all():
            raise DataError(f"{where}: y has NaN or infinite values; replace them")
        return "regression", y2, []
    if y.ndim != 1:
        raise DataError(f"{where}: class labels y must be one per sample (shape (N,)), got {y.shape}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        raise DataError(f"{where}: y holds fractional values; class labels must be integers "
                        f"(or set options.task to regression)")
    values, index = np.unique(y, return_inverse=True)
    names = [str(v.item() if hasattr(v, "item") else v) for v in values]
    if y.dtype.kind == "f":
        names = [str(int(v)) for v in values]
    if class_names is not None:
        # Labels 0..K-1 with a class_names array name the classes.
        if (y.dtype.kind in "iu" and class_names.ndim == 1
                and np.array_equal(values, np.arange(len(values))) and len(class_names) == len(values)):
            names = [str(c) for c in class_names]
        else:
            raise DataError(f"{where}: class_names has {len(class_names)} entries but y has {len(values)} "
                            f"classes labelled {names[:5]}...; class_names needs one name per label 0..K-1")
    return "classification", index.astype(np.int64).reshape(-1), names


# --- image folder ------------------------------------------------------------------

def load_image_folder(data: DataSpec, options: dict[str, Any]) -> RawData:
    from PIL import Image

    root = resolve_path(data, "image", folder=True)
    where = f"image folder {root.name}"
    classes = sorted(c for c in root.iterdir() if c.is_dir() and not c.name.startswith("."))
    if len(classes) < 2:
        found = ", ".join(c.name for c in classes) or "none"
        raise DataError(f"{where}: needs one subfolder per class, at least 2 (found: {found}); "
                        f"put each class's images in its own subfolder")
    files: list[tuple[int, Path]] = []
    for k, c in enumerate(classes):
        imgs = sorted(p for p in c.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not imgs:
            raise DataError(f"{where}: class folder {c.name!r} has no images "
                            f"({', '.join(sorted(IMAGE_SUFFIXES))}); add some or remove the folder")
        files.extend((k, p) for p in imgs)

    size = data.image_size or DEFAULT_IMAGE_SIZE
    color = options["color"]
    if color == "auto":
        # Headers only: decoding every image twice would double the load time.
        modes = {_open_image(p, where, decode=False).mode for _, p in files}
        color = "grayscale" if modes <= _GREY_MODES else "rgb"
    mode = "L" if color == "grayscale" else "RGB"

    x = np.empty((len(files), 1 if mode == "L" else 3, size, size), dtype=np.float32)
    for i, (_, p) in enumerate(files):
        with _open_image(p, where, decode=True) as img:
            # Convert before resizing: BILINEAR on palette images would mix indices, not colours.
            arr = np.asarray(img.convert(mode).resize((size, size), Image.Resampling.BILINEAR),
                             dtype=np.float32)
        x[i] = (arr[None] if mode == "L" else arr.transpose(2, 0, 1)) / 255.0
    y = np.asarray([k for k, _ in files], dtype=np.int64)
    return RawData(x, y, "classification", "image", [c.name for c in classes], title=root.name)


def _open_image(path: Path, where: str, decode: bool) -> Any:
    """An open PIL image (decoded when asked), or a DataError naming the file."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
        if decode:
            img.load()
        else:
            img.close()  # the header (size, mode) stays readable after close
        return img
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise DataError(f"{where}: cannot read image {path.parent.name}/{path.name} ({e}); "
                        f"remove or replace the file") from None
