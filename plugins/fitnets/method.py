"""FitNets (Romero et al., 2015): hint-based training of a thin deep student by a wide teacher.

The functional core is plain functions on tensors and modules, usable without zoo.train:

    kd_loss(student_logits, teacher_logits, tau)     H(P_T^tau, P_S^tau) of Eq. (2)
    hint_loss(regressed, hint)                      1/2 ||u_h - r(v_g)||^2 of Eq. (3)
    kd_weight(epoch, epochs, start, end)            lambda of Eq. (2), annealed linearly
    build_regressor(student_shape, teacher_shape)   r(.; W_r) of Eq. (3): conv or fully connected
    middle_block(model), find_module(model, path)   the default hint / guided layers

`FitNets` binds them to zoo.train's events: in stage "hints" (Algorithm 1, stage 1) the student's
loss is the hint loss alone, so only the layers up to the guided one and the regressor learn; in
stage "kd" (stage 2) it is the task's cross-entropy plus lambda times the KD term. `FitNets.run`
is the whole procedure: stage 1, then stage 2 from the stage-1 weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from zoo.config import Field
from zoo.training.method import Method, MethodConfig, MethodMismatchError

__all__ = ["FitNets", "FitNetsConfig", "FitNetsResult", "kd_loss", "hint_loss", "kd_weight", "build_regressor",
           "middle_block", "find_module", "Regressor"]

# nonlinearities the regressor's output may take: the same as the teacher's hint layer (Eq. 3)
_ACTIVATIONS = {"relu": (nn.ReLU, F.relu), "tanh": (nn.Tanh, torch.tanh), "sigmoid": (nn.Sigmoid, torch.sigmoid)}


class FitNetsConfig(MethodConfig):
    stage: Literal["hints", "kd"] = Field(
        "kd", description="the training stage this run is: 'hints' (stage 1: the hint loss of Eq. 3 trains the "
                          "student up to its guided layer) or 'kd' (stage 2: the KD loss of Eq. 2 trains the whole "
                          "student; alone, this is plain knowledge distillation). run() does both in turn")
    hint_layer: str = Field("", description="module path in the teacher (named_modules) whose output is the hint; "
                                            "'' = the teacher's middle block")
    guided_layer: str = Field("", description="module path in the student (named_modules) whose output is guided; "
                                              "'' = the student's middle block")
    regressor: Literal["auto", "conv", "fc"] = Field(
        "auto", description="the regressor r of Eq. (3): 'conv' (kernel N_g - N_h + 1, for image feature maps), "
                            "'fc' (on flattened features) or 'auto' (conv when both are feature maps that fit)")
    regressor_activation: Literal["auto", "relu", "tanh", "sigmoid", "none"] = Field(
        "auto", description="nonlinearity on the regressor's output, the same as the hint layer's (Eq. 3); 'auto' = "
                            "the activation module the hint layer ends with, else none")
    temperature: float = Field(3.0, gt=0, description="tau of Eq. (1): softens teacher and student outputs in the "
                                                       "KD term (the paper's 3)")
    kd_lambda: float = Field(4.0, ge=0, description="lambda of Eq. (2) at the first epoch (the paper's 4)")
    kd_lambda_end: float = Field(1.0, ge=0, description="lambda at the last epoch, reached by linear annealing "
                                                         "(the paper's 1; equal to kd_lambda: no annealing)")
    hint_epochs: int | None = Field(None, ge=1, description="epochs of stage 1 in run() (None: the same epochs as "
                                                            "stage 2)")


@dataclass
class FitNetsResult:
    """What `FitNets.run` returns: the two zoo.train results; the student is trained in place."""

    hints: object
    kd: object

    @property
    def final(self) -> dict:
        """The final metrics of the student (stage 2's)."""
        return self.kd.final


# --- the functional core -----------------------------------------------------------------------------


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, tau: float) -> torch.Tensor:
    """H(P_T^tau, P_S^tau), Eq. (2): cross-entropy from the teacher's to the student's softened
    outputs P^tau = softmax(a / tau) (Eq. 1), summed over classes and averaged over the batch."""
    soft_teacher = torch.softmax(teacher_logits.detach() / tau, dim=1)
    return -(soft_teacher * torch.log_softmax(student_logits / tau, dim=1)).sum(dim=1).mean()


