"""Whether two versions of the code score stage 1 bit for bit alike (speed rounds: a speed cut
must not change one score). Run it from each version's tree, then compare the two files:

    VAD_MODEL_DIR=/tmp/evalmodels VAD_ENCODERS__THREADS=1 OMP_NUM_THREADS=1 \\
        python bench/stage1_exact.py dump /data/ucsd_ped2 --test 2 --out /tmp/new.npz
    (the same from the other version's tree, e.g. a `git worktree`, with --out /tmp/old.npz)
    python bench/stage1_exact.py compare /tmp/old.npz /tmp/new.npz

`dump` fits the default stage 1 (`Stage1.fit`, every installed encoder, as `vad eval`) on the
dataset's training clips but the last `--holdout`, scores the held-out clips and the first
`--test` test clips (`Stage1.score`; no label is read) and saves each clip's fused score and every
term. `compare` prints one JSON line: frames, arrays, values and whether all are equal
(`np.array_equal`), naming any that are not; it exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.settings import Settings  # noqa: E402
from vad.eval.stage1 import Stage1, installed_encoders  # noqa: E402
from vad.video import iter_video_frames  # noqa: E402


def dump(data: Path, holdout: int, test: int, out: Path) -> None:
    settings = Settings()
    stage = Stage1(settings, installed_encoders(settings))
    clips = sorted((data / "train").glob("*.mp4"))
    stage.fit(list(iter_video_frames(p)) for p in clips[:-holdout])
    scored = clips[-holdout:] + sorted((data / "test").glob("*.mp4"))[:test]
    arrays = {}
    for i, path in enumerate(scored):
        result = stage.score(list(iter_video_frames(path)), settings.ingest.default_fps)
        arrays[f"{i:03d} {path.stem}/fused"] = result.fused
        arrays.update({f"{i:03d} {path.stem}/{k}": v for k, v in result.terms.items()})
    np.savez(out, **arrays)
    print(json.dumps({"clips": [p.name for p in scored], "parts": stage.parts, "out": str(out)}))


def compare(a_path: Path, b_path: Path) -> bool:
    a, b = np.load(a_path), np.load(b_path)
    names = sorted(set(a.files) | set(b.files))
    differ = [n for n in names if n not in a or n not in b or not np.array_equal(a[n], b[n])]
    fused = [n for n in a.files if n.endswith("/fused")]
    print(
        json.dumps(
            {
                "frames": int(sum(len(a[n]) for n in fused)),
                "arrays": len(names),
                "values": int(sum(a[n].size for n in a.files)),
                "terms": sorted({n.split("/")[1] for n in names}),
                "all_equal": not differ,
                "differ": differ,
            }
        )
    )
    return not differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="fit and score, save the scores")
    d.add_argument("data", type=Path, help="a dataset folder with train/*.mp4 (and test/)")
    d.add_argument("--holdout", type=int, default=2, help="last training clips held out")
    d.add_argument("--test", type=int, default=0, help="also score the first N test clips")
    d.add_argument("--out", type=Path, required=True)
    c = sub.add_parser("compare", help="compare two dumps bit for bit")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.data, args.holdout, args.test, args.out)
    elif not compare(args.a, args.b):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
