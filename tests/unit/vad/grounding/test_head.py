"""The trained grounding head: numpy inference equals the torch module it was exported from, and
on a synthetic embedding set in the real UCA format it learns what raw similarity cannot see and
beats the training-free baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SHARED_DATA
from tests.support.requirements import missing
from tests.support.tiny_models import need_export_extra
from vad.grounding import uca
from vad.grounding.config import GroundingConfig
from vad.grounding.data import samples
from vad.grounding.evaluate import evaluate, trained, training_free
from vad.grounding.head import GroundingHead, conv1d_same

need_export_extra("torch")  # training needs the `export` extra
import torch  # noqa: E402

from vad.grounding.train import TrainOptions, _module, export, train_head  # noqa: E402

UCA = SHARED_DATA / "uca"


def test_conv1d_matches_torch() -> None:
    rng = np.random.default_rng(0)
    h = rng.standard_normal((7, 4)).astype(np.float32)
    conv = torch.nn.Conv1d(4, 3, 5, padding=2)
    expected = conv(torch.from_numpy(h.T[None]))[0].T.detach().numpy()
    got = conv1d_same(h, conv.weight.detach().numpy(), conv.bias.detach().numpy())
    assert np.allclose(got, expected, atol=1e-5)


def test_numpy_head_equals_the_torch_module(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = _module(16, TrainOptions(hidden=8))
    frames = torch.randn(1, 12, 16)
    text = torch.randn(1, 16)
    fg, off, sal = (t[0].detach().numpy() for t in model(frames, text, torch.ones(1, 12)))
    head = GroundingHead.load(export(model).save(tmp_path / "head.npz"))
    out = head.forward(frames[0].numpy(), text[0].numpy())
    assert np.allclose(out.foreground, 1 / (1 + np.exp(-fg)), atol=1e-5)
    assert np.allclose(out.offsets, off, atol=1e-5) and np.allclose(out.saliency, sal, atol=1e-5)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Path, Path]:
    from tests.support.synthetic_grounding import write_synthetic_set

    if not uca.split_file(UCA, "Test").exists():
        missing(f"UCA annotations not found at {UCA}")
    out = tmp_path_factory.mktemp("grounding")
    return write_synthetic_set(UCA, out, train_videos=60, test_videos=30, max_seconds=90)


def test_trained_head_beats_training_free_grounding(synthetic, tmp_path: Path) -> None:
    uca_dir, emb_dir = synthetic
    train, _ = samples(emb_dir, uca.load(uca.split_file(uca_dir, "Train")))
    test, absent = samples(emb_dir, uca.load(uca.split_file(uca_dir, "Test")))
    assert absent == 0 and len(train) > 200 and len(test) > 80
    torch.set_num_threads(1)
    head = train_head(train, TrainOptions(hidden=32, epochs=25))
    head = GroundingHead.load(head.save(tmp_path / "head.npz"))  # what serving loads
    baseline = evaluate(test, training_free(GroundingConfig()))
    learned = evaluate(test, trained(head))
    print("training-free", baseline, "\ntrained", learned)
    assert learned["mIoU"] > baseline["mIoU"] + 0.05
    assert learned["R@1,IoU=0.5"] > baseline["R@1,IoU=0.5"]
