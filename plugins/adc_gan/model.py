"""ADC-GAN: Conditional GANs with Auxiliary Discriminative Classifier (Hou et al., 2021,
arXiv:2107.10060), with AC-GAN (Odena et al., 2017) as the `loss="ac"` baseline.

A conditional generator G(z, y) plays the GAN game against a discriminator D(x) (the GAN loss
V(G, D) of zoo_plugins.gan: binary cross-entropy on logits, non-saturating for G). Both conditional
GANs add a classifier on the discriminator's features psi(x); they differ in what it classifies.

AC-GAN (the paper's Sec. 2, as the authors' code trains it): a classifier C(y|x) over the K classes,
trained on real data only, and a generator that makes its samples easy to classify:

    max_{D,C}  V(G, D) + lambda * E_{(x,y)~P}[log C(y|x)]
    min_G      V(G, D) - lambda * E_{(x,y)~Q}[log C(y|x)]

Since the optimal C is the data's p(y|x), the generator's extra term lowers the conditional entropy
of its own samples: where classes overlap it pushes each class away from the others and loses
intra-class diversity.

ADC-GAN (Sec. 3): a discriminative classifier C_d over 2K classes, "real k" (y+) and "generated k"
(y-), with C_d(y+-|x) = softmax over the 2K logits phi(y+-)^T psi(x); D and C_d learn to tell the
class and the source apart, and the generator raises y+ and lowers y- on its samples:

    max_{D,C_d}  V(G, D) + lambda * (E_{(x,y)~P}[log C_d(y+|x)] + E_{(x,y)~Q}[log C_d(y-|x)])
    min_G        V(G, D) - lambda * (E_{(x,y)~Q}[log C_d(y+|x)] - E_{(x,y)~Q}[log C_d(y-|x)])

At the optimal C_d the generator's term is a divergence between the joint distributions P(x, y)
and Q(x, y) (the paper's Theorem 1), so it is minimised by Q = P: the classifier becomes
"generator-aware" and no longer rewards collapsing a class. Here "real k" is logit 2k and
"generated k" logit 2k+1, as in the authors' code.

Architecture (the class-overlapping synthetic experiment the paper takes from TAC-GAN): G embeds y
in latent_dim dimensions, concatenates the embedding with z ~ N(0, I) and maps them through tanh
layers of width 10 to a linear output; D is three tanh layers of width 10 (psi) with a linear
adversarial head and a linear classifier head, its weights initialised N(0, 0.02^2); Adam
(lr 2e-3, betas 0.5, 0.999); ten discriminator steps per generator step.

Departures from the paper:
- TAC-GAN's released 1D generator has no tanh after its second hidden layer; here every hidden
  layer of G has one (a generic MLP; the output layer stays linear).
- Generated labels are drawn uniformly over the K classes (as the reference code does), which is
  the data's label distribution on the balanced tasks used here.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zoo_plugins.gan.model import check_labels, check_samples, discriminator_loss, generator_loss

from .config import ADCGANConfig

__all__ = ["ADCGAN", "classifier_loss_discriminator", "classifier_loss_generator"]


def tanh_mlp(in_features: int, hidden: list[int], out_features: int | None) -> nn.Sequential:
    """Linear + tanh hidden layers, then (when out_features is given) a linear output layer."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_features, width), nn.Tanh()]
        in_features = width
    if out_features is not None:
        layers.append(nn.Linear(in_features, out_features))
    return nn.Sequential(*layers)


def classifier_loss_discriminator(kind: str, real_logits: torch.Tensor, real_labels: torch.Tensor,
                                 fake_logits: torch.Tensor, fake_labels: torch.Tensor) -> torch.Tensor:
    """The classifier term D and C minimise (the negated lambda-term of their objective).

    adc: -log C_d(y+|x_real) - log C_d(y-|x_fake) over 2K logits (2k: real k, 2k+1: generated k);
    ac: -log C(y|x_real) over K logits (real data only)."""
    if kind == "adc":
        return F.cross_entropy(real_logits, 2 * real_labels) + F.cross_entropy(fake_logits, 2 * fake_labels + 1)
    return F.cross_entropy(real_logits, real_labels)


