# SPDX-License-Identifier: MIT
"""Amaranth RTL of the event-driven TTFS core (see :mod:`firstspike.rtl.core`)."""
