"""Evaluation of trained runs and predictions on new data (no Qt, and no
torch until a model is loaded).

- metrics.py: confusion matrix, per-class precision/recall/F1, top-k, ROC
  AUC; MAE, RMSE, R² and residuals: plain numpy, JSON-ready dicts.
- loaded.py: a run's model with its best weights and its preprocessing.
- run_eval.py: evaluate a run's test (or validation) split and store the
  document "evaluation/<split>" with the run.
- predict.py: predictions for a new CSV, NPZ or image folder.
- recording.py: what the worker records (preprocessing at the start,
  evaluation at the end).
- report.py: the evaluation as text tables (CLI).
"""
