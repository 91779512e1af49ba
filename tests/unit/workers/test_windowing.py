"""PartitionWindower: per-camera windows from one partition, and exact resume after a crash."""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass

import pytest

from workers.windowing import ClosedWindow, PartitionWindower

WINDOW = 2.0
CONTEXT = 3
AHEAD = 0.3  # look-ahead seconds
NEVER = 1e9  # an idle flush that never fires


@dataclass(frozen=True)
class Rec:
    camera: int
    offset: int
    captured_at: float
    wall: float  # the dispatcher's monotonic clock when the record is polled


def _stream(seed: int = 0, seconds: float = 12.0) -> list[Rec]:
    """Three cameras interleaved on one partition, as Kafka would store them.

    Camera 1 runs at 10 fps, camera 2 at 5 fps with a 3 s outage, camera 3 at 7 fps starting
    late and with one timestamp going backwards (a camera clock step). Offsets have gaps.
    """
    rng = random.Random(seed)
    events: list[tuple[float, int, float]] = []  # (arrival, camera, captured_at)
    for camera, fps, start in ((1, 10.0, 0.0), (2, 5.0, 0.05), (3, 7.0, 1.3)):
        t = start
        while t < seconds:
            if not (camera == 2 and 4.0 <= t < 7.0):
                captured = t - 1.0 if camera == 3 and 8.0 <= t < 8.0 + 1 / fps else t
                events.append((t + rng.uniform(0.0, 0.08), camera, round(captured, 6)))
            t += 1 / fps
    events.sort()
    records, offset = [], 0
    for arrival, camera, captured in events:
        offset += rng.choice((1, 1, 1, 2))
        records.append(Rec(camera, offset, captured, arrival))
    return records


def _windower(idle: float = NEVER, context: int = CONTEXT, last=None, ctx=None, ahead=0.0):
    return PartitionWindower(3, WINDOW, idle, context, last, ctx, look_ahead_seconds=ahead)


def _run(
    records: list[Rec], idle: float = NEVER, context: int = CONTEXT, ahead: float = 0.0
) -> list[ClosedWindow]:
    windower = _windower(idle, context, ahead=ahead)
    closed: list[ClosedWindow] = []
    for r in records:
        closed += windower.add(r.camera, r.offset, r.captured_at, r.wall)
        closed += windower.flush_idle(r.wall)
    return closed + windower.flush_all()


def _before(records: list[Rec], camera: int, offset: int) -> list[int]:
    """Offsets of `camera`'s records before `offset`, oldest first."""
    return [r.offset for r in records if r.camera == camera and r.offset < offset]


def _ahead_offset(mine: list[Rec], last: Rec, ahead: float) -> int | None:
    """The definition of a window's look-ahead: the camera's first frame at or past `ahead`
    seconds after the window's last frame; at a clock step back, the frame before it; at the end
    of the stream, its last frame (None: no frame after the window)."""
    if ahead <= 0:
        return None
    after = [r for r in mine if r.offset > last.offset]
    previous = None
    for r in after:
        if r.captured_at >= last.captured_at + ahead - 1e-3:
            return r.offset
        if r.captured_at < last.captured_at:
            return previous
        previous = r.offset
    return previous


def _reference(
    records: list[Rec], context: int = CONTEXT, ahead: float = 0.0
) -> list[ClosedWindow]:
    """Windows computed directly from the definition, camera by camera."""
    out: list[ClosedWindow] = []
    for camera in sorted({r.camera for r in records}):
        mine = [r for r in records if r.camera == camera]
        groups: list[list[Rec]] = []
        for r in mine:
            g = groups[-1] if groups else None
            if g and g[0].captured_at + WINDOW > r.captured_at >= g[-1].captured_at:
                g.append(r)
            else:
                groups.append([r])
        for g in groups:
            before = _before(mine, camera, g[0].offset)[-context:] if context else []
            out.append(
                ClosedWindow(
                    camera,
                    3,
                    g[0].offset,
                    g[-1].offset,
                    before[0] if before else None,
                    len(g),
                    g[0].captured_at,
                    g[-1].captured_at,
                    ahead_offset=_ahead_offset(mine, g[-1], ahead),
                )
            )
    return out


def _key(w: ClosedWindow) -> tuple[int, int]:
    return (w.camera_id, w.first_offset)


