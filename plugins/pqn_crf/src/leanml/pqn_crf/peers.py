"""The peers a user would otherwise pick, with the same interface and the same features.

- :class:`CRFsuiteCRF`: CRFsuite's OWL-QN (``lbfgs`` with ``c1 > 0``) through
  python-crfsuite, set up so its objective is exactly :class:`~leanml.pqn_crf.CRF`'s
  (all attribute x label and label x label features, or CRFsuite's default of only the
  observed ones with ``pairs="observed"``; no frequency cut; labels seen in
  training). Its per-iteration log (loss, line-search trials, seconds) is kept.
- :func:`liblinear_l1_logistic`: scikit-learn's ``LogisticRegression(l1_ratio=1,
  solver="liblinear")`` (pure L1; ``penalty="l1"`` is deprecated since scikit-learn 1.8)
  with ``C = 1/lam``, the flat binary model.

Both need the ``peers`` extra: ``pip install 'leanml-pqn-crf[peers]'``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leanml.core import ParameterError

from ._base import ParamsMixin
from .features import AttributeIndex, flatten_token

__all__ = ["CRFsuiteCRF", "crfsuite_items", "liblinear_l1_logistic"]


def _pycrfsuite() -> Any:
    try:
        import pycrfsuite
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ParameterError(
            "the CRFsuite peer needs python-crfsuite: pip install 'leanml-pqn-crf[peers]'"
        ) from None
    return pycrfsuite


def crfsuite_items(seq: Any) -> list[dict[str, float]]:
    """One sequence as CRFsuite items ``{attribute: value}`` with the names
    :class:`~leanml.pqn_crf.features.AttributeIndex` uses (column ids as strings for
    array input; zeros omitted)."""
    if isinstance(seq, np.ndarray) or hasattr(seq, "tocsr"):
        rows = seq.tocsr() if hasattr(seq, "tocsr") else None
        out = []
        for t in range(seq.shape[0]):
            if rows is not None:
                r = rows.getrow(t)
                out.append({str(j): float(v) for j, v in zip(r.indices, r.data, strict=True)})
            else:
                nz = np.flatnonzero(seq[t])
                out.append({str(j): float(seq[t, j]) for j in nz})
        return out
    return [flatten_token(tok) for tok in seq]


class CRFsuiteCRF(ParamsMixin):
    """CRFsuite OWL-QN (or L-BFGS for c1 = 0) on the same objective as ``CRF``.

    Parameters
    ----------
    c1, c2 : CRFsuite's coefficients (same meaning as in :class:`~leanml.pqn_crf.CRF`).
    max_iterations : iteration budget; epsilon, delta, period : CRFsuite's stopping tests.
    num_memories : L-BFGS memory (CRFsuite's default is 6).
    pairs : ``"all"`` turns on ``feature.possible_states`` and ``possible_transitions``
        (``CRF(pairs="all")``'s model); ``"observed"`` keeps CRFsuite's defaults (off),
        ``CRF(pairs="observed")``'s model.

    Attributes
    ----------
    log_ : list of per-iteration dicts from CRFsuite (``loss``, ``linesearch_trials``,
        ``time``, ``active_features``, ...).
    train_seconds_ : wall time of ``Trainer.train``.
    """

    def __init__(
        self,
        c1: float = 1.0,
        c2: float = 0.0,
        max_iterations: int = 1000,
        epsilon: float = 1e-5,
        delta: float = 1e-5,
        period: int = 10,
        num_memories: int = 6,
        pairs: str = "all",
    ) -> None:
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.epsilon = epsilon
        self.delta = delta
        self.period = period
        self.num_memories = num_memories
        self.pairs = pairs

    def fit(self, X: Sequence[Any], y: Sequence[Any]) -> CRFsuiteCRF:
        """Train CRFsuite on the same sequences ``CRF.fit`` takes."""
        crfsuite = _pycrfsuite()
        trainer = crfsuite.Trainer(verbose=False)
        for seq, labels in zip(X, y, strict=True):
            trainer.append(crfsuite.ItemSequence(crfsuite_items(seq)), [str(v) for v in labels])
        if self.pairs not in ("all", "observed"):
            raise ParameterError(f"pairs must be 'all' or 'observed', got {self.pairs!r}")
        trainer.select("lbfgs")
        trainer.set_params(
            {
                "c1": float(self.c1),
                "c2": float(self.c2),
                "feature.possible_states": self.pairs == "all",
                "feature.possible_transitions": self.pairs == "all",
                "feature.minfreq": 0,
                "max_iterations": int(self.max_iterations),
                "epsilon": float(self.epsilon),
                "delta": float(self.delta),
                "period": int(self.period),
                "num_memories": int(self.num_memories),
            }
        )
        self._dir = tempfile.TemporaryDirectory(prefix="leanml-crfsuite-")
        self.model_path_ = Path(self._dir.name) / "model.crfsuite"
        t0 = time.perf_counter()
        trainer.train(str(self.model_path_))
        self.train_seconds_ = time.perf_counter() - t0
        self.log_ = list(trainer.logparser.iterations)
        self.tagger_ = crfsuite.Tagger()
        self.tagger_.open(str(self.model_path_))
        self.classes_ = np.unique(np.concatenate([np.asarray(s) for s in y]))
        self.labels_ = [str(v) for v in self.classes_]
        # CRFsuite knows labels as strings: map them back to the training labels themselves
        # (casting to the first sequence's dtype would cut "PRP$" to "PRP" when that
        # sequence's longest tag has three characters)
        self._index = {name: i for i, name in enumerate(self.labels_)}
        return self

    def predict(self, X: Sequence[Any]) -> list[np.ndarray]:
        """CRFsuite's Viterbi labels, as the training labels."""
        return [
            self.classes_[[self._index[t] for t in self.tagger_.tag(crfsuite_items(seq))]]
            for seq in X
        ]

    def weights_for(
        self, attributes: AttributeIndex, classes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """CRFsuite's learned weights as ``CRF``'s W (n_attributes x K) and T (K x K)."""
        info = self.tagger_.info()
        col = {str(name): i for i, name in enumerate(attributes.names_)}
        lab = {str(c): i for i, c in enumerate(classes.tolist())}
        W = np.zeros((attributes.size, len(lab)))
        T = np.zeros((len(lab), len(lab)))
        for (attr, label), value in info.state_features.items():
            W[col[attr], lab[label]] = value
        for (src, dst), value in info.transitions.items():
            T[lab[src], lab[dst]] = value
        return W, T

    def objective_trace(self) -> dict[str, np.ndarray]:
        """Objective, cumulative evaluations and seconds per iteration, from the log."""
        return {
            "objective": np.array([it["loss"] for it in self.log_]),
            "evals": np.cumsum([it["linesearch_trials"] for it in self.log_]),
            "seconds": np.cumsum([it["time"] for it in self.log_]),
        }


def liblinear_l1_logistic(lam: float = 1.0, tol: float = 1e-6, max_iter: int = 1000) -> Any:
    """scikit-learn's L1 logistic regression (liblinear) minimising λ||w||_1 + sum NLL.

    One-vs-rest for more than two classes (liblinear's own scheme, which scikit-learn no
    longer applies by itself); identical to the plain model on binary problems.
    """
    if lam <= 0:
        raise ParameterError(f"lam must be > 0 for liblinear (C = 1/lam), got {lam}")
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    return OneVsRestClassifier(
        LogisticRegression(
            l1_ratio=1.0, solver="liblinear", C=1.0 / lam, tol=tol, max_iter=max_iter
        )
    )