def classifier_loss_generator(kind: str, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The classifier term G minimises on its samples G(z, y).

    adc: -log C_d(y+|G) + log C_d(y-|G); ac: -log C(y|G)."""
    if kind == "adc":
        return F.cross_entropy(logits, 2 * labels) - F.cross_entropy(logits, 2 * labels + 1)
    return F.cross_entropy(logits, labels)


class ConditionalGenerator(nn.Module):
    """G(z, y): [z || embed(y)] through tanh layers to a linear output."""

    def __init__(self, config: ADCGANConfig, data_dim: int):
        super().__init__()
        self.embed = nn.Embedding(config.num_classes, config.latent_dim)
        self.net = tanh_mlp(2 * config.latent_dim, config.generator_hidden, data_dim)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, self.embed(labels)], dim=-1))


class ClassifierDiscriminator(nn.Module):
    """psi(x) (tanh layers) shared by the adversarial logit and the classifier's logits."""

    def __init__(self, config: ADCGANConfig, data_dim: int):
        super().__init__()
        self.features = tanh_mlp(data_dim, config.discriminator_hidden, None)
        width = config.discriminator_hidden[-1]
        self.adversarial = nn.Linear(width, 1)
        self.classifier = nn.Linear(width, config.num_classes * (2 if config.loss == "adc" else 1))
        for layer in self.modules():
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, 0.0, config.init_std)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(adversarial logit (batch,), classifier logits (batch, 2K or K))."""
        h = self.features(x)
        return self.adversarial(h).squeeze(-1), self.classifier(h)


class ADCGAN(nn.Module):
    """Conditional generator and classifier-discriminator; `forward(z, labels)` is the generator."""

    zoo_gradient_exempt = {"generator.*": "the generator takes a step only on every k_steps-th training_step; "
                                          "the other calls update the discriminator and classifier alone"}

    def __init__(self, config: ADCGANConfig | None = None):
        super().__init__()
        self.config = config = config or ADCGANConfig()
        self.data_shape = tuple(config.data_shape)
        data_dim = math.prod(self.data_shape)
        self.generator = ConditionalGenerator(config, data_dim)
        self.discriminator = ClassifierDiscriminator(config, data_dim)
        self.register_buffer("discriminator_steps", torch.zeros((), dtype=torch.long))
        self._last_generator_loss = float("nan")

    def check_labels(self, labels) -> torch.Tensor:
        return check_labels(labels, self.config.num_classes, "ADCGAN")

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, device=self.discriminator_steps.device)

    def random_labels(self, n: int) -> torch.Tensor:
        return torch.randint(self.config.num_classes, (n,), device=self.discriminator_steps.device)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """G(z, y): noise (batch, latent_dim) and labels (batch,) -> samples (batch, *data_shape)."""
        if not torch.is_tensor(z) or not z.is_floating_point():
            raise TypeError(f"ADCGAN expects floating-point noise of shape (batch, {self.config.latent_dim}), "
                            f"got {getattr(z, 'dtype', type(z).__name__)}")
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"ADCGAN expects noise of shape (batch, {self.config.latent_dim}), got {tuple(z.shape)}")
        labels = self.check_labels(labels)
        if labels.shape[0] != z.shape[0]:
            raise ValueError(f"ADCGAN got {z.shape[0]} noise vectors but {labels.shape[0]} labels; "
                             f"expected one label each")
        return self.generator(z, labels).reshape(z.shape[0], *self.data_shape)

    @torch.no_grad()
    def sample(self, labels: torch.Tensor) -> torch.Tensor:
        """One sample of Q(x|y) per requested label."""
        labels = labels.to(self.discriminator_steps.device)
        return self(self.noise(labels.shape[0]), labels)

    @torch.no_grad()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's class probabilities (batch, K); for ADC-GAN, C_d(y+|x) renormalised over
        the K "real" classes (the paper's classifier for real data)."""
        logits = self.discriminator(check_samples(x, self.data_shape, "ADCGAN classifier"))[1]
        if self.config.loss == "adc":
            logits = logits[:, 0::2]
        return logits.softmax(-1)

    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        def adam(params):
            return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))

        return {"discriminator": adam(self.discriminator.parameters()), "generator": adam(self.generator.parameters())}

    def training_step(self, batch, step) -> dict[str, float]:
        """One step of D and the classifier on this labelled minibatch; a generator step every
        k_steps calls, each with fresh noise and uniformly drawn labels."""
        if not isinstance(batch, (list, tuple)) or len(batch) < 2:
            raise ValueError("ADCGAN trains on (samples, labels) batches")
        real = check_samples(batch[0], self.data_shape, "ADCGAN")
        labels = self.check_labels(batch[1])
        n, lam = real.shape[0], self.config.aux_weight
        fake_labels = self.random_labels(n)
        with torch.no_grad():
            fake = self(self.noise(n), fake_labels).reshape(n, -1)
        adv, cls = self.discriminator(torch.cat([real, fake]))  # one pass over real and generated
        (real_adv, fake_adv), (real_cls, fake_cls) = adv.split(n), cls.split(n)
        adversarial = discriminator_loss(real_adv, fake_adv)
        classifier = classifier_loss_discriminator(self.config.loss, real_cls, labels, fake_cls, fake_labels)
        d_loss = adversarial + lam * classifier
        step.zero_grad("discriminator")
        step.backward(d_loss)
        step.step("discriminator")
        self.discriminator_steps += 1
        if int(self.discriminator_steps) % self.config.k_steps == 0:
            g_labels = self.random_labels(n)
            g_adv, g_cls = self.discriminator(self(self.noise(n), g_labels).reshape(n, -1))
            g_classifier = classifier_loss_generator(self.config.loss, g_cls, g_labels)
            g_loss = generator_loss(g_adv, self.config.generator_loss) + lam * g_classifier
            step.zero_grad("generator")
            step.backward(g_loss)
            step.step("generator")
            self._last_generator_loss = float(g_loss.detach())
        return {
            "loss": float(d_loss.detach()),
            "classifier_loss": float(classifier.detach()),
            "generator_loss": self._last_generator_loss,
            "d_real": float(torch.sigmoid(real_adv.detach()).mean()),
            "d_fake": float(torch.sigmoid(fake_adv.detach()).mean()),
        }

    @torch.no_grad()
    def evaluation_step(self, batch, task) -> torch.Tensor:
        """One generated sample per label of the batch, for the task's sample metrics."""
        return self.sample(batch[1])
