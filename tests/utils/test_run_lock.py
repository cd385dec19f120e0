"""One run per output folder (hfc_det.utils.run_lock), with real processes: of several that
race for one folder exactly one wins and the others name it; a lock whose holder was killed
is taken over; the lock file is gone after a run. waiting_lock: racing processes take turns
(a read-modify-write counter loses no update) and nothing is left behind."""
import json
import multiprocessing as mp
import os
import signal
import socket
import threading
import time

import pytest

from hfc_det.utils.run_lock import (LOCK_FILE, FolderInUseError, acquire_run_lock, release_run_lock, run_lock,
                                    waiting_lock)


def _race(folder, barrier, results, hold):
    barrier.wait()  # every process tries at the same moment
    try:
        fd = acquire_run_lock(folder)
    except FolderInUseError as e:
        results.put(("refused", os.getpid(), str(e)))
        return
    results.put(("won", os.getpid(), ""))
    hold.wait(60)  # keep it while the others try
    release_run_lock(folder, fd)


def test_of_processes_racing_for_a_folder_exactly_one_wins(tmp_path):
    ctx = mp.get_context("spawn")
    n = 4
    barrier, results, hold = ctx.Barrier(n), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_race, args=(str(tmp_path / "out"), barrier, results, hold)) for _ in range(n)]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in range(n)]
    hold.set()
    for p in procs:
        p.join(60)
    winners = [pid for what, pid, _ in got if what == "won"]
    refusals = [msg for what, _, msg in got if what == "refused"]
    assert len(winners) == 1 and len(refusals) == n - 1
    for msg in refusals:
        assert "\n" not in msg and f"PID {winners[0]} on host {socket.gethostname()}" in msg
        assert "is in use by another run" in msg
    assert not (tmp_path / "out" / LOCK_FILE).exists()  # the winner removed it


def _hold_forever(folder, ready):
    acquire_run_lock(folder, what="eval_lfc.py run")
    ready.set()
    signal.pause()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path, capsys):
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_forever, args=(str(tmp_path), ready))
    holder.start()
    try:
        assert ready.wait(120)
        with pytest.raises(FolderInUseError, match=f"PID {holder.pid} on host"):
            acquire_run_lock(tmp_path)
        recorded = json.loads((tmp_path / LOCK_FILE).read_text())
        assert recorded["pid"] == holder.pid and recorded["host"] == socket.gethostname() and recorded["started"]
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # no clean-up: the file stays, the kernel drops the flock
        holder.join(60)
    assert (tmp_path / LOCK_FILE).exists()
    with run_lock(tmp_path) as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()
    err = capsys.readouterr().err
    assert "taking over" in err and f"PID {holder.pid}" in err and "no longer running" in err
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_lock_file_from_another_host_is_not_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps({"host": "elsewhere.invalid", "pid": 1, "started": "then"}))
    with pytest.raises(FolderInUseError, match=f"another host.*delete {tmp_path / LOCK_FILE}"):
        acquire_run_lock(tmp_path)


def test_the_lock_is_released_when_the_run_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with run_lock(tmp_path):
            raise RuntimeError("the run failed")
    assert not (tmp_path / LOCK_FILE).exists()
    with run_lock(tmp_path):  # and the next run gets it, without a takeover message
        pass


def _count_under_lock(lock, counter, barrier, rounds):
    barrier.wait()
    for _ in range(rounds):
        with waiting_lock(lock, "waiting"):
            value = int(open(counter).read())  # read, pause, write: without the lock, updates get lost
            time.sleep(0.01)
            with open(counter, "w") as f:
                f.write(str(value + 1))


def test_waiting_lock_makes_racing_processes_take_turns(tmp_path):
    ctx = mp.get_context("spawn")
    n, rounds = 4, 15
    counter, lock = tmp_path / "counter", tmp_path / "locks" / "model.lock"
    counter.write_text("0")
    barrier = ctx.Barrier(n)
    procs = [ctx.Process(target=_count_under_lock, args=(str(lock), str(counter), barrier, rounds)) for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * n
    assert int(counter.read_text()) == n * rounds
    assert not lock.exists()  # removed on release


def test_waiting_lock_says_that_it_waits(tmp_path, capsys):
    lock = tmp_path / "x.lock"
    ctx = mp.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_until, args=(str(lock), ready, done))
    holder.start()
    assert ready.wait(60)
    threading.Timer(0.5, done.set).start()
    started = time.monotonic()
    with waiting_lock(lock, "[train] another run is training model_x: waiting for it"):
        waited = time.monotonic() - started
    holder.join(60)
    assert waited >= 0.4 and "another run is training model_x: waiting for it" in capsys.readouterr().err


def _hold_until(lock, ready, done):
    with waiting_lock(lock):
        ready.set()
        done.wait(60)
