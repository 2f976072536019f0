"""Evaluation metrics against scikit-learn's on the same predictions."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from engine.evaluation.metrics import (
    auc_score,
    classification_report,
    regression_report,
    softmax,
    to_probabilities,
)


def random_probs(rng, n: int, k: int, y: np.ndarray, skill: float = 1.5) -> np.ndarray:
    """Probabilities that lean toward the true class, so every metric is away from its bounds."""
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += skill
    return softmax(logits)


@pytest.mark.parametrize("k", [3, 5])
def test_multiclass_report_matches_sklearn(k):
    rng = np.random.default_rng(k)
    y = rng.integers(0, k, size=400)
    probs = random_probs(rng, 400, k, y)
    pred = probs.argmax(1)
    labels = list(range(k))
    doc = classification_report(y, probs, [f"c{i}" for i in range(k)])

    assert doc["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=labels).tolist()
    assert doc["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    assert [c["precision"] for c in doc["per_class"]] == pytest.approx(p)
    assert [c["recall"] for c in doc["per_class"]] == pytest.approx(r)
    assert [c["f1"] for c in doc["per_class"]] == pytest.approx(f)
    assert [c["support"] for c in doc["per_class"]] == s.tolist()
    for avg in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y, pred, labels=labels, average=avg, zero_division=0)
        assert (doc[avg]["precision"], doc[avg]["recall"], doc[avg]["f1"]) == pytest.approx((p, r, f))
    assert doc["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    for t, value in doc["top_k"].items():
        assert value == pytest.approx(skm.top_k_accuracy_score(y, probs, k=int(t), labels=labels))
    assert set(doc["top_k"]) == {str(t) for t in (2, 3, 5) if t < k}
    assert doc["roc_auc"]["average"] == pytest.approx(skm.roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    per_class_auc = [skm.roc_auc_score(y == c, probs[:, c]) for c in labels]
    assert [c["auc"] for c in doc["per_class"]] == pytest.approx(per_class_auc)

    wrong = np.flatnonzero(pred != y)
    assert sorted(m["index"] for m in doc["misclassified"]) == wrong.tolist()
    first = doc["misclassified"][0]
    assert (first["true"], first["predicted"]) == (y[first["index"]], pred[first["index"]])
    assert first["confidence"] == pytest.approx(probs[first["index"]].max())
    assert first["confidence"] >= doc["misclassified"][-1]["confidence"]  # surest mistakes first


def test_binary_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=300)
    p1 = np.round(np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.25, 300), 0, 1), 1)  # many ties
    probs = np.stack([1 - p1, p1], axis=1)
    doc = classification_report(y, probs, ["no", "yes"])
    assert doc["roc_auc"]["average"] == pytest.approx(skm.roc_auc_score(y, p1))
    assert doc["roc_auc"]["kind"] == "binary"
    assert doc["top_k"] == {}


def test_a_class_missing_from_the_split_has_no_auc_and_zero_scores():
    y = np.array([0, 0, 1, 1, 0, 1])
    probs = softmax(np.array([[2, 0, 0], [1, 0, 2], [0, 2, 0], [0, 1, 0], [2, 1, 0], [0, 0, 1.0]]))
    doc = classification_report(y, probs, ["a", "b", "c"])
    c = doc["per_class"][2]
    assert c["support"] == 0 and c["auc"] is None and c["precision"] == 0.0
    assert doc["macro_f1"] == pytest.approx(skm.f1_score(y, probs.argmax(1), average="macro",
                                                         labels=[0, 1, 2], zero_division=0))
    assert auc_score(np.array([0.1, 0.2]), np.array([True, True])) is None


@pytest.mark.parametrize("targets", [1, 3])
def test_regression_report_matches_sklearn(targets):
    rng = np.random.default_rng(targets)
    t = rng.normal(size=(200, targets)) * [1, 10, 100][:targets]
    p = t + rng.normal(size=t.shape) * [0.5, 2, 40][:targets]
    doc = regression_report(t, p, [f"y{j}" for j in range(targets)])
    assert doc["mae"] == pytest.approx(skm.mean_absolute_error(t, p))
    assert doc["rmse"] == pytest.approx(skm.root_mean_squared_error(t, p))
    assert doc["r2"] == pytest.approx(skm.r2_score(t, p))
    for j, row in enumerate(doc["per_target"]):
        assert row["r2"] == pytest.approx(skm.r2_score(t[:, j], p[:, j]))
    assert np.asarray(doc["residuals"]["residual"]) == pytest.approx(t - p, abs=1e-5)
    assert np.asarray(doc["residuals"]["predicted"]) == pytest.approx(p, abs=1e-5)


def test_outputs_become_probabilities_as_their_loss_trained_them():
    one_logit = np.array([[0.0], [2.0], [-50.0]])
    p = to_probabilities(one_logit, "bce_with_logits")
    assert p[:, 1] == pytest.approx([0.5, 1 / (1 + np.exp(-2.0)), 0.0], abs=1e-12)
    assert p.sum(axis=1) == pytest.approx(1.0)
    logits = np.array([[1.0, 2.0, 3.0], [800.0, 0.0, -800.0]])
    assert to_probabilities(logits, "cross_entropy") == pytest.approx(softmax(logits))
    ovr = to_probabilities(logits, "bce_with_logits")
    sig = 1 / (1 + np.exp(-logits[0]))
    assert ovr[0] == pytest.approx(sig / sig.sum()) and ovr.sum(axis=1) == pytest.approx(1.0)
    assert (ovr.argmax(1) == logits.argmax(1)).all()
