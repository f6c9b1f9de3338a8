from __future__ import annotations

import pytest

from leanml.core import DatasetSpec, MetricSpec, RegistryError
from leanml.core import plugins as plugins_mod
from leanml.core.registry import Registry


def _metric(name: str) -> MetricSpec:
    return MetricSpec(name=name, summary="s", func=lambda a, b: 0.0)


def test_clash_names_both_plugins():
    reg: Registry[MetricSpec] = Registry(MetricSpec)
    reg.add(_metric("acc"), "alpha")
    with pytest.raises(
        RegistryError, match=r"'acc' is registered by both plugin 'alpha' and plugin 'beta'"
    ):
        reg.add(_metric("acc"), "beta")


def test_unknown_name_suggests_close_matches():
    reg: Registry[MetricSpec] = Registry(MetricSpec)
    reg.add(_metric("accuracy"), "core")
    with pytest.raises(RegistryError, match="did you mean accuracy"):
        reg.get("acuracy")


def test_plugin_fills_in_plugin_name_and_rejects_non_specs():
    reg: Registry[MetricSpec] = Registry(MetricSpec)
    reg.add(_metric("m"), "p")
    assert reg.get("m").plugin == "p"
    with pytest.raises(RegistryError, match="expected a MetricSpec"):
        reg.add("not a spec", "p")  # type: ignore[arg-type]


def test_broken_plugins_are_reported_and_others_keep_working(plugin_dir):
    imp = plugin_dir.module("lm_imp", "raise ImportError('needs torch_nonexistent')\n")
    hook = plugin_dir.module(
        "lm_hook",
        "from leanml.core import hookimpl, MetricSpec\n"
        "@hookimpl\n"
        "def register_metrics(register):\n"
        "    register(MetricSpec(name='half', summary='s', func=len))\n"
        "    raise RuntimeError('boom')\n",
    )
    loaded = plugins_mod.load_plugins([imp, hook])
    errors = {i.name: i.error for i in loaded.infos}
    assert errors["imp"] == "ImportError: needs torch_nonexistent"
    assert errors["hook"] == "RuntimeError: boom"
    assert errors["core"] is None
    assert "half" not in loaded.metrics  # a failing hook registers nothing
    assert "accuracy" in loaded.metrics and "digits" in loaded.datasets


def test_clash_between_plugins_is_an_error(plugin_dir):
    src = (
        "from leanml.core import hookimpl, MetricSpec\n"
        "@hookimpl\n"
        "def register_metrics(register):\n"
        "    register(MetricSpec(name='accuracy', summary='dup', func=len))\n"
    )
    loaded = plugins_mod.load_plugins([plugin_dir.module("lm_clash", src)])
    info = {i.name: i for i in loaded.infos}["clash"]
    assert info.status == "failed"
    assert "plugin 'core' and plugin 'clash'" in info.error
    assert loaded.metrics.get("accuracy").plugin == "core"


def test_dataset_spec_is_typed():
    spec = DatasetSpec(
        name="d", summary="s", loader=lambda: None, task="classification", source="x", licence="y"
    )
    assert spec.files == () and spec.plugin == ""
