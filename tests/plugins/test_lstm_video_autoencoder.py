"""lstm-video-autoencoder: conformance of the composite model, its variants and the classifier; the
reversed reconstruction, unconditioned and conditional decoders, the encoder hand-over; the moving-digit
tasks; bad input; and training that lowers the loss."""

import numpy as np
import pytest
import torch

import zoo
from zoo.testing import assert_conforms
from zoo_plugins.lstm_video_autoencoder.data import moving_sequences, trajectories
from zoo_plugins.lstm_video_autoencoder.model import composite_loss, load_encoder

SMALL = {"frame_size": 8, "hidden_size": 12, "input_frames": 3, "future_frames": 2}


def test_conforms_composite_variants_and_classifier():
    assert_conforms("lstm-video-autoencoder", **SMALL)
    assert_conforms("lstm-video-autoencoder", variant="conditional", **SMALL, num_layers=2)
    assert_conforms("lstm-video-autoencoder", variant="autoencoder", **SMALL)
    assert_conforms("lstm-video-autoencoder", variant="future-predictor", **SMALL)
    assert_conforms("lstm-video-autoencoder", variant="classifier", frame_size=8, hidden_size=12, num_classes=4)


def test_decoders_start_from_the_encoder_state_and_reconstruct_in_reverse():
    torch.manual_seed(0)
    model = zoo.create("lstm-video-autoencoder", **SMALL).eval()
    frames, future = torch.rand(2, 3, 8, 8), torch.rand(2, 2, 8, 8)
    recon, predicted = model(frames)
    assert recon.shape == (2, 3, 8, 8) and predicted.shape == (2, 2, 8, 8)
    state = model.encode(frames)
    # unconditioned decoder: zero inputs from the encoder's final state; its first output is frame T (reversed)
    out, _ = model.reconstruction.lstm(torch.zeros(2, 3, 64), state)
    by_hand = model.reconstruction.readout(out).reshape(2, 3, 8, 8)
    torch.testing.assert_close(recon, by_hand.flip(1))
    out, _ = model.future.lstm(torch.zeros(2, 2, 64), state)
    torch.testing.assert_close(predicted, model.future.readout(out).reshape(2, 2, 8, 8))
    # the representation matters: other input frames give other outputs
    assert not torch.allclose(model(torch.rand(2, 3, 8, 8))[1], predicted)
    # the future frames are not read by unconditioned decoders
    torch.testing.assert_close(model(frames, future)[1], predicted)


def test_conditional_decoder_teacher_forcing_matches_free_running_on_its_own_outputs():
    torch.manual_seed(0)
    model = zoo.create("lstm-video-autoencoder", variant="conditional", **SMALL)
    frames = torch.rand(2, 3, 8, 8)
    model.eval()
    _, free = model(frames)
    # feeding the free-running predictions back as "targets" with teacher forcing gives the same logits
    model.train()
    _, forced = model(frames, torch.sigmoid(free))
    torch.testing.assert_close(forced, free, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="future frames"):
        model(frames)


def test_composite_loss_is_pixel_cross_entropy_per_frame():
    frames, future = torch.rand(2, 3, 4, 4), torch.rand(2, 2, 4, 4)
    zeros = (torch.zeros(2, 3, 4, 4), torch.zeros(2, 2, 4, 4))
    # logits 0: every pixel costs log 2 whatever the target; 16 pixels, summed per frame, for each of 2 parts
    assert composite_loss(zeros, frames, future).item() == pytest.approx(2 * 16 * np.log(2), rel=1e-5)
    assert composite_loss((None, zeros[1]), frames, future).item() == pytest.approx(16 * np.log(2), rel=1e-5)


def test_encoder_hand_over_to_classifier():
    torch.manual_seed(0)
    composite = zoo.create("lstm-video-autoencoder", **SMALL)
    classifier = zoo.create("lstm-video-autoencoder", frame_size=8, hidden_size=12, num_classes=4)
    load_encoder(classifier, composite)
    for name, value in composite.encoder.state_dict().items():
        torch.testing.assert_close(classifier.encoder.state_dict()[name], value)
    classifier.eval()
    frames = torch.rand(2, 7, 8, 8)  # the classifier reads sequences of any length
    out, _ = classifier.encoder(frames.flatten(2))
    torch.testing.assert_close(classifier(frames), classifier.classifier(out).mean(1))
    with pytest.raises(ValueError, match="num_classes"):
        load_encoder(composite, classifier)


def test_moving_digits_bounce_inside_the_frame():
    path = trajectories(np.random.default_rng(0), 50, 30, 8)
    assert path.min() == 0 and path.max() == 8
    steps = np.abs(np.diff(path, axis=1))
    assert set(np.unique(steps)) <= {0, 1, 2}  # speed kept, direction reversed at a wall
    image = np.random.default_rng(1).random((3, 8, 8)).astype(np.float32)
    video = moving_sequences(image, 6, 16, np.random.default_rng(2))
    np.testing.assert_allclose(video.sum((2, 3)), np.repeat(image.sum((1, 2))[:, None], 6, 1), rtol=1e-5)
    task = zoo.get_task("moving-digits/video", n_train=10)
    frames, future = task.splits()["train"].tensors
    assert frames.shape == (10, 10, 16, 16) and future.shape == (10, 10, 16, 16)
    few = zoo.get_task("moving-digits/classify", per_class=3)
    labels = few.splits()["train"].tensors[1]
    assert torch.equal(torch.bincount(labels), torch.full((10,), 3))


def test_bad_input_and_config():
    model = zoo.create("lstm-video-autoencoder", **SMALL)
    with pytest.raises(ValueError, match=r"\(batch, 3, 8, 8\)"):
        model(torch.rand(2, 4, 8, 8))
    with pytest.raises(ValueError, match=r"\(batch, 3, 8, 8\)"):
        model(torch.rand(2, 3, 64))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.ones(2, 3, 8, 8, dtype=torch.long))
    for bad in ({"reconstruct": False, "predict_future": False}, {"hidden_size": 0}, {"dropout": 1.0}):
        with pytest.raises(zoo.ConfigError):
            zoo.create("lstm-video-autoencoder", **bad)
    with pytest.raises(ValueError, match="frame_size"):
        zoo.get_task("moving-digits/video", frame_size=4)


def test_unsupervised_training_lowers_the_loss():
    task = zoo.get_task("moving-digits/video", n_train=256, frame_size=12, input_frames=4, future_frames=3)
    torch.manual_seed(0)
    model = zoo.create("lstm-video-autoencoder", task=task, hidden_size=32)
    before = zoo.evaluate(model, task, split="val")["loss"]
    zoo.train(model, task, epochs=2, batch_size=32, lr=3e-3, seed=0, eval_splits=[], final_splits=[], progress=False)
    assert zoo.evaluate(model, task, split="val")["loss"] < 0.8 * before
