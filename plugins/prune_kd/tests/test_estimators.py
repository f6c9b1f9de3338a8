from __future__ import annotations

import numpy as np
import pytest

from leanml.core import Dataset, InputError, ParameterError, get_plugins
from leanml.core.testing import check_model
from leanml.prune_kd.estimators import PrunedBertClassifier

WORDS = {
    "space": "orbit rocket moon launch nasa shuttle planet",
    "hockey": "puck goal ice team season playoff skate",
    "med": "doctor patient disease drug treatment clinic pain",
}


def toy_texts(n, seed):
    rng = np.random.default_rng(seed)
    labels = np.array(list(WORDS))[np.arange(n) % 3]
    common = "the a of and to in is it".split()
    texts = []
    for c in labels:
        words = list(rng.choice(WORDS[c].split(), 4)) + list(rng.choice(common, 4))
        texts.append(" ".join(rng.permutation(words)))
    return texts, labels


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory):
    """A tiny masked-LM BERT + WordPiece tokenizer saved like `prune-kd pretrain` does."""
    import torch
    from transformers import BertForMaskedLM

    from leanml.prune_kd.models import tiny_bert_config
    from leanml.prune_kd.pretrain import train_wordpiece

    texts, _ = toy_texts(60, 0)
    tok = train_wordpiece(texts * 3, vocab_size=80, min_frequency=1, max_length=16)
    torch.manual_seed(0)
    model = BertForMaskedLM(tiny_bert_config(len(tok), 32, 2, 4, 16))
    path = tmp_path_factory.mktemp("base")
    model.save_pretrained(str(path))
    tok.save_pretrained(str(path))
    return str(path)


def _params(base_dir):
    return {
        "base": base_dir,
        "max_length": 16,
        "epochs": 2,
        "teacher_epochs": 3,
        "batch_size": 8,
        "lr": 2e-3,
        "teacher_lr": 2e-3,
        "n_updates": 2,
    }


@pytest.fixture(scope="session")
def text_data():
    x_tr, y_tr = toy_texts(48, 1)
    x_te, y_te = toy_texts(24, 2)
    return Dataset("toy-texts", x_tr, y_tr, x_te, y_te, source="generated", licence="-")


@pytest.mark.parametrize(
    "name", ["sparsebert", "magnitude", "torch-prune", "small-dense", "dense", "spd"]
)
def test_registered_models_conform(name, base_dir, text_data):
    spec = get_plugins().models.get(name)
    assert spec.inputs == ("texts",)
    check_model(spec, text_data, _params(base_dir))


def test_sparsebert_estimator_learns_and_is_sparse(base_dir, text_data):
    clf = PrunedBertClassifier("sparsebert", sparsity=0.5, **_params(base_dir))
    clf.set_params(epochs=6, teacher_epochs=8)
    clf.fit(text_data.X_train, text_data.y_train)
    acc = float(np.mean(clf.predict(text_data.X_test) == text_data.y_test))
    assert acc > 0.6
    proba = clf.predict_proba(text_data.X_test)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert clf.sparsity_["encoder_linear_sparsity"] == pytest.approx(0.5, abs=1e-3)
    assert set(clf.classes_) == set(WORDS)


def test_estimator_bad_inputs(base_dir):
    clf = PrunedBertClassifier(**_params(base_dir))
    with pytest.raises(InputError):
        clf.fit([], [])
    with pytest.raises(InputError):
        clf.fit(["a", 3], [0, 1])
    with pytest.raises(InputError):
        clf.fit("just one string", [0])
    with pytest.raises(InputError, match="two classes"):
        clf.fit(["a b", "c d"], [1, 1])
    with pytest.raises(InputError, match="not fitted"):
        clf.predict(["a"])
    with pytest.raises(ParameterError, match="sparsity"):
        PrunedBertClassifier(sparsity=1.0, **{**_params(base_dir)}).fit(["a", "b"], [0, 1])
    with pytest.raises(ParameterError, match="unknown method"):
        PrunedBertClassifier(method="nope").fit(["a", "b"], [0, 1])
    with pytest.raises(ParameterError):
        clf.set_params(nope=1)
