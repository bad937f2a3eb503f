# SPDX-License-Identifier: MIT
"""Sealed manifests: every field edited after export is refused by name, and the golden model of
``sim`` is the model file's whenever one is given."""

import json
import re

import numpy as np
import pytest

from firstspike.cli import main
from firstspike.export.manifest import ExportError, check_model, export_network, load_export
from firstspike.export.seal import leaves, seal, seal_problems
from firstspike.model.network import Network


def _net(seed=0, sizes=(784, 7, 3), thresholds=(2, 1)):
    rng = np.random.default_rng(seed)
    weights = [np.where(rng.random((sizes[i + 1], sizes[i])) < 0.5, 1, -1).astype(np.int8)
               for i in range(len(sizes) - 1)]
    return Network(weights, list(thresholds), binary=True, encoding="s4nn", T=32,
                   meta={"origin": "the model file"})


@pytest.fixture
def export(tmp_path):
    """A model file and its export for lanes 4 (layer 0 in 2 groups, layer 1 fully parallel)."""
    net = _net()
    model = net.save(tmp_path / "model.npz")
    export_network(net, 4, tmp_path / "rom", source=str(model))
    return tmp_path / "rom", model, net


def _edit(folder, change):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=1))


def _refusal(folder) -> str:
    with pytest.raises(ExportError) as info:
        load_export(folder)
    message = str(info.value)
    assert "\n" not in message and "re-export with 'firstspike export --model" in message, message
    return message


