"""`zoo.export` and `zoo export`: catalog models of several families export to torch.export and ONNX
files that other runtimes run with the eager model's outputs; a bad format, an existing file, a
model the exporter cannot record or an export that changes the outputs is refused with one clear
error, and no file (finished or partial) is left behind."""

from __future__ import annotations

import json

import pytest
import torch

import zoo
from zoo.cli import main
from zoo.errors import ConfigError, ConfigTypeError, ZooError
from zoo.exporting import ExportError

# small variants of three families: a KAN (its own tensor-op path under export), N-BEATS, MLP-Mixer
SMALL = {
    "kan": dict(width=[3, 5, 2], grid=4),
    "nbeats": dict(input_size=12, horizon=6, stack_types=["generic", "trend"], layer_widths=[32, 32],
                   num_layers=2),
    "mlp-mixer": dict(variant="digits", num_blocks=2, hidden_dim=32),
}
SUFFIX = {"torch-export": ".pt2", "onnx": ".onnx"}


def _small(name: str):
    torch.manual_seed(0)
    return zoo.create(name, **SMALL[name])


def _run_file(path, fmt: str, x: torch.Tensor) -> torch.Tensor:
    """Run an exported file the way a user of its runtime would, outside the zoo."""
    if fmt == "torch-export":
        return torch.export.load(str(path)).module()(x)
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    return torch.from_numpy(out)


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name)


