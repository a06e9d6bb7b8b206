"""Speed of `cgan`: one adversarial update's forward+backward of the default config (the paper's
MNIST sizes, batch 100). The cGAN has no plain-PyTorch reference of its own (its networks are the
GAN's Linear/maxout blocks with a label branch), so it is timed in the same interleaved rounds as
the zoo GAN and the obvious plain-PyTorch GAN of gan's perf script, and compared with the latter.

    zoo reproduce cgan --part perf
"""

from __future__ import annotations

from zoo.reproduce import Run
from zoo_plugins.gan.perf import adversarial_update_seconds, record_fields


def reproduce(run: Run) -> None:
    rounds = run.pick(20, 1)
    fields = record_fields(adversarial_update_seconds(rounds), rounds)
    print(fields["summary"])
    run.record("perf", **fields)
