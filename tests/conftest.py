"""Suite-wide settings, applied before any test module imports torch."""
import os

# OpenMP threads that spin while waiting steal the CPU from each other on small shared
# machines (measured: a small forward pass 20-40x slower); passive waiting costs nothing
# when the machine is idle.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


import pytest  # noqa: E402


@pytest.fixture
def one_thread():
    """torch on one thread for the test: tiny models run fastest so on a busy shared CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
