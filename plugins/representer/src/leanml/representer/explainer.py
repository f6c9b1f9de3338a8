"""`RepresenterExplainer`: representer point selection for a PyTorch classifier.

Yeh, Kim, Yen, Ravikumar, "Representer Point Selection for Explaining Deep Neural Networks",
NeurIPS 2018. At a stationary point of the L2-regularised last layer,

    Theta_1 = sum_i f_i alpha_i^T,    alpha_i = -1/(2 lambda n) dL(x_i)/dPhi_i,

so every logit decomposes over the training points: Phi_j(x_t) = sum_i alpha_ij k(x_i, x_t),
with k(x_i, x_t) = f_i^T f_t (+ 1 when the bias is folded into the features).

``method="lje"`` decomposes a one-step local Jacobian expansion of the trained head instead
(Sui, Wu, Sanner, NeurIPS 2021; see :mod:`leanml.representer.lje`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from leanml.core import InputError, ParameterError

from ._kernels import running_topk, stream_topk
from .head import fit_head
from .lje import lje_expand, lje_point_weights, lje_scores, lje_test_directions

__all__ = ["Explanation", "RepresenterExplainer"]


@dataclass
class Explanation:
    """Top-k representer points of a batch of test points.

    Attributes
    ----------
    target : (B,) explained class of each test point
    logit : (B,) its logit, rebuilt as the sum of every training point's contribution
    excitatory_index, excitatory_score : (B, k) largest positive contributions, best first
    inhibitory_index, inhibitory_score : (B, k) most negative contributions, most negative first
    """

    target: torch.Tensor
    logit: torch.Tensor
    excitatory_index: torch.Tensor
    excitatory_score: torch.Tensor
    inhibitory_index: torch.Tensor
    inhibitory_score: torch.Tensor


def _batches(X: Any, batch_size: int) -> Iterator[torch.Tensor]:
    if isinstance(X, torch.utils.data.DataLoader):
        if isinstance(X.sampler, torch.utils.data.RandomSampler):
            raise InputError(
                "the DataLoader shuffles: its order would not match the stored features; "
                "pass one with shuffle=False"
            )
        for batch in X:
            yield batch[0] if isinstance(batch, (tuple, list)) else batch
        return
    X = torch.as_tensor(X)
    for start in range(0, X.shape[0], batch_size):
        yield X[start : start + batch_size]


class RepresenterExplainer:
    """Explain a classifier's predictions by its training points.

    Parameters
    ----------
    model : torch.nn.Module
        The classifier; ``model(x)`` returns logits and its last layer is ``classifier_layer``.
    feature_layer : torch.nn.Module
        The module whose output is the input of the last layer: f_i = Phi_2(x_i) (after the
        activation, as in the paper).
    classifier_layer : torch.nn.Linear
        Theta_1, the last layer.
    lmbda : float, default=3e-3
        lambda of the regulariser lambda ||Theta_1||^2 (the paper's default).
    method : {"l2", "lje"}, default="l2"
        "l2": re-converge the head to a stationary point of the regularised objective and
        decompose it (Yeh et al., 2018). "lje": no re-training; decompose one Newton step
        of the same objective from the trained head perturbed by ``lje_step`` (Sui et al.,
        2021). LJE always folds the bias into the features and needs the labels in ``fit``.
    lje_step : float, default=1e-2
        Gradient-ascent step on the mean training loss before the expansion (the authors'
        learning rate); 0 expands at the trained weights.
    bias : {"regularized", "free"}, default="regularized"
        "regularized": the bias is a weight on a constant feature 1 (kernel f_i.f_t + 1), as
        the authors' code; "free": an unpenalised bias b, Phi = sum_i alpha_i f_i.f_t + b and
        sum_i alpha_i = 0.
    targets : {"model", "labels"}, default="model"
        Fit the head to the model's own softmax outputs (explaining the model), or to the
        labels (dataset debugging).
    gtol : float, default=1e-10
        Required max |gradient| of the re-converged head (float64).
    max_iter : int, default=100
        Newton iterations of the head re-convergence.
    batch_size : int, default=512
        Rows per forward pass when extracting features.
    chunk_size : int, default=65536
        Training rows per GEMM when scoring.
    mmap_dir : path or None
        Keep the training features in a memory-mapped ``.npy`` file there (for large n).
    """

    def __init__(
        self,
        model: nn.Module,
        feature_layer: nn.Module,
        classifier_layer: nn.Module,
        lmbda: float = 3e-3,
        method: str = "l2",
        lje_step: float = 1e-2,
        bias: str = "regularized",
        targets: str = "model",
        gtol: float = 1e-10,
        max_iter: int = 100,
        batch_size: int = 512,
        chunk_size: int = 65536,
        mmap_dir: str | Path | None = None,
    ) -> None:
        if not isinstance(classifier_layer, nn.Linear):
            raise InputError(
                f"classifier_layer must be a torch.nn.Linear, got {type(classifier_layer).__name__}"
            )
        if method not in ("l2", "lje"):
            raise ParameterError(f"method must be 'l2' or 'lje', got {method!r}")
        if not (np.isfinite(lje_step) and lje_step >= 0):
            raise ParameterError(f"lje_step must be a finite number >= 0, got {lje_step!r}")
        if bias not in ("regularized", "free"):
            raise ParameterError(f"bias must be 'regularized' or 'free', got {bias!r}")
        if targets not in ("model", "labels"):
            raise ParameterError(f"targets must be 'model' or 'labels', got {targets!r}")
        if not np.isfinite(lmbda) or lmbda <= 0:
            raise ParameterError(f"lmbda must be a finite number > 0, got {lmbda!r}")
        if lmbda < 1e-8:
            raise ParameterError(
                f"lmbda={lmbda:g} is too small: alpha grows like 1/lmbda and the head's "
                f"stationarity cannot be reached in float64; use lmbda >= 1e-8"
            )
        self.model = model
        self.feature_layer = feature_layer
        self.classifier_layer = classifier_layer
        self.lmbda = lmbda
        self.method = method
        self.lje_step = lje_step
        self.bias = bias
        self.targets = targets
        self.gtol = gtol
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.mmap_dir = mmap_dir

    # -- features ---------------------------------------------------------------------------

    def _forward(self, X: Any, need_grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(features, logits) of every row of X, in order."""
        captured: list[torch.Tensor] = []
        hook = self.feature_layer.register_forward_hook(lambda m, i, o: captured.append(o))
        was_training = self.model.training
        self.model.eval()
        feats, logits = [], []
        try:
            with torch.set_grad_enabled(need_grad):
                for xb in _batches(X, self.batch_size):
                    captured.clear()
                    out = self.model(xb)
                    if len(captured) != 1:
                        raise InputError("feature_layer must run exactly once per forward pass")
                    feats.append(captured[0].reshape(captured[0].shape[0], -1))
                    logits.append(out)
        finally:
            hook.remove()
            self.model.train(was_training)
        if not feats:
            raise InputError("no rows to extract features from (empty training set?)")
        F = torch.cat(feats).to(torch.float64)
        if F.shape[1] != self.classifier_layer.in_features:
            raise InputError(
                f"feature_layer gives {F.shape[1]} features but classifier_layer takes "
                f"{self.classifier_layer.in_features}"
            )
        if not torch.isfinite(F).all():
            raise InputError("features contain NaN or infinity")
        return F, torch.cat(logits).to(torch.float64)

    def _kernel_features(self, F: torch.Tensor) -> torch.Tensor:
        if self.bias == "regularized" or self.method == "lje":
            return torch.cat([F, torch.ones(F.shape[0], 1, dtype=F.dtype)], dim=1)
        return F

    def features(self, X: Any) -> torch.Tensor:
        """Kernel features of X: f (with a trailing 1 when the bias is regularised)."""
        return self._kernel_features(self._forward(X)[0])

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> RepresenterExplainer:
        """Extract training features, re-converge the head, compute representer values.

        Parameters
        ----------
        X : tensor (n, ...) or an unshuffled DataLoader of the training inputs
        y : (n,) integer labels; required for ``targets="labels"`` and ``self_importance``

        Raises
        ------
        NotConvergedError
            When the head does not reach ``gtol``.
        """
        F, given_logits = self._forward(X)
        n, C = F.shape[0], self.classifier_layer.out_features
        if y is not None:
            y = torch.as_tensor(y, dtype=torch.long)
            if y.shape != (n,):
                raise InputError(f"y must have shape ({n},), got {tuple(y.shape)}")
            if (y < 0).any() or (y >= C).any():
                raise InputError(f"labels must be in 0..{C - 1}")
        if self.method == "lje":
            if y is None:
                raise InputError("method='lje' expands the training loss on the labels: fit(X, y)")
            return self._fit_lje(F, given_logits, y)
        if self.targets == "labels":
            if y is None:
                raise InputError("targets='labels' needs y")
            T = torch.nn.functional.one_hot(y, C).to(torch.float64)
        else:
            T = torch.softmax(given_logits, dim=1)
        W0 = self.classifier_layer.weight.detach().to(torch.float64).T
        b0 = (
            self.classifier_layer.bias.detach().to(torch.float64)
            if self.classifier_layer.bias is not None
            else torch.zeros(C, dtype=torch.float64)
        )
        Fk = self._kernel_features(F)
        if self.bias == "regularized":  # the bias is the last row of W, on the constant feature
            head = fit_head(
                Fk, T, torch.cat([W0, b0[None]]), None, self.lmbda, self.gtol, self.max_iter
            )
        else:
            head = fit_head(Fk, T, W0, b0, self.lmbda, self.gtol, self.max_iter)
        self.weight_, self.bias_ = head.weight, head.bias
        self.grad_max_, self.n_iter_ = head.grad_max, head.iterations
        P = torch.softmax(Fk @ self.weight_ + self.bias_, dim=1)
        # alpha_i = -1/(2 lambda n) dCE/dPhi_i = (t_i - p_i) / (2 lambda n)
        self.alpha_ = (T - P) / (2.0 * self.lmbda * n)
        self._row_values = self.alpha_
        self.decomposition_residual_ = float((self.weight_ - Fk.T @ self.alpha_).abs().max())
        self._agree(given_logits, P)
        self.labels_ = y
        self._store(Fk)
        return self

    def _fit_lje(self, F: torch.Tensor, given_logits: torch.Tensor, y: torch.Tensor):
        Fk = self._kernel_features(F)
        C = self.classifier_layer.out_features
        W = self.classifier_layer.weight.detach().to(torch.float64).T
        b = self.classifier_layer.bias
        b = torch.zeros(C, dtype=torch.float64) if b is None else b.detach().to(torch.float64)
        Y = torch.nn.functional.one_hot(y, C).to(torch.float64)
        self.lje_ = lje_expand(Fk, Y, torch.cat([W, b[None]]), self.lmbda, self.lje_step)
        self.weight_, self.bias_ = self.lje_.weight, torch.zeros(C, dtype=torch.float64)
        self._row_values = self.lje_.residual
        self.grad_max_, self.n_iter_ = float("nan"), 0
        # sum_i Theta_i = n common - H^-1 vec(F^T R) / n must rebuild the Newton step
        summed = (
            self.lje_.n * self.lje_.common
            - self.lje_.solve((Fk.T @ self.lje_.residual).reshape(1, -1)).reshape(
                self.weight_.shape
            )
            / self.lje_.n
        )
        self.decomposition_residual_ = float((summed - self.weight_).abs().max())
        self._agree(given_logits, torch.softmax(Fk @ self.weight_, dim=1))
        self.labels_ = y
        self._store(Fk)
        return self

    def _agree(self, given_logits: torch.Tensor, P: torch.Tensor) -> None:
        given_p = torch.softmax(given_logits, dim=1)
        self.agreement_ = {
            "argmax": float((given_p.argmax(1) == P.argmax(1)).double().mean()),
            "pearson": float(np.corrcoef(given_p.ravel().numpy(), P.ravel().numpy())[0, 1]),
        }

    def _store(self, Fk: torch.Tensor) -> None:
        if self.mmap_dir is None:
            self.train_features_ = Fk
            return
        path = Path(self.mmap_dir) / "representer_train_features.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=tuple(Fk.shape))
        mm[:] = Fk.numpy()
        mm.flush()
        self.train_features_ = torch.from_numpy(np.load(path, mmap_mode="r+"))

    def _check_fitted(self) -> None:
        if not hasattr(self, "_row_values"):
            raise InputError("call fit() before explaining")

    def _chunks(self) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """(start, features, alpha (l2) or residual (lje)) of each chunk of training rows."""
        n = self._row_values.shape[0]
        for start in range(0, n, self.chunk_size):
            stop = min(start + self.chunk_size, n)
            features = torch.as_tensor(self.train_features_[start:stop])
            yield start, features, self._row_values[start:stop]

    # -- explanations -----------------------------------------------------------------------

    def logits(self, X: Any) -> torch.Tensor:
        """Logits of the re-converged head (what the decomposition reproduces)."""
        self._check_fitted()
        return self.features(X) @ self.weight_ + self.bias_

    def _targets(self, Ft: torch.Tensor, target: Any) -> torch.Tensor:
        C = self._row_values.shape[1]
        if target is None:
            return (Ft @ self.weight_ + self.bias_).argmax(dim=1)
        t = torch.as_tensor(target, dtype=torch.long).reshape(-1)
        if t.numel() == 1:
            t = t.expand(Ft.shape[0])
        if t.shape[0] != Ft.shape[0]:
            raise InputError(f"target has {t.shape[0]} entries for {Ft.shape[0]} test points")
        if (t < 0).any() or (t >= C).any():
            raise InputError(f"target class must be in 0..{C - 1}, got {t.tolist()}")
        return t.clone()

    def explain(self, X: Any, target: Any = None, k: int = 10) -> Explanation:
        """Top-k excitatory and inhibitory training points of each test point.

        Parameters
        ----------
        X : test inputs (tensor or unshuffled DataLoader)
        target : class to explain (int, or one per test point); default the predicted class
        k : number of points each way
        """
        self._check_fitted()
        if k < 1:
            raise ParameterError(f"k must be >= 1, got {k}")
        Ft = self.features(X)
        t = self._targets(Ft, target)
        if self.method == "lje":
            U, shared = lje_test_directions(self.lje_, Ft, t)
            scores = ((s, lje_scores(self.lje_, U, shared, f, r)) for s, f, r in self._chunks())
            es, ei, is_, ii, total = running_topk(scores, k)
        else:
            es, ei, is_, ii, total = stream_topk(Ft, self._chunks(), t, k)
        return Explanation(t, total + self.bias_[t], ei, es, ii, is_)

    def decompose(self, X: Any) -> torch.Tensor:
        """Every training point's contribution to every logit: (B, n, C).

        ``decompose(X).sum(1) + bias_`` equals :meth:`logits`. Meant for small n; use
        :meth:`explain` otherwise.
        """
        self._check_fitted()
        Ft = self.features(X)
        n, C = self._row_values.shape
        if Ft.shape[0] * n * C > 50_000_000:
            raise ParameterError(
                f"decompose would hold {Ft.shape[0]} x {n} x {C} values; use explain() instead"
            )
        if self.method == "lje":
            parts = [
                torch.einsum("bd,mdc->bmc", Ft, lje_point_weights(self.lje_, f, r))
                for _, f, r in self._chunks()
            ]
            return torch.cat(parts, dim=1)
        K = Ft @ torch.as_tensor(self.train_features_).T
        return K[:, :, None] * self.alpha_[None, :, :]

    def self_importance(self) -> dict[str, torch.Tensor]:
        """Global importance of each training point for its own label (dataset debugging).

        Returns ``{"alpha": |alpha_{i, y_i}|, "self": alpha_{i, y_i} ||f_i||^2}``; with
        ``method="lje"`` only ``"self"``: Theta_i[:, y_i]^T f_i, point i's contribution to its
        own label's logit (one Hessian solve per training point).
        """
        self._check_fitted()
        if self.labels_ is None:
            raise InputError("self_importance needs the labels: fit(X, y)")
        if self.method == "lje":
            own = []
            for start, f, r in self._chunks():
                labels = self.labels_[start : start + f.shape[0]]
                weights = lje_point_weights(self.lje_, f, r)[torch.arange(f.shape[0]), :, labels]
                own.append((weights * f).sum(dim=1))
            return {"self": torch.cat(own)}
        own = self.alpha_.gather(1, self.labels_[:, None]).squeeze(1)
        norms = (torch.as_tensor(self.train_features_) ** 2).sum(dim=1)
        return {"alpha": own.abs(), "self": own * norms}

    def sensitivity(self, x: torch.Tensor, index: int, target: int | None = None) -> torch.Tensor:
        """Gradient of training point ``index``'s contribution to ``target`` w.r.t. x.

        The sensitivity map of one representer point (paper, Sec. 4.3):
        d/dx [alpha_{index, c} k(x_index, x)], shaped like the single input ``x``.
        """
        self._check_fitted()
        n = self._row_values.shape[0]
        if not 0 <= index < n:
            raise InputError(f"index must be in 0..{n - 1}, got {index}")
        x = torch.as_tensor(x).detach().clone()[None].requires_grad_(True)
        F, _ = self._forward(x, need_grad=True)
        Fk = self._kernel_features(F)
        c = int(self._targets(Fk.detach(), target)[0])
        f_i = torch.as_tensor(self.train_features_[index])
        if self.method == "lje":
            theta_i = lje_point_weights(self.lje_, f_i[None], self._row_values[index][None])[0]
            contribution = Fk[0] @ theta_i[:, c]
        else:
            contribution = self.alpha_[index, c] * (Fk[0] @ f_i)
        (grad,) = torch.autograd.grad(contribution, x)
        return grad[0]
