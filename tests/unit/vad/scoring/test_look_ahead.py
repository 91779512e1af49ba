"""vad.scoring.look_ahead: a box window over the next seconds of frames, shrinking at a clip's
end, NaN frames ignored and kept, 0 = the scores unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from vad.scoring.look_ahead import look_ahead, media_times


def test_zero_seconds_leaves_the_scores_unchanged() -> None:
    x = np.array([0.1, np.nan, 0.9, 0.4])
    out = look_ahead(x, media_times(4, 10.0), 0.0)
    np.testing.assert_array_equal(out, x)
    assert out is not x


def test_each_frame_averages_itself_and_the_next_frames_within_the_window() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    out = look_ahead(x, media_times(6, 10.0), 0.2)  # two frames at 10 fps
    np.testing.assert_allclose(out, [1.0, 2.0, 3.0, 4.0, 4.5, 5.0])  # the window shrinks at the end
    assert out.shape == x.shape and out.dtype == np.float64


@pytest.mark.parametrize("rate", [5.0, 10.0, 12.5, 25.0, 30.0])
def test_the_window_holds_seconds_times_rate_frames(rate: float) -> None:
    n, seconds = 200, 0.4
    x = np.random.default_rng(0).random(n)
    k = round(seconds * rate)
    expected = [x[i : i + k + 1].mean() for i in range(n)]
    np.testing.assert_allclose(look_ahead(x, media_times(n, rate), seconds), expected)


def test_nan_frames_stay_nan_and_do_not_count_for_their_neighbours() -> None:
    x = np.array([0.2, np.nan, 0.8, np.nan, np.nan])
    out = look_ahead(x, media_times(5, 10.0), 0.2)
    np.testing.assert_allclose(out[[0, 2]], [0.5, 0.8])
    assert np.isnan(out[[1, 3, 4]]).all()


def test_uneven_capture_times_count_by_time_not_by_frame() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0])
    t = np.array([100.0, 100.05, 100.5, 100.55])  # a live camera's burst after a stall
    np.testing.assert_allclose(look_ahead(x, t, 0.2), [0.5, 1.0, 2.5, 3.0])


def test_a_window_split_anywhere_gives_the_whole_clips_scores_given_its_look_ahead() -> None:
    """What the worker relies on: a window scored with the frames of the next `seconds` after
    it has, for its own frames, the scores of the whole clip."""
    rate, seconds = 10.0, 0.3
    x = np.random.default_rng(1).random(60)
    t = media_times(60, rate)
    whole = look_ahead(x, t, seconds)
    ahead = round(seconds * rate)
    for a, b in ((0, 20), (20, 40), (40, 60), (13, 17)):
        stop = min(b + ahead, 60)
        part = look_ahead(x[a:stop], t[a:stop], seconds)[: b - a]
        np.testing.assert_allclose(part, whole[a:b])


def test_empty_and_mismatched_inputs() -> None:
    assert look_ahead([], [], 0.5).size == 0
    with pytest.raises(ValueError, match="3 scores but 2 times"):
        look_ahead([0.1, 0.2, 0.3], [0.0, 0.1], 0.5)
