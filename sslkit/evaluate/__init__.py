"""Evaluation of a frozen backbone: features, weighted kNN, linear probe, collapse, clusters,
and the content/style probes of the shapes factors."""

from .clustering import cluster_accuracy, linear_assignment, nmi
from .collapse import (alignment, collapse_report, effective_rank, singular_values,
                       std_of_l2_normalized, uniformity)
from .features import extract_features
from .knn import knn_accuracy, knn_classify
from .linear import linear_probe
from .probes import factor_probes, probe_model, probes_table

__all__ = [
    "alignment", "cluster_accuracy", "collapse_report", "effective_rank", "extract_features",
    "factor_probes", "knn_accuracy", "knn_classify", "linear_assignment", "linear_probe", "nmi",
    "probe_model", "probes_table", "singular_values", "std_of_l2_normalized", "uniformity",
]
