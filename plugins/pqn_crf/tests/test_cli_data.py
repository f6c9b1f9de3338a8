"""CLI commands end to end, data loaders, IOB metrics, plugin registration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from leanml.core.cli import cli
from leanml.core.plugins import get_plugins
from leanml.pqn_crf.datasets import hmm_sequences, load_ner, load_ocr
from leanml.pqn_crf.metrics import entity_f1, iob_entities, token_accuracy


@pytest.fixture
def conll(tmp_path):
    """A small IOB CoNLL file from the Japanese NER corpus (first 80 sentences)."""
    data = load_ner(features=False)
    lines = []
    for sent, tags in zip(data.X_train[:80], data.y_train[:80], strict=True):
        lines += [f"{tok[0]} {tok[1]} {tag}" for tok, tag in zip(sent, tags, strict=True)]
        lines.append("")
    path = tmp_path / "ner.conll"
    path.write_text("\n".join(lines))
    return path


def invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_train_tag_eval_on_conll(conll, tmp_path):
    model = tmp_path / "m.pkl"
    res = invoke(
        "--quiet", "pqn-crf", "train", "-d", str(conll), "--model", str(model), "--c1", "0.5"
    )
    assert res.exit_code == 0, res.output
    assert "evaluations" in res.output and model.is_file()
    res = invoke("pqn-crf", "eval", "--model", str(model), "-d", str(conll))
    assert res.exit_code == 0, res.output
    assert "entity f1" in res.output
    out = tmp_path / "tagged.conll"
    res = invoke("pqn-crf", "tag", "--model", str(model), str(conll), "--labelled", "-o", str(out))
    assert res.exit_code == 0, res.output
    tagged = [ln.split("\t") for ln in out.read_text().splitlines() if ln]
    gold = [ln.split() for ln in conll.read_text().splitlines() if ln]
    assert len(tagged) == len(gold)
    acc = np.mean([t[-1] == g[-1] for t, g in zip(tagged, gold, strict=True)])
    assert acc > 0.9  # training data


def test_trace_prints_gaps_and_writes_record(tmp_path):
    res = invoke(
        "--quiet", "--out", str(tmp_path), "pqn-crf", "trace", "-d", "hmm-synth",
        "--solvers", "prox-qn,owl-qn,crfsuite", "--max-evals", "40", "--max-train", "60",
        "--plot", str(tmp_path / "t.png"),
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "pqn-crf-trace.json").read_text())
    assert [r["solver"] for r in record["rows"]] == ["prox-qn", "owl-qn", "crfsuite"]
    assert all(r["evals@0.01"] is not None for r in record["rows"])
    assert (tmp_path / "t.png").is_file()


def test_cli_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.conll"
    bad.write_text("a B\nb\n")
    res = CliRunner().invoke(cli, ["pqn-crf", "train", "-d", str(bad), "--model", "x.pkl"])
    assert res.exit_code == 2 and "expected 2 columns" in res.output
    res = CliRunner().invoke(cli, ["pqn-crf", "train", "-d", "digits", "--model", "x.pkl"])
    assert res.exit_code == 2 and "not sequence labelling" in res.output
    junk = tmp_path / "junk.pkl"
    junk.write_bytes(b"nope")
    res = CliRunner().invoke(cli, ["pqn-crf", "eval", "--model", str(junk), "-d", str(bad)])
    assert res.exit_code == 2 and "not a model file" in res.output
    res = CliRunner().invoke(cli, ["pqn-crf", "train", "-d", "hmm-synth", "--model", "x.pkl",
                                   "--c1", "-1"])  # fmt: skip
    assert res.exit_code == 2 and "c1" in res.output


def test_plugin_registers_everything():
    plugins = get_plugins()
    for name in ("pqn-crf", "peer-crfsuite", "pqn-hier", "pqn-l1-logreg"):
        assert plugins.models.get(name).plugin == "pqn_crf"
    for name in ("ocr-letters", "ner-ja", "hmm-synth", "digits-tree"):
        assert plugins.datasets.get(name).plugin == "pqn_crf"
    assert plugins.solvers.get("prox-qn").problem == "l1-composite"
    assert plugins.demos.get("pqn-crf")


@pytest.mark.parametrize(
    ("model", "args", "min_accuracy"),
    [
        # the chain CRF on a subsample of the HMM sequences
        ("pqn-crf", ["-d", "hmm-synth", "-p", "c1=1.0", "--max-train", "80"], 0.7),
        # the taxonomy CRF with the tree named on the command line
        ("pqn-hier", ["-d", "digits-tree", "-p", "taxonomy=digits", "-p", "lam=2.0"], 0.9),
    ],
)
def test_leanml_run_with_registered_model(tmp_path, model, args, min_accuracy):
    res = invoke("--quiet", "--out", str(tmp_path), "run", model, *args)
    assert res.exit_code == 0, res.output
    (record,) = tmp_path.glob(f"run-{model}-*.json")
    assert json.loads(record.read_text())["metrics"]["accuracy"] > min_accuracy


def test_ocr_loader():
    data = load_ocr(test_folds=(0,))
    assert data.n_train + data.n_test == 6877
    assert sum(len(x) for x in data.X_train + data.X_test) == 52152
    assert data.X_train[0].shape[1] == 129 and np.all(data.X_train[0][:, -1] == 1.0)
    labels = np.unique(np.concatenate(data.y_train))
    assert labels.size == 26 and labels[0] == "a"
    assert set(np.unique(data.X_train[0][:, :128])) <= {0.0, 1.0}


def test_ner_loader_and_hmm_generator():
    data = load_ner()
    n_tokens = sum(len(s) for s in data.X_train + data.X_test)
    assert data.n_train + data.n_test == 500 and n_tokens == 15520
    tags = set(np.concatenate(data.y_train))
    assert "O" in tags and any(t.startswith("B-") for t in tags)
    X1, Y1 = hmm_sequences(n_seq=10, seed=4)
    X2, Y2 = hmm_sequences(n_seq=10, seed=4)
    assert X1 == X2 and all((a == b).all() for a, b in zip(Y1, Y2, strict=True))


def test_iob_metrics():
    assert iob_entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == {
        ("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("ORG", 5, 6),
    }  # fmt: skip
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "I-PER", "O", "O"]]
    scores = entity_f1(gold, pred)
    assert scores["precision"] == 1.0 and scores["recall"] == 0.5
    assert scores["f1"] == pytest.approx(2 / 3)
    assert token_accuracy(gold, pred) == 0.75
    with pytest.raises(ValueError, match="gold labels"):
        token_accuracy(gold, [["O"]])
