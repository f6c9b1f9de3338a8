"""Fidelity of the default settings on a confident digits CNN (21.5k parameters), l2 and lje.

python benchmarks/fidelity_cnn.py
"""

from __future__ import annotations

import time
import warnings

import torch
from peers_cnn import digits_images, train_cnn

from leanml.core import load_dataset
from leanml.representer import RepresenterExplainer


def main() -> None:
    torch.set_num_threads(1)
    X, y, Xt = digits_images()
    yt = torch.as_tensor(load_dataset("digits", seed=0).y_test)
    cnn = train_cnn(16, X, y, epochs=150)
    with torch.no_grad():
        accuracy = float((cnn(Xt).argmax(1) == yt).float().mean())
    print(f"{sum(p.numel() for p in cnn.parameters())} parameters, test accuracy {accuracy:.3f}")
    for method in ("l2", "lje"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = time.perf_counter()
            ex = RepresenterExplainer(cnn, cnn[7], cnn[8], method=method).fit(X, y)
            ex.explain(Xt, k=10)
            seconds = time.perf_counter() - t0
        print(
            f"{method}: lambda {ex.lmbda_:g}, training {ex.fidelity_}, held-out "
            f"{ex.fidelity(Xt)}, fit + explain {seconds:.3f} s, {len(caught)} warnings"
        )


if __name__ == "__main__":
    main()
