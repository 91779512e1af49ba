"""Read a PyTorch checkpoint (a state dict of tensors) into numpy arrays, without torch.

`make run` installs the runtime only, yet the appearance backbones ship as `.pt`/`.pth` files.
Both of torch's formats are read here: the zip archive (torch >= 1.6: `data.pkl` + one file per
storage) and the legacy stream (a few pickles followed by the raw storages).

A checkpoint is a pickle, and unpickling runs whatever callables the file names. The unpickler
below therefore resolves only an allow-list of globals - `collections.OrderedDict`, torch's
tensor/parameter rebuild functions and its typed storage classes - each mapped to a local
stand-in that builds numpy arrays; any other global (`os.system`, `builtins.eval`, a model class)
is refused with an error before anything runs. torch itself is never imported.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch.<Name>Storage -> element type; "bfloat16" has no numpy type and is widened to float32.
_STORAGE_DTYPES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
    "UntypedStorage": "u1",
}


class CheckpointError(ValueError):
    """The file is not a readable torch state dict, or it asks for code we refuse to run."""


@dataclass(frozen=True, slots=True)
class _StorageType:
    dtype: str

    @property
    def itemsize(self) -> int:
        return 2 if self.dtype == "bfloat16" else np.dtype(self.dtype).itemsize


@dataclass(slots=True)
class _Storage:
    """One flat buffer; legacy files give its bytes only after the pickle, hence filled later."""

    kind: _StorageType
    key: str
    data: bytes | None = None
    view_of: _Storage | None = None
    view_offset: int = 0  # elements


@dataclass(slots=True)
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    extra: dict = field(default_factory=dict)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored) -> _TensorRef:
    """Only plain, in-bounds views: a crafted file must not make numpy read outside a buffer."""
    numbers = (storage_offset, *size, *stride)
    if not isinstance(storage, _Storage) or len(size) != len(stride):
        raise CheckpointError("malformed tensor record")
    if any(not isinstance(n, int) or isinstance(n, bool) or n < 0 for n in numbers):
        raise CheckpointError("tensor record with a negative or non-integer size, stride or offset")
    return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, *_ignored):
    return data


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    **{("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only `_ALLOWED` globals; storages come back as `_Storage` placeholders."""

    def __init__(self, stream: BinaryIO, storages: dict[str, _Storage]) -> None:
        super().__init__(stream)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise CheckpointError(
                f"refusing to load {module}.{name}: a weights file holds tensors only, and "
                "unpickling any other object could run code from the file"
            ) from None

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {str(pid)[:80]!r}")
        kind, key = pid[1], str(pid[2])
        if not isinstance(kind, _StorageType):
            raise CheckpointError(f"unexpected storage type {kind!r}")
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(kind, key)
        view = pid[5] if len(pid) > 5 else None
        if view is not None:  # legacy: a view into a shared root storage
            view_key, offset, _size = view
            return self.storages.setdefault(
                str(view_key), _Storage(kind, str(view_key), view_of=storage, view_offset=offset)
            )
        return storage


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The checkpoint's tensors as numpy arrays (float32 for float tensors, a `state_dict` key
    unwrapped). Raises `CheckpointError` for anything that is not a plain state dict."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            state = _load_zip(path)
        else:
            with path.open("rb") as stream:
                state = _load_legacy(stream)
    except CheckpointError:
        raise
    except (OSError, EOFError, pickle.UnpicklingError, struct.error, ValueError, KeyError) as e:
        raise CheckpointError(f"{path} is not a readable torch checkpoint: {e}") from e
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{path} holds no state dict of tensors")
    out = {}
    for key, value in state.items():
        if not isinstance(value, _TensorRef):
            raise CheckpointError(f"{path}: entry {key!r} is not a tensor")
        out[str(key)] = _materialise(value)
    return out


def _load_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise CheckpointError(f"{path}: a torch zip checkpoint has one data.pkl")
        prefix = pickles[0][: -len("data.pkl")]
        order = prefix + "byteorder"
        big = order in names and archive.read(order).strip() == b"big"
        storages: dict[str, _Storage] = {}
        state = _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), storages).load()
        for key, storage in storages.items():
            data = archive.read(f"{prefix}data/{key}")
            storage.data = _swap(data, storage.kind) if big else data
    return state


def _load_legacy(stream: BinaryIO) -> Any:
    """torch < 1.6: magic number, protocol, system info, the object, storage keys, then each
    storage as an int64 element count followed by its bytes, in the order of the keys."""
    storages: dict[str, _Storage] = {}

    def plain() -> Any:
        return _RestrictedUnpickler(stream, storages).load()

    if plain() != LEGACY_MAGIC:
        raise CheckpointError("not a torch checkpoint (no zip archive, no legacy magic number)")
    if plain() != LEGACY_PROTOCOL:
        raise CheckpointError("unsupported legacy torch protocol version")
    info = plain()
    little = not isinstance(info, dict) or info.get("little_endian", True)
    state = plain()
    for key in plain():
        storage = storages[str(key)]
        (count,) = struct.unpack("<q" if little else ">q", stream.read(8))
        if count < 0:
            raise CheckpointError("corrupt checkpoint: a storage of negative size")
        nbytes = count * storage.kind.itemsize
        data = stream.read(nbytes)
        if len(data) != nbytes:
            raise CheckpointError("truncated checkpoint: a storage ends early")
        storage.data = data if little else _swap(data, storage.kind)
    return state


def _swap(data: bytes, kind: _StorageType) -> bytes:
    width = kind.itemsize
    if width == 1:
        return data
    return np.frombuffer(data, f">u{width}").astype(f"<u{width}").tobytes()


def _flat(storage: _Storage) -> np.ndarray:
    root = storage.view_of or storage
    if root.data is None:
        raise CheckpointError(f"storage {root.key} has no data in the file")
    kind = storage.kind
    if kind.dtype == "bfloat16":
        wide = np.frombuffer(root.data, "<u2").astype(np.uint32) << 16
        flat = wide.view(np.float32)
    else:
        flat = np.frombuffer(root.data, kind.dtype)
    return flat[storage.view_offset :] if storage.view_of is not None else flat


def _materialise(ref: _TensorRef) -> np.ndarray:
    flat = _flat(ref.storage)
    if not ref.size:
        if ref.offset >= flat.size:
            raise CheckpointError("scalar tensor past the end of its storage")
        return np.array(flat[ref.offset])
    needed = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True)) + 1
    if min(ref.size) > 0 and needed > flat.size:
        raise CheckpointError(f"tensor of shape {ref.size} reaches past its storage")
    if min(ref.size) == 0:
        return np.zeros(ref.size, np.float32 if flat.dtype.kind == "f" else flat.dtype)
    strides = tuple(s * flat.itemsize for s in ref.stride)
    view = np.lib.stride_tricks.as_strided(flat[ref.offset :], ref.size, strides, writeable=False)
    array = np.array(view)  # owns its memory, native byte order
    return array.astype(np.float32) if array.dtype.kind == "f" else array
