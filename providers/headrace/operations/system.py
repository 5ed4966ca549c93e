"""What this host's operating system reports, through ``psutil``: memory, CPU, platform, uptimes and
the resource usage of processes found here. Nothing here guesses: a figure the system does not give
is ``None``.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
from dataclasses import dataclass

import psutil

# Node.js names (the lakehouse-api was a Node service; its clients read these words).
_NODE_ARCH = {
    "x86_64": "x64",
    "amd64": "x64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "ia32",
    "i686": "ia32",
}
_CPU_SAMPLE_SECONDS = 0.1
_lock = threading.Lock()
_last_cpu_call: list[float] = []  # monotonic time of the last psutil.cpu_percent call in this process
_processes: dict[int, psutil.Process] = {}  # kept so that cpu_percent measures between two calls


@dataclass(frozen=True)
class Memory:
    total: int
    free: int  # available to programs without swapping (psutil's ``available``)
    used: int  # total - free

    @property
    def percent(self) -> float:
        return self.used / self.total * 100 if self.total else 0.0


@dataclass(frozen=True)
class Usage:
    """CPU (percent of one core, summed over the processes) and resident memory of a process tree."""

    cpu_percent: float
    memory_mb: float
    memory_percent: float


def memory() -> Memory:
    vm = psutil.virtual_memory()
    return Memory(total=vm.total, free=vm.available, used=vm.total - vm.available)


def cpu_percent() -> float:
    """Host CPU use since the previous call in this process; the first call measures 0.1 s."""
    with _lock:
        fresh = not _last_cpu_call or time.monotonic() - _last_cpu_call[0] < _CPU_SAMPLE_SECONDS
        value = psutil.cpu_percent(_CPU_SAMPLE_SECONDS if fresh else None)
        _last_cpu_call[:] = [time.monotonic()]
    return round(value, 1)


def cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):  # not on Windows
        return None


def platform_info() -> dict[str, str]:
    machine = platform.machine()
    return {
        "type": platform.system(),
        "platform": sys.platform,
        "arch": _NODE_ARCH.get(machine.lower(), machine),
        "release": platform.release(),
    }


def host_uptime() -> float:
    return max(0.0, time.time() - psutil.boot_time())


def disk_usage_percent(path: str) -> float | None:
    try:
        return round(psutil.disk_usage(path).percent, 2)
    except OSError:
        return None


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _is_airflow(cmdline: list[str], component: str) -> bool:
    """``airflow <component>``, started as the ``airflow`` script or ``python -m airflow``."""
    head = cmdline[:3]
    launcher = any(part.endswith("airflow") for part in head)
    return launcher and component in cmdline[1:4]


def server_root() -> psutil.Process:
    """The process that started this api-server: the ``airflow api-server`` whose worker we are
    (uvicorn and gunicorn workers are its children), else this very process (tests, plain Flask)."""
    root = psutil.Process()
    parent = root.parent()
    while parent is not None and _is_airflow(_cmdline(parent), "api-server"):
        root, parent = parent, parent.parent()
    return root


def server_uptime() -> float:
    """Seconds since the api-server started; the same in each of its workers."""
    return max(0.0, time.time() - server_root().create_time())


def find_airflow_process(component: str, airflow_home: str) -> psutil.Process | None:
    """The one main ``airflow <component>`` process on this host that runs with ``airflow_home``
    (another deployment on the same host is not ours); None for none, several, or unreadable."""
    matches = []
    for process in psutil.process_iter(["pid", "ppid"]):
        if not _is_airflow(_cmdline(process), component):
            continue
        try:
            home = process.environ().get("AIRFLOW_HOME")
        except psutil.Error:
            continue
        if home and os.path.realpath(home) == os.path.realpath(airflow_home):
            matches.append(process)
    pids = {p.pid for p in matches}
    main = [p for p in matches if p.info["ppid"] not in pids]
    return main[0] if len(main) == 1 else None


def usage(process: psutil.Process) -> Usage | None:
    """CPU and memory of a process and its children; None when it has gone away."""
    try:
        tree = [process, *process.children(recursive=True)]
    except psutil.Error:
        return None
    cpu = rss = 0.0
    first: list[psutil.Process] = []
    with _lock:
        tracked = []
        for member in tree:
            known = _processes.get(member.pid)
            if known is None or not _same(known, member):
                _processes[member.pid] = member
                first.append(member)
            tracked.append(_processes[member.pid])
    try:
        for member in first:  # a process seen for the first time: prime its CPU counter
            member.cpu_percent(None)
        if first:
            time.sleep(_CPU_SAMPLE_SECONDS)
        for member in tracked:
            with member.oneshot():
                cpu += member.cpu_percent(None)
                rss += member.memory_info().rss
    except psutil.Error:
        return None
    total = psutil.virtual_memory().total
    return Usage(
        cpu_percent=round(cpu, 1),
        memory_mb=round(rss / 2**20, 1),
        memory_percent=round(rss / total * 100, 2) if total else 0.0,
    )


def _same(known: psutil.Process, current: psutil.Process) -> bool:
    try:
        return known.create_time() == current.create_time()
    except psutil.Error:
        return False
