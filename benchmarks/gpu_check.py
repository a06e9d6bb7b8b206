"""The zoo's GPU check, in one call: every catalog model's forward, backward and a short zoo.train on
the device in fp32 and bf16; the KAN kernels against the CPU oracle; the KAN speed table; one JSON
record of all of it.

    python -m benchmarks.gpu_check [--device cuda] [--models kan,fan] [--out FILE]

Per model: built on the CPU under seed 0 (its default config), the fp32 forward on the device is
compared with the CPU's (largest difference relative to the output's scale); forward + backward
under bf16 autocast must give finite outputs and gradients; then a model sized for its first
catalog task trains for a few steps through zoo.train with device= and precision= fp32 and bf16,
and its loss must stay finite. A failure is recorded with its reason and the check moves on.

FSDP (on CUDA, when every model is checked): zoo.train launched with Accelerate's FSDP2
environment on one process per GPU (at most 2) must wrap the model, save what zoo.load reads, and end
with the unsharded run's metrics.

KAN: the Triton kernels' basis and input gradient on the device against the Cox-de Boor oracle
(float64, on the CPU), on uniform and adapted grids; then the KAN speed record's training step
(KAN [64, 128, 128, 10], grid 5, order 3, against the MLP of equal parameter count) at batch 256
and 4096, the KAN with its Triton kernels and with the tensor-op path (PAPERZOO_KAN_TRITON=0),
medians of interleaved rounds.

Without CUDA, `--device cuda` writes a record saying so and exits 0. `--device cpu` runs the same
checks on the CPU (the test suite checks the script that way); the kernel check then needs the
device and is left out. Exit status 1 when any check failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

import torch

from benchmarks import RESULTS

DEFAULT_OUT = RESULTS / "core" / "gpu-check.json"


def _to(value, device):
    if torch.is_tensor(value):
        return value.to(device)
    if isinstance(value, (tuple, list)):
        return type(value)(_to(v, device) for v in value)
    return value


def _float_outputs(output) -> list[torch.Tensor]:
    from zoo.testing import tensors_in

    return [t for t in tensors_in(output) if t.is_floating_point()]


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"


def check_model(name: str, device: str, steps: int) -> dict:
    """forward (against the CPU), bf16 forward + backward, and short zoo.train runs of one model."""
    import zoo
    from zoo.registry import default_registry

    registry = default_registry()
    spec, entry = registry.model_spec(name), registry.info(name)
    result: dict = {}

    def attempt(label, fn):
        start = time.perf_counter()
        try:
            result[label] = {"ok": True, **(fn() or {})}
        except Exception as exc:  # recorded, and the check goes on to the next part
            result[label] = {"ok": False, "error": _reason(exc)}
        result[label]["seconds"] = round(time.perf_counter() - start, 3)

    torch.manual_seed(0)
    model = zoo.create(name).eval()
    torch.manual_seed(1234)
    inputs = tuple(spec.example_inputs(model.zoo_identity.config, 4)) if spec.example_inputs else None

    def fp32_forward():
        if inputs is None:
            raise RuntimeError("ModelSpec.example_inputs is missing")
        torch.manual_seed(0)
        with torch.no_grad():
            on_cpu = _float_outputs(model(*inputs))
        moved = model.to(device)
        torch.manual_seed(0)
        with torch.no_grad():
            on_device = [t.cpu() for t in _float_outputs(moved(*_to(inputs, device)))]
        scale = max((t.abs().max().item() for t in on_cpu if t.numel()), default=1.0) or 1.0
        difference = max(((a - b).abs().max().item() for a, b in zip(on_cpu, on_device) if a.numel()), default=0.0)
        if not all(torch.isfinite(t).all() for t in on_device):
            raise FloatingPointError("non-finite fp32 outputs on the device")
        return {"max_relative_difference_to_cpu": difference / scale}

    def bf16_forward_backward():
        if inputs is None:
            raise RuntimeError("ModelSpec.example_inputs is missing")
        moved = model.to(device).train()
        moved.zero_grad(set_to_none=True)
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
            outputs = [t for t in _float_outputs(moved(*_to(inputs, device))) if t.requires_grad]
        if not outputs:
            raise RuntimeError("no output depends on a trainable parameter")
        sum(t.float().sum() for t in outputs).backward()
        bad = [n for n, p in moved.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
        if bad or not all(torch.isfinite(t).all() for t in outputs):
            raise FloatingPointError(f"non-finite bf16 outputs or gradients ({bad[:3]})")
        return {}

    def short_training(precision):
        def run():
            if not entry.tasks:
                raise RuntimeError("the catalog lists no task to train on")
            task = entry.tasks[0]
            trained, variant = _sized_for(name, task, entry.variants)
            outcome = zoo.train(trained, task, epochs=1, max_steps=steps, batch_size=16, device=device,
                                precision=precision, eval_splits=[], final_splits=[], progress=False)
            losses = [v for row in outcome.history for k, v in row.items() if k.endswith("loss")
                      and isinstance(v, (int, float))]
            if not losses or not all(math.isfinite(v) for v in losses):
                raise FloatingPointError(f"training losses {losses[:5]}")
            return {"task": task, "variant": variant, "last_loss": losses[-1]}
        return run

    attempt("fp32 forward vs cpu", fp32_forward)
    attempt("bf16 forward+backward", bf16_forward_backward)
    attempt("train fp32", short_training("fp32"))
    attempt("train bf16", short_training("bf16"))
    model.to("cpu")
    return result


def _sized_for(name: str, task: str, variants) -> tuple:
    """A model sized for `task`: the default config, else the first variant that fits the task
    (image models' defaults are ImageNet-sized; their small variants fit 8x8 digits)."""
    import zoo

    problems = []
    for variant in [None, *[v for v in variants if v != "default"]]:
        torch.manual_seed(0)
        try:
            return zoo.create(name, variant=variant, task=task), variant or "default"
        except zoo.ConfigError as exc:
            problems.append(f"{variant or 'default'}: {_reason(exc)}")
    raise zoo.ConfigError(f"no variant of {name!r} fits task {task!r}: " + "; ".join(problems))


def check_kan_kernels(device: str) -> dict:
    """The Triton kernels on the device against the Cox-de Boor oracle in float64 on the CPU."""
    from zoo_plugins.kan.gpu import TritonGrid
    from zoo_plugins.kan.model import KANLayer
    from zoo_plugins.kan.spline import SplineTables, b_spline_basis

    results = {}
    for dtype in (torch.float32, torch.float64):
        for adapted in (False, True):
            torch.manual_seed(0)
            layer = KANLayer(16, 8, grid_size=5, k=3).double()
            if adapted:
                layer.update_grid((torch.rand(1000, 16, dtype=torch.float64) ** 3) * 2 - 1)
            x = (torch.rand(4096, 16, dtype=torch.float64) * 2.4 - 1.2).requires_grad_()
            oracle = b_spline_basis(x, layer.grid, 3)
            upstream = torch.randn(4096, 16 * oracle.shape[-1], dtype=torch.float64)
            (expected_grad,) = torch.autograd.grad((oracle * upstream.view(4096, 16, -1)).sum(), x)
            tables = SplineTables(layer.grid, 3, dtype)
            kernels = TritonGrid(tables, torch.device(device))
            xd = x.detach().to(device, dtype)
            features = torch.empty(4096, 16 * tables.n_bases, device=device, dtype=dtype)
            kernels.features(xd, features)
            grad_x = torch.zeros_like(xd)
            kernels.add_input_grad(xd, upstream.to(device, dtype), grad_x)
            results[f"{str(dtype).removeprefix('torch.')} {'adapted' if adapted else 'uniform'} grid"] = {
                "basis_max_error": (features.cpu().double().view(4096, 16, -1) - oracle.detach()).abs().max().item(),
                "input_grad_max_relative_error": ((grad_x.cpu().double() - expected_grad).abs().max()
                                                  / expected_grad.abs().max()).item()}
    return results


def kan_speed_table(device: str, rounds: int) -> list[dict]:
    """The KAN speed record's training step (its models and step, plugins/kan/perf.py): KAN with
    its Triton kernels and with tensor ops, against the equal-parameter MLP."""
    from zoo.timing import interleaved, medians
    from zoo_plugins.kan.perf import build_models, train_step

    def timer(model, x, triton: bool):
        def run():
            os.environ["PAPERZOO_KAN_TRITON"] = "1" if triton else "0"
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            train_step(model, x)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            return time.perf_counter() - start
        return run

    models, _ = build_models(["ours", "mlp-same-params"])
    kan, reference = models["ours"].to(device), models["mlp-same-params"].to(device)
    rows = []
    before = os.environ.get("PAPERZOO_KAN_TRITON")
    try:
        for batch in (256, 4096):
            x = torch.randn(batch, 64, device=device)
            times = medians(interleaved({"kan triton": timer(kan, x, True), "kan tensor ops": timer(kan, x, False),
                                         "mlp": timer(reference, x, True)}, rounds))
            rows.append({"batch": batch, **{f"{k} ms": round(v * 1e3, 3) for k, v in times.items()},
                         "kan triton / mlp": round(times["kan triton"] / times["mlp"], 3),
                         "kan tensor ops / mlp": round(times["kan tensor ops"] / times["mlp"], 3),
                         "parameters kan / mlp": round(sum(p.numel() for p in kan.parameters())
                                                       / sum(p.numel() for p in reference.parameters()), 3)})
    finally:
        if before is None:
            os.environ.pop("PAPERZOO_KAN_TRITON", None)
        else:
            os.environ["PAPERZOO_KAN_TRITON"] = before
    return rows


FSDP_WORKER = """
import json, os, sys
import accelerate, torch
import zoo

seen = []
prepare_model = accelerate.Accelerator.prepare_model


def spy(self, model, *args, **kwargs):
    prepared = prepare_model(self, model, *args, **kwargs)
    seen.append([type(prepared).__name__, self.distributed_type.value, self.num_processes])
    return prepared


accelerate.Accelerator.prepare_model = spy
torch.manual_seed(0)
model = zoo.create("mlp-mixer", variant="digits", task="digits")
result = zoo.train(model, "digits", epochs=1, max_steps=6, batch_size=32, device=sys.argv[2], out_dir=sys.argv[1],
                   overwrite=True, progress=False, eval_splits=[], final_splits=["test"])
if int(os.environ.get("RANK", "0")) == 0:
    with open(os.path.join(sys.argv[1], "fsdp.json"), "w") as f:
        json.dump({"prepared": seen, "final": result.final, "steps": result.steps}, f)
"""


def check_fsdp(device: str) -> dict:
    """zoo.train under `accelerate launch --use_fsdp` (FSDP2 through Accelerate's environment), one
    process per GPU (at most 2), against the same run without FSDP: the model must be wrapped, train,
    checkpoint and save, and end with the unsharded run's test metrics (float tolerance)."""
    import socket
    import subprocess
    import tempfile

    import zoo

    processes = max(1, min(2, torch.cuda.device_count()))
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        script = Path(tmp) / "worker.py"
        script.write_text(FSDP_WORKER)
        env = {**os.environ, "ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "OMP_NUM_THREADS": "1"}
        probe.close()
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
                               "--nnodes=1", "--master_addr=127.0.0.1", f"--master_port={port}", str(script),
                               str(Path(tmp) / "run"), device], capture_output=True, text=True, timeout=900, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"the FSDP launch exited {done.returncode}: {(done.stdout + done.stderr)[-1500:]}")
        sharded = json.loads((Path(tmp) / "run" / "fsdp.json").read_text())
        reloaded = zoo.load(str(Path(tmp) / "run"))  # what the FSDP run saved loads as a plain model
        reloaded_metrics = zoo.evaluate(reloaded, "digits", split="test", device=device)
    torch.manual_seed(0)
    model = zoo.create("mlp-mixer", variant="digits", task="digits")
    plain = zoo.train(model, "digits", epochs=1, max_steps=6, batch_size=32, device=device, progress=False,
                      eval_splits=[], final_splits=["test"])
    wrapped = bool(sharded["prepared"]) and sharded["prepared"][0][1] == "FSDP"
    agree = all(math.isclose(sharded["final"][k], plain.final[k], rel_tol=1e-3, abs_tol=1e-4) for k in plain.final)
    if not wrapped or not agree:
        raise RuntimeError(f"FSDP run {sharded} against the unsharded run {plain.final}")
    return {"processes": processes, "prepared": sharded["prepared"], "final_fsdp": sharded["final"],
            "final_plain": plain.final, "reloaded_test": reloaded_metrics}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="device to check (default: cuda)")
    parser.add_argument("--models", default=None, help="comma-separated catalog models (default: all)")
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps of each short training run")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds of the KAN speed table")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON record")
    args = parser.parse_args(argv)

    from zoo.reproduce import machine

    record: dict = {"device": args.device, "machine": machine(), "date": time.strftime("%Y-%m-%d")}
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        record["skipped"] = "no CUDA device: torch.cuda.is_available() is False"
        _write(args.out, record)
        print(f"gpu check skipped: {record['skipped']}; wrote {args.out}")
        return 0

    import zoo

    names = args.models.split(",") if args.models else zoo.list_models()
    started = time.perf_counter()
    record["models"] = {}
    for name in names:
        record["models"][name] = check_model(name, args.device, args.steps)
        failed = [k for k, v in record["models"][name].items() if not v["ok"]]
        print(f"{name}: {'ok' if not failed else 'FAILED ' + ', '.join(failed)}", flush=True)
    if "kan" in names:
        if args.device.startswith("cuda"):
            try:
                record["kan_kernels"] = check_kan_kernels(args.device)
            except Exception:  # the record says why; the speed table still runs
                record["kan_kernels"] = {"error": traceback.format_exc(limit=3)}
        else:
            record["kan_kernels"] = {"skipped": "the Triton kernels run on CUDA; the CPU suite checks them "
                                                "under Triton's interpreter"}
        try:
            record["kan_speed"] = kan_speed_table(args.device, args.rounds)
        except Exception:
            record["kan_speed"] = {"error": traceback.format_exc(limit=3)}
    if args.device.startswith("cuda") and not args.models:
        try:
            record["fsdp"] = check_fsdp(args.device)
        except Exception:
            record["fsdp"] = {"error": traceback.format_exc(limit=3)}
    else:
        record["fsdp"] = {"skipped": "Accelerate shards only across accelerator processes (on CPU it trains "
                                     "whole replicas, which zoo.train warns about); run on CUDA without --models"}
    record["seconds"] = round(time.perf_counter() - started, 1)
    record["failures"] = [f"{name}: {part}: {v['error']}" for name, parts in record["models"].items()
                          for part, v in parts.items() if not v["ok"]]
    if isinstance(record.get("kan_kernels"), dict) and "error" in record["kan_kernels"]:
        record["failures"].append("kan kernels: " + record["kan_kernels"]["error"].strip().splitlines()[-1])
    if "error" in record["fsdp"]:
        record["failures"].append("fsdp: " + record["fsdp"]["error"].strip().splitlines()[-1])
    if isinstance(record.get("kan_speed"), dict):
        record["failures"].append("kan speed table: " + record["kan_speed"]["error"].strip().splitlines()[-1])
    _write(args.out, record)
    print(f"{len(names)} models, {len(record['failures'])} failures, {record['seconds']} s; wrote {args.out}")
    return 1 if record["failures"] else 0


def _write(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
