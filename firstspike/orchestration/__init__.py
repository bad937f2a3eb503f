# SPDX-License-Identifier: MIT
"""Work spread over Ray: ``firstspike sweep`` (training trials on Ray Tune) and ``firstspike explore``
(board builds as Ray tasks). The top room of the package: it may import every subsystem."""
