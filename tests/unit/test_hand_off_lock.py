"""The writers' queue within a process (storage/database.py HandOffLock): turns in the order
they were asked for, a timeout that gives up without taking a turn, and mutual exclusion."""

from __future__ import annotations

import threading
import time

from mediavault.storage.database import HandOffLock


def _wait_for_waiters(lock: HandOffLock, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(lock._waiters) < count:
        assert time.monotonic() < deadline, "the waiters never queued"
        time.sleep(0.001)


def test_turns_are_given_in_the_order_they_were_asked_for() -> None:
    lock = HandOffLock()
    assert lock.acquire()
    order: list[int] = []

    def writer(n: int) -> None:
        assert lock.acquire(timeout=10)
        order.append(n)
        lock.release()

    threads = []
    for n in range(8):
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        threads.append(thread)
        _wait_for_waiters(lock, n + 1)  # queued one after the other
    # A thread asking now, while the holder releases, must not overtake the queue.
    lock.release()
    assert lock.acquire(timeout=10)
    order.append(99)
    lock.release()
    for thread in threads:
        thread.join()
    assert order == [*range(8), 99]


def test_a_timed_out_waiter_leaves_the_queue_and_takes_no_turn() -> None:
    lock = HandOffLock()
    assert lock.acquire()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(lock.acquire(timeout=0.05)))
    waiter.start()
    waiter.join()
    assert result == [False] and not lock._waiters
    lock.release()
    # Free again: the next asker gets it at once, and it excludes a second one.
    assert lock.acquire(timeout=0)
    assert not lock.acquire(timeout=0.01)
    lock.release()


def test_only_one_holder_at_a_time() -> None:
    lock = HandOffLock()
    inside = [0]
    most = [0]

    def writer() -> None:
        for _ in range(200):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                time.sleep(0)
                inside[0] -= 1

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == [1] and not lock._held


def test_pass_on_hands_the_lock_to_a_waiter_or_keeps_it_held() -> None:
    lock = HandOffLock()
    assert lock.acquire()
    assert lock.pass_on() is False  # no one waits: still held by the caller
    assert not lock.acquire(timeout=0.01)
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(lock.acquire(timeout=10)))
    waiter.start()
    _wait_for_waiters(lock, 1)
    assert lock.pass_on() is True  # the waiter holds it now, without a release between
    waiter.join()
    assert got == [True] and lock._held
    lock.release()
    assert not lock._held
