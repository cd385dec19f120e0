"""Suite-wide settings, applied before any test module imports torch."""
import os

# OpenMP threads that spin while waiting steal the CPU from each other on small shared
# machines (measured: a small forward pass 20-40x slower); passive waiting costs nothing
# when the machine is idle.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
