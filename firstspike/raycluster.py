# SPDX-License-Identifier: MIT
"""Ray for the commands that spread work (``sim --workers``, ``sweep``, ``explore``).

:func:`ray_session` attaches to a cluster (``--address`` or ``RAY_ADDRESS``) or starts a local
instance sized to the machine, and shuts it down when the command ends, however it ends (Ctrl-C
included), so no Ray process outlives the command. A session already open in this process (a test
fixture, a script) is reused and left open for its owner.

Ray is imported only inside these functions: ``import firstspike`` and ``firstspike --help`` never
load it. Like :mod:`.outputs` it sits outside the package's layers: every subsystem may use it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

#: the folder that holds this ``firstspike`` package: put first on the workers' ``PYTHONPATH``, so
#: a worker on this machine imports the same source as the driver (not another installed copy)
PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
#: variables a worker needs as the driver has them (caches, data, Verilog conversion)
PASSED_ENV = ("FIRSTSPIKE_CACHE", "FIRSTSPIKE_DATA", "NUMBA_CACHE_DIR", "AMARANTH_USE_YOSYS")


def require_ray():
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("this command runs on Ray, which is not installed; install it with "
                           "'pip install \"firstspike[ray]\"' (ray[tune] and optuna)") from None
    return ray


def worker_env() -> dict[str, str]:
    """Environment variables every worker process of a session gets."""
    path = os.pathsep.join(p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)
    env = {"PYTHONPATH": path, "AMARANTH_USE_YOSYS": os.environ.get("AMARANTH_USE_YOSYS", "builtin")}
    env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
    numba = sys.modules.get("numba")  # the driver's kernel cache: workers need not compile again
    if "NUMBA_CACHE_DIR" not in env and numba is not None and getattr(numba.config, "CACHE_DIR", ""):
        env["NUMBA_CACHE_DIR"] = numba.config.CACHE_DIR
    return env


def init_ray(address: str | None = None, num_cpus: int | None = None, log=None, env: dict | None = None):
    """Connect to ``address`` (or ``RAY_ADDRESS``), else start a local instance with ``num_cpus``
    (default: every core); ``env`` adds to the workers' environment. Returns the ``ray`` module."""
    ray = require_ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    options = {"runtime_env": {"env_vars": {**worker_env(), **(env or {})}}, "log_to_driver": False,
               "configure_logging": True, "logging_level": "warning"}
    if address:
        if num_cpus is not None:
            raise ValueError("--address attaches to a running cluster, which has its own CPU count; "
                             "leave out the local CPU count")
        try:
            ray.init(address=address, **options)
        except ConnectionError as error:
            raise RuntimeError(f"cannot reach the Ray cluster at {address} ({error}); start it with "
                               "'ray start --head' or fix --address / RAY_ADDRESS") from None
    else:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **options)
    if log:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        where = f"cluster {address}" if address else "a local Ray instance"
        log(f"Ray: {where}, {cpus} CPUs")
    return ray


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None, log=None) -> Iterator:
    """``with ray_session(...) as ray:`` -- :func:`init_ray`, and ``ray.shutdown()`` at the end unless a
    session was already open in this process (then it is reused as it is)."""
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    init_ray(address, num_cpus, log)
    try:
        yield ray
    finally:
        ray.shutdown()


def add_ray_flags(p, workers: bool = False) -> None:
    """``--address`` (and ``--workers``) on a command's parser."""
    p.add_argument("--address", metavar="HOST:PORT",
                   help="run on this Ray cluster (default: $RAY_ADDRESS, else a local Ray instance sized "
                        "to this machine)")
    if workers:
        p.add_argument("--workers", type=int, default=1,
                       help="Ray workers sharing the images (default 1: no Ray, one process)")
