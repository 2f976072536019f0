"""Datasets: a registry of bundled, synthetic and file-based datasets, each
loaded into seeded train/val/test splits with train-only normalization.

    from engine.data import load_dataset
    ds = load_dataset(spec.data, seed=spec.seed)
    ds.x_train.shape, ds.info.num_classes
"""
from engine.data.dataset import DataError, Dataset, DatasetEntry, DatasetInfo, Normalizer
from engine.data.registry import (
    Option,
    dataset_info,
    dataset_options,
    get_entry,
    list_datasets,
    load_dataset,
    resolve_options,
)

__all__ = [
    "DataError", "Dataset", "DatasetEntry", "DatasetInfo", "Normalizer",
    "Option", "dataset_info", "dataset_options", "get_entry", "list_datasets", "load_dataset",
    "resolve_options",
]
