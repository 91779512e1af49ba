"""The torch-free checkpoint reader: both of torch's formats give torch's own numbers, and a file
that names any other global than a tensor rebuild is refused before it can run anything."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from vad.encoders.backbones.checkpoint import (
    LEGACY_MAGIC,
    LEGACY_PROTOCOL,
    CheckpointError,
    load_state_dict,
)


def _torch():
    from tests.support.tiny_models import need_export_extra

    need_export_extra("torch")  # torch writes the reference files; the reader never imports it
    import torch

    return torch


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_both_torch_formats_read_exactly(tmp_path: Path, legacy: bool) -> None:
    torch = _torch()
    torch.manual_seed(0)
    base = torch.randn(6, 8)
    state = OrderedDict(
        conv=torch.randn(4, 3, 3, 3),
        transposed=base.t(),  # non-contiguous strides
        view=base[2:5, 1:],  # shares a storage at an offset
        half=torch.randn(5).half(),
        bf16=torch.randn(5).bfloat16(),
        count=torch.tensor(7),  # 0-d, int64 (num_batches_tracked)
        empty=torch.zeros(0, 3),
        param=torch.nn.Parameter(torch.randn(2, 2)),
    )
    path = tmp_path / "weights.pt"
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    got = load_state_dict(path)
    assert list(got) == list(state)
    for key, tensor in state.items():
        expected = tensor.detach().float() if tensor.is_floating_point() else tensor
        assert got[key].shape == tuple(tensor.shape), key
        assert np.array_equal(got[key], expected.numpy()), key
    assert got["conv"].dtype == np.float32 and got["count"].dtype == np.int64


def test_a_state_dict_under_state_dict_is_unwrapped(tmp_path: Path) -> None:
    torch = _torch()
    path = tmp_path / "checkpoint.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}, "epoch": 3}, path)
    assert list(load_state_dict(path)) == ["w"]


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def _legacy_stream(payload: object) -> bytes:
    out = io.BytesIO()
    for part in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True}, payload, []):
        pickle.dump(part, out, protocol=2)
    return out.getvalue()


def test_a_legacy_file_naming_another_global_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    path.write_bytes(_legacy_stream({"w": _Exploit()}))
    with pytest.raises(CheckpointError, match="refusing to load posix.system|refusing to load os"):
        load_state_dict(path)


def test_a_zip_file_naming_another_global_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": _Exploit()}, protocol=2))
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_state_dict(path)


def test_files_that_are_not_state_dicts_say_so(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint"):
        load_state_dict(junk)
    numbers = tmp_path / "numbers.pt"
    numbers.write_bytes(_legacy_stream({"epoch": 3}))
    with pytest.raises(CheckpointError, match="'epoch' is not a tensor"):
        load_state_dict(numbers)
    truncated = tmp_path / "truncated.pt"
    torch = _torch()
    torch.save({"w": torch.ones(100)}, truncated, _use_new_zipfile_serialization=False)
    truncated.write_bytes(truncated.read_bytes()[:-40])
    with pytest.raises(CheckpointError, match="ends early"):
        load_state_dict(truncated)


def test_a_view_reaching_outside_its_storage_is_refused(tmp_path: Path) -> None:
    """A crafted record (negative stride, offset past the end) must not read foreign memory."""
    torch = _torch()
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.arange(4.0)}, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    # the tensor record pickles (offset 0, size (4,), stride (1,)) as K\x00 K\x04 \x85 K\x01 \x85
    record = b"K\x00K\x04\x85q"
    assert data.count(record) == 1, "torch's legacy pickle layout changed"
    path.write_bytes(data.replace(b"K\x00K\x04\x85q", b"K\x03K\x04\x85q"))
    with pytest.raises(CheckpointError, match="reaches past its storage"):
        load_state_dict(path)