# --- cutting windows -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_interleaved_cameras_give_the_reference_windows(seed: int) -> None:
    records = _stream(seed)
    assert sorted(_run(records), key=_key) == sorted(_reference(records), key=_key)


def test_windows_are_per_camera_and_span_less_than_window_seconds() -> None:
    records = _stream()
    by_offset = {r.offset: r for r in records}
    windows = _run(records)
    for w in windows:
        members = [
            r
            for r in records
            if r.camera == w.camera_id and w.first_offset <= r.offset <= w.last_offset
        ]
        assert len(members) == w.n_frames >= 1
        assert by_offset[w.first_offset].camera == by_offset[w.last_offset].camera == w.camera_id
        assert (w.start_at, w.end_at) == (members[0].captured_at, members[-1].captured_at)
        assert 0 <= w.end_at - w.start_at < WINDOW
        assert w.partition == 3
    # Every record in exactly one window.
    assert sum(w.n_frames for w in windows) == len(records)
    # Camera 1 at 10 fps fills whole 2 s windows of 20 frames.
    full = [w.n_frames for w in windows if w.camera_id == 1][:-1]
    assert set(full) == {20}


def test_offsets_ascend_within_and_across_a_cameras_windows() -> None:
    windows = _run(_stream())
    for camera in (1, 2, 3):
        mine = [w for w in windows if w.camera_id == camera]
        assert len(mine) >= 3
        for w in mine:
            assert w.first_offset <= w.last_offset
        for a, b in zip(mine, mine[1:], strict=False):
            assert a.last_offset < b.first_offset
            assert a.start_at <= b.start_at or b.start_at < a.end_at  # backwards step only


def test_context_offset_is_the_first_of_the_last_context_frames_before_the_window() -> None:
    records = _stream()
    windows = _run(records)
    for w in windows:
        before = _before(records, w.camera_id, w.first_offset)
        expected = before[-CONTEXT:][0] if before else None
        assert w.context_offset == expected, w


def test_context_at_the_start_of_a_stream_uses_what_there_is() -> None:
    windower = _windower(context=4)
    for i, t in enumerate((0.0, 0.5)):  # a first window of only two frames
        windower.add(7, 10 + i, t, t)
    (first,) = windower.add(7, 20, 2.5, 2.5)
    assert first.context_offset is None and first.n_frames == 2
    (second,) = windower.add(7, 21, 5.0, 5.0)
    assert second.context_offset == 10  # only two earlier frames, the first of them


def test_the_stream_after_an_end_marker_gets_no_context_from_before_it() -> None:
    windower = _windower()
    for offset in range(5):  # a looping file's pass, then its end-of-stream marker
        windower.add(7, offset, 10.0 + offset * 0.1, 0.0)
    (last,) = windower.end(7, 5, 10.4)
    assert last.end_of_stream and last.last_offset == 4
    assert "7" not in windower.snapshot()[1]  # a restart does not bring the context back
    for offset in range(6, 9):  # the next pass
        windower.add(7, offset, 10.5 + offset * 0.1, 1.0)
    (first,) = windower.flush_all()
    assert (first.first_offset, first.context_offset) == (6, None)


def test_zero_context_frames_gives_no_context_offset() -> None:
    windows = _run(_stream(), context=0)
    assert {w.context_offset for w in windows} == {None}


def test_a_timestamp_going_backwards_closes_the_window() -> None:
    windower = _windower()
    windower.add(1, 0, 10.0, 0.0)
    windower.add(1, 1, 10.5, 0.1)
    (closed,) = windower.add(1, 2, 10.2, 0.2)
    assert (closed.first_offset, closed.last_offset, closed.n_frames) == (0, 1, 2)
    (closed,) = windower.flush_all()
    assert (closed.first_offset, closed.start_at) == (2, 10.2)


def test_a_record_closes_at_most_its_own_cameras_window() -> None:
    windower = _windower()
    windower.add(1, 0, 0.0, 0.0)
    windower.add(2, 1, 0.0, 0.0)
    closed = windower.add(1, 2, 2.0, 2.0)
    assert [w.camera_id for w in closed] == [1]
    assert windower.add(1, 3, 2.1, 2.1) == []


# --- idle flushing and the resume position -------------------------------------------------------


