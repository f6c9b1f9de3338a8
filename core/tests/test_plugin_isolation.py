"""Plugin isolation (all or nothing), pluggy semantics, selection, lazy references."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from leanml.core import DatasetSpec, MetricSpec, ModelSpec, RegistryError
from leanml.core import plugins as plugins_mod
from leanml.core.cli import cli
from leanml.core.lazy import resolve

HEADER = "from leanml.core import hookimpl, MetricSpec, DatasetSpec, ModelSpec\n"


def metric_plugin(name: str, *, extra: str = "") -> str:
    return (
        HEADER
        + textwrap.dedent(
            f"""
        @hookimpl
        def register_metrics(register):
            register(MetricSpec(name={name!r}, summary="s", func="numpy:mean"))
        """
        )
        + textwrap.dedent(extra)
    )


def info(loaded, name):
    return {i.name: i for i in loaded.infos}[name]


def test_a_plugin_whose_second_hook_raises_registers_nothing(plugin_dir):
    src = HEADER + textwrap.dedent(
        """
        @hookimpl
        def register_datasets(register):
            register(DatasetSpec(name="half-data", summary="s", loader="numpy:zeros",
                                 task="classification", source="s", licence="l"))

        @hookimpl
        def register_models(register):
            raise RuntimeError("model registry broke")
        """
    )
    loaded = plugins_mod.load_plugins([plugin_dir.module("lm_half", src)])
    assert info(loaded, "half").error == "RuntimeError: model registry broke"
    assert "half-data" not in loaded.datasets  # registered before the failure, rolled back
    assert "digits" in loaded.datasets


def test_clash_fails_the_later_plugin_and_the_cli_keeps_working(plugin_dir, monkeypatch):
    eps = [
        plugin_dir.module("lm_aaa", metric_plugin("shared-metric")),
        plugin_dir.module("lm_bbb", metric_plugin("shared-metric")),
        plugin_dir.module("lm_ccc", metric_plugin("own-metric")),
    ]
    loaded = plugins_mod.load_plugins(eps)
    assert info(loaded, "aaa").status == "ok"
    bbb = info(loaded, "bbb")
    assert bbb.status == "failed"
    assert "'shared-metric' is registered by both plugin 'aaa' and plugin 'bbb'" in bbb.error
    assert loaded.metrics.get("shared-metric").plugin == "aaa"
    assert "own-metric" in loaded.metrics
    monkeypatch.setitem(plugins_mod._CACHE, "plugins", loaded)
    for args in (["--help"], ["plugins"], ["metrics"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output


def test_the_same_name_twice_in_one_plugin_fails_it(plugin_dir):
    src = HEADER + textwrap.dedent(
        """
        @hookimpl
        def register_metrics(register):
            register(MetricSpec(name="twice", summary="s", func="numpy:mean"))
            register(MetricSpec(name="twice", summary="t", func="numpy:mean"))
        """
    )
    loaded = plugins_mod.load_plugins([plugin_dir.module("lm_twice", src)])
    assert "registered twice" in info(loaded, "twice").error
    assert "twice" not in loaded.metrics


def test_duplicate_entry_point_names_are_reported(plugin_dir):
    first = plugin_dir.module("lm_dup", metric_plugin("dup-one"))
    second = plugin_dir.module("lm_dup2", metric_plugin("dup-two"))
    second = plugins_mod.md.EntryPoint(name="dup", value=second.value, group="leanml")
    loaded = plugins_mod.load_plugins([first, second])
    dups = [i for i in loaded.infos if i.name == "dup"]
    assert len(dups) == 2 and dups[0].status == "ok"
    assert dups[1].status == "failed" and "'dup' is also provided" in dups[1].error
    assert "dup-two" not in loaded.metrics


COMMAND_PLUGIN = HEADER + textwrap.dedent(
    """
    import click

    @hookimpl
    def register_commands(cli):
        @cli.command({name!r})
        def cmd():
            "Plugin command."
            click.echo("from plugin {plugin}")
    """
)


def test_plugin_commands_cannot_replace_core_or_other_plugins(plugin_dir, monkeypatch):
    eps = [
        plugin_dir.module("lm_one", COMMAND_PLUGIN.format(name="hello", plugin="one")),
        plugin_dir.module("lm_two", COMMAND_PLUGIN.format(name="hello", plugin="two")),
        plugin_dir.module("lm_three", COMMAND_PLUGIN.format(name="run", plugin="three")),
    ]
    loaded = plugins_mod.load_plugins(eps)
    assert info(loaded, "one").registers["commands"] == ["hello"]
    assert "command 'hello' is registered by both plugin 'one'" in info(loaded, "two").error
    assert "'run' is a core command" in info(loaded, "three").error
    group = type(cli)(commands=dict(cli.commands), callback=cli.callback, params=cli.params)
    monkeypatch.setitem(plugins_mod._CACHE, "plugins", loaded)
    assert CliRunner().invoke(group, ["hello"]).output.strip() == "from plugin one"
    assert "Fit MODEL" in CliRunner().invoke(group, ["run", "--help"]).output


def test_hooks_go_through_pluggy(plugin_dir):
    """Wrappers, tryfirst/trylast and implementations taking fewer arguments all work."""
    src = HEADER + textwrap.dedent(
        """
        ORDER = []

        @hookimpl(specname="register_metrics", trylast=True)
        def last(register):
            ORDER.append("last")
            register(MetricSpec(name="m-last", summary="s", func="numpy:mean"))

        @hookimpl(specname="register_metrics", tryfirst=True)
        def first(register):
            ORDER.append("first")
            register(MetricSpec(name="m-first", summary="s", func="numpy:mean"))

        @hookimpl(specname="register_metrics", wrapper=True)
        def around(register):
            ORDER.append("wrap-before")
            result = yield
            ORDER.append("wrap-after")
            return result

        @hookimpl
        def register_models():
            ORDER.append("no-args")
        """
    )
    ep = plugin_dir.module("lm_pluggy", src)
    loaded = plugins_mod.load_plugins([ep])
    assert info(loaded, "pluggy").error is None
    assert ep.load().ORDER == ["no-args", "wrap-before", "first", "last", "wrap-after"]
    assert {"m-first", "m-last"} <= set(m.name for m in loaded.metrics)


def test_plugin_selection_by_environment(plugin_dir, monkeypatch):
    eps = [
        plugin_dir.module("lm_keep", metric_plugin("keep-metric")),
        plugin_dir.module("lm_drop", metric_plugin("drop-metric")),
    ]
    monkeypatch.setenv("LEANML_DISABLE_PLUGINS", "drop")
    loaded = plugins_mod.load_plugins(eps)
    assert info(loaded, "drop").status == "disabled" and "drop-metric" not in loaded.metrics
    assert "keep-metric" in loaded.metrics
    monkeypatch.delenv("LEANML_DISABLE_PLUGINS")
    monkeypatch.setenv("LEANML_PLUGINS", "drop")
    loaded = plugins_mod.load_plugins(eps)
    assert info(loaded, "keep").status == "disabled" and "keep-metric" not in loaded.metrics
    assert "drop-metric" in loaded.metrics and "accuracy" in loaded.metrics  # core always


def test_specs_are_lazy_until_used(plugin_dir):
    (plugin_dir.path / "lm_heavy_impl.py").write_text(
        "import numpy as np\n"
        "class Model:\n"
        "    def __init__(self, random_state=None):\n"
        "        self.random_state = random_state\n"
    )
    sys.modules.pop("lm_heavy_impl", None)
    src = HEADER + textwrap.dedent(
        """
        @hookimpl
        def register_models(register):
            register(ModelSpec(name="heavy", summary="s", factory="lm_heavy_impl:Model"))
        """
    )
    loaded = plugins_mod.load_plugins([plugin_dir.module("lm_lazy", src)])
    assert "lm_heavy_impl" not in sys.modules
    model = loaded.models.get("heavy").create(random_state=3)
    assert "lm_heavy_impl" in sys.modules and model.random_state == 3


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no_such_module_xyz:f", "cannot import 'no_such_module_xyz'"),
        ("numpy:no_such_attr", "has no attribute 'no_such_attr'"),
        ("numpy:pi", "is not callable"),
    ],
)
def test_bad_references_fail_on_use_with_a_clear_message(ref, message):
    spec = ModelSpec(name="m", summary="s", factory=ref)
    with pytest.raises(RegistryError, match=message):
        spec.create()


@pytest.mark.parametrize("name", ["Bad", "has space", "-lead", "a.b", "x/y", ""])
def test_invalid_names_are_refused(name):
    with pytest.raises(RegistryError, match="is invalid"):
        MetricSpec(name=name, summary="s", func="numpy:mean")


def test_malformed_references_are_refused_at_registration():
    with pytest.raises(RegistryError, match=r"must be a callable or .package\.module:attr."):
        DatasetSpec(
            name="d", summary="s", loader="not a ref", task="classification", source="", licence=""
        )
    assert resolve("os.path:join") is os.path.join


def test_importing_the_core_does_not_import_scipy_stats():
    code = "import sys, leanml.core, leanml.core.plugins; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
