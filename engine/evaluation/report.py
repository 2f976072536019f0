"""An evaluation document as text: the tables `layerdeck runs eval` prints."""
from __future__ import annotations

from typing import Any


def summary_json(doc: dict[str, Any]) -> dict[str, Any]:
    """The `--json` document: the headline keys first, then everything stored."""
    if doc["task"] == "classification":
        head = {k: doc[k] for k in ("confusion_matrix", "per_class", "accuracy", "macro_f1")}
    else:
        head = {k: doc[k] for k in ("mae", "rmse", "r2")}
    return {**head, **{k: v for k, v in doc.items() if k not in head}}


def text_report(doc: dict[str, Any], run_label: str) -> str:
    ck = doc.get("checkpoint") or {}
    lines = [f"{run_label}: {doc['split']} split, {doc['n']} samples, {ck.get('kind', '?')} checkpoint "
             f"(epoch {ck.get('epoch', '?')})"]
    if doc["task"] == "classification":
        auc = doc["roc_auc"]["average"]
        top = "  ".join(f"top-{k} {v:.4f}" for k, v in doc["top_k"].items())
        lines += [f"accuracy {doc['accuracy']:.4f}   macro F1 {doc['macro_f1']:.4f}   "
                  f"ROC AUC {_f(auc)} ({doc['roc_auc']['kind']})" + (f"   {top}" if top else ""), ""]
        rows = [["class", "precision", "recall", "F1", "support", "AUC"]]
        rows += [[c["class"], _f(c["precision"]), _f(c["recall"]), _f(c["f1"]), str(c["support"]), _f(c["auc"])]
                 for c in doc["per_class"]]
        support = str(sum(c["support"] for c in doc["per_class"]))
        for name in ("macro", "weighted"):
            a = doc[name]
            rows.append([f"{name} avg", _f(a["precision"]), _f(a["recall"]), _f(a["f1"]), support, ""])
        lines += _table(rows, sep_before=len(rows) - 2)
        lines += ["", "confusion matrix (rows: true class, columns: predicted)"]
        names = doc["class_names"]
        cm = [[""] + names] + [[names[i]] + [str(v) for v in row] for i, row in enumerate(doc["confusion_matrix"])]
        lines += _table(cm)
        wrong = doc["misclassified"]
        lines += ["", f"{len(wrong)} misclassified" + (" (surest first):" if wrong else "")]
        for m in wrong[:10]:
            lines.append(f"  sample {m['index']}: true {names[m['true']]}, predicted {names[m['predicted']]} "
                         f"({m['confidence']:.2f})")
        if len(wrong) > 10:
            lines.append(f"  ... {len(wrong) - 10} more (--json lists them all)")
    else:
        lines += [f"MAE {doc['mae']:.4g}   RMSE {doc['rmse']:.4g}   R² {doc['r2']:.4f}", ""]
        rows = [["target", "MAE", "RMSE", "R²"]]
        rows += [[t["target"], f"{t['mae']:.4g}", f"{t['rmse']:.4g}", f"{t['r2']:.4f}"] for t in doc["per_target"]]
        lines += _table(rows)
    return "\n".join(lines)


def _f(v: Any) -> str:
    return "–" if v is None else f"{v:.4f}"


def _table(rows: list[list[str]], sep_before: int = -1) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        if n == sep_before:
            out.append("  ".join("-" * w for w in widths))
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    return out