def test_flush_idle_closes_only_quiet_cameras() -> None:
    windower = _windower(idle=3.0)
    windower.add(1, 0, 100.0, now=10.0)
    windower.add(2, 1, 100.0, now=10.0)
    assert windower.flush_idle(12.9) == []
    windower.add(2, 2, 100.5, now=12.9)  # camera 2 still talks
    (closed,) = windower.flush_idle(13.0)
    assert (closed.camera_id, closed.first_offset, closed.n_frames) == (1, 0, 1)
    assert windower.flush_idle(13.0) == []
    (closed,) = windower.flush_idle(15.9)
    assert (closed.camera_id, closed.first_offset, closed.last_offset) == (2, 1, 2)
    assert windower.flush_all() == []


def test_a_camera_coming_back_after_an_idle_flush_starts_a_new_window() -> None:
    windower = _windower(idle=3.0)
    windower.add(1, 0, 100.0, now=0.0)
    (first,) = windower.flush_idle(5.0)
    assert windower.add(1, 4, 100.5, now=5.1) == []  # within 2 s of media time, new window
    (second,) = windower.flush_all()
    assert (first.last_offset, second.first_offset, second.context_offset) == (0, 4, 0)


def test_safe_position_is_the_first_offset_of_the_oldest_open_window() -> None:
    windower = _windower()
    assert windower.safe_position() == 0
    windower.add(1, 5, 0.0, 0.0)
    windower.add(2, 6, 0.0, 0.0)
    windower.add(1, 7, 1.0, 0.0)
    assert windower.safe_position() == 5
    windower.add(1, 9, 2.0, 0.0)  # closes camera 1's window; camera 2's is still open at 6
    assert windower.safe_position() == 6
    windower.add(2, 10, 2.5, 0.0)  # closes camera 2's; camera 1's open window starts at 9
    assert windower.safe_position() == 9
    windower.flush_all()
    assert windower.safe_position() == 11  # nothing open: past the highest offset seen


def test_records_already_windowed_before_a_restart_are_skipped() -> None:
    windower = _windower(last={1: 10}, ctx={1: [8, 9, 10]})
    assert windower.add(1, 9, 0.0, 0.0) == []
    assert windower.add(1, 10, 0.1, 0.0) == []
    windower.add(1, 11, 0.2, 0.0)
    (w,) = windower.flush_all()
    assert (w.first_offset, w.n_frames, w.context_offset) == (11, 1, 8)


def test_snapshot_is_json_friendly_and_restores() -> None:
    records = _stream()[:80]
    windower = _windower()
    for r in records:
        windower.add(r.camera, r.offset, r.captured_at, r.wall)
    last, ctx = json.loads(json.dumps(windower.snapshot()))
    assert all(isinstance(k, str) for k in (*last, *ctx))
    assert all(len(v) <= CONTEXT for v in ctx.values())
    restored = _windower(
        last={int(k): v for k, v in last.items()}, ctx={int(k): v for k, v in ctx.items()}
    )
    assert restored.snapshot() == windower.snapshot()


# --- crash and resume ----------------------------------------------------------------------------


@dataclass
class _Checkpoint:
    position: int
    last: dict
    ctx: dict


class _Dispatcher:
    """What workers.dispatcher does with a windower: feed polled batches, then persist emitted
    windows together with snapshot() and safe_position() in one transaction."""

    def __init__(
        self,
        records: list[Rec],
        idle: float,
        checkpoint: _Checkpoint | None,
        wall_offset: float = 0.0,
        ahead: float = 0.0,
    ) -> None:
        self.records = records
        self.committed: list[ClosedWindow] = []
        self.checkpoint = checkpoint
        self.wall_offset = wall_offset
        self.idle_flushed = 0
        if checkpoint is None:
            self.windower = _windower(idle, ahead=ahead)
            self.next = 0
        else:
            self.windower = _windower(
                idle,
                last={int(k): v for k, v in checkpoint.last.items()},
                ctx={int(k): v for k, v in checkpoint.ctx.items()},
                ahead=ahead,
            )
            self.next = next(
                (i for i, r in enumerate(records) if r.offset >= checkpoint.position), len(records)
            )

    def _emit(self, closed: list[ClosedWindow]) -> None:
        if closed:
            last, ctx = json.loads(json.dumps(self.windower.snapshot()))
            self.committed += closed
            self.checkpoint = _Checkpoint(self.windower.safe_position(), last, ctx)

    def run(self, batches: list[int], crash_at: int | None = None) -> bool:
        """Process records in polled batches; True if it crashed before the end."""
        sizes = iter(batches)
        while self.next < len(self.records):
            size = next(sizes, 1)
            closed: list[ClosedWindow] = []
            for _ in range(size):
                if self.next >= len(self.records):
                    break
                if crash_at is not None and self.next >= crash_at:
                    return True  # everything since the last commit is lost
                r = self.records[self.next]
                closed += self.windower.add(
                    r.camera, r.offset, r.captured_at, r.wall + self.wall_offset
                )
                self.next += 1
            self._emit(closed)
            now = self.records[self.next - 1].wall + self.wall_offset
            idle = self.windower.flush_idle(now)
            self.idle_flushed += len(idle)
            self._emit(idle)
        self._emit(self.windower.flush_all())
        return False


