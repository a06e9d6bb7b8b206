"""KAN exports: torch.export and ONNX (run by onnxruntime) give the eager model's outputs, on the
uniform grid and on grids adapted to data, in float32 and float64, for any batch size."""

from __future__ import annotations

import pytest
import torch

import zoo

BATCH = torch.export.Dim("batch", min=2, max=4096)


def _kan(dtype=torch.float32, adapted=False, seed=0):
    torch.manual_seed(seed)
    model = zoo.create("kan", width=[3, 7, 2], grid=5, k=3).to(dtype).eval()
    if adapted:  # non-uniform knots: the grid follows a skewed sample
        model.update_grid((torch.rand(256, 3, dtype=dtype) ** 3) * 2 - 1)
    return model


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("adapted", [False, True], ids=["uniform-grid", "adapted-grid"])
def test_torch_export_gives_the_eager_outputs(dtype, adapted):
    model = _kan(dtype, adapted)
    example = torch.rand(8, 3, dtype=dtype) * 2 - 1
    program = torch.export.export(model, (example,), dynamic_shapes=({0: BATCH},))
    x = torch.rand(37, 3, dtype=dtype) * 2.4 - 1.2  # another batch size, and inputs beyond the grid
    tolerance = {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-12, "rtol": 1e-12}
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), **tolerance)


def test_torch_export_follows_the_native_kernels_off(monkeypatch):
    """The exported graph is the same tensor-op path whether or not the fused kernels are in use."""
    from zoo_plugins.kan import native

    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("PAPERZOO_KAN_NATIVE", "0")
    model = _kan(adapted=True)
    x = torch.rand(16, 3) * 2 - 1
    program = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x), atol=1e-5, rtol=1e-5)


def test_exported_program_holds_no_opaque_call():
    """Only aten ops in the graph: the fused kernel (raw pointers, ctypes) is not traced into it."""
    program = torch.export.export(_kan(), (torch.rand(8, 3),))
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    assert targets and all(t.startswith("aten.") for t in targets), sorted(targets)


def test_onnx_export_runs_in_onnxruntime_with_the_eager_outputs(tmp_path):
    ort = pytest.importorskip("onnxruntime")  # in the test extra; guards a partial install
    pytest.importorskip("onnxscript")
    model = _kan(adapted=True)
    example = torch.rand(8, 3) * 2 - 1
    path = tmp_path / "kan.onnx"
    torch.onnx.export(model, (example,), dynamo=True, dynamic_shapes=({0: BATCH},)).save(str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.rand(50, 3) * 2 - 1
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(out), model(x), atol=1e-5, rtol=1e-5)
