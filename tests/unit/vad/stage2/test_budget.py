from vad.stage2.budget import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_drops_and_counts():
    clock = FakeClock()
    bucket = TokenBucket(per_minute=6, burst=2, clock=clock)
    assert [bucket.try_acquire() for _ in range(5)] == [True, True, False, False, False]
    assert (bucket.allowed, bucket.dropped) == (2, 3)


def test_refills_at_the_configured_rate():
    clock = FakeClock()
    bucket = TokenBucket(per_minute=6, burst=1, clock=clock)  # one token per 10 s
    assert bucket.try_acquire()
    clock.now = 9.0
    assert not bucket.try_acquire()
    clock.now = 10.5
    assert bucket.try_acquire()
    clock.now = 1000.0  # a long idle time refills only up to the burst
    assert bucket.try_acquire() and not bucket.try_acquire()


def test_calls_per_minute_under_sustained_load():
    clock = FakeClock()
    bucket = TokenBucket(per_minute=30, burst=3, clock=clock)
    for step in range(600):  # 10 offers per second for a minute
        clock.now = step * 0.1
        bucket.try_acquire()
    assert bucket.allowed == 3 + 29  # the burst, then one every 2 s
    assert bucket.allowed + bucket.dropped == 600
