# SPDX-License-Identifier: MIT
"""firstspike: binarized time-to-first-spike networks, from training to open-FPGA bitstreams."""

__version__ = "0.1.0"

from .cache import use_numba_cache as _use_numba_cache

_use_numba_cache()  # before any kernel module imports numba: a source edit never runs stale kernels
