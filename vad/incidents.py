"""Incident logic: when a run of high scores becomes an incident, and when it ends.

Pure and deterministic; the workers persist `TrackerState` and feed it windows strictly in order,
so replaying the same scores always yields the same incidents.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Literal

from pydantic import Field

from vad.section import Section


class IncidentConfig(Section):
    """When a run of high scores becomes an incident."""

    default_threshold: float = Field(
        0.6,
        ge=0,
        le=1,
        description=(
            "Smoothed score above which a camera is considered anomalous unless the camera sets "
            "its own."
        ),
    )
    smoothing_seconds: float = Field(
        1.0,
        ge=0,
        description=(
            "Time constant of the exponential smoothing applied to frame scores before "
            "thresholding."
        ),
    )
    min_duration_seconds: float = Field(
        1.0,
        ge=0,
        description=(
            "The smoothed score must stay over the threshold this long before an incident opens."
        ),
    )
    cooldown_seconds: float = Field(
        5.0,
        ge=0,
        description=(
            "An open incident closes after the smoothed score stays under the threshold this long."
        ),
    )


EventKind = Literal["opened", "updated", "closed"]


@dataclass(frozen=True, slots=True)
class ScoredFrame:
    captured_at: float
    score: float
    offset: int


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    kind: EventKind
    started_at: float
    peak_score: float
    peak_at: float
    peak_offset: int
    ended_at: float | None = None


@dataclass
class TrackerState:
    """Everything the tracker remembers between windows (JSON-serialisable)."""

    smoothed: float | None = None
    last_at: float | None = None
    above_since: float | None = None
    below_since: float | None = None
    open: bool = False
    started_at: float | None = None
    peak_score: float = 0.0
    peak_at: float = 0.0
    peak_offset: int = -1
    frames_seen: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> TrackerState:
        return cls(**(data or {}))


@dataclass
class IncidentTracker:
    """Exponential smoothing, then hysteresis in time: open after `min_duration` over the
    threshold, close after `cooldown` under it. The peak is taken on unsmoothed frame scores so the
    key frame is the single most anomalous frame."""

    config: IncidentConfig
    threshold: float
    state: TrackerState = field(default_factory=TrackerState)

    def feed(self, frames: list[ScoredFrame]) -> list[IncidentEvent]:
        """Feed one window's frames; at most one "updated" per window, when the open incident's
        peak rose after it was last reported."""
        events: list[IncidentEvent] = []
        reported_peak = self.state.peak_score if self.state.open else None
        for frame in frames:
            if math.isnan(frame.score):
                continue
            for event in self._step(frame):
                events.append(event)
                reported_peak = event.peak_score if event.kind == "opened" else None
        if self.state.open and reported_peak is not None and self.state.peak_score > reported_peak:
            events.append(self._event("updated"))
        return events

    def end_stream(self) -> list[IncidentEvent]:
        """The source ended: close an open incident at its last frame and forget the run, so
        the next stream of this camera starts clean."""
        s = self.state
        events = []
        if s.open and s.last_at is not None:
            events.append(self._event("closed", ended_at=s.last_at))
        frames_seen = s.frames_seen
        self.state = TrackerState(frames_seen=frames_seen)
        return events

    def _smooth(self, frame: ScoredFrame) -> float:
        s = self.state
        tau = self.config.smoothing_seconds
        if s.smoothed is None or s.last_at is None or tau <= 0:
            s.smoothed = frame.score
        else:
            dt = max(frame.captured_at - s.last_at, 0.0)
            keep = math.exp(-dt / tau)
            s.smoothed = keep * s.smoothed + (1 - keep) * frame.score
        s.last_at = frame.captured_at
        s.frames_seen += 1
        return s.smoothed

    def _step(self, frame: ScoredFrame) -> list[IncidentEvent]:
        s = self.state
        smoothed = self._smooth(frame)
        above = smoothed >= self.threshold
        if s.open:
            self._track_peak(frame)
            return self._step_open(frame, above)
        if not above:
            s.above_since = None
            return []
        if s.above_since is None:
            s.above_since = frame.captured_at
            s.peak_score, s.peak_at, s.peak_offset = frame.score, frame.captured_at, frame.offset
        else:
            self._track_peak(frame)
        if frame.captured_at - s.above_since >= self.config.min_duration_seconds:
            s.open, s.started_at, s.below_since = True, s.above_since, None
            return [self._event("opened")]
        return []

    def _step_open(self, frame: ScoredFrame, above: bool) -> list[IncidentEvent]:
        s = self.state
        if above:
            s.below_since = None
            return []
        if s.below_since is None:
            s.below_since = frame.captured_at
        if frame.captured_at - s.below_since >= self.config.cooldown_seconds:
            event = self._event("closed", ended_at=s.below_since)
            s.open, s.started_at, s.above_since, s.below_since = False, None, None, None
            s.peak_score, s.peak_offset = 0.0, -1
            return [event]
        return []

    def _track_peak(self, frame: ScoredFrame) -> None:
        s = self.state
        if frame.score > s.peak_score:
            s.peak_score, s.peak_at, s.peak_offset = frame.score, frame.captured_at, frame.offset

    def _event(self, kind: EventKind, ended_at: float | None = None) -> IncidentEvent:
        s = self.state
        assert s.started_at is not None
        return IncidentEvent(kind, s.started_at, s.peak_score, s.peak_at, s.peak_offset, ended_at)