def hint_loss(regressed: torch.Tensor, hint: torch.Tensor) -> torch.Tensor:
    """L_HT = 1/2 ||u_h(x) - r(v_g(x))||^2, Eq. (3): summed over each example's features, averaged
    over the batch."""
    return 0.5 * (hint.detach() - regressed).pow(2).flatten(1).sum(dim=1).mean()


def kd_weight(epoch: int, epochs: int, start: float, end: float) -> float:
    """lambda of Eq. (2) at 0-based `epoch` of `epochs`: `start` at the first epoch, `end` at the last,
    linear between (the paper anneals lambda linearly)."""
    if epochs <= 1:
        return float(start)
    progress = min(max(epoch, 0), epochs - 1) / (epochs - 1)
    return float(start + (end - start) * progress)


class Regressor(nn.Module):
    """r(v_g; W_r) of Eq. (3): maps the guided layer's output to the hint's shape, followed by the
    hint layer's nonlinearity. `conv`: a valid convolution of kernel N_g - N_h + 1 per spatial axis
    (far fewer parameters than a fully connected map); else a linear map of the flattened features."""

    def __init__(self, student_shape: tuple, teacher_shape: tuple, kind: str = "auto", activation: str = "none"):
        super().__init__()
        self.student_shape, self.teacher_shape = tuple(student_shape), tuple(teacher_shape)
        if kind == "auto":
            kind = "conv" if _conv_fits(self.student_shape, self.teacher_shape) else "fc"
        if kind == "conv":
            if not _conv_fits(self.student_shape, self.teacher_shape):
                raise ValueError(f"a convolutional regressor maps feature maps (C, H, W) to smaller or equal ones; "
                                 f"the guided layer gives {self.student_shape} and the hint layer "
                                 f"{self.teacher_shape}: use regressor='fc'")
            (c_s, h_s, w_s), (c_t, h_t, w_t) = self.student_shape, self.teacher_shape
            self.map = nn.Conv2d(c_s, c_t, kernel_size=(h_s - h_t + 1, w_s - w_t + 1))
        else:
            self.map = nn.Linear(math.prod(self.student_shape), math.prod(self.teacher_shape))
        self.kind = kind
        self.activation = activation
        self._nonlinearity = _ACTIVATIONS[activation][1] if activation in _ACTIVATIONS else None

    def forward(self, guided: torch.Tensor) -> torch.Tensor:
        if self.kind == "conv":
            out = self.map(guided)
        else:
            out = self.map(guided.flatten(1)).view(guided.shape[0], *self.teacher_shape)
        return self._nonlinearity(out) if self._nonlinearity is not None else out


def _conv_fits(student_shape: tuple, teacher_shape: tuple) -> bool:
    return (len(student_shape) == 3 and len(teacher_shape) == 3
            and student_shape[1] >= teacher_shape[1] and student_shape[2] >= teacher_shape[2])


def build_regressor(student_shape, teacher_shape, kind: str = "auto", activation: str = "none", *,
                    seed: int = 0) -> Regressor:
    """A Regressor initialised from `seed` without touching the global random stream (so adding the
    method does not change the student's own random draws)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Regressor(student_shape, teacher_shape, kind, activation)


def middle_block(model: nn.Module) -> str | None:
    """The module path of the middle block of `model`'s longest nn.Sequential or nn.ModuleList (the
    first one on a tie): child (n - 1) // 2 of its n children. None when it has no such list."""
    best_name, best = None, None
    for name, module in model.named_modules():
        if isinstance(module, (nn.Sequential, nn.ModuleList)) and len(module) >= 2:
            if best is None or len(module) > len(best):
                best_name, best = name, module
    if best is None:
        return None
    key = list(best._modules)[(len(best) - 1) // 2]
    return f"{best_name}.{key}" if best_name else key


def find_module(model: nn.Module, path: str) -> nn.Module | None:
    """The submodule at `path` (a name from named_modules()), or None."""
    return dict(model.named_modules()).get(path) if path else None


def hint_activation(module: nn.Module) -> str:
    """The name of the activation a module's output ends with ('none' when it ends with none)."""
    last = module
    while isinstance(last, nn.Sequential) and len(last):
        last = last[-1]
    return next((name for name, (kind, _) in _ACTIVATIONS.items() if isinstance(last, kind)), "none")


def _paths(model: nn.Module, limit: int = 30) -> str:
    names = [n for n, _ in model.named_modules() if n]
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "") if names else "(none)"


