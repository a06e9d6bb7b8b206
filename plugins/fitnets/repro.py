"""Reproduction for `fitnets` (Romero et al., 2015, arXiv:1412.6550): hints train a thin deep student.

Claim: a thinner, deeper student trained with hints from a wider teacher's middle layer (stage 1,
Eq. 3) and then with knowledge distillation (stage 2, Eq. 2) beats the same student trained from
scratch and the same student trained with plain KD, with far fewer parameters than the teacher.

Setup (digits, 8x8 images; the paper's networks are CIFAR-sized and maxout): a wide, shallow CNN
teacher (3 conv layers of 32/64/64 channels + softmax, 58k parameters) and a thin, deep student
(9 conv layers of 8 channels + softmax, 5k parameters: 11x fewer, 10 layers against 4), ReLU,
3x3 convolutions, 2x2 max pooling between the three resolutions. Hint: the teacher's middle conv
layer (4x4x64); guided: the student's middle conv layer (its 5th, 4x4x8); convolutional regressor
(kernel N_g - N_h + 1 = 1) with the hint's ReLU. The paper's training: RMSProp (decay 0.9),
batch 128, uniform init in [-0.005, 0.005], tau = 3, lambda annealed linearly from 4 to 1,
model selection on validation accuracy (the best epoch's weights). One teacher (seed 0); per seed
the same student initialisation and data order for the three students. FitNets: HINT_EPOCHS of
stage 1 then EPOCHS of stage 2; scratch and KD get HINT_EPOCHS + EPOCHS epochs, the same total.

Checks (zoo.verdicts, written before running), with the paper's initialisation, per seed on test
accuracy: FitNets' student beats the same student trained from scratch, and it beats the same
student trained with plain KD ("outperforms": any margin above zero). "With far fewer parameters"
is fixed by the networks (the student has 1/11 of the teacher's), so it is no check. Reported but
not part of the verdict: FitNets against the teacher (the abstract's CIFAR-10 example), and a
control that repeats everything with PyTorch's default initialisation, which tells whether the
advantage depends on a student that is hard to train from scratch. `repro_longer` is the control
for the training length (3x the epochs).

    zoo reproduce fitnets
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check, judge

TASK = "digits"
LR, BATCH, RMSPROP_DECAY = 0.005, 128, 0.9
INIT_RANGE = 0.005  # the paper's uniform weight init (pylearn2 irange)
TEACHER_WIDTHS = [[32], [64], [64]]  # channels per conv layer, per resolution (8x8, 4x4, 2x2)
STUDENT_WIDTHS = [[8] * 3, [8] * 3, [8] * 3]
HINT_LAYER, GUIDED_LAYER = "features.2", "features.4"  # the middle conv layers (see conv_net's layout)
MODES = ("scratch", "kd", "fitnets")
INITS = {"paper": INIT_RANGE, "default": None}


def conv_net(widths: list[list[int]], *, init_range: float | None, classes: int = 10, side: int = 8) -> nn.Module:
    """A plain CNN: 3x3 conv + ReLU blocks per resolution, 2x2 max pooling between resolutions, then
    a linear softmax layer. `features` lists the blocks and pools, so `features.<i>` names them.
    init_range: weights uniform in [-r, r] and zero biases (the paper's); None: PyTorch's default."""
    layers, channels = [], 1
    for level, level_widths in enumerate(widths):
        for width in level_widths:
            layers.append(nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()))
            channels = width
        if level < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
            side //= 2
    net = nn.Sequential()
    net.add_module("features", nn.Sequential(*layers))
    net.add_module("flatten", nn.Flatten())
    net.add_module("classifier", nn.Linear(channels * side * side, classes))
    if init_range is not None:
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.uniform_(module.weight, -init_range, init_range)
                nn.init.zeros_(module.bias)
    return net


class RMSProp(zoo.Method):
    """The paper's optimizer (pylearn2's RMSProp rule, decay 0.9), which zoo.train does not offer by
    name: a method holding the optimizer slot, used only by this reproduction."""

    name = "rmsprop"

    def build_optimizer(self, params, config):
        return torch.optim.RMSprop(params, lr=config.lr, alpha=RMSPROP_DECAY)


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train_student(mode: str, teacher: nn.Module, seed: int, init_range, hint_epochs: int, epochs: int) -> dict:
    """One student trained from scratch, with KD, or with FitNets; its test accuracy and curve."""
    torch.manual_seed(seed)
    student = conv_net(STUDENT_WIDTHS, init_range=init_range)
    select = dict(batch_size=BATCH, lr=LR, seed=seed, progress=False, monitor="val_accuracy", restore_best=True,
                  final_splits=["test"])
    start = time.process_time()
    if mode == "fitnets":
        method = zoo.method("fitnets", teacher=teacher, hint_layer=HINT_LAYER, guided_layer=GUIDED_LAYER,
                            hint_epochs=hint_epochs)
        result = method.run(student, TASK, methods=[RMSProp()], epochs=epochs, patience=epochs, **select).kd
    else:
        methods = [RMSProp()] + ([zoo.method("fitnets", teacher=teacher, stage="kd")] if mode == "kd" else [])
        total = hint_epochs + epochs  # the same number of epochs as FitNets' two stages
        result = zoo.train(student, TASK, methods=methods, epochs=total, patience=total, **select)
    return {"test_accuracy": result.final["test_accuracy"], "params": parameters(student),
            "best_epoch": result.best_epoch, "cpu_seconds": time.process_time() - start,
            "val_curve": [h.get("val_accuracy") for h in result.history]}


def train_teacher(init_range, epochs: int) -> tuple[nn.Module, dict]:
    torch.manual_seed(0)
    teacher = conv_net(TEACHER_WIDTHS, init_range=init_range)
    result = zoo.train(teacher, TASK, methods=[RMSProp()], epochs=epochs, batch_size=BATCH, lr=LR, seed=0,
                       progress=False, patience=epochs, monitor="val_accuracy", final_splits=["test"])
    return teacher, {"test_accuracy": result.final["test_accuracy"], "params": parameters(teacher)}


def student_checks(acc: dict) -> list[Check]:
    """The claim's checks on {mode: [test accuracy per seed]}. "With far fewer parameters" is a condition
    of the setup (the networks are fixed before running), not a measurement, so it is no check."""
    return [
        Check("FitNets student's test accuracy > the same student trained from scratch", ours=acc["fitnets"],
              versus=acc["scratch"]),
        Check("FitNets student's test accuracy > the same student trained with plain KD", ours=acc["fitnets"],
              versus=acc["kd"]),
    ]


def seeds_of(runs: dict, prefix: str) -> list[int]:
    """The seeds of the stored runs named '<prefix>seed<n>'."""
    return sorted(int(key.rsplit("seed", 1)[1]) for key in runs if key.startswith(prefix))


def claim_checks(data: dict) -> tuple[list[int], list[Check]]:
    """The claim's checks from the record's data (the paper's initialisation; the default one is a control)."""
    runs = data["runs"]
    seeds = seeds_of(runs, "paper/fitnets/")
    acc = {mode: [runs[f"paper/{mode}/seed{s}"]["test_accuracy"] for s in seeds] for mode in MODES}
    return seeds, student_checks(acc)


def verdict_of(acc: dict, student_params: int, teacher_params: int) -> tuple[str, dict]:
    """The checks' verdict on {mode: [test accuracy per seed]}, with the facts the summary quotes."""
    verdict, judged = judge(student_checks(acc))
    means = {mode: float(np.mean(values)) for mode, values in acc.items()}
    wins = sum(f > max(s, k) for f, s, k in zip(acc["fitnets"], acc["scratch"], acc["kd"]))
    return verdict, {"means": means, "seeds_won": wins, "seeds": len(acc["fitnets"]),
                     "held": {c["name"]: c["held"] for c in judged}, "params_ratio": teacher_params / student_params}


def reproduce(run: Run) -> None:
    torch.set_num_threads(1)
    seeds = run.pick((0, 1, 2), (0,))
    hint_epochs, epochs = run.pick((20, 40), (1, 1))
    wall, cpu = time.time(), time.process_time()
    results: dict = {}
    teachers: dict = {}
    for init_name, init_range in INITS.items():
        teacher, teachers[init_name] = train_teacher(init_range, hint_epochs + epochs)
        print(f"[{init_name} init] teacher: {teachers[init_name]}", flush=True)
        for seed in seeds:
            for mode in MODES:
                results[(init_name, mode, seed)] = train_student(mode, teacher, seed, init_range, hint_epochs, epochs)
                shown = {k: v for k, v in results[(init_name, mode, seed)].items() if k != "val_curve"}
                print(f"[{init_name} init] seed {seed} {mode}: {shown}", flush=True)

    accuracy = {init: {mode: [results[(init, mode, s)]["test_accuracy"] for s in seeds] for mode in MODES}
                for init in INITS}
    student_params = results[("paper", "fitnets", seeds[0])]["params"]
    teacher_params = teachers["paper"]["params"]
    _, facts = verdict_of(accuracy["paper"], student_params, teacher_params)
    _, control = verdict_of(accuracy["default"], student_params, teacher_params)

    def spread(values) -> str:
        return f"{np.mean(values):.4f} (min {np.min(values):.4f}, max {np.max(values):.4f})"

    rows = []
    for init in INITS:
        rows.append([init, "teacher", f"{teachers[init]['params']:,}", "-",
                     f"{teachers[init]['test_accuracy']:.4f} (seed 0)"])
        for mode in MODES:
            per_seed = ", ".join(f"{a:.4f}" for a in accuracy[init][mode])
            rows.append([init, f"student, {mode}", f"{student_params:,}", per_seed, spread(accuracy[init][mode])])

    def sentence(init: str) -> str:
        m = {mode: np.mean(accuracy[init][mode]) for mode in MODES}
        return (f"test accuracy (mean of {len(seeds)} seeds) from scratch {m['scratch']:.3f}, with KD {m['kd']:.3f}, "
                f"with FitNets {m['fitnets']:.3f}; teacher {teachers[init]['test_accuracy']:.3f}")

    summary = (f"The student ({student_params:,} parameters, 10 layers) has {facts['params_ratio']:.1f}x fewer "
               f"parameters than the teacher ({teacher_params:,}, 4 layers). With the paper's initialisation: "
               f"{sentence('paper')}; FitNets beats both baselines on {facts['seeds_won']} of {facts['seeds']} seeds. "
               f"Control with PyTorch's default initialisation: {sentence('default')}; FitNets beats both on "
               f"{control['seeds_won']} of {control['seeds']} seeds. Checks with the paper's initialisation: "
               + "; ".join(f"{name}: held on {sum(held)} of {len(seeds)} seeds" for name, held in facts["held"].items())
               + f". Scaled to the budget: {hint_epochs} + {epochs} epochs instead of "
               f"early stopping over up to 500; ReLU instead of maxout; digits instead of CIFAR-10.")

    _figure(run, accuracy, results, teachers, seeds, hint_epochs)
    data = {"rule": facts, "control_default_init": control, "teachers": teachers,
            "runs": {f"{init}/{mode}/seed{seed}": value for (init, mode, seed), value in results.items()},
            "wall_seconds": time.time() - wall, "cpu_seconds": time.process_time() - cpu}
    run.record(
        "fitnets",
        claim="A thinner, deeper student trained with hints from a wider teacher's middle layer, then with KD, beats "
              "the same student trained from scratch and with plain KD, with far fewer parameters than the teacher.",
        seeds=list(seeds), checks=claim_checks(data)[1], summary=summary,
        setup=(f"Task {TASK} (1150 train / 288 val / 360 test 8x8 images). Teacher: conv {TEACHER_WIDTHS} + "
               f"softmax ({teacher_params:,} parameters); student: conv {STUDENT_WIDTHS} + softmax "
               f"({student_params:,}); 3x3 conv + ReLU, 2x2 max pooling between resolutions. Hint {HINT_LAYER!r} "
               f"(teacher's middle conv layer, 64x4x4), guided {GUIDED_LAYER!r} (student's middle conv layer, 8x4x4), "
               f"conv regressor 1x1 + ReLU. RMSProp (decay {RMSPROP_DECAY}) lr {LR}, batch {BATCH}; tau 3, lambda "
               f"4 -> 1 linearly; FitNets {hint_epochs} hint epochs + {epochs} KD epochs, scratch and KD "
               f"{hint_epochs + epochs} epochs; best validation-accuracy epoch kept; one teacher (seed 0, "
               f"{hint_epochs + epochs} epochs) per initialisation; students seeds {list(seeds)}, the same init and "
               f"data order for the three students of a seed. Initialisation: 'paper' = uniform in "
               f"[-{INIT_RANGE}, {INIT_RANGE}], zero biases; 'default' = PyTorch's (control). Checks, per seed "
               f"(paper's init): FitNets > scratch; FitNets > KD. "
               f"Departures (data and budget): 8x8 digits instead of CIFAR-10, so CNNs of 58k / 5k parameters "
               f"instead of ~9M / ~2.5M; ReLU instead of maxout; {hint_epochs} + {epochs} epochs instead of early "
               f"stopping over up to 500 (repro_longer trains 3x longer as the control)."),
        table={"columns": ["init", "network", "params", "test accuracy per seed", "mean (min, max)"], "rows": rows},
        paper={"note": "Romero et al. 2015, Table 1 (CIFAR-10): teacher (maxout, ~9M parameters) 90.18%, FitNet (19 "
                       "layers, ~2.5M) 91.61%; Sec. 5 / Fig. 3: at a fixed computational budget, deep students trained "
                       "from scratch or with KD fail to train where hint-based training succeeds."},
        figures=["fitnets_accuracy.png"],
        data=data,
    )
    print(summary)


def _figure(run: Run, accuracy: dict, results: dict, teachers: dict, seeds, hint_epochs: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    colors = {"scratch": "tab:gray", "kd": "tab:orange", "fitnets": "tab:blue"}
    for ax, init in zip(axes[:2], INITS):
        for i, mode in enumerate(MODES):
            values = accuracy[init][mode]
            ax.bar(i, np.mean(values), color=colors[mode], alpha=0.6)
            ax.scatter([i] * len(values), values, color="black", s=12, zorder=3)
        ax.axhline(teachers[init]["test_accuracy"], color="tab:green", ls="--", lw=1, label="teacher")
        ax.set_xticks(range(len(MODES)), ["scratch", "KD", "FitNets"])
        ax.set_ylim(0, 1)
        ax.set_title(f"{init} init: student test accuracy", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    ax = axes[2]
    for mode in MODES:
        curve = results[("paper", mode, seeds[0])]["val_curve"]
        offset = hint_epochs if mode == "fitnets" else 0  # FitNets' stage-2 curve starts after stage 1
        ax.plot(np.arange(len(curve)) + offset + 1, curve, color=colors[mode], label=mode)
    ax.axvline(hint_epochs + 0.5, color="black", lw=0.5, ls=":")
    ax.set_xlabel("epoch")
    ax.set_title(f"paper init, seed {seeds[0]}: validation accuracy", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(run.figure("fitnets_accuracy.png"), dpi=110)
    plt.close(fig)
