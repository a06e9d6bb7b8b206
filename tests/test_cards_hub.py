"""Model cards as the Hub reads them: every card the zoo writes (fresh saves and the shipped
catalog weights) parses with huggingface_hub, and its `model-index` eval results, datasets and
pipeline tag round-trip the run's final metrics and task."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard, metadata_load

import zoo
from zoo.cards import pipeline_tag

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (ROOT / "plugins").glob("*/weights/*") if (p / "README.md").is_file())


def _finite_final(metrics_file: Path) -> dict:
    final = json.loads(metrics_file.read_text())["final"]
    return {k: v for k, v in final.items() if isinstance(v, (int, float)) and math.isfinite(v)}


def _results(card_path: Path) -> dict:
    card = ModelCard.load(card_path)
    return {result.metric_name: result.metric_value for result in card.data.eval_results or []}


def test_a_trained_model_card_carries_its_results(tmp_path):
    torch.manual_seed(0)
    model = zoo.create("kan", width=[2, 3, 1])
    zoo.train(model, "toy/exp-sin", epochs=1, out_dir=tmp_path / "run", progress=False)
    card = ModelCard.load(tmp_path / "run" / "README.md")
    assert card.data.library_name == "paperzoo" and "arxiv:2404.19756" in card.data.tags
    assert card.data.datasets == ["toy/exp-sin"] and card.data.pipeline_tag == "tabular-regression"
    assert _results(tmp_path / "run" / "README.md") == _finite_final(tmp_path / "run" / "metrics.json")
    splits = {(r.metric_name, r.dataset_split, r.metric_type) for r in card.data.eval_results}
    assert ("test_rmse", "test", "rmse") in splits and ("train_loss", "train", "loss") in splits


def test_a_card_without_a_run_has_no_results(tmp_path):
    zoo.save(zoo.create("kan", width=[2, 3, 1]), tmp_path / "bare")
    meta = metadata_load(tmp_path / "bare" / "README.md")
    assert "model-index" not in meta and meta["library_name"] == "paperzoo"


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_shipped_cards_parse_and_round_trip_their_metrics(folder):
    results = _results(folder / "README.md")
    metrics = folder / "metrics.json"
    if metrics.is_file() and json.loads(metrics.read_text()).get("task"):
        assert results == _finite_final(metrics)
    else:
        assert results == {}


def test_pipeline_tags_follow_the_family_and_task_kind():
    assert pipeline_tag("image classification", "classification") == "image-classification"
    assert pipeline_tag("tabular", "classification") == "tabular-classification"
    assert pipeline_tag("tabular", "regression") == "tabular-regression"
    assert pipeline_tag("generative/density", "generation") is None
