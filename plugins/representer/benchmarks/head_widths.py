"""One process, 1 thread: representer (fit + top-10) against Captum's TracInCPFast by head width.

    python benchmarks/head_widths.py            # widths 32 64 128 256 512, MLP and CNN
    python benchmarks/head_widths.py 32 512     # chosen widths

The head width is the number of features the last layer reads (d; the head has (d + 1) x 10
parameters). Two models per width, trained on digits: the MLP of ``train_mlp`` (64 -> d ->
10, standardised pixels), whose forward pass is nearly free, and the width-16 CNN of
``peers_cnn.py`` with a d-unit fully connected layer before the head. Every digits test
point gets its top-10 proponents. Representer with every default (``lmbda="auto"``) and at
the lambda "auto" chose (the fit without the path), TracInCPFast with Captum's defaults for
the last layer; each timing the best of 3, interleaved. Not collected by pytest (minutes).
"""

from __future__ import annotations

import sys
import warnings

import torch
from peers_cnn import digits_images, train_cnn

from leanml.core.testing import best_of
from leanml.representer import RepresenterExplainer
from leanml.representer.cli import _scaled
from leanml.representer.models import train_mlp
from leanml.representer.peers import tracin_topk


def mlp(width: int):
    d, Xtr, Xte = _scaled("digits", 0)  # as `leanml representer bench` does
    model = train_mlp(Xtr, d.y_train, Xte, d.y_test, n_hidden=width, seed=0).model
    X, Xt = (torch.as_tensor(a, dtype=torch.float32) for a in (Xtr, Xte))
    return model, model.features, model.head, X, torch.as_tensor(d.y_train), Xt


def cnn(width: int):
    X, y, Xt = digits_images()
    model = train_cnn(16, X, y, head_width=width)
    return model, model[7], model[8], X, y, Xt


def measure(model, feat, head, X, y, Xt) -> tuple[float, float, float, float]:
    """(lambda "auto" chose, auto s, fixed-lambda s, TracInCPFast s), 3 interleaved rounds."""
    pred = model(Xt).argmax(1).detach()
    chosen = RepresenterExplainer(model, feat, head).fit(X, y).lmbda_
    runs = {
        "auto": lambda: RepresenterExplainer(model, feat, head).fit(X, y).explain(Xt, k=10),
        "fixed": lambda: (
            RepresenterExplainer(model, feat, head, lmbda=chosen).fit(X, y).explain(Xt, k=10)
        ),
        "peer": lambda: tracin_topk(model, head, X, y, Xt, pred, k=10, fast=True),
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(3):
        for name, fn in runs.items():
            best[name] = min(best[name], best_of(fn, 1)[0])
    return chosen, best["auto"], best["fixed"], best["peer"]


def main(widths: list[int]) -> None:
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    print(
        "model, width, lambda, representer auto s, at chosen lambda s, TracInCPFast s, "
        "auto / TracInCPFast, fixed / TracInCPFast, load",
        flush=True,
    )
    for name, build in (("MLP", mlp), ("CNN", cnn)):
        for width in widths:
            chosen, auto, fixed, peer = measure(*build(width))
            load = open("/proc/loadavg").read().split()[0]
            print(
                f"{name}, {width}, {chosen:g}, {auto:.4f}, {fixed:.4f}, {peer:.4f}, "
                f"{auto / peer:.2f}, {fixed / peer:.2f}, {load}",
                flush=True,
            )


if __name__ == "__main__":
    main([int(w) for w in sys.argv[1:]] or [32, 64, 128, 256, 512])
