"""zoo.save / zoo.load of local repo directories: the files written, strict loading that names
keys, bad input (corrupt or truncated safetensors, wrong shapes and dtypes, foreign config.json,
missing plugin), nothing half-written, and the generated model card."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

import zoo
from zoo.errors import ConfigError, PluginError, UnsafeCheckpointError, WeightsError
from zoo.repo_files import LoadReport, RepoConfig, load_weights, read_repo_config

WIDTH = [2, 3, 1]


@pytest.fixture
def model():
    torch.manual_seed(0)
    return zoo.create("kan", width=WIDTH, grid=4)


@pytest.fixture
def saved(model, tmp_path) -> Path:
    return zoo.save(model, tmp_path / "repo")


def _outputs(model) -> torch.Tensor:
    torch.manual_seed(1)
    with torch.no_grad():
        return model(torch.rand(8, WIDTH[0]) * 2 - 1)


def _rewrite_weights(repo: Path, change) -> None:
    tensors = load_file(repo / "model.safetensors")
    change(tensors)
    save_file(tensors, repo / "model.safetensors")


def test_round_trip_gives_the_same_model(model, saved):
    assert sorted(p.name for p in saved.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    loaded = zoo.load(saved)
    assert loaded.zoo_identity.architecture == "kan"
    assert loaded.zoo_identity.config == model.zoo_identity.config
    assert loaded.state_dict().keys() == model.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    assert torch.equal(_outputs(loaded), _outputs(model))


def test_saved_files_share_one_mode(saved):
    assert len({p.stat().st_mode for p in saved.iterdir()}) == 1


def test_config_json_names_architecture_config_plugin_distribution_and_version(model, saved):
    data = json.loads((saved / "config.json").read_text())
    assert data["format"] == "paperzoo" and data["format_version"] == 1
    assert data["architecture"] == "kan"
    assert data["config"] == model.zoo_identity.config.to_dict()
    assert data["plugin"] == "kan" and data["distribution"] == "paperzoo"
    assert data["zoo_version"] == zoo.__version__
    assert re.fullmatch(r"[0-9a-f]{64}", data["weights_sha256"])
    assert read_repo_config(saved / "config.json").architecture == "kan"


def test_save_replaces_a_previous_save_and_leaves_no_staging_folder(model, saved):
    torch.manual_seed(5)
    other = zoo.create("kan", width=WIDTH, grid=4)
    zoo.save(other, saved)
    assert torch.equal(_outputs(zoo.load(saved)), _outputs(other))
    assert [p.name for p in saved.parent.iterdir() if ".zoo-lock" not in p.name] == ["repo"]


def test_interrupted_save_leaves_the_previous_repo_intact(model, saved, monkeypatch):
    before = {p.name: p.read_bytes() for p in saved.iterdir()}
    torch.manual_seed(7)
    other = zoo.create("kan", width=WIDTH, grid=4)

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("zoo.cards.render_card", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        zoo.save(other, saved)
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before
    assert [p.name for p in saved.parent.iterdir() if ".zoo-lock" not in p.name] == ["repo"]  # staging gone


def test_interrupted_first_save_leaves_nothing(model, tmp_path, monkeypatch):
    monkeypatch.setattr("zoo.cards.render_card", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        zoo.save(model, tmp_path / "new")
    assert [p for p in tmp_path.iterdir() if ".zoo-lock" not in p.name] == []  # the lock stays (zoo.locks)


def test_strict_load_names_missing_unexpected_and_mismatched_keys(saved):
    keys = list(load_file(saved / "model.safetensors"))
    dropped, reshaped = keys[0], keys[1]

    def damage(t):
        del t[dropped]
        t["extra.weight"] = torch.zeros(2)
        t[reshaped] = torch.zeros(*t[reshaped].shape, 2)

    _rewrite_weights(saved, damage)
    with pytest.raises(WeightsError) as info:
        zoo.load(saved)
    message = str(info.value)
    assert f"1 missing: {dropped}" in message
    assert "1 unexpected: extra.weight" in message
    assert f"1 mismatched: {reshaped}: checkpoint" in message and "strict=False" in message


def test_non_strict_load_keeps_what_fits_and_reports_the_rest(saved):
    keys = list(load_file(saved / "model.safetensors"))
    _rewrite_weights(saved, lambda t: t.pop(keys[0]))
    model = zoo.load(saved, strict=False)
    reference = load_file(saved / "model.safetensors")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in reference.items())
    report = load_weights(model, saved / "model.safetensors", strict=False)
    assert report == LoadReport(missing=(keys[0],))


def test_wrong_dtype_of_one_tensor_is_a_mismatch(saved):
    key = next(k for k, v in load_file(saved / "model.safetensors").items() if v.is_floating_point())
    _rewrite_weights(saved, lambda t: t.__setitem__(key, t[key].to(torch.int32)))
    with pytest.raises(WeightsError, match=rf"mismatched: {re.escape(key)}: checkpoint torch.int32"):
        zoo.load(saved)


def test_half_precision_checkpoint_loads_as_a_half_precision_model(model, tmp_path):
    repo = zoo.save(model.half(), tmp_path / "half")
    loaded = zoo.load(repo)
    assert {t.dtype for t in loaded.state_dict().values() if t.is_floating_point()} == {torch.float16}
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


@pytest.mark.parametrize("cut", [0, 7, 100, -10])
def test_truncated_safetensors_is_refused(saved, cut):
    path = saved / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[:cut] if cut >= 0 else data[:cut])
    with pytest.raises(WeightsError, match="not a valid safetensors file"):
        zoo.load(saved)


def test_corrupt_header_is_refused(saved):
    path = saved / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[8:20] = b"not json at!"
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        zoo.load(saved)


def test_changed_weights_are_caught_with_verify(saved):
    _rewrite_weights(saved, lambda t: t.update({k: v + 1 for k, v in t.items() if v.is_floating_point()}))
    with pytest.raises(WeightsError, match="sha256 differs"):
        zoo.load(saved, verify=True)


@pytest.mark.parametrize("config, hint", [
    ({"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 768}, "transformers config"),
    ({"architecture": "resnet50", "num_classes": 1000, "pretrained_cfg": {}}, "timm config"),
    ({"_class_name": "UNet2DModel", "_diffusers_version": "0.30"}, "diffusers config"),
    ([1, 2, 3], "not written by PaperZoo"),
])
def test_config_json_from_another_library_is_refused(saved, config, hint):
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match=hint):
        zoo.load(saved)


def test_invalid_json_and_newer_format_are_refused(saved):
    data = json.loads((saved / "config.json").read_text())
    (saved / "config.json").write_text(json.dumps({**data, "format_version": 99}))
    with pytest.raises(WeightsError, match="format_version 99 .* upgrade paperzoo"):
        zoo.load(saved)
    (saved / "config.json").write_text("{not json")
    with pytest.raises(WeightsError, match="not valid JSON"):
        zoo.load(saved)


def test_missing_plugin_says_which_distribution_to_install(saved):
    data = json.loads((saved / "config.json").read_text())
    data.update(architecture="hypernet", plugin="hypernet", distribution="paperzoo-hypernet",
                distribution_version="2.1.0")
    (saved / "config.json").write_text(json.dumps(data))
    with pytest.raises(PluginError, match=r"pip install paperzoo-hypernet>=2\.1\.0"):
        zoo.load(saved)


def test_config_the_plugin_refuses_is_a_config_error(saved):
    data = json.loads((saved / "config.json").read_text())
    data["config"]["grid"] = -3
    (saved / "config.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"grid=-3"):
        zoo.load(saved)


def test_weights_file_name_in_config_must_be_safetensors(saved):
    data = json.loads((saved / "config.json").read_text())
    for name, error in (("pytorch_model.bin", UnsafeCheckpointError), ("../model.safetensors", WeightsError)):
        (saved / "config.json").write_text(json.dumps({**data, "weights_file": name}))
        with pytest.raises(error, match=re.escape(name)):
            zoo.load(saved)


def test_not_a_repo(tmp_path, saved):
    with pytest.raises(WeightsError, match="no directory"):
        zoo.load(tmp_path / "nowhere")
    with pytest.raises(WeightsError, match="has no config.json"):
        zoo.load(tmp_path)
    with pytest.raises(WeightsError, match="zoo.load_weights"):
        zoo.load(saved / "model.safetensors")
    (saved / "model.safetensors").unlink()
    with pytest.raises(WeightsError, match="model.safetensors is missing"):
        zoo.load(saved)


def test_only_zoo_models_can_be_saved(tmp_path):
    with pytest.raises(WeightsError, match="no zoo_identity"):
        zoo.save(torch.nn.Linear(2, 2), tmp_path / "x")


class _Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Linear(3, 3, bias=False)
        self.decoder = torch.nn.Linear(3, 3, bias=False)
        self.decoder.weight = self.encoder.weight


@pytest.mark.parametrize("fresh", [False, True])
def test_tied_weights_load_through_the_kept_name_and_stay_tied(tmp_path, fresh):
    from safetensors.torch import save_model

    from zoo.repo_files import _load_state, read_safetensors

    source, target = _Tied(), _Tied()
    save_model(source, str(tmp_path / "tied.safetensors"))
    assert len(load_file(tmp_path / "tied.safetensors")) == 1  # safetensors keeps one name per storage
    report = _load_state(target, read_safetensors(tmp_path / "tied.safetensors"), "tied", strict=True, fresh=fresh)
    assert report.ok
    assert torch.equal(target.decoder.weight, source.encoder.weight)
    assert target.decoder.weight is target.encoder.weight


def test_loaded_model_trains_in_place_and_leaves_the_file_alone(saved):
    before = (saved / "model.safetensors").read_bytes()
    model = zoo.load(saved)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    model(torch.rand(16, WIDTH[0])).pow(2).sum().backward()
    optimizer.step()
    assert any(not torch.equal(start[k], v) for k, v in model.state_dict().items())
    assert (saved / "model.safetensors").read_bytes() == before
    zoo.save(model, saved)  # overwriting the checkpoint the model was loaded from
    assert torch.equal(_outputs(zoo.load(saved)), _outputs(model))


# --- the model card ---------------------------------------------------------------------------------


def _front_matter(readme: str) -> dict:
    assert readme.startswith("---\n")
    return yaml.safe_load(readme[4:].split("\n---", 1)[0])


def test_card_has_front_matter_paper_citation_config_and_parameter_count(model, saved):
    card = (saved / "README.md").read_text()
    meta = _front_matter(card)
    assert meta["library_name"] == "paperzoo"
    assert "arxiv:2404.19756" in meta["tags"] and "kan" in meta["tags"]
    assert "KAN: Kolmogorov-Arnold Networks" in card
    assert "eprint = {2404.19756}" in card
    assert f"| parameters | {sum(p.numel() for p in model.parameters()):,} |" in card
    assert "| grid | `4` |" in card and "| width | `[2, 3, 1]` |" in card
    assert "pip install paperzoo" in card
    assert "No license was given" in card


def test_card_includes_a_training_run_metrics_and_curve(model, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    history = [{"epoch": 1.0, "train_loss": 0.5}, {"epoch": 2.0, "train_loss": 0.25}]
    (run / "metrics.json").write_text(json.dumps({
        "task": "toy/exp-sin", "architecture": "kan", "config": {}, "epochs": 2, "history": history,
        "final": {"test_rmse": 0.0421}}))
    png = b"\x89PNG\r\n\x1a\nfake"
    (run / "curves.png").write_bytes(png)
    repo = zoo.save(model, tmp_path / "repo", run=run, metrics={"test_r2": 0.9}, license="MIT",
                    repo_id="someone/kan-demo")
    card = (repo / "README.md").read_text()
    assert _front_matter(card)["license"] == "mit"  # the Hub's license id
    assert "released under `MIT`" in card
    assert "task `toy/exp-sin`, 2 epochs" in card
    assert "| test_rmse | 0.0421 |" in card and "| test_r2 | 0.9 |" in card
    assert "![training curve](curves.png)" in card
    assert 'zoo.load("hf-hub:someone/kan-demo")' in card
    assert (repo / "curves.png").read_bytes() == png
    saved_metrics = json.loads((repo / "metrics.json").read_text())
    assert saved_metrics["history"] == history and saved_metrics["final"]["test_r2"] == 0.9


def test_card_refuses_non_numeric_metrics(model, tmp_path):
    with pytest.raises(WeightsError, match="metric 'acc' must be a finite number"):
        zoo.save(model, tmp_path / "repo", metrics={"acc": float("nan")})
    assert not (tmp_path / "repo").exists()


def test_repo_config_round_trips_through_json(saved):
    repo = read_repo_config(saved / "config.json")
    again = tmp = saved / "again.json"
    tmp.write_text(repo.to_json())
    assert read_repo_config(again) == repo and isinstance(repo, RepoConfig)
