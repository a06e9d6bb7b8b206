"""The zoo's GPU check script: without CUDA it records the skip and exits 0; on the CPU its checks
run and record per-model results; a failing part is recorded with its reason and exits 1."""

from __future__ import annotations

import json

import torch

from benchmarks import gpu_check


def test_without_cuda_it_records_the_skip(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--device", "cuda", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert "no CUDA device" in record["skipped"] and "models" not in record


def test_on_the_cpu_every_part_runs_and_is_recorded(tmp_path):
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--device", "cpu", "--models", "fan", "--steps", "1", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    parts = record["models"]["fan"]
    assert set(parts) == {"fp32 forward vs cpu", "bf16 forward+backward", "train fp32", "train bf16"}
    assert all(part["ok"] for part in parts.values()), parts
    assert parts["fp32 forward vs cpu"]["max_relative_difference_to_cpu"] == 0.0  # same device, same maths
    assert parts["train fp32"]["task"] == "periodic/sin" and record["failures"] == []


def test_a_failing_part_is_recorded_and_fails_the_run(monkeypatch, tmp_path):
    import zoo

    def broken_train(*args, **kwargs):
        raise RuntimeError("planted failure")

    monkeypatch.setattr(zoo, "train", broken_train)
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--device", "cpu", "--models", "fan", "--steps", "1", "--out", str(out)]) == 1
    record = json.loads(out.read_text())
    assert record["models"]["fan"]["train fp32"] == {"ok": False, "error": "RuntimeError: planted failure",
                                                    "seconds": record["models"]["fan"]["train fp32"]["seconds"]}
    assert record["models"]["fan"]["fp32 forward vs cpu"]["ok"]
    assert any("planted failure" in line for line in record["failures"])
