"""Load benchmark: N replayed Ped2 cameras over RTSP through the whole service, at 2 fps each.

One GStreamer RTSP server (a /usr/bin/python3 subprocess) serves N looping Ped2 test videos at
their native 10 fps on N mount points; the real `vad` processes (ingest, dispatcher, Celery
workers, API, webhook worker) and a Kafka broker run as `vad up` runs them. Each camera is analysed
at 2 fps with a normality model fitted on Ped2 training clips. For every N it reports, over a
measured interval after a warm-up:

- sustained frames/s: sampled by ingest, kept (acknowledged by Kafka), scored;
- capture -> score latency p50/p95/p99 (score row written - capture time of the frame);
- capture -> incident latency p50/p95/p99 (incident row written - capture time of the frame that
  made the rule fire, i.e. its start + `min_duration_seconds`);
- CPU per camera (all service processes, psutil; the RTSP camera simulator reported apart);
- whether it keeps up: nothing dropped, ingest samples >= 90 % of 2 fps x N, >= 98 % of kept frames
  scored within a grace period, capture -> score p95 under 10 s and not growing over the interval.

`--find-max` raises N (doubling, then bisecting) on the same running stack to find the largest N
that keeps up on this machine.

    .venv/bin/python bench/load.py --cameras 4 --seconds 60
    .venv/bin/python bench/load.py --find-max --seconds 60 --max-cameras 32
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

from harness import CAMERA_FPS, BenchStack, ProcessSampler, machine  # noqa: E402

GRACE_SECONDS = 30.0
MAX_P95_SECONDS = 10.0
MAX_LATENCY_GROWTH_SECONDS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4, help="N (the first N with --find-max)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured interval per N")
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--broker", choices=("kafka", "tansu"), default="kafka")
    parser.add_argument("--find-max", action="store_true")
    parser.add_argument("--max-cameras", type=int, default=32)
    parser.add_argument("--out", type=Path, help="also write the JSON result here")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup in `finally`
    slots = args.max_cameras if args.find_max else args.cameras
    result = {"machine": machine(), "command": " ".join(sys.argv), "workers": args.workers}
    bench = BenchStack(slots, workers=args.workers, broker=args.broker)
    try:
        bench.start()
        if args.find_max:
            result.update(find_max(bench, args))
        else:
            result["trials"] = [trial(bench, args.cameras, args)]
    finally:
        bench.stop()
    result["load_average_after"] = machine()["load_average"]
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


def find_max(bench: BenchStack, args: argparse.Namespace) -> dict:
    """Double N until a trial fails to keep up, then bisect between the last pass and the fail."""
    trials: list[dict] = []
    passed, failed = 0, None
    n = max(1, args.cameras)
    while n <= args.max_cameras:
        trials.append(trial(bench, n, args))
        if not trials[-1]["keeps_up"]:
            failed = n
            break
        passed = n
        if n == args.max_cameras:
            break
        n = min(n * 2, args.max_cameras)
    while failed is not None and failed - passed > 1:
        n = (passed + failed) // 2
        trials.append(trial(bench, n, args))
        passed, failed = (n, failed) if trials[-1]["keeps_up"] else (passed, n)
    return {"trials": trials, "max_cameras_keeping_up": passed, "first_failing": failed}


def trial(bench: BenchStack, n: int, args: argparse.Namespace) -> dict:
    """Run N cameras: warm up, measure for `args.seconds`, then judge."""
    print(f"[load] {n} camera(s): warming up", file=sys.stderr, flush=True)
    bench.enable(0)  # a failed larger N left a backlog: score it before measuring this N
    _drain(bench)
    bench.enable(n)
    _wait_online(bench, n)
    time.sleep(args.warmup)
    sampler = ProcessSampler(bench)
    sampler.reset_cpu()
    before = _counters(bench, n)
    t0 = time.time()
    while time.time() < t0 + args.seconds:
        sampler.sample(memory=False)
        time.sleep(2.0)
    sampler.sample(memory=False)
    t1 = time.time()
    after = _counters(bench, n)
    cpu = {role: s / (t1 - t0) for role, s in sampler.cpu_seconds.items()}
    result = _judge(bench, n, t0, t1, before, after, cpu)
    print(f"[load] {n} camera(s): {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def _judge(bench, n, t0, t1, before, after, cpu) -> dict:
    seconds = t1 - t0
    delta = {k: after[k] - before[k] for k in after}
    sampled = delta["kept"] + delta["pruned"] + delta["dropped"]
    scored = _wait_scored(bench, n, t0, t1, delta["kept"])
    latency = _score_latency(bench, n, t0, t1)
    service_cpu = sum(v for role, v in cpu.items() if role != "rtsp-cameras")
    thirds = latency.pop("_thirds")
    result = {
        "cameras": n,
        "seconds": round(seconds, 1),
        "offered_fps": n * CAMERA_FPS,
        "sampled_fps": round(sampled / seconds, 2),
        "kept_fps": round(delta["kept"] / seconds, 2),
        "scored_fps": round(scored / seconds, 2),
        "dropped": delta["dropped"],
        "pruned": delta["pruned"],
        "unscored_after_grace": max(0, delta["kept"] - scored),
        "capture_to_score_seconds": latency,
        "capture_to_incident_seconds": _incident_latency(bench, n, t0, t1),
        "cpu_cores": {role: round(v, 3) for role, v in sorted(cpu.items())},
        "cpu_per_camera_percent": round(100 * service_cpu / n, 1),
        "load_average": machine()["load_average"],
    }
    result["keeps_up"] = bool(
        delta["dropped"] == 0
        and sampled >= 0.9 * n * CAMERA_FPS * seconds
        and scored >= 0.98 * delta["kept"]
        and latency.get("p95", 1e9) <= MAX_P95_SECONDS
        and thirds[-1] - thirds[0] <= MAX_LATENCY_GROWTH_SECONDS
    )
    return result


def _ids(bench: BenchStack, n: int) -> list[int]:
    return bench.camera_ids[:n]


def _counters(bench: BenchStack, n: int) -> dict[str, int]:
    row = bench.rows(
        "SELECT coalesce(sum(kept_frames), 0), coalesce(sum(pruned_frames), 0), "
        "coalesce(sum(dropped_frames), 0) FROM cameras WHERE id = ANY(:ids)",
        ids=_ids(bench, n),
    )[0]
    return {"kept": int(row[0]), "pruned": int(row[1]), "dropped": int(row[2])}


def _scored_between(bench: BenchStack, n: int, t0: float, t1: float) -> int:
    return int(
        bench.scalar(
            "SELECT count(*) FROM frame_scores WHERE camera_id = ANY(:ids) "
            "AND captured_at >= to_timestamp(:t0) AND captured_at < to_timestamp(:t1)",
            ids=_ids(bench, n),
            t0=t0,
            t1=t1,
        )
    )


def _wait_scored(bench: BenchStack, n: int, t0: float, t1: float, kept: int) -> int:
    """Frames captured in the interval that have a score row, after up to GRACE_SECONDS."""
    deadline = time.time() + GRACE_SECONDS
    scored = _scored_between(bench, n, t0, t1)
    while scored < kept and time.time() < deadline:
        time.sleep(1.0)
        scored = _scored_between(bench, n, t0, t1)
    return scored


def _score_latency(bench: BenchStack, n: int, t0: float, t1: float) -> dict:
    rows = bench.rows(
        "SELECT extract(epoch FROM captured_at), extract(epoch FROM scored_at - captured_at) "
        "FROM frame_scores WHERE camera_id = ANY(:ids) "
        "AND captured_at >= to_timestamp(:t0) AND captured_at < to_timestamp(:t1)",
        ids=_ids(bench, n),
        t0=t0,
        t1=t1,
    )
    if not rows:
        return {"_thirds": [0.0, 1e9]}
    captured = np.array([float(r[0]) for r in rows])
    latency = np.array([float(r[1]) for r in rows])
    edges = np.linspace(t0, t1, 4)
    thirds = [
        float(np.median(latency[(captured >= a) & (captured < b)]))
        if np.any((captured >= a) & (captured < b))
        else 1e9
        for a, b in zip(edges, edges[1:], strict=False)
    ]
    result = _percentiles(latency)
    result["p50_by_third"] = [round(x, 2) for x in thirds]
    result["_thirds"] = thirds
    return result


def _incident_latency(bench: BenchStack, n: int, t0: float, t1: float) -> dict:
    """Incident row written - capture time of the frame that opened it (start + min duration)."""
    min_duration = bench.settings.incidents.min_duration_seconds
    values = [
        float(r[0])
        for r in bench.rows(
            "SELECT extract(epoch FROM created_at - started_at) - :d FROM incidents "
            "WHERE camera_id = ANY(:ids) AND started_at >= to_timestamp(:t0) "
            "AND started_at < to_timestamp(:t1)",
            d=min_duration,
            ids=_ids(bench, n),
            t0=t0,
            t1=t1,
        )
    ]
    return {**_percentiles(np.array(values)), "incidents": len(values)} if values else {}


def _percentiles(values: np.ndarray) -> dict:
    return {f"p{q}": round(float(np.percentile(values, q)), 2) for q in (50, 95, 99)}


def _wait_online(bench: BenchStack, n: int, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        online = bench.scalar(
            "SELECT count(*) FROM cameras WHERE id = ANY(:ids) AND status = 'online'",
            ids=_ids(bench, n),
        )
        if online == n:
            return
        time.sleep(1.0)
    raise RuntimeError(f"only {online} of {n} cameras came online")


def _drain(bench: BenchStack, timeout: float = 900.0) -> None:
    """Wait until no window is queued or running (cameras off), so trials do not share a
    backlog."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not bench.scalar("SELECT count(*) FROM windows WHERE status IN ('queued', 'running')"):
            return
        time.sleep(2.0)
    raise RuntimeError("the backlog of the previous trial was not scored in time")


if __name__ == "__main__":
    main()