@pytest.mark.parametrize("fmt", ["torch-export", "onnx"])
@pytest.mark.parametrize("name", list(SMALL))
def test_catalog_models_export_and_run_with_the_eager_outputs(tmp_path, name, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxscript")
    model = _small(name).train()
    path = tmp_path / f"{name}{SUFFIX[fmt]}"
    result = zoo.export(model, path, format=fmt)
    assert result.path == path and path.is_file() and result.format == fmt
    assert result.model.startswith(name)
    assert 0 <= result.max_relative_difference <= result.tolerance == 1e-4
    assert model.training, "export leaves the model in the mode it was given in"
    # fresh inputs of the example's shape: the file computes the model, not a recording of one output
    cfg = model.zoo_identity.config
    (example,) = zoo.model_spec(name).example_inputs(cfg, 2)
    x = torch.rand_like(example) * 2 - 1
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(_run_file(path, fmt, x), model(x), atol=1e-5, rtol=1e-4)
    assert _leftovers(tmp_path) == []


def test_names_resolve_as_in_zoo_load(tmp_path):
    pretrained = zoo.export("kan.toy-exp-sin", tmp_path / "pretrained.pt2")
    assert pretrained.model == "kan.toy-exp-sin"
    reference = zoo.create("kan.toy-exp-sin", pretrained=True).eval()
    x = torch.rand(2, reference.zoo_identity.config.width[0])
    with torch.no_grad():
        torch.testing.assert_close(_run_file(pretrained.path, "torch-export", x), reference(x), atol=1e-5, rtol=1e-4)
    assert zoo.export("kan", tmp_path / "fresh.pt2").model == "kan"  # a bare name: a fresh model
    with pytest.raises(zoo.UnknownNameError, match="unknown model 'kna'"):
        zoo.export("kna", tmp_path / "x.pt2")


def test_explicit_example_inputs_export_any_module(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh())
    x = torch.randn(5, 4)
    result = zoo.export(model, tmp_path / "seq.pt2", example_inputs=x)
    assert result.model == "Sequential"
    with torch.no_grad():
        torch.testing.assert_close(_run_file(result.path, "torch-export", x), model(x))
    with pytest.raises(ConfigError, match="not built by the zoo.*example_inputs"):
        zoo.export(model, tmp_path / "other.pt2")
    with pytest.raises(ConfigTypeError, match="example_inputs expects a tensor or a tuple.*got dict"):
        zoo.export(model, tmp_path / "other.pt2", example_inputs={"x": x})


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown export format 'onxx'.*'torch-export', 'onnx'.*Did you mean 'onnx'"):
        zoo.export(_small("kan"), tmp_path / "k.onnx", format="onxx")
    with pytest.raises(ConfigError, match=r"ends in \.onnx, the suffix of format 'onnx', but the format is "
                                          r"'torch-export'"):
        zoo.export(_small("kan"), tmp_path / "k.onnx")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_kept_unless_forced(tmp_path):
    path = tmp_path / "kan.pt2"
    path.write_bytes(b"keep me")
    with pytest.raises(ConfigError, match="already exists; pass force=True"):
        zoo.export(_small("kan"), path)
    assert path.read_bytes() == b"keep me"
    zoo.export(_small("kan"), path, force=True)
    assert path.read_bytes() != b"keep me" and _leftovers(tmp_path) == []
    with pytest.raises(ConfigError, match="is a directory"):
        zoo.export(_small("kan"), tmp_path)


class _DataDependent(torch.nn.Module):
    """Branches on a tensor's value: torch.export cannot record a graph for it."""

    def forward(self, x):
        return x * 2 if x.sum().item() > 0 else x


class _ChangesUnderExport(torch.nn.Module):
    """Computes something else while being traced: the check must catch the wrong file."""

    def forward(self, x):
        return x + 1 if torch.compiler.is_compiling() else x


@pytest.mark.parametrize("fmt", ["torch-export", "onnx"])
def test_an_unexportable_model_names_itself_and_the_reason_in_one_line(tmp_path, fmt):
    if fmt == "onnx":
        pytest.importorskip("onnxscript")
    with pytest.raises(ExportError) as caught:
        zoo.export(_DataDependent(), tmp_path / f"m{SUFFIX[fmt]}", format=fmt, example_inputs=(torch.ones(2, 3),))
    message = str(caught.value)
    assert message.startswith(f"_DataDependent cannot be exported to {fmt}: ") and "\n" not in message
    assert message.endswith(f"(in forward, tests/test_export.py:{_DataDependent.forward.__code__.co_firstlineno + 1})")
    assert len(message) < 500 and isinstance(caught.value, ZooError)
    assert list(tmp_path.iterdir()) == []


def test_an_export_that_changes_the_outputs_is_not_kept(tmp_path):
    with pytest.raises(ExportError, match=r"_ChangesUnderExport: the torch-export file's output 0 differs .* "
                                          r"the file was not written"):
        zoo.export(_ChangesUnderExport(), tmp_path / "m.pt2", example_inputs=(torch.ones(2, 3),))
    assert list(tmp_path.iterdir()) == []


def test_onnx_without_its_packages_names_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # an import of it now fails
    with pytest.raises(ConfigError, match=r'needs onnxruntime \(is not installed\): pip install "paperzoo\[export\]"'):
        zoo.export(_small("kan"), tmp_path / "k.onnx", format="onnx")


def test_zoo_export_stays_the_function_once_its_module_is_imported(tmp_path):
    import importlib

    importlib.import_module("zoo.exporting")  # a submodule import sets an attribute on the package
    assert callable(zoo.export) and zoo.export(_small("kan"), tmp_path / "a.pt2").path.is_file()


def test_a_model_given_by_something_else_is_a_type_error(tmp_path):
    with pytest.raises(ConfigTypeError, match="export expects a model .*got int 3"):
        zoo.export(3, tmp_path / "x.pt2")


# --- the command line ---------------------------------------------------------------------------------


def test_cli_exports_a_saved_model_and_a_catalog_name(tmp_path, capsys):
    saved = tmp_path / "saved"
    zoo.save(_small("nbeats"), saved)
    out = tmp_path / "nbeats.onnx"
    assert main(["export", str(saved), "--out", str(out), "--batch-size", "3"]) == 0  # .onnx picks the format
    said = capsys.readouterr().out
    assert f"to {out} (onnx)" in said and "match the model's" in said
    loaded = zoo.load(saved).eval()
    x = torch.randn(3, 12)
    with torch.no_grad():
        torch.testing.assert_close(_run_file(out, "onnx", x), loaded(x), atol=1e-5, rtol=1e-4)

    program = tmp_path / "kan.pt2"
    assert main(["export", "kan", "--format", "torch-export", "--out", str(program)]) == 0
    assert torch.export.load(str(program)).module()(torch.rand(2, 2)).shape == (2, 1)  # kan's default [2, 5, 1]
    capsys.readouterr()
    assert main(["export", "kan", "--out", str(tmp_path / "kan2.pt2"), "--json"]) == 0
    reported = json.loads(capsys.readouterr().out)
    assert reported["format"] == "torch-export" and reported["path"] == str(tmp_path / "kan2.pt2")
    assert reported["max_abs_difference"] <= reported["tolerance"] and reported["model"] == "kan"
    assert "batch_size expects a positive integer, got 0" in _fails(
        capsys, ["export", "kan", "--out", str(tmp_path / "k0.pt2"), "--batch-size", "0"])


def _fails(capsys, argv) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    existing = tmp_path / "kan.pt2"
    existing.write_bytes(b"keep me")
    assert "already exists" in _fails(capsys, ["export", "kan", "--out", str(existing)])
    assert existing.read_bytes() == b"keep me"
    assert "invalid choice: 'tflite'" in _fails(capsys, ["export", "kan", "--format", "tflite", "--out", "k.tflite"])
    assert "unknown model" in _fails(capsys, ["export", "no-such-model", "--out", str(tmp_path / "x.pt2")])
    assert "not a directory either" in _fails(capsys, ["export", str(tmp_path / "no-such-run"), "--out", str(tmp_path / "x.pt2")])

    from zoo import exporting as export_module

    def refuses(model, inputs, file):
        import sys

        print("def forward(self, x): ... (the exporter's partial graph)", file=sys.stderr)
        raise RuntimeError("Could not guard on data-dependent expression\nlong explanation\nmore")

    monkeypatch.setitem(export_module.WRITERS, "torch-export", refuses)
    err = _fails(capsys, ["export", "kan", "--out", str(tmp_path / "k.pt2")])
    assert err.startswith("error: kan cannot be exported to torch-export: RuntimeError: Could not guard "
                          "on data-dependent expression (in refuses, tests/test_export.py:")
    assert _leftovers(tmp_path) == [] and not (tmp_path / "k.pt2").exists()


def test_the_all_models_script_writes_a_record_with_a_row_per_model(tmp_path, capsys):
    import json

    from benchmarks import export_check

    out = tmp_path / "export.json"
    assert export_check.main(["--models", "kan", "--formats", "torch-export", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["table"]["columns"] == ["model", "variant", "torch-export"]
    (row,) = record["table"]["rows"]
    assert row[:2] == ["kan", "default"] and row[2].startswith("ok (") and row[2].endswith(", any batch)")
    assert record["data"]["kan"]["torch-export"]["ok"] and "torch-export exports 1" in record["summary"]
    assert record["data"]["kan"]["torch-export"]["dynamic_batch"] is True


# models whose input checks test values (labels, token ids in range): the checks run in eager mode and
# stand aside while the exporter traces, which cannot branch on a tensor's value
VALUE_CHECKED = {
    "cgan": (dict(generator_noise_hidden=16, generator_label_hidden=16, generator_joint_hidden=32,
                  discriminator_data_hidden=16, discriminator_label_hidden=8, discriminator_joint_hidden=16),
             "num_classes"),
    "deltanet": (dict(vocab_size=64, d_model=16, num_layers=1, chunk_size=4), "vocab_size"),
    "memn2n": (dict(embedding_dim=8, hops=2, memory_size=10), "vocab_size"),
}


@pytest.mark.parametrize("name", list(VALUE_CHECKED))
def test_models_with_value_checks_export_and_still_check_in_eager_mode(tmp_path, name):
    kwargs, bound = VALUE_CHECKED[name]
    torch.manual_seed(0)
    model = zoo.create(name, **kwargs).eval()
    cfg = model.zoo_identity.config
    inputs = zoo.model_spec(name).example_inputs(cfg, 2)
    result = zoo.export(model, tmp_path / f"{name}.pt2")
    assert result.max_relative_difference <= result.tolerance
    with torch.no_grad():
        torch.testing.assert_close(torch.export.load(str(result.path)).module()(*inputs), model(*inputs))

    ids_at = next(i for i, t in enumerate(inputs) if not t.is_floating_point())
    out_of_range = [t.clone() for t in inputs]
    out_of_range[ids_at].view(-1)[0] = getattr(cfg, bound)
    with pytest.raises(ValueError, match=rf"must (lie|be) in \[0, {getattr(cfg, bound)}\)"):
        model(*out_of_range)


def test_the_batch_dimension_is_left_free_where_the_model_allows_it(tmp_path):
    """A dynamic-batch file runs, and matches the model, at batch sizes other than the example's; a
    model whose forward fixes its batch gives a file for the example's batch only, and says so."""
    import torch
    from torch import nn

    from zoo.exporting import export

    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    result = export(model, tmp_path / "free.onnx", format="onnx", example_inputs=torch.randn(2, 3))
    assert result.dynamic_batch
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "free.onnx"), providers=["CPUExecutionProvider"])
    x = torch.randn(7, 3)
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(torch.from_numpy(out), model(x).detach(), atol=1e-5, rtol=1e-4)

    class FixedBatch(nn.Module):  # reshapes by the example's batch size: the exporter must specialise
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 1)

        def forward(self, x):
            return self.linear(x).reshape(2, 1)

    fixed = export(FixedBatch(), tmp_path / "fixed.pt2", example_inputs=torch.randn(2, 3))
    assert not fixed.dynamic_batch and fixed.path.exists()