def _changed(value):
    """A different value of the same JSON type."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    return 0 if value is None else [value]


def _keys(path):
    """``a.b[2].c`` -> ``["a", "b", 2, "c"]``."""
    return [int(part) if part.isdigit() else part for part in re.findall(r"[^.\[\]]+", path)]


def _get(manifest, path):
    for key in _keys(path):
        manifest = manifest[key]
    return manifest


def _set(manifest, path, value):
    """Set the leaf ``a.b[2].c`` of ``manifest``."""
    *parents, last = _keys(path)
    _get(manifest, ".".join(map(str, parents)))[last] = value


def test_an_untouched_or_reformatted_manifest_passes(export):
    folder, _, net = export
    assert load_export(folder).plan.thresholds == [2, 1]
    # key order and indentation are not edits: the seal is over the values
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(dict(reversed(list(manifest.items())))))
    assert load_export(folder).network.thresholds == net.thresholds


def test_every_sealed_field_edited_alone_is_named_and_only_it(export):
    folder, _, _ = export
    manifest = json.loads((folder / "manifest.json").read_text())
    body = {key: value for key, value in manifest.items() if key != "seal"}
    paths = list(leaves(body))
    # the fields that define the network are among the sealed leaves
    assert {"T", "encoding", "rule", "lanes[0]", "sizes[1]", "thresholds[1]", "layers[1].threshold",
            "layers[0].accumulator_bits", "layers[1].counter_bits", "layers[0].inputs",
            "layers[0].files.bin.sha256", "layers[1].files.hex.name", "source_model"} <= set(paths)
    for path in paths:
        edited = json.loads(json.dumps(manifest))
        _set(edited, path, _changed(_get(edited, path)))
        assert seal_problems(edited) == [f"field {path} does not match its seal"], path


@pytest.mark.parametrize("path, value", [
    ("layers[1].threshold", 9), ("thresholds[0]", 5), ("T", 64), ("encoding", "bs4nn"),
    ("rule", "reference"), ("lanes[0]", 7), ("layers[0].lanes", 7), ("layers[0].accumulator_bits", 9),
    ("counter_bits[1]", 1), ("sizes[1]", 8), ("layers[0].outputs", 8), ("layers[0].neurons", 8),
    ("layers[1].files.init.sha256", "0" * 64)])
def test_load_export_refuses_an_edited_field_by_name(export, path, value):
    folder, _, _ = export
    _edit(folder, lambda m: _set(m, path, value))
    message = _refusal(folder)
    assert f"manifest.json was edited after export: field {path} does not match its seal;" in message


def test_a_threshold_edited_consistently_everywhere_is_refused(export):
    """The failure on main: layer 1's threshold changed in its entry and in the list (the counter
    width fits both), accepted because the golden model was rebuilt from the same edited file."""
    folder, _, _ = export

    def lower(m):
        m["layers"][1]["threshold"] = m["thresholds"][1] = 0

    _edit(folder, lower)
    message = _refusal(folder)
    assert "field layers[1].threshold does not match its seal" in message
    assert "field thresholds[1] does not match its seal" in message


def test_missing_added_and_changed_rom_files_are_named(export):
    folder, _, _ = export
    good = (folder / "manifest.json").read_text()
    _edit(folder, lambda m: m.pop("layers"))
    assert "field layers is missing (it was sealed)" in _refusal(folder)
    (folder / "manifest.json").write_text(good)
    _edit(folder, lambda m: m.update(extra={"a": 1}))
    assert "field extra was added after export" in _refusal(folder)
    (folder / "manifest.json").write_text(good)
    raw = bytearray((folder / "layer1.bin").read_bytes())
    raw[0] ^= 1
    (folder / "layer1.bin").write_bytes(bytes(raw))
    message = _refusal(folder)
    assert "layer1.bin does not match its SHA-256" in message and "layers[1].files.bin.sha256" in message


def test_a_forged_digest_or_a_removed_seal_is_refused(export):
    folder, _, _ = export
    good = (folder / "manifest.json").read_text()
    _edit(folder, lambda m: m["seal"].update(digest="0" * 64))
    assert "the seal itself was edited" in _refusal(folder)
    (folder / "manifest.json").write_text(good)
    _edit(folder, lambda m: m.pop("seal"))
    assert "the seal is missing or malformed" in _refusal(folder)


def test_unsealed_version_3_and_malformed_manifests_are_one_line_errors(export):
    folder, model, _ = export
    good = (folder / "manifest.json").read_text()

    def as_version_3(m):
        m.pop("seal")
        m["version"] = 3

    _edit(folder, as_version_3)
    message = _refusal(folder)
    assert "version 3 has no seal" in message
    assert f"re-export with 'firstspike export --model {model} --lanes 4 3 --out {folder}'" in message
    for text in ("[1, 2]", "{not json"):
        (folder / "manifest.json").write_text(text)
        with pytest.raises(ExportError, match=r"re-export") as info:
            load_export(folder)
        assert "\n" not in str(info.value)
    (folder / "manifest.json").write_text(good)
    assert load_export(folder).lanes == [4, 3]


def test_check_model_names_the_fields_an_other_model_differs_in(export):
    folder, _, net = export
    exported = load_export(folder)
    check_model(exported, net, "model.npz")  # the model it came from
    with pytest.raises(ExportError, match=re.escape("layers[1].threshold 1 vs 4")):
        check_model(exported, net.with_threshold(1, 4), "other.npz")
    flipped = [w.copy() for w in net.weights]
    flipped[0][5, 3] *= -1  # neuron 5 sits in lane group 1 of input 3: word 3 * 2 + 1
    with pytest.raises(ExportError, match=re.escape("layers[0].rom (weights): 1 of 1568 words differ")):
        check_model(exported, Network(flipped, net.thresholds, binary=True, encoding="s4nn", T=32),
                    "flipped.npz")
    with pytest.raises(ExportError, match=re.escape("T 32 vs 40")):
        check_model(exported, Network(net.weights, net.thresholds, binary=True, encoding="s4nn", T=40),
                    "t40.npz")


def _fake_simulation(calls):
    def simulate(plan, images, golden=None, **kwargs):
        calls.append((plan, golden))
        return {"arch": plan.arch, "lanes": plan.lanes, "images": len(images), "mismatches": 0,
                "first_mismatch": None, "cycles_mean": 1.0, "cycles_max": 1, "bound_mean": 1.0,
                "cycles_over_bound": 1.0, "sim_seconds": 1.0, "images_per_second": 1.0, "waves": None,
                "classes": [0] * len(images)}
    return simulate


def test_sim_says_which_golden_model_it_uses(export, monkeypatch, capsys):
    import firstspike.sim.cli as sim_cli

    folder, model, net = export
    calls = []
    monkeypatch.setattr(sim_cli, "simulate_dataset", _fake_simulation(calls))
    common = ["sim", "--dataset", "mnist-mini", "--limit", "3", "--manifest", str(folder)]
    digest = json.loads((folder / "manifest.json").read_text())["seal"]["digest"]
    assert main(common) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"golden model: rebuilt from the sealed manifest of {folder}")
    assert f"seal sha256 {digest[:16]}" in first and "add --model" in first
    golden = calls[-1][1]  # the network of the export's ROMs: no training metadata
    assert golden.meta == {} and all((a == b).all() for a, b in zip(golden.kernels, net.kernels))

    assert main(common + ["--model", str(model)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"golden model: {model}; {folder} matches it field by field (seal sha256 {digest[:16]})"
    assert calls[-1][1].meta == {"origin": "the model file"}

    assert main(common + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)["golden_model"].startswith("golden model: rebuilt from")


def test_sim_rtl_and_build_refuse_before_any_long_work(export, monkeypatch, capsys, tmp_path):
    import firstspike.boards.build as board_build
    import firstspike.sim.cli as sim_cli

    folder, model, net = export
    calls = []
    monkeypatch.setattr(sim_cli, "simulate_dataset", _fake_simulation(calls))
    monkeypatch.setattr(board_build, "build", lambda *a, **k: calls.append("build"))
    other = net.with_threshold(1, 4).save(tmp_path / "other.npz")
    assert main(["sim", "--manifest", str(folder), "--model", str(other), "--dataset", "mnist-mini"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{folder} was not exported from {other}: layers[1].threshold 1 vs 4" in err

    _edit(folder, lambda m: _set(m, "layers[1].threshold", 4))
    for argv in (["sim", "--manifest", str(folder), "--dataset", "mnist-mini"],
                 ["sim", "--manifest", str(folder), "--model", str(model), "--dataset", "mnist-mini"],
                 ["rtl", "--manifest", str(folder), "--out", str(tmp_path / "core.v")],
                 ["build", "--board", "icebreaker", "--manifest", str(folder), "--out", str(tmp_path / "b")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "field layers[1].threshold does not match its seal" in err, argv
    assert calls == [] and not (tmp_path / "core.v").exists()


def test_rtl_takes_an_export_and_the_model_it_came_from(export, tmp_path, capsys):
    folder, model, _ = export
    out = tmp_path / "core.v"
    assert main(["rtl", "--manifest", str(folder), "--model", str(model), "--out", str(out)]) == 0
    assert "module firstspike_core(" in out.read_text()
    assert main(["rtl", "--out", str(out)]) == 2
    assert "give --manifest DIR (an export folder) or --model PATH" in capsys.readouterr().err


def test_flow_simulates_against_the_trained_model_and_refuses_an_export_of_another(export, monkeypatch):
    import firstspike.sim.cli as sim_cli
    from firstspike import flow

    folder, model, net = export
    calls = []
    monkeypatch.setattr(sim_cli, "simulate_dataset", _fake_simulation(calls))
    ctx = {"out": folder.parent, "export": folder, "model": model, "seed": 0, "sim_images": 2}
    flow.stage_simulate(ctx)
    assert calls[-1][1].meta == {"origin": "the model file"} and ctx["plan"] == load_export(folder).plan
    ctx["model"] = net.with_threshold(0, 3).save(folder.parent / "other.npz")
    with pytest.raises(ExportError, match=re.escape("layers[0].threshold 2 vs 3")):
        flow.stage_simulate(ctx)
    assert len(calls) == 1
