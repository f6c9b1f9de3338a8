"""Sparse BERT by pruning while distilling, with CSR inference and sparse export.

Implements Xu, Yen, Zhao, Xiao, "Rethinking Network Pruning -- under the Pre-train and
Fine-tune Paradigm", NAACL 2021 (SparseBERT), on Hugging Face ``transformers`` BERT models,
and Sparse Progressive Distillation (Huang, Xu, Yen et al., ACL 2022: module replacement
and three stages, method ``spd``).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from leanml.core.lazy import attach

# Imported on first use: loading the plugin (leanml --help) imports no torch/transformers.
_MEMBERS = {
    "AttentionRecorder": ".capture",
    "CubicSchedule": ".schedule",
    "DEFAULT_PATTERNS": ".patterns",
    "DistillationLoss": ".losses",
    "DivergenceError": ".training",
    "EncodedData": ".training",
    "KDOutputs": ".capture",
    "METHODS": ".methods",
    "MagnitudePruner": ".pruning",
    "MethodResult": ".methods",
    "ModuleReplacement": ".replacement",
    "PruneConfig": ".methods",
    "PrunedBertClassifier": ".estimators",
    "ReplacementLayer": ".replacement",
    "ReplacementSchedule": ".replacement",
    "SPDConfig": ".spd",
    "SparseLinear": ".sparse",
    "SparsityReport": ".pruning",
    "TrainConfig": ".training",
    "evaluate": ".training",
    "find_targets": ".pruning",
    "kd_forward": ".capture",
    "linear_speed": ".speed",
    "load_minilm": ".checkpoints",
    "load_sparse": ".sparse",
    "magnitude_mask": ".pruning",
    "model_speed": ".speed",
    "pretrain_mlm": ".pretrain",
    "run_method": ".methods",
    "save_sparse": ".sparse",
    "soft_cross_entropy": ".losses",
    "sparsify": ".sparse",
    "sparsity_report": ".pruning",
    "staged_lr": ".spd",
    "torch_prune_oneshot": ".pruning",
    "train": ".training",
    "train_wordpiece": ".pretrain",
}
__getattr__, __dir__ = attach(__name__, _MEMBERS)

try:
    __version__ = version("leanml-prune-kd")
except PackageNotFoundError:  # source tree, not installed
    __version__ = "0+unknown"

__all__ = [*sorted(_MEMBERS), "__version__"]