def _crash_and_resume(records, idle, crash_at, batches, second_crash=None, ahead=0.0):
    first = _Dispatcher(records, idle, None, ahead=ahead)
    assert first.run(batches, crash_at) == (crash_at < len(records))
    committed = list(first.committed)
    checkpoint = first.checkpoint
    if second_crash is not None:
        again = _Dispatcher(records, idle, checkpoint, wall_offset=500.0, ahead=ahead)
        again.run(batches, second_crash)
        committed += again.committed
        checkpoint = again.checkpoint
    resumed = _Dispatcher(records, idle, checkpoint, wall_offset=1000.0, ahead=ahead)
    assert not resumed.run(batches)
    return committed + resumed.committed


def _uncrashed(records, idle, batches, ahead=0.0) -> list[ClosedWindow]:
    run = _Dispatcher(records, idle, None, ahead=ahead)
    run.run(batches)
    return run.committed


@pytest.mark.parametrize("ahead", [0.0, AHEAD])
@pytest.mark.parametrize("batch", [1, 7])
def test_a_crash_at_any_record_resumes_to_exactly_the_uncrashed_windows(
    batch: int, ahead: float
) -> None:
    records = _stream(1, seconds=9.0)
    expected = _uncrashed(records, NEVER, [batch] * len(records), ahead)
    assert sorted(expected, key=_key) == sorted(_reference(records, ahead=ahead), key=_key)
    for crash_at in range(len(records) + 1):
        got = _crash_and_resume(records, NEVER, crash_at, [batch] * len(records), ahead=ahead)
        assert len(got) == len(set(got)), f"duplicate window after a crash at {crash_at}"
        assert sorted(got, key=_key) == sorted(expected, key=_key), f"crash at {crash_at}"


@pytest.mark.parametrize("ahead", [0.0, AHEAD])
def test_two_crashes_in_a_row_still_resume_exactly(ahead: float) -> None:
    rng = random.Random(7)
    records = _stream(2, seconds=9.0)
    batches = [rng.randint(1, 12) for _ in records]
    expected = sorted(_uncrashed(records, NEVER, batches, ahead), key=_key)
    for _ in range(150):
        first = rng.randrange(len(records) + 1)
        second = rng.randrange(len(records) + 1)
        got = _crash_and_resume(records, NEVER, first, batches, second, ahead)
        assert sorted(got, key=_key) == expected, (first, second)


def _assert_exact_cover(records: list[Rec], windows: list[ClosedWindow], where: str) -> None:
    seen: dict[int, ClosedWindow] = {}
    for w in windows:
        members = [
            r.offset
            for r in records
            if r.camera == w.camera_id and w.first_offset <= r.offset <= w.last_offset
        ]
        assert len(members) == w.n_frames, where
        for offset in members:
            assert offset not in seen, f"record {offset} in two windows ({where})"
            seen[offset] = w
        before = _before(records, w.camera_id, w.first_offset)
        assert w.context_offset == (before[-CONTEXT:][0] if before else None), where
    assert sorted(seen) == [r.offset for r in records], f"records lost ({where})"


@pytest.mark.parametrize("ahead", [0.0, AHEAD])
def test_a_crash_with_idle_flushes_loses_and_repeats_no_record(ahead: float) -> None:
    # Idle flushes follow the wall clock, which differs after a restart, so windows may be cut
    # differently than in an uncrashed run; each record must still land in exactly one window.
    records = _stream(3, seconds=12.0)
    for crash_at in range(0, len(records) + 1):
        got = _crash_and_resume(records, 0.5, crash_at, [3] * len(records), ahead=ahead)
        _assert_exact_cover(records, got, f"crash at {crash_at}")
        _assert_look_ahead(records, got, ahead, f"crash at {crash_at}")
    run = _Dispatcher(records, 0.5, None, ahead=ahead)
    run.run([3] * len(records))
    assert run.idle_flushed >= 1  # the test does exercise idle flushes
    _assert_exact_cover(records, run.committed, "uncrashed")


