"""Control for `concept-subspace-net`'s hierarchy part: the same protocol trained 3x longer.

Why: in `repro`, the parallel alignment loss did not reach its target (align > 0.95) within 30
epochs on any seed (0.60-0.72), so the control of `repro` could only say "our protocol fails" for
the hierarchy check. This part, with its protocol fixed before running, tells whether the loss
reaches the parallel geometry with longer training, and whether the hierarchical behaviour then
follows.

Protocol: task `concept-subspace-net/hierarchy`, seeds 0, 1, 2 (the same data as `repro`); arms:
the CSN with the parallel alignment loss, and the same network without alignment; default config;
zoo.train Adam lr 1e-3, batch 128, 90 epochs (3x `repro`). Check per seed: share of severe
mistakes (fine mistakes that leave the true coarse class) of the parallel CSN < without alignment.
Reported: whether the parallel geometry was reached (align > 0.95) on every seed. If it was and
the check fails, the claim fails at this scale; if it was not, the alignment loss itself does not
reach parallel subspaces beside the other losses at this weight.

    zoo reproduce concept-subspace-net --part repro_longer --out plugins/concept_subspace_net
"""

from __future__ import annotations

import time

import numpy as np
import torch

import zoo
from zoo.reproduce import Run
from zoo.verdicts import Check

from .repro import BATCH, EPOCHS, LR, train_arm

FACTOR = 3


def reproduce(run: Run) -> None:
    from .metrics import hierarchy_report

    seeds = list(run.pick((0, 1, 2), (0,)))
    epochs = run.pick(FACTOR * EPOCHS, 1)
    sizes = run.pick({}, {"train": 300, "val": 50, "test": 300})
    torch.set_num_threads(1)
    start = time.time()
    hier = {arm: [] for arm in ("parallel", "none")}
    rows = []
    for seed in seeds:
        task = zoo.get_task("concept-subspace-net/hierarchy", seed=seed, **sizes)
        for arm in hier:
            preds, labels, alignment = train_arm(task, seed, epochs, alignment=arm)
            report = hierarchy_report(preds[0], preds[1], labels[:, 0], labels[:, 1], task.parent) | {
                "alignment": alignment["0-1"]}
            hier[arm].append(report)
            print(seed, arm, report, flush=True)
        rows.append([seed, *(f"{hier[a][-1]['fine_accuracy']:.3f} / {hier[a][-1]['severe_mistakes']:.3f} / "
                             f"{hier[a][-1]['consistency']:.3f} / {hier[a][-1]['alignment']:.4f}" for a in hier)])
    get = lambda arm, key: [r[key] for r in hier[arm]]  # noqa: E731
    check = Check("hierarchy, 3x longer: share of severe mistakes of the parallel CSN < without alignment",
                  ours=get("parallel", "severe_mistakes"), versus=get("none", "severe_mistakes"), better="lower")
    reached = all(a > 0.95 for a in get("parallel", "alignment"))
    held = all(check.holds(o, v) for o, v in check.per_seed())
    conclusion = ("every seed held" if held else
                  "the parallel geometry was reached on every seed, and on the seeds where the check fails the "
                  "mistakes did not become less severe: there the claim fails at this scale" if reached else
                  "the parallel geometry was still not reached with 3x longer training: at this weight the alignment "
                  "loss does not make the subspaces parallel beside the other losses")
    mean = lambda arm, key: float(np.mean(get(arm, key)))  # noqa: E731
    summary = (f"{len(seeds)} seeds, {epochs} epochs. Parallel CSN: fine accuracy "
               f"{mean('parallel', 'fine_accuracy'):.3f}, "
               f"severe-mistake share {mean('parallel', 'severe_mistakes'):.3f}, consistency "
               f"{mean('parallel', 'consistency'):.3f}, alignment {mean('parallel', 'alignment'):.4f} (per seed "
               f"{', '.join(f'{a:.3f}' for a in get('parallel', 'alignment'))}). Without alignment: "
               f"{mean('none', 'fine_accuracy'):.3f}, {mean('none', 'severe_mistakes'):.3f}, "
               f"{mean('none', 'consistency'):.3f}, alignment {mean('none', 'alignment'):.4f}. "
               f"Conclusion: {conclusion}.")
    print(summary)
    run.record(
        "concept-subspace-net-longer",
        claim="Concept subspace networks can be configured as hierarchical classifiers (parallel concept subspaces "
              "make mistakes less severe), with training long enough for the alignment loss to converge.",
        seeds=seeds, checks=[check], summary=summary,
        setup=f"As repro's hierarchy part (2 coarse x 3 fine classes, default CSN config, Adam lr {LR}, batch "
              f"{BATCH}) but {epochs} epochs ({FACTOR}x); arms parallel and no alignment; the protocol was fixed "
              f"after repro's control found the parallel target missed and before this ran.",
        table={"columns": ["seed", "parallel: fine acc / severe / consistency / align",
                           "no alignment: fine acc / severe / consistency / align"], "rows": rows},
        data={"hierarchy": hier, "geometry_reached": reached, "conclusion": conclusion, "epochs": epochs,
              "seconds": time.time() - start},
    )
