"""Parameter paths: where in a run spec a sweep parameter goes.

A path is dotted, with list indices as numbers: `optimizer.lr`,
`model.blocks.1.out_features` (`model.blocks[1].out_features` is read the
same). `valid_paths` lists every path a spec offers, so a misspelt one gets
"did you mean ...?"; `apply_params` writes values into a copy of a spec.
"""
from __future__ import annotations

import copy
import difflib
import re
from typing import Any, Iterable, Mapping, Optional

from pydantic import BaseModel

from engine.spec import OPTIMIZERS, SCHEDULERS

# Sections whose `type` picks the model of the rest: changing the type drops the
# old type's own keys (Adam's beta1 means nothing to SGD).
_TYPED_SECTIONS: dict[str, Mapping[str, type[BaseModel]]] = {"optimizer": OPTIMIZERS, "scheduler": SCHEDULERS}
_INDEX = re.compile(r"\[(\d+)\]")
# Names people reach for first, mapped to the spec's own (difflib cannot see these).
ALIASES = {"learning_rate": "lr", "batch": "batch_size", "bs": "batch_size", "wd": "weight_decay",
           "hidden": "out_features", "units": "out_features", "dropout": "p", "n_epochs": "epochs"}


def split_path(path: str) -> list[str | int]:
    """'model.blocks[1].out_features' or 'model.blocks.1.out_features' ->
    ['model', 'blocks', 1, 'out_features']."""
    parts: list[str | int] = []
    for raw in _INDEX.sub(r".\1", path).split("."):
        parts.append(int(raw) if raw.isdigit() else raw)
    return parts


def join_path(parts: Iterable[str | int]) -> str:
    return ".".join(str(p) for p in parts)


def valid_paths(spec: dict[str, Any], section_types: Optional[dict[str, list[str]]] = None) -> list[str]:
    """Every leaf path of `spec` (a RunSpec's to_dict(), so defaults are there),
    plus each block's catalogue parameters and, for `optimizer` and
    `scheduler`, the fields of every type in `section_types` (the types a
    sweep may switch to)."""
    from engine.blocks import CATALOGUE

    out: list[str] = []

    def walk(node: Any, prefix: list[str | int]) -> None:
        if isinstance(node, dict):
            if prefix and prefix[-2:-1] == ["blocks"] and isinstance(node.get("type"), str):
                bt = CATALOGUE.get(node["type"])
                for p in bt.params if bt else ():
                    if p.name not in node:
                        out.append(join_path([*prefix, p.name]))
            for k, v in node.items():
                walk(v, [*prefix, k])
        elif isinstance(node, list) and node and all(isinstance(x, dict) for x in node):
            for i, v in enumerate(node):
                walk(v, [*prefix, i])
        else:
            out.append(join_path(prefix))

    walk(spec, [])
    for section, models in _TYPED_SECTIONS.items():
        types = [spec.get(section, {}).get("type"), *((section_types or {}).get(section, []))]
        for t in types:
            model = models.get(t) if isinstance(t, str) else None
            if model is not None:
                out.extend(f"{section}.{name}" for name in model.model_fields)
    return list(dict.fromkeys(out))


def closest_path(path: str, known: list[str]) -> Optional[str]:
    """The valid path nearest to `path`: a familiar name for a spec field
    ("optimizer.learning_rate" -> "optimizer.lr"), then the nearest key in the
    same section, then the nearest whole path ("trainng.batch_size")."""
    head, _, leaf = path.rpartition(".")
    alias = difflib.get_close_matches(leaf, list(ALIASES), n=1, cutoff=0.8)
    if alias:
        guess = f"{head}.{ALIASES[alias[0]]}" if head else ALIASES[alias[0]]
        if guess in known:
            return guess
    same_head = [k.rpartition(".")[2] for k in known if k.rpartition(".")[0] == head]
    leaves = difflib.get_close_matches(leaf, same_head, n=1, cutoff=0.6)
    if leaves:
        return f"{head}.{leaves[0]}" if head else leaves[0]
    whole = difflib.get_close_matches(path, known, n=1, cutoff=0.6)
    return whole[0] if whole else None


def section_type_for(path: str, spec: dict[str, Any], types: dict[str, list[str]]) -> Optional[str]:
    """For `optimizer.momentum` in an Adam spec while SGD is swept: "SGD", the
    type under which the field means something (None when the spec's own does)."""
    parts = split_path(path)
    section = parts[0]
    if len(parts) != 2 or section not in _TYPED_SECTIONS:
        return None
    models = _TYPED_SECTIONS[str(section)]
    own = models.get(spec.get(str(section), {}).get("type"))
    if own is not None and parts[1] in own.model_fields:
        return None
    return next((t for t in types.get(str(section), []) if t in models and parts[1] in models[t].model_fields),
                None)


def get_value(spec: dict[str, Any], path: str) -> Any:
    """The value at `path` in `spec`; KeyError when it is not there."""
    node: Any = spec
    for part in split_path(path):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            raise KeyError(path) from None
    return node


def apply_params(spec: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A copy of the spec dict with each `path: value` written in; an index past
    the end of a list raises KeyError. The optimizer and scheduler keep only
    the keys their (possibly new) `type` has: a sweep over `optimizer.type`
    and `optimizer.momentum` gives Adam trials no momentum."""
    out = copy.deepcopy(spec)
    for path, value in params.items():
        parts = split_path(path)
        node: Any = out
        for part in parts[:-1]:
            if isinstance(node, dict) and isinstance(part, str):
                node = node.setdefault(part, {})
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                raise KeyError(path)
        last = parts[-1]
        if isinstance(node, list):
            if not (isinstance(last, int) and 0 <= last < len(node)):
                raise KeyError(path)
            node[last] = value
            continue
        if not isinstance(node, dict):
            raise KeyError(path)
        node[str(last)] = value
    for section, models in _TYPED_SECTIONS.items():
        # A field of another type (SGD's momentum in an Adam trial) means nothing here.
        node = out.get(section)
        model = models.get(str(node.get("type"))) if isinstance(node, dict) else None
        if model is not None:
            for key in [k for k in node if k not in model.model_fields]:
                del node[key]
    return out
