"""Evaluation metrics from predictions, in plain numpy, as JSON-ready dicts.

The definitions follow scikit-learn's (tests check them against it on the
same predictions): a precision or recall with nothing to divide is 0
(zero_division=0), macro averages take every class of the run, weighted
ones weigh by support; ROC AUC is the Mann-Whitney statistic with tied
scores at their average rank, one class against the rest for more than
two classes, its macro mean over the classes that have both positives and
negatives; RMSE and R² of several targets are the mean over targets.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np

MAX_SAMPLES = 20_000  # per-sample lists kept in a document; metrics always use every sample
MAX_MISCLASSIFIED = 1_000
TOP_K = (2, 3, 5)


def classification_report(y_true: np.ndarray, probs: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Confusion matrix, per-class and averaged precision / recall / F1,
    accuracy, top-k accuracy, ROC AUC and the misclassified samples.
    `probs` is (N, K) class probabilities; `y_true` class indices 0..K-1."""
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64)
    k = len(class_names)
    pred = p.argmax(axis=1)
    conf = p[np.arange(len(y)), pred]
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)
    auc = roc_auc(y, p)
    weights = support / max(int(support.sum()), 1)
    per_class = [{"class": str(class_names[c]), "precision": float(precision[c]), "recall": float(recall[c]),
                  "f1": float(f1[c]), "support": int(support[c]), "auc": auc["per_class"][c]}
                 for c in range(k)]
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-conf[wrong], kind="stable")][:MAX_MISCLASSIFIED]  # surest mistakes first
    return {
        "task": "classification",
        "n": int(len(y)),
        "class_names": [str(c) for c in class_names],
        "accuracy": float((pred == y).mean()) if len(y) else 0.0,
        "confusion_matrix": cm.tolist(),
        "per_class": per_class,
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "weighted": {"precision": float(precision @ weights), "recall": float(recall @ weights),
                     "f1": float(f1 @ weights)},
        "macro_f1": float(f1.mean()),
        "top_k": {str(t): top_k_accuracy(y, p, t) for t in TOP_K if t < k},
        "roc_auc": {"average": auc["average"], "kind": "binary" if k == 2 else "one-vs-rest macro"},
        "misclassified": [{"index": int(i), "true": int(y[i]), "predicted": int(pred[i]),
                           "confidence": float(conf[i])} for i in wrong],
        "samples": {"true": y[:MAX_SAMPLES].tolist(), "predicted": pred[:MAX_SAMPLES].tolist(),
                    "confidence": [round(float(c), 5) for c in conf[:MAX_SAMPLES]]},
    }


def regression_report(y_true: np.ndarray, y_pred: np.ndarray, target_names: Sequence[str]) -> dict[str, Any]:
    """MAE, RMSE and R² (overall: the mean over targets), per target, and
    the residuals (true - predicted) against the predictions."""
    t = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    err = t - p
    mae = np.abs(err).mean(axis=0)
    rmse = np.sqrt((err ** 2).mean(axis=0))
    r2 = np.array([_r2(t[:, j], p[:, j]) for j in range(t.shape[1])])
    names = list(target_names) or [f"target_{j}" for j in range(t.shape[1])]
    return {
        "task": "regression",
        "n": int(len(t)),
        "target_names": [str(n) for n in names],
        "mae": float(mae.mean()), "rmse": float(rmse.mean()), "r2": float(r2.mean()),
        "per_target": [{"target": str(names[j]), "mae": float(mae[j]), "rmse": float(rmse[j]), "r2": float(r2[j])}
                       for j in range(t.shape[1])],
        "residuals": {"true": _rounded(t[:MAX_SAMPLES]), "predicted": _rounded(p[:MAX_SAMPLES]),
                      "residual": _rounded(err[:MAX_SAMPLES])},
    }


def top_k_accuracy(y: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Share of samples whose class is among the k most probable."""
    if not len(y):
        return 0.0
    top = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    return float((top == y[:, None]).any(axis=1).mean())


def roc_auc(y: np.ndarray, probs: np.ndarray) -> dict[str, Any]:
    """{"per_class": [auc or None per class], "average": binary AUC, or the
    macro one-vs-rest mean; None where a class has no positives or no negatives}."""
    k = probs.shape[1]
    if k == 2:
        a = auc_score(probs[:, 1], y == 1)
        return {"per_class": [a, a], "average": a}
    per = [auc_score(probs[:, c], y == c) for c in range(k)]
    defined = [a for a in per if a is not None]
    return {"per_class": per, "average": float(np.mean(defined)) if defined else None}


def auc_score(scores: np.ndarray, positive: np.ndarray) -> Optional[float]:
    """Area under the ROC curve: the chance a random positive scores above a
    random negative (ties count half)."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)  # 1-based average rank of each tie group
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def to_probabilities(outputs: np.ndarray, loss: str) -> np.ndarray:
    """Class probabilities (N, K) from a classifier's outputs, read as its loss
    trained them: one logit per sample (bce_with_logits on two classes) is
    P(class 1); bce_with_logits on K outputs gives K independent sigmoids,
    rescaled to sum to 1; cross-entropy logits go through softmax."""
    z = np.asarray(outputs, dtype=np.float64)
    if z.shape[1] == 1:
        p1 = _sigmoid(z[:, 0])
        return np.stack([1.0 - p1, p1], axis=1)
    if loss == "bce_with_logits":
        p = _sigmoid(z)
        return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)
    return softmax(z)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warning for large |z|


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(den), where=den > 0)


def _r2(t: np.ndarray, p: np.ndarray) -> float:
    ss_res = float(((t - p) ** 2).sum())
    ss_tot = float(((t - t.mean()) ** 2).sum())
    if ss_tot == 0.0:  # a constant target: perfect or nothing, as scikit-learn's force_finite
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def _rounded(a: np.ndarray) -> list[list[float]]:
    return [[round(float(v), 6) if math.isfinite(v) else 0.0 for v in row] for row in a]
