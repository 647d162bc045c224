"""The machine and the process the sandbox runs on, as a node reports them: memory, disk, load, CPU and
file descriptors, read from the operating system (Linux /proc, with portable fallbacks)."""

from __future__ import annotations

import os
import platform
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Memory:
    total: int
    free: int

    @property
    def used(self) -> int:
        return self.total - self.free

    @property
    def used_percent(self) -> int:
        return round(self.used * 100 / self.total) if self.total else 0


def _meminfo() -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            amount = rest.split()
            if amount:
                values[key] = int(amount[0]) * (1024 if amount[1:] == ["kB"] else 1)
    except OSError:
        pass
    return values


def machine_memory() -> Memory:
    info = _meminfo()
    total = info.get("MemTotal") or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return Memory(total, info.get("MemAvailable", info.get("MemFree", 0)))


def swap() -> Memory:
    info = _meminfo()
    return Memory(info.get("SwapTotal", 0), info.get("SwapFree", 0))


def process_resident_bytes() -> int:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def process_cpu_millis() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return int((usage.ru_utime + usage.ru_stime) * 1000)


def open_file_descriptors() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


def max_file_descriptors() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


@dataclass(frozen=True)
class Disk:
    path: str
    total: int
    free: int
    available: int


def disk(path: Path | None) -> Disk:
    where = str(path or Path.cwd())
    usage = shutil.disk_usage(where)
    stat = os.statvfs(where)
    return Disk(where, usage.total, stat.f_bfree * stat.f_frsize, usage.free)


class CpuSampler:
    """Recent machine CPU use in percent (OsProbe reads it the same way: busy over total jiffies
    since the previous reading)."""

    def __init__(self) -> None:
        self._last = self._read()

    @staticmethod
    def _read() -> tuple[int, int] | None:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        except (OSError, ValueError, IndexError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    def percent(self) -> int:
        now = self._read()
        if now is None:
            return -1
        last, self._last = self._last, now
        if last is None or now[0] == last[0]:
            return 0
        total, idle = now[0] - last[0], now[1] - last[1]
        return round((total - idle) * 100 / total)


_CPU = CpuSampler()  # machine-wide, so one per process


def cpu_percent() -> int:
    return _CPU.percent()


def os_name() -> str:
    return platform.system()


def os_pretty_name() -> str:
    """/etc/os-release's PRETTY_NAME, as OsProbe reports it on Linux."""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def os_arch() -> str:
    """The JVM's name for the architecture (os.arch)."""
    machine = platform.machine()
    return {"x86_64": "amd64", "AMD64": "amd64", "arm64": "aarch64"}.get(machine, machine)


def os_version() -> str:
    return platform.release()


def process_start_millis() -> int:
    return int((time.time() - time.monotonic() + _process_age_offset()) * 1000)


def _process_age_offset() -> float:
    """Seconds between boot (the monotonic clock's zero on Linux) and this process's start."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.monotonic()
