"""Speed of `gan`: one adversarial update's forward+backward (discriminator loss on real and
generated samples, then the generator's non-saturating loss) on the default configs (the papers'
MNIST sizes, batch 100), against the same networks written the obvious way in plain PyTorch
(nn.Sequential of Linear/ReLU for G, Linear + reshape + max for maxout in D), interleaved. The
cGAN (plugins/cgan, whose perf script writes its own record from the same timing) runs in the same
rounds: it has no plain reference of its own, its networks being these blocks with a label branch.

    zoo reproduce gan --part perf
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

BATCH = 100


class ObviousMaxout(nn.Module):
    def __init__(self, d_in, d_out, k):
        super().__init__()
        self.lin, self.d_out, self.k = nn.Linear(d_in, d_out * k), d_out, k

    def forward(self, x):
        return self.lin(x).view(-1, self.d_out, self.k).max(-1).values


def obvious_gan(cfg):
    g = nn.Sequential(nn.Linear(cfg.latent_dim, 1200), nn.ReLU(), nn.Linear(1200, 1200), nn.ReLU(),
                      nn.Linear(1200, 784), nn.Sigmoid())
    d = nn.Sequential(nn.Dropout(0.2), ObviousMaxout(784, 240, 5), nn.Dropout(0.5), ObviousMaxout(240, 240, 5),
                      nn.Dropout(0.5), nn.Linear(240, 1))
    return g, d


def adversarial_pass(generate, discriminate, real, z) -> float:
    start = time.perf_counter()
    fake = generate(z)
    real_logit, fake_logit = discriminate(real), discriminate(fake.detach())
    (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
     + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))).backward()
    g_logit = discriminate(generate(z))
    F.binary_cross_entropy_with_logits(g_logit, torch.ones_like(g_logit)).backward()
    return time.perf_counter() - start


def adversarial_update_seconds(rounds: int) -> dict[str, list[float]]:
    """Seconds of one update of the zoo GAN, the obvious plain-PyTorch GAN and the zoo cGAN, in turn."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    gan = zoo.create("gan").train()
    g, d = obvious_gan(gan.config)
    real, z = torch.rand(BATCH, 784), torch.rand(BATCH, gan.config.latent_dim) * 2 - 1
    runs = {
        "zoo gan": lambda: adversarial_pass(gan, gan.discriminator_logits, real, z),
        "obvious gan": lambda: adversarial_pass(g, lambda x: d(x.reshape(len(x), -1)).squeeze(-1), real, z),
    }
    cgan = zoo.create("cgan").train()
    labels = torch.arange(BATCH) % 10
    runs["zoo cgan"] = lambda: adversarial_pass(lambda zz: cgan(zz, labels), lambda x: cgan.discriminator(
        x.reshape(len(x), -1), F.one_hot(labels, 10).float()), real, z)
    return interleaved(runs, rounds)


def record_fields(times: dict[str, list[float]], rounds: int) -> dict:
    """The perf record of these timings, as `run.record` takes it (the gan and cgan records share it)."""
    med = medians(times)
    ratio = med["zoo gan"] / med["obvious gan"]
    summary = (f"one adversarial update (D on real+fake, G through D), paper MNIST sizes, batch {BATCH}: zoo GAN "
               f"{med['zoo gan'] * 1e3:.1f} ms, obvious plain-PyTorch GAN {med['obvious gan'] * 1e3:.1f} ms "
               f"(ratio {ratio:.2f}); zoo cGAN (paper sizes) {med['zoo cgan'] * 1e3:.1f} ms. Median of {rounds} "
               f"interleaved rounds, 1 thread.")
    return dict(
        claim="forward+backward of the default config is no more than 1.2x slower than the most direct "
              "plain-PyTorch alternative",
        verdict="measured", summary=summary,
        setup=f"1 torch thread, batch {BATCH}, default configs, interleaved rounds, medians. The cGAN has no "
              f"separate reference: its networks are the same Linear/maxout blocks with a label branch.",
        table={"columns": ["implementation", "median ms", "ratio to obvious GAN"],
               "rows": [[k, f"{v * 1e3:.2f}", f"{v / med['obvious gan']:.2f}"] for k, v in med.items()]},
        data={"times_s": times},
    )


def reproduce(run: Run) -> None:
    rounds = run.pick(20, 1)
    fields = record_fields(adversarial_update_seconds(rounds), rounds)
    print(fields["summary"])
    run.record("perf", **fields)
