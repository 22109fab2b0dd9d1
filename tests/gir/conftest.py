"""Fixtures shared by the CPU call-path tests."""
import threading

import pytest


@pytest.fixture
def failures_under_threads():
    """Calls check(i) `repeats` times in each of `workers` threads at once and returns every i whose
    check failed: compiled kernels must give each call in flight its own state."""
    def run(check, workers=4, repeats=30):
        failed = []

        def worker(i):
            for _ in range(repeats):
                if not check(i):
                    failed.append(i)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return failed
    return run