def _first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return None


class _Capture:
    """A forward hook keeping the last tensor output of one module."""

    def __init__(self, module: nn.Module):
        self.value = None
        self.handle = module.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output) -> None:
        self.value = _first_tensor(output)

    def remove(self) -> None:
        self.handle.remove()
        self.value = None


# --- the method --------------------------------------------------------------------------------------


class FitNets(Method):
    """FitNets: stage "hints" trains the student up to its guided layer on the teacher's hint (Eq. 3),
    stage "kd" trains the whole student with knowledge distillation (Eq. 2); `run` does both."""

    name = "fitnets"
    Config = FitNetsConfig
    task_kinds = ("classification",)
    objects = {"teacher": "the trained teacher network, an nn.Module taking the same inputs as the student "
                          "and giving logits over the same classes"}

    def __init__(self, **options):
        super().__init__(**options)
        self.regressor: Regressor | None = None
        self._guided: _Capture | None = None
        self._hint: _Capture | None = None
        self._teacher_was_training = False

    # --- needs ---------------------------------------------------------------------------------------

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        teacher = self.teacher
        if not isinstance(teacher, nn.Module):
            return f"teacher= as an nn.Module (got {type(teacher).__name__})"
        if teacher is model:
            return "a teacher other than the student itself"
        if self.config.stage != "hints":
            return None
        for role, net, option in (("teacher", teacher, "hint_layer"), ("student", model, "guided_layer")):
            path = getattr(self.config, option)
            if path and find_module(net, path) is None:
                return f"a {role} layer named {path!r} ({option}); the {role}'s module paths are: {_paths(net)}"
            if not path and middle_block(net) is None:
                return (f"{option}= naming a {role} layer: the {role} has no nn.Sequential or nn.ModuleList of "
                        f"blocks to take the middle one from; its module paths are: {_paths(net)}")
        return None

    def layer_paths(self, model) -> tuple[str, str]:
        """(hint layer in the teacher, guided layer in the student), defaults resolved."""
        return (self.config.hint_layer or middle_block(self.teacher) or "",
                self.config.guided_layer or middle_block(model) or "")

    # --- events --------------------------------------------------------------------------------------

    def setup(self, run) -> None:
        self.end(run)  # a run that failed before its end left its hooks: drop them
        teacher = self.teacher.to(run.device)
        self._teacher_was_training = teacher.training
        teacher.eval()  # the teacher is fixed: no dropout, no batch-norm statistics updates
        if self.config.stage != "hints":
            return
        hint_path, guided_path = self.layer_paths(run.model)
        hint_module = find_module(teacher, hint_path)
        self._guided = _Capture(find_module(run.model, guided_path))
        self._hint = _Capture(hint_module)
        student_shape, teacher_shape = self._probe_shapes(run)
        activation = self.config.regressor_activation
        if activation == "auto":
            activation = hint_activation(hint_module)
        try:
            self.regressor = build_regressor(student_shape, teacher_shape, self.config.regressor, activation,
                                             seed=run.config.seed).to(run.device)
        except ValueError as exc:
            self.end(run)
            raise MethodMismatchError(f"method 'fitnets': {exc}") from None

    def _probe_shapes(self, run) -> tuple[tuple, tuple]:
        """The per-example output shapes of the guided and hint layers, from two training examples
        (both networks in eval mode, without gradients: nothing is drawn or updated)."""
        from torch.utils.data import default_collate

        split = run.task.splits()["train"]
        batch = default_collate([split[i] for i in range(min(2, len(split)))])
        batch = _to(batch, run.device)
        inputs = run.task.inputs(batch)
        was_training = run.model.training
        run.model.eval()
        try:
            with torch.no_grad():
                run.model(*inputs)
                self.teacher(*inputs)
        finally:
            run.model.train(was_training)
        guided, hint = self._guided.value, self._hint.value
        self._guided.value = self._hint.value = None
        hint_path, guided_path = self.layer_paths(run.model)
        for value, role, path in ((guided, "student", guided_path), (hint, "teacher", hint_path)):
            if value is None:
                self.end(run)
                raise MethodMismatchError(f"method 'fitnets': the {role} layer {path!r} gave no tensor output in a "
                                          f"forward pass (is it used in forward()?)")
        return tuple(guided.shape[1:]), tuple(hint.shape[1:])

    def parameters(self) -> list:
        return list(self.regressor.parameters()) if self.regressor is not None else []

    def loss(self, terms: dict, output, batch, run) -> dict:
        with torch.no_grad():
            teacher_logits = self.teacher(*run.task.inputs(batch))
        if self.config.stage == "hints":
            # stage 1 trains on the hint alone (Algorithm 1): the task's term is dropped
            terms = {k: v for k, v in terms.items() if k != "task"}
            terms["hint"] = hint_loss(self.regressor(self._guided.value), self._hint.value)
            return terms
        if output.shape != teacher_logits.shape:
            raise MethodMismatchError(f"method 'fitnets': the student's output {tuple(output.shape)} and the "
                                      f"teacher's {tuple(teacher_logits.shape)} differ; KD needs logits over the "
                                      f"same classes")
        weight = kd_weight(run.epoch, run.config.epochs, self.config.kd_lambda, self.config.kd_lambda_end)
        return {**terms, "kd": weight * kd_loss(output, teacher_logits, self.config.temperature)}

    def end(self, run) -> None:
        for capture in (self._guided, self._hint):
            if capture is not None:
                capture.remove()
        self._guided = self._hint = None
        if self._teacher_was_training and isinstance(self.teacher, nn.Module):
            self.teacher.train()
        self._teacher_was_training = False

    # --- state ---------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        if self.regressor is None:
            return {}
        return {"regressor": {k: v.detach().clone() for k, v in self.regressor.state_dict().items()}}

    def load_state_dict(self, state: dict) -> None:
        saved = state.get("regressor")
        if saved is None:
            return
        if self.regressor is None:
            raise MethodMismatchError("method 'fitnets': the checkpoint holds a hint regressor but this run has "
                                      "none (stage 'kd'); resume with the stage it was written with")
        own = self.regressor.state_dict()
        if set(own) != set(saved):
            raise MethodMismatchError(f"method 'fitnets': the checkpoint's regressor has tensors {sorted(saved)}, "
                                      f"this run's {sorted(own)}")
        with torch.no_grad():
            for key, tensor in own.items():  # into the tensors the optimizer holds
                tensor.copy_(saved[key])

    # --- the procedure -----------------------------------------------------------------------------

    def for_stage(self, stage: str) -> FitNets:
        """This method with the same options and teacher, for one stage."""
        return FitNets(**{**self.config.to_dict(), "stage": stage}, teacher=self.teacher)

    def run(self, model, task, *, out_dir=None, resume=False, methods=(), **train_options) -> FitNetsResult:
        """Algorithm 1: stage 1 ("hints") trains the student up to its guided layer and the regressor on
        the hint loss, for `hint_epochs`; stage 2 ("kd") trains the whole student, starting from
        stage 1's weights, on the KD loss. `methods` (other methods) act in both stages, before
        FitNets; `train_options` are zoo.train's. Early stopping (patience, monitor) applies to
        stage 2 only: stage 1's task metrics say nothing about the hint it learns."""
        from zoo.training.procedure import Stages

        others = list(methods or ())
        hint_options = {k: v for k, v in train_options.items()
                        if k not in ("patience", "monitor", "mode", "restore_best")}
        if self.config.hint_epochs is not None:
            hint_options["epochs"] = self.config.hint_epochs
        with Stages(out_dir, resume, procedure=self) as stages:
            first = stages.train("hints", model, task, methods=[*others, self.for_stage("hints")], **hint_options)
            second = stages.train("kd", model, task, methods=[*others, self.for_stage("kd")], **train_options)
        return FitNetsResult(hints=first, kd=second)


def _to(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch
