# SPDX-License-Identifier: MIT
"""firstspike: binarized time-to-first-spike networks, from training to open-FPGA bitstreams."""

__version__ = "0.1.0"
