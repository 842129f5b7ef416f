"""Evaluation of a frozen backbone: features, weighted kNN, linear probe, collapse, clusters."""

from .clustering import cluster_accuracy, linear_assignment, nmi
from .collapse import (alignment, collapse_report, effective_rank, singular_values,
                       std_of_l2_normalized, uniformity)
from .features import extract_features
from .knn import knn_accuracy, knn_classify
from .linear import linear_probe

__all__ = [
    "alignment", "cluster_accuracy", "collapse_report", "effective_rank", "extract_features",
    "knn_accuracy", "knn_classify", "linear_assignment", "linear_probe", "nmi",
    "singular_values", "std_of_l2_normalized", "uniformity",
]
