"""Soak: the whole service with N live RTSP cameras for M minutes; does any process's memory grow?

Records every process's memory (RSS of the largest process and summed PSS per role) every
`--every` seconds, and reports per role the maximum RSS and the growth rate in MB/h (least-squares
slope of PSS after a warm-up), together with what the pipeline did meanwhile (frames kept, dropped,
scored, capture -> score latency). Progress is appended to `--out` as JSON lines, so a cut-short
run still leaves its samples; the summary is printed (and appended) at the end.

    .venv/bin/python bench/soak.py --minutes 30 --cameras 4 --out /tmp/vad-soak.jsonl
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BenchStack, ProcessSampler, machine  # noqa: E402

WARM_UP_SECONDS = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--broker", choices=("kafka", "tansu"), default="kafka")
    parser.add_argument("--out", type=Path, default=Path("/tmp/vad-soak.jsonl"))
    parser.add_argument(
        "--summarize", type=Path, help="only summarize the memory samples of an earlier --out"
    )
    args = parser.parse_args()
    if args.summarize:
        print(json.dumps(summarize_file(args.summarize), indent=2))
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup in `finally`
    bench = BenchStack(args.cameras, workers=args.workers, broker=args.broker)
    try:
        bench.start()
        summary = soak(bench, args)
    finally:
        bench.stop()
    _emit(args.out, {"summary": summary})
    print(json.dumps(summary, indent=2))


def soak(bench: BenchStack, args: argparse.Namespace) -> dict:
    started = time.time()
    bench.enable(args.cameras)
    sampler = ProcessSampler(bench)
    sampler.reset_cpu()
    end = started + args.minutes * 60
    while time.time() < end:
        reading = sampler.sample()
        _emit(args.out, {"t": round(time.time() - started, 1), "memory": reading, **_flow(bench)})
        time.sleep(max(0.0, min(args.every, end - time.time())))
    sampler.sample()
    return {
        "machine": machine(),
        "command": " ".join(sys.argv),
        "minutes": args.minutes,
        "cameras": args.cameras,
        "workers": args.workers,
        "broker": args.broker,
        "pipeline": _flow(bench),
        "latency_seconds": _latency(bench, started + WARM_UP_SECONDS),
        "cpu_cores": {
            role: round(seconds / (time.time() - started), 3)
            for role, seconds in sorted(sampler.cpu_seconds.items())
        },
        "memory": memory_summary(
            [{**x, "t": x["t"] - started} for x in sampler.samples], WARM_UP_SECONDS
        ),
    }


def memory_summary(samples: list[dict], after: float) -> dict:
    """Per role: max RSS of its largest process, and least-squares slopes in MB/h after the
    warm-up (a leak shows as a steady positive slope) of that RSS and of the role's summed PSS.
    RSS is the steadier signal: PSS splits shared library pages among every process on the
    machine that maps them, so it moves when unrelated processes start or stop."""
    roles = sorted({role for s in samples for role in s["roles"]})
    return {
        role: _role_summary([s for s in samples if role in s["roles"]], role, after)
        for role in roles
    }


def _role_summary(samples: list[dict], role: str, after: float) -> dict:
    late = [s for s in samples if s["t"] >= after] or samples
    hours = np.array([s["t"] for s in late]) / 3600.0
    rss = np.array([s["roles"][role]["rss_mb"] for s in late])
    pss = np.array([s["roles"][role]["pss_mb"] for s in late])
    half = len(late) // 2

    def slope(values: np.ndarray, start: int = 0) -> float:
        if len(values) - start < 3:
            return float("nan")
        return round(float(np.polyfit(hours[start:], values[start:], 1)[0]), 1)

    return {
        "max_rss_mb": round(max(s["roles"][role]["rss_mb"] for s in samples), 1),
        "rss_mb_first": round(float(rss[0]), 1),
        "rss_mb_last": round(float(rss[-1]), 1),
        "rss_growth_mb_per_hour": slope(rss),
        "rss_growth_mb_per_hour_second_half": slope(rss, half),
        "pss_growth_mb_per_hour": slope(pss),
        "samples": len(late),
    }


def summarize_file(path: Path) -> dict:
    """Memory summary of the samples an earlier run appended to its --out file."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    samples = [{"t": r["t"], "roles": r["memory"]} for r in records if "memory" in r and "t" in r]
    return memory_summary(samples, WARM_UP_SECONDS)


def _flow(bench: BenchStack) -> dict:
    row = bench.rows(
        "SELECT sum(kept_frames), sum(pruned_frames), sum(dropped_frames), "
        "(SELECT count(*) FROM frame_scores), "
        "(SELECT count(*) FROM windows WHERE status IN ('queued', 'running')), "
        "(SELECT count(*) FROM windows WHERE status = 'failed'), "
        "(SELECT count(*) FROM incidents), "
        "(SELECT extract(epoch FROM now() - max(captured_at)) FROM frame_scores) "
        "FROM cameras WHERE enabled"
    )[0]
    names = ("kept", "pruned", "dropped", "scored", "windows_pending", "windows_failed")
    flow = {name: int(value or 0) for name, value in zip(names, row[:6], strict=True)}
    flow["incidents"] = int(row[6] or 0)
    flow["newest_score_age_seconds"] = round(float(row[7]), 2) if row[7] is not None else None
    return flow


def _latency(bench: BenchStack, after: float) -> dict:
    values = [
        float(r[0])
        for r in bench.rows(
            "SELECT extract(epoch FROM scored_at - captured_at) FROM frame_scores "
            "WHERE captured_at >= to_timestamp(:after)",
            after=after,
        )
    ]
    if not values:
        return {}
    return {f"p{q}": round(float(np.percentile(values, q)), 2) for q in (50, 95, 99)}


def _emit(path: Path, record: dict) -> None:
    with path.open("a") as out:
        out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
