"""One process, 1 thread: representer (fit + top-10) vs Captum peers on digits CNNs.

    python benchmarks/peers_cnn.py if       # width-16 CNN (21.5k parameters) vs Arnoldi IF
    python benchmarks/peers_cnn.py tracin   # width-84 CNN (214k parameters) vs TracInCP(Fast)

Every digits test point gets its top-10 proponents; the representer time is the best of 3,
each peer's one run. Not collected by pytest (minutes).
"""

from __future__ import annotations

import sys
import time
import warnings

import torch
from torch import nn

from leanml.core import load_dataset
from leanml.representer import RepresenterExplainer
from leanml.representer.peers import influence_function_topk, tracin_topk


def digits_images():
    d = load_dataset("digits", seed=0)
    X = torch.as_tensor(d.X_train / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    Xt = torch.as_tensor(d.X_test / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    return X, torch.as_tensor(d.y_train), Xt


def train_cnn(width: int, X, y, epochs: int = 60, head_width: int = 32) -> nn.Sequential:
    """conv-conv-pool-fc(head_width)-fc(10); ``[7]`` is the feature ReLU, ``[8]`` the head."""
    torch.manual_seed(0)
    m = nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * width * 16, head_width),
        nn.ReLU(),
        nn.Linear(head_width, 10),
    )
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(epochs):
        opt.zero_grad()
        nn.functional.cross_entropy(m(X), y).backward()
        opt.step()
    return m


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(which: str) -> None:
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    X, y, Xt = digits_images()
    m = train_cnn(16 if which == "if" else 84, X, y)
    pred = m(Xt).argmax(1).detach()
    params = sum(p.numel() for p in m.parameters())
    rep = min(
        timed(lambda: RepresenterExplainer(m, m[7], m[8]).fit(X, y).explain(Xt, k=10))
        for _ in range(3)
    )
    print(f"CNN, {params} parameters: representer fit + explain {rep:.3f} s", flush=True)
    if which == "if":
        t = timed(lambda: influence_function_topk(m, X, y, Xt, pred, k=10, kind="arnoldi"))
        print(
            f"  Arnoldi IF (all layers, sample-wise, Captum defaults): {t:.2f} s = {t / rep:.0f}x"
        )
        return
    t = timed(lambda: tracin_topk(m, m[8], X, y, Xt, pred, k=10, fast=False, test_batch_size=64))
    print(f"  TracInCP sample-wise, test batches of 64: {t:.2f} s = {t / rep:.1f}x", flush=True)
    t = timed(lambda: tracin_topk(m, m[8], X, y, Xt, pred, k=10, fast=True))
    print(f"  TracInCPFast: {t:.3f} s = {t / rep:.2f}x")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tracin")
