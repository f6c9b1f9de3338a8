"""`RepresenterExplainer`: representer point selection for a PyTorch classifier.

Yeh, Kim, Yen, Ravikumar, "Representer Point Selection for Explaining Deep Neural Networks",
NeurIPS 2018. At a stationary point of the L2-regularised last layer,

    Theta_1 = sum_i f_i alpha_i^T,    alpha_i = -1/(2 lambda n) dL(x_i)/dPhi_i,

so every logit decomposes over the training points: Phi_j(x_t) = sum_i alpha_ij k(x_i, x_t),
with k(x_i, x_t) = f_i^T f_t (+ 1 when the bias is folded into the features).

``method="lje"`` decomposes a one-step local Jacobian expansion of the trained head instead
(Sui, Wu, Sanner, NeurIPS 2021; see :mod:`leanml.representer.lje`). What the model hands in
and returns is adapted by :mod:`leanml.representer.adapters`; whether the decomposition is
faithful to the model is checked by :mod:`leanml.representer.fidelity`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from leanml.core import InputError, ParameterError

from ._kernels import running_topk, stream_topk
from .adapters import batches, call_model, to_logits
from .fidelity import ARGMAX_MIN, PEARSON_MIN, agreement, check_head_output, warn_if_unfaithful
from .head import data_hessian, exact_preconditioner_pays, fit_head
from .lje import lje_expand, lje_point_weights, lje_scores, lje_test_directions

__all__ = ["LAMBDA_GRID", "Explanation", "RepresenterExplainer"]


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


#: lambda = "auto" tries these in order and keeps the first (largest) whose head reproduces the
#: model's logits to the fidelity thresholds; 3e-3 is the authors' default.
LAMBDA_GRID = (3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)


class RepresenterExplainer:
    """Explain a classifier's predictions by its training points.

    Parameters
    ----------
    model : torch.nn.Module
        The classifier. ``model(x)`` (or ``model(**batch)`` for dict batches) returns logits,
        a ``ModelOutput`` / dict with ``"logits"``, or anything ``output_fn`` maps to logits;
        those logits must be ``classifier_layer`` applied to its input (checked on every
        forward pass: a model ending in softmax is refused).
    feature_layer : torch.nn.Module or None
        Optional: the module whose output is the input of the last layer, f_i = Phi_2(x_i).
        The features are always captured at the input of ``classifier_layer``; when given,
        this module's output is checked to be that input (a layer that does not feed the
        head is refused).
    classifier_layer : torch.nn.Linear
        Theta_1, the last layer. A single output (binary logistic head) is supported: alpha
        then has one column and the explained logit is that single logit.
    lmbda : float or "auto", default="auto"
        lambda of the regulariser lambda ||Theta_1||^2. "auto": the largest value of
        :data:`LAMBDA_GRID` (from the paper's 3e-3 down) at which a head fitted without every
        5th training point reproduces the model's logits on those points (Pearson >= 0.99,
        argmax agreement >= 0.98); the head is then fitted on all points at that lambda
        (``lmbda_``; the measurements are in ``lmbda_path_``). With ``targets="labels"`` or
        ``method="lje"``, "auto" is 3e-3.
    method : {"l2", "lje"}, default="l2"
        "l2": re-converge the head to a stationary point of the regularised objective and
        decompose it (Yeh et al., 2018). "lje": no re-training; decompose one damped Newton
        step of the unregularised training loss from the trained head perturbed by
        ``lje_step`` (Sui et al., 2021). LJE folds the bias into the features and needs the
        labels in ``fit``.
    lje_step : float, default=1e-2
        Gradient-ascent step on the mean training loss before the expansion (the authors'
        learning rate); 0 expands at the trained weights.
    lje_damping : float, default=1e-3
        mu, added to the diagonal of the loss Hessian before it is inverted (LJE only).
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
        Rows per forward pass when the input is a tensor.
    chunk_size : int, default=65536
        Training rows per GEMM when scoring.
    memory_budget : int, default=256 MiB
        Bytes the score blocks of :meth:`explain` may take; test points are streamed in
        batches that fit.
    score_dtype : torch.dtype, default=torch.float32
        dtype of the stored training features and of scoring (the fit is float64).
    output_fn : callable or None
        Maps the model's output to its logits tensor.
    mmap_dir : path or None
        Keep the training features in a memory-mapped ``.npy`` file there (for large n).
    """

    def __init__(
        self,
        model: nn.Module,
        feature_layer: nn.Module | None,
        classifier_layer: nn.Module,
        lmbda: float | str = "auto",
        method: str = "l2",
        lje_step: float = 1e-2,
        lje_damping: float = 1e-3,
        bias: str = "regularized",
        targets: str = "model",
        gtol: float = 1e-10,
        max_iter: int = 100,
        batch_size: int = 512,
        chunk_size: int = 65536,
        memory_budget: int = 256 * 2**20,
        score_dtype: torch.dtype = torch.float32,
        output_fn: Callable[[Any], torch.Tensor] | None = None,
        mmap_dir: str | Path | None = None,
    ) -> None:
        if not isinstance(classifier_layer, nn.Linear):
            raise InputError(
                f"classifier_layer must be a torch.nn.Linear, got {type(classifier_layer).__name__}"
            )
        if method not in ("l2", "lje"):
            raise ParameterError(f"method must be 'l2' or 'lje', got {method!r}")
        if method == "lje" and classifier_layer.out_features == 1:
            raise InputError(
                "method='lje' expands a softmax head; a single-logit head needs method='l2'"
            )
        if not (np.isfinite(lje_step) and lje_step >= 0):
            raise ParameterError(f"lje_step must be a finite number >= 0, got {lje_step!r}")
        if not (np.isfinite(lje_damping) and lje_damping > 0):
            raise ParameterError(f"lje_damping must be a finite number > 0, got {lje_damping!r}")
        if bias not in ("regularized", "free"):
            raise ParameterError(f"bias must be 'regularized' or 'free', got {bias!r}")
        if targets not in ("model", "labels"):
            raise ParameterError(f"targets must be 'model' or 'labels', got {targets!r}")
        if lmbda != "auto":
            if isinstance(lmbda, str) or not np.isfinite(lmbda) or lmbda <= 0:
                raise ParameterError(f"lmbda must be 'auto' or a finite number > 0, got {lmbda!r}")
            if lmbda < 1e-8:
                raise ParameterError(
                    f"lmbda={lmbda:g} is too small: alpha grows like 1/lmbda and the head's "
                    f"stationarity cannot be reached in float64; use lmbda >= 1e-8"
                )
        if score_dtype not in (torch.float32, torch.float64):
            raise ParameterError(f"score_dtype must be float32 or float64, got {score_dtype}")
        if memory_budget < 2**20:
            raise ParameterError(f"memory_budget must be >= 1 MiB, got {memory_budget}")
        self.model = model
        self.feature_layer = feature_layer
        self.classifier_layer = classifier_layer
        self.lmbda = lmbda
        self.method = method
        self.lje_step = lje_step
        self.lje_damping = lje_damping
        self.bias = bias
        self.targets = targets
        self.gtol = gtol
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.memory_budget = memory_budget
        self.score_dtype = score_dtype
        self.output_fn = output_fn
        self.mmap_dir = mmap_dir

    @property
    def _binary(self) -> bool:
        return self.classifier_layer.out_features == 1

    # -- features ---------------------------------------------------------------------------

    def _forward(
        self, X: Any, need_grad: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(head inputs, model logits, loader labels or None) of every row of X, in order.

        The head's input is captured by a forward pre-hook, and every batch is checked: the
        model's logits must be classifier_layer of that input, and feature_layer (if given)
        must produce it.
        """
        head_in: list[torch.Tensor] = []
        feat_out: list[torch.Tensor] = []
        hooks = [self.classifier_layer.register_forward_pre_hook(lambda m, a: head_in.append(a[0]))]
        if self.feature_layer is not None:
            hooks.append(
                self.feature_layer.register_forward_hook(lambda m, a, o: feat_out.append(o))
            )
        weight = self.classifier_layer.weight
        was_training = self.model.training
        self.model.eval()
        feats, logits, labels = [], [], []
        try:
            with torch.set_grad_enabled(need_grad):
                for inputs, yb in batches(X, self.batch_size):
                    head_in.clear()
                    feat_out.clear()
                    out = to_logits(
                        call_model(self.model, inputs, weight.device, weight.dtype),
                        self.output_fn,
                    )
                    F = self._captured(head_in, feat_out)
                    check_head_output(self.classifier_layer(F).detach(), out.detach())
                    feats.append(F if need_grad else F.detach().cpu())
                    logits.append(out.detach().cpu())
                    labels.append(yb)
        finally:
            for h in hooks:
                h.remove()
            self.model.train(was_training)
        if not feats:
            raise InputError("no rows to extract features from (empty training set?)")
        F = torch.cat(feats).to(torch.float64)
        y = None if any(yb is None for yb in labels) else torch.cat(labels)
        return F, torch.cat(logits).to(torch.float64), y

    def _captured(self, head_in: list[torch.Tensor], feat_out: list[torch.Tensor]):
        if len(head_in) != 1:
            raise InputError(
                f"classifier_layer ran {len(head_in)} times in one forward pass; it must run "
                "exactly once (the model's last layer)"
            )
        F = head_in[0]
        if F.dim() != 2:
            raise InputError(
                f"classifier_layer's input has shape {tuple(F.shape)}; representer points "
                "need one feature vector per example, (batch, features)"
            )
        if not torch.isfinite(F).all():
            raise InputError("features contain NaN or infinity")
        if self.feature_layer is not None:
            if len(feat_out) != 1 or not isinstance(feat_out[0], torch.Tensor):
                raise InputError("feature_layer must run exactly once per forward pass")
            f = feat_out[0]
            if f.shape != F.shape or not torch.equal(f.detach(), F.detach()):
                raise InputError(
                    "feature_layer's output is not the input of classifier_layer: it does not "
                    "feed the head (pass the layer right before it, or feature_layer=None)"
                )
        return F

    def _kernel_features(self, F: torch.Tensor) -> torch.Tensor:
        if self.bias == "regularized" or self.method == "lje":
            return torch.cat([F, torch.ones(F.shape[0], 1, dtype=F.dtype, device=F.device)], 1)
        return F

    def features(self, X: Any) -> torch.Tensor:
        """Kernel features of X, float64: f (with a trailing 1 when the bias is regularised)."""
        return self._kernel_features(self._forward(X)[0])

    # -- fitting ----------------------------------------------------------------------------

    def _given_head(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The trained head as (W (d, C), b (C,)) in float64 on the CPU."""
        layer = self.classifier_layer
        W = layer.weight.detach().cpu().to(torch.float64).T
        b = layer.bias
        b = torch.zeros(W.shape[1], dtype=torch.float64) if b is None else b.detach().cpu()
        return W, b.to(torch.float64)

    def fit(self, X: Any, y: Any = None) -> RepresenterExplainer:
        """Extract training features, re-converge the head, compute representer values.

        Parameters
        ----------
        X : tensor (n, ...), dict of tensors, or an unshuffled DataLoader of the training
            inputs (tensors, ``(x, y)`` pairs or dicts of model keyword arguments)
        y : (n,) integer labels; required for ``targets="labels"``, ``method="lje"`` and
            ``self_importance``; taken from an ``(x, y)`` loader when not given

        Raises
        ------
        NotConvergedError
            When the head does not reach ``gtol``.

        Warns
        -----
        FidelityWarning
            When the decomposed head reproduces the model's logits on the training points
            below Pearson 0.99 or argmax agreement 0.98 (``fidelity_`` holds the figures).
        """
        F, given_logits, loader_y = self._forward(X)
        n = F.shape[0]
        n_classes = 2 if self._binary else self.classifier_layer.out_features
        y = loader_y if y is None else y
        if y is not None:
            y = torch.as_tensor(y, dtype=torch.long).reshape(-1)
            if y.shape != (n,):
                raise InputError(f"y must have shape ({n},), got {tuple(y.shape)}")
            if (y < 0).any() or (y >= n_classes).any():
                raise InputError(f"labels must be in 0..{n_classes - 1}")
        self.labels_ = y
        Fk = self._kernel_features(F)
        if self.method == "lje":
            if y is None:
                raise InputError("method='lje' expands the training loss on the labels: fit(X, y)")
            self._fit_lje(Fk, y)
        else:
            if self.targets == "labels" and y is None:
                raise InputError("targets='labels' needs y")
            self._fit_l2(Fk, given_logits, y)
        self.fidelity_ = agreement(given_logits, Fk @ self.weight_ + self.bias_)
        if self.targets == "model" or self.method == "lje":  # a label fit need not match
            what = "the lje expansion" if self.method == "lje" else f"lmbda={self.lmbda_:g}"
            warn_if_unfaithful(self.fidelity_, f"the head ({what})")
        self._store(Fk)
        return self

    def _lambdas(self) -> tuple[float, ...]:
        if self.lmbda != "auto":
            return (float(self.lmbda),)
        if self.targets == "labels" or self.method == "lje":
            return (LAMBDA_GRID[0],)
        return LAMBDA_GRID

    def _choose_lambda(self, Fk, T, Z, W0, b0, scale, grid):
        """The first lambda of ``grid`` whose head, fitted without every 5th training point,
        reproduces the model's logits on those points (fidelity on points the head was not
        fitted to: on the fitted points it is optimistic, e.g. MiniLM on R8 passed there at
        1e-4 and fell to argmax 0.96 on test documents). Returns (lambda, W, b, Hessian):
        the trial head warm-starts the final fit, and the data Hessian at the given head
        (None where Jacobi preconditions) serves every fit of the path, formed once instead
        of once per fit. Trial fits stop at max |grad| 1e-6: agreement to four digits needs
        no more."""
        n = Fk.shape[0]
        check_rows = torch.arange(n) % 5 == 0
        fit_rows = ~check_rows
        if n < 10:  # too few points to hold any out
            fit_rows = check_rows = torch.ones(n, dtype=torch.bool)
        n_fit = int(fit_rows.sum())
        free_bias = b0 is not None
        H_fit = H_all = None
        if exact_preconditioner_pays(n_fit, W0.numel() + (W0.shape[1] if free_bias else 0)):
            logits = Fk @ W0 + (b0 if free_bias else 0.0)
            P0 = torch.softmax(logits, dim=1)
            H_fit = data_hessian(Fk[fit_rows], P0[fit_rows], free_bias)
            H_all = H_fit
            if n >= 10:
                H_check = data_hessian(Fk[check_rows], P0[check_rows], free_bias)
                H_all = (n_fit * H_fit + (n - n_fit) * H_check) / n
        for lmbda in grid:
            head = fit_head(
                Fk[fit_rows],
                T[fit_rows],
                W0,
                b0,
                scale * lmbda,
                max(self.gtol, 1e-6),
                self.max_iter,
                hessian=H_fit,
            )
            W0, b0 = head.weight, (None if b0 is None else head.bias)  # warm start the next
            report = agreement(Z[check_rows], Fk[check_rows] @ head.weight + head.bias)
            self.lmbda_path_.append({"lmbda": lmbda, **report})
            if report["pearson"] >= PEARSON_MIN and report["argmax"] >= ARGMAX_MIN:
                break
        return lmbda, W0, b0, H_all

    def _fit_l2(self, Fk: torch.Tensor, given_logits: torch.Tensor, y: torch.Tensor | None):
        n = Fk.shape[0]
        W0, b0 = self._given_head()
        Z = given_logits
        # a single logit z is the two-class softmax on (-z/2, z/2) with weights (-w/2, w/2);
        # that problem's penalty lambda ||W||^2 is (lambda / 2) ||w||^2, hence lambda x 2 below
        if self._binary:
            W0, b0, Z = (torch.cat([-v / 2, v / 2], dim=-1) for v in (W0, b0, Z))
        scale = 2.0 if self._binary else 1.0
        if self.targets == "labels":
            T = torch.nn.functional.one_hot(y, Z.shape[1]).to(torch.float64)
        else:
            T = torch.softmax(Z, dim=1)
        if self.bias == "regularized":  # the bias is the last row of W, on the constant feature
            W0, b0 = torch.cat([W0, b0[None]]), None
        self.lmbda_path_ = []
        grid = self._lambdas()
        lmbda, hessian = grid[0], None
        if len(grid) > 1:
            lmbda, W0, b0, hessian = self._choose_lambda(Fk, T, Z, W0, b0, scale, grid)
        head = fit_head(Fk, T, W0, b0, scale * lmbda, self.gtol, self.max_iter, hessian)
        self.lmbda_ = lmbda
        self.grad_max_, self.n_iter_ = head.grad_max, head.iterations
        P = torch.softmax(Fk @ head.weight + head.bias, dim=1)
        # alpha_i = -1/(2 lambda n) dCE/dPhi_i = (t_i - p_i) / (2 lambda n)
        alpha = (T - P) / (2.0 * scale * lmbda * n)
        W, b = head.weight, head.bias
        if self._binary:  # back to the single logit: the difference of the two columns
            alpha, W, b = (v[..., 1:] - v[..., :1] for v in (alpha, W, b))
        self.weight_, self.bias_, self.alpha_ = W, b, alpha
        self._row_values = alpha
        self.decomposition_residual_ = float((W - Fk.T @ alpha).abs().max())

    def _fit_lje(self, Fk: torch.Tensor, y: torch.Tensor):
        W, b = self._given_head()
        C = W.shape[1]
        Y = torch.nn.functional.one_hot(y, C).to(torch.float64)
        self.lmbda_ = float("nan")
        self.lje_ = lje_expand(Fk, Y, torch.cat([W, b[None]]), self.lje_damping, self.lje_step)
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

    def fidelity(self, X: Any) -> dict[str, float]:
        """Pearson and argmax agreement of the decomposition's logits with the model's on X.

        The decomposition sums to the fitted head's logits (to ``decomposition_residual_``),
        so this is the paper's Fig. 1 check on held-out points.
        """
        self._check_fitted()
        F, given, _ = self._forward(X)
        return agreement(given, self._kernel_features(F) @ self.weight_ + self.bias_)

    @property
    def agreement_(self) -> dict[str, float]:
        """Alias of ``fidelity_`` (0.1 name)."""
        return self.fidelity_

    def _store(self, Fk: torch.Tensor) -> None:
        # LJE scores through float64 Hessian solves, so it keeps float64 features
        dtype = torch.float64 if self.method == "lje" else self.score_dtype
        Fs = Fk.to(dtype)
        self._row_values_scoring = self._row_values.to(dtype)
        if self.mmap_dir is None:
            self.train_features_ = Fs.contiguous()
            return
        path = Path(self.mmap_dir) / "representer_train_features.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        mm = np.lib.format.open_memmap(path, mode="w+", dtype=np_dtype, shape=tuple(Fs.shape))
        mm[:] = Fs.numpy()
        mm.flush()
        self.train_features_ = torch.from_numpy(np.load(path, mmap_mode="r+"))

    def _check_fitted(self) -> None:
        if not hasattr(self, "_row_values"):
            raise InputError("call fit() before explaining")

    def _chunks(
        self, dtype: torch.dtype | None = None
    ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """(start, features, alpha (l2) or residual (lje)) of each chunk of training rows."""
        values = self._row_values_scoring if dtype is None else self._row_values.to(dtype)
        n = values.shape[0]
        for start in range(0, n, self.chunk_size):
            stop = min(start + self.chunk_size, n)
            features = torch.as_tensor(self.train_features_[start:stop])
            if dtype is not None:
                features = features.to(dtype)
            yield start, features, values[start:stop]

    # -- explanations -----------------------------------------------------------------------

    def logits(self, X: Any) -> torch.Tensor:
        """Logits of the re-converged head (what the decomposition reproduces)."""
        self._check_fitted()
        return self.features(X) @ self.weight_ + self.bias_

    def _targets(self, Ft: torch.Tensor, target: Any) -> torch.Tensor:
        C = self._row_values.shape[1]
        if target is None:
            if self._binary:  # the single logit is the only thing to explain
                return torch.zeros(Ft.shape[0], dtype=torch.long)
            return (Ft @ self.weight_ + self.bias_).argmax(dim=1)
        t = torch.as_tensor(target, dtype=torch.long).reshape(-1)
        if t.numel() == 1:
            t = t.expand(Ft.shape[0])
        if t.shape[0] != Ft.shape[0]:
            raise InputError(f"target has {t.shape[0]} entries for {Ft.shape[0]} test points")
        if (t < 0).any() or (t >= C).any():
            raise InputError(f"target class must be in 0..{C - 1}, got {t.tolist()}")
        return t.clone()

    def test_batch_size(self) -> int:
        """Test points scored together under ``memory_budget``.

        A block of B test points against one chunk of m training rows holds the (B, m)
        scores (one buffer, reused for every chunk; the top-k lists are O(B k)). With
        ``method="lje"`` the scores are float64 and the torch reduction holds about four
        (B, m) arrays.
        """
        n = self._row_values.shape[0]
        m = min(self.chunk_size, n)
        if self.method == "lje":
            return max(1, self.memory_budget // (4 * m * 8))
        itemsize = torch.finfo(self.score_dtype).bits // 8
        return max(1, self.memory_budget // (m * itemsize))

    def explain(self, X: Any, target: Any = None, k: int = 10) -> Explanation:
        """Top-k excitatory and inhibitory training points of each test point.

        Parameters
        ----------
        X : test inputs (tensor, dict of tensors or unshuffled DataLoader)
        target : class to explain (int, or one per test point); default the predicted class
            (for a single-logit head, 0: the logit itself)
        k : number of points each way

        Test points are scored :meth:`test_batch_size` at a time, in ``score_dtype``; the
        logit is accumulated in float64.
        """
        self._check_fitted()
        if k < 1:
            raise ParameterError(f"k must be >= 1, got {k}")
        Ft = self.features(X)
        t = self._targets(Ft, target)
        step = self.test_batch_size()
        parts = []
        for s in range(0, Ft.shape[0], step):
            Fb, tb = Ft[s : s + step], t[s : s + step]
            if self.method == "lje":
                U, shared = lje_test_directions(self.lje_, Fb, tb)
                scores = (
                    (start, lje_scores(self.lje_, U, shared, f, r))
                    for start, f, r in self._chunks(torch.float64)
                )
                parts.append(running_topk(scores, k))
            else:
                parts.append(stream_topk(Fb.to(self.score_dtype), self._chunks(), tb, k))
        es, ei, is_, ii, total = (torch.cat(p) for p in zip(*parts, strict=True))
        return Explanation(t, total.to(torch.float64) + self.bias_[t], ei, es, ii, is_)

    def decompose(self, X: Any) -> torch.Tensor:
        """Every training point's contribution to every logit: (B, n, C), float64.

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
                for _, f, r in self._chunks(torch.float64)
            ]
            return torch.cat(parts, dim=1)
        K = Ft @ torch.as_tensor(self.train_features_).to(torch.float64).T
        return K[:, :, None] * self.alpha_[None, :, :]

    def self_importance(self) -> dict[str, torch.Tensor]:
        """Global importance of each training point for its own label (dataset debugging).

        Returns ``{"alpha": |alpha_{i, y_i}|, "self": alpha_{i, y_i} k(x_i, x_i)}``: the
        representer value and point i's contribution to its own label's logit (for a
        single-logit head, to the logit, signed towards the label). With ``method="lje"``
        only ``"self"``: Theta_i[:, y_i]^T f_i (one Hessian solve per training point).
        """
        self._check_fitted()
        if self.labels_ is None:
            raise InputError("self_importance needs the labels: fit(X, y)")
        if self.method == "lje":
            own = []
            for start, f, r in self._chunks(torch.float64):
                labels = self.labels_[start : start + f.shape[0]]
                weights = lje_point_weights(self.lje_, f, r)[torch.arange(f.shape[0]), :, labels]
                own.append((weights * f).sum(dim=1))
            return {"self": torch.cat(own)}
        if self._binary:  # alpha pushes the logit up, towards label 1
            own = self.alpha_[:, 0] * (2.0 * self.labels_.to(torch.float64) - 1.0)
        else:
            own = self.alpha_.gather(1, self.labels_[:, None]).squeeze(1)
        norms = (torch.as_tensor(self.train_features_).to(torch.float64) ** 2).sum(dim=1)
        return {"alpha": own.abs(), "self": own * norms}

    def _contribution_graph(self, x: torch.Tensor, index: int, target: int | None):
        """(x with grad, kernel features of x with graph, explained class, f_index)."""
        self._check_fitted()
        n = self._row_values.shape[0]
        if not 0 <= index < n:
            raise InputError(f"index must be in 0..{n - 1}, got {index}")
        x = torch.as_tensor(x).detach().clone()[None].requires_grad_(True)
        F, _, _ = self._forward(x, need_grad=True)
        Fk = self._kernel_features(F.cpu())
        c = int(self._targets(Fk.detach(), target)[0])
        f_i = torch.as_tensor(self.train_features_[index]).to(torch.float64)
        return x, Fk[0], c, f_i

    def sensitivity(self, x: torch.Tensor, index: int, target: int | None = None) -> torch.Tensor:
        """Gradient of training point ``index``'s contribution to ``target`` w.r.t. x.

        The plain sensitivity map of one representer point: d/dx [alpha_{index, c}
        k(x_index, x)], shaped like the single input ``x``.
        """
        x, f, c, f_i = self._contribution_graph(x, index, target)
        if self.method == "lje":
            theta_i = lje_point_weights(self.lje_, f_i[None], self._row_values[index][None])[0]
            contribution = f @ theta_i[:, c]
        else:
            contribution = self.alpha_[index, c] * (f @ f_i)
        (grad,) = torch.autograd.grad(contribution, x)
        return grad[0]

    def sensitivity_map(
        self,
        x: torch.Tensor,
        index: int,
        target: int | None = None,
        top: int = 5,
        samples: int = 100,
        noise: float = 0.1,
        seed: int = 0,
    ) -> torch.Tensor:
        """The paper's sensitivity map of one representer point (Sec. 4.3, SmoothGrad).

        d/dx of alpha_{index, c} sum_{j in S} f_index,j f_j(x), with S the ``top`` coordinates
        of f_index (*) f(x) at the clean x, averaged over ``samples`` copies of x with
        Gaussian noise of standard deviation ``noise`` x (max x - min x) (the authors: top 5,
        100 copies, noise 30 on a 0-255 scale). Not available for ``method="lje"``, whose
        contributions are not a feature-wise product.

        Parameters
        ----------
        x : one input, shaped as the model expects without the batch dimension
        index : the training point
        target : explained class; default the predicted one
        top : how many coordinates of f_index (*) f(x) to keep
        samples : noisy copies averaged (1 and noise=0: the plain gradient of the top terms)
        noise : noise level relative to the input's range
        seed : seed of the noise
        """
        if self.method == "lje":
            raise ParameterError("sensitivity_map decomposes f_i * f(x): method='l2' only")
        if top < 1 or samples < 1 or not noise >= 0:
            raise ParameterError("top and samples must be >= 1 and noise >= 0")
        x0 = torch.as_tensor(x).detach()
        _, f, c, f_i = self._contribution_graph(x0, index, target)
        coords = torch.topk((f.detach() * f_i), min(top, f_i.numel())).indices
        sigma = noise * float(x0.max() - x0.min())
        gen = torch.Generator().manual_seed(seed)
        total = torch.zeros_like(x0, dtype=torch.float64)
        for _ in range(samples):
            xs = x0 + sigma * torch.randn(x0.shape, generator=gen, dtype=x0.dtype)
            xs, fs, _, _ = self._contribution_graph(xs, index, c)
            value = self.alpha_[index, c] * (fs[coords] * f_i[coords]).sum()
            (grad,) = torch.autograd.grad(value, xs)
            total += grad[0].to(torch.float64)
        return total / samples
