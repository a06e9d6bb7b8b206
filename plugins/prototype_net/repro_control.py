"""Control for the prototype-net reproduction (repro.py): the seed whose prototypes failed check 2 in the
full run (seed 1: 10 of 15 decoded prototypes labelled with their class by the pixel classifier) trained
3x longer, 900 epochs, as the protocol fixed before running. Only the prototype network is retrained:
check 1 (accuracy against the CNN) held on that seed, and checks 2 and 3 concern the prototypes alone.
Run as its own part because the full run's inline control did not fit the session's time.

If checks 2 and 3 hold after 900 epochs, the short training is to blame for the miss; if not, the
claim fails at this scale.

    zoo reproduce prototype-net --part repro_control
"""

from __future__ import annotations

import time

import torch

import zoo
from zoo.reproduce import Run
from zoo_plugins.prototype_net.repro import BATCH, CONTROL_FACTOR, EPOCHS, LR, SHARE, digit_references, prototype_checks

SEED = 1


def reproduce(run: Run) -> None:
    epochs = run.pick(CONTROL_FACTOR * EPOCHS, 3)
    torch.set_num_threads(1)
    start = time.time()
    task, x, _, pixel_classifier, threshold = digit_references()
    torch.manual_seed(SEED)
    proto = zoo.create("prototype-net", task=task)
    result = zoo.train(proto, task, optimizer="adam", lr=LR, batch_size=BATCH, epochs=epochs, seed=SEED,
                       eval_splits=[], final_splits=["test"], progress=False)
    checks = prototype_checks(proto, pixel_classifier, x["train"], threshold)
    accuracy = result.final["test_accuracy"]
    holds = {"labelled as their class > 3/4": checks["agree"] > SHARE, "near a training digit > 3/4": checks["near"] > SHARE}
    conclusion = ("checks 2 and 3 hold after 3x longer training: the short training is to blame for the miss"
                  if all(holds.values()) else "a prototype check still fails after 3x longer training: the claim "
                                              "fails at this scale on this seed")
    print(f"seed {SEED}, {epochs} epochs: test {accuracy:.4f}, labelled {checks['agree']:.2f}, near {checks['near']:.2f}: "
          f"{conclusion}", flush=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "prototype_net_control_prototypes.png"
    images = proto.prototypes().squeeze(1).numpy()
    fig, axes = plt.subplots(1, len(images), figsize=(len(images) * 0.7, 1.1))
    for j, ax in enumerate(axes):
        ax.imshow(images[j], cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ok = checks["classes"][j] == checks["pixel_labels"][j]
        ax.set_title(str(checks["classes"][j]), fontsize=8, color="black" if ok else "red")
    fig.suptitle(f"Seed {SEED}, {epochs} epochs: decoded prototypes (red: the pixel classifier disagrees)", fontsize=8)
    fig.tight_layout()
    fig.savefig(run.figure(name), dpi=110)
    plt.close(fig)
    run.record(
        "prototype_net_control",
        claim="control of the prototype-net reproduction: does the failed prototype check on seed 1 hold with 3x "
              "longer training?",
        verdict="measured",
        summary=(f"Seed {SEED} prototype network trained {epochs} epochs (3x the reproduction's {EPOCHS}): test accuracy "
                 f"{100 * accuracy:.2f}%, {100 * checks['agree']:.0f}% of the 15 decoded prototypes labelled with their "
                 f"class by the pixel classifier (at {EPOCHS} epochs: 67%), {100 * checks['near']:.0f}% near a training "
                 f"digit; {conclusion}."),
        setup=(f"as repro.py (digits, 4 conv layers, strides 2, 2, 1, 1, 15 prototypes, lambdas 0.05, Adam lr {LR}, "
               f"batch {BATCH}), prototype network only, seed {SEED}, {epochs} epochs; 1 torch thread; "
               f"{time.time() - start:.0f} s."),
        table={"columns": ["epochs", "test acc %", "labelled as their class", "near a training digit"],
               "rows": [[epochs, f"{100 * accuracy:.2f}", f"{checks['agree']:.2f}", f"{checks['near']:.2f}"]]},
        figures=[name], data={"seed": SEED, "epochs": epochs, "test_accuracy": accuracy, "prototypes": checks,
                              "holds": holds, "distance_threshold": threshold})