# --- look-ahead ----------------------------------------------------------------------------------


def _assert_look_ahead(records: list[Rec], windows: list[ClosedWindow], ahead: float, where: str):
    """Each window's look-ahead frames are its camera's frames right after it, within `ahead`
    seconds of its end but the last (which completes the span, or is the last that arrived)."""
    for w in windows:
        if ahead <= 0 or w.ahead_offset is None:
            continue
        mine = [r for r in records if r.camera == w.camera_id]
        after = [r for r in mine if w.last_offset < r.offset <= w.ahead_offset]
        assert after and after[-1].offset == w.ahead_offset, where
        for r in after[:-1]:
            assert w.end_at <= r.captured_at < w.end_at + ahead, where


@pytest.mark.parametrize("seed", range(3))
def test_look_ahead_cuts_the_same_windows_and_adds_the_frames_after_each(seed: int) -> None:
    records = _stream(seed)
    got = sorted(_run(records, ahead=AHEAD), key=_key)
    assert got == sorted(_reference(records, ahead=AHEAD), key=_key)
    plain = sorted(_run(records), key=_key)
    assert [dataclasses.replace(w, ahead_offset=None) for w in got] == plain
    assert {w.ahead_offset for w in plain} == {None}
    # camera 1 at 10 fps: each full window waits for the 3 frames of the next 0.3 s (the last
    # two: the stream ends before that)
    by_offset = {r.offset: r for r in records}
    full = [w for w in got if w.camera_id == 1][:-2]
    for w in full:
        assert by_offset[w.ahead_offset].captured_at == pytest.approx(w.end_at + AHEAD)
    _assert_look_ahead(records, got, AHEAD, "uncrashed")


def test_a_window_waits_for_its_look_ahead_and_counts_as_open_until_emitted() -> None:
    windower = _windower(ahead=AHEAD)
    for i in range(20):  # 2 s at 10 fps
        assert windower.add(1, i, i / 10, 0.0) == []
    assert windower.add(1, 20, 2.0, 0.0) == []  # cuts the window; 0.1 s of look-ahead
    assert windower.safe_position() == 0 and windower.snapshot() == ({}, {})
    assert windower.add(1, 21, 2.1, 0.0) == []
    (w,) = windower.add(1, 22, 2.2, 0.0)  # 2.2 >= 1.9 + 0.3: complete
    assert (w.first_offset, w.last_offset, w.n_frames, w.ahead_offset) == (0, 19, 20, 22)
    assert windower.safe_position() == 20
    assert windower.snapshot() == ({"1": 19}, {"1": [17, 18, 19]})


def test_end_of_stream_and_idle_flush_emit_waiting_windows_with_what_arrived() -> None:
    windower = _windower(idle=3.0, ahead=AHEAD)
    for i in range(21):
        windower.add(1, i, i / 10, 0.0)
    (w, last) = windower.end(1, 21, 2.05)
    assert (w.last_offset, w.ahead_offset, w.end_of_stream) == (19, 20, False)
    assert (last.first_offset, last.ahead_offset, last.end_of_stream) == (20, None, True)
    for i in range(30, 51):  # the next pass, then the camera goes quiet
        windower.add(1, i, 10 + (i - 30) / 10, 1.0)
    (w, rest) = windower.flush_idle(4.0)
    assert (w.first_offset, w.last_offset, w.ahead_offset) == (30, 49, 50)
    assert (rest.first_offset, rest.ahead_offset) == (50, None)
    assert windower.safe_position() == 51 and windower.flush_all() == []


def test_a_clock_step_back_ends_the_look_ahead_before_it() -> None:
    windower = _windower(ahead=AHEAD)
    for i in range(20):
        windower.add(1, i, 10 + i / 10, 0.0)
    assert windower.add(1, 20, 12.0, 0.0) == []  # cuts [0..19]: waits for 11.9 + 0.3
    # the clock steps back: it cuts [20], and neither window looks past the step
    (w, cut) = windower.add(1, 21, 9.0, 0.0)
    assert (w.last_offset, w.ahead_offset) == (19, 20)
    assert (cut.first_offset, cut.last_offset, cut.ahead_offset) == (20, 20, None)
