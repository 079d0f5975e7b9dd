"""A throw-away single-node SLURM cluster for tests (munged + slurmctld + slurmd).

Everything the daemons read or write lives in one private temporary directory (a
short one under /tmp, because a munge socket path must fit in 108 bytes): the munge
key and socket, ``slurm.conf``, state, spool, pid and log files. The daemons listen on
free ports picked at start, and every client (sbatch, squeue, srun, Snakemake) finds
this cluster through ``SLURM_CONF`` alone, so nothing of the machine's own SLURM or
munge set-up is read or changed and tests running beside it are not disturbed.

The settings are the cgroup-free ones that work in a container: process tracking by
``proctrack/linuxproc``, no task plugin (``task/none``), no accounting storage (job
status then comes from ``squeue``), and ``SlurmdParameters=config_overrides`` so
that the node's declared CPUs and memory are taken as given.

Leaving nothing behind matters more than speed here: :func:`single_node_slurm` is a
context manager whose exit cancels the jobs, stops the three daemons it started (by
their process handles) and then ends any ``slurmstepd`` left over from *this*
cluster, recognised by its ``SLURM_CONF`` pointing into the private directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "srun", "scancel", "sinfo", "scontrol")
PARTITION = "mtci"


@dataclass(frozen=True)
class SlurmCluster:
    """A running single-node cluster: where it lives and how to talk to it."""

    root: Path
    conf: Path
    node: str
    partition: str
    cpus: int
    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a SLURM client command against this cluster."""
        return subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, check=check, timeout=30
        )

    def log_tail(self, n: int = 40) -> str:
        """The last lines of every daemon log, for failure messages."""
        parts = []
        for log in sorted(self.root.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-n:]
            parts.append(f"--- {log.name}\n" + "\n".join(lines))
        return "\n".join(parts)


def missing_binaries() -> list[str]:
    """SLURM and munge programs that are not installed (empty when all are)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [name for name in (*DAEMONS, *CLIENTS) if shutil.which(name, path=search) is None]


def unavailable_reason() -> str | None:
    """Why a local cluster cannot be started here, or None if it can be tried."""
    missing = missing_binaries()
    if missing:
        return (
            f"SLURM/munge not installed (missing {', '.join(missing)}); "
            "install with `apt-get install -y slurmctld slurmd slurm-client munge`"
        )
    if os.geteuid() != 0:
        return "a local SLURM cluster needs root (slurmd starts jobs as their user)"
    return None


def _free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that are free now (bound to port 0, then released)."""
    sockets, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
        ports.append(s.getsockname()[1])
    for s in sockets:
        s.close()
    return ports


def _total_memory_mb() -> int:
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)


def write_slurm_conf(root: Path, node: str, cpus: int, memory_mb: int) -> Path:
    """``slurm.conf`` of a one-node cluster whose every file is under ``root``."""
    ctld_port, slurmd_port = _free_ports(2)
    conf = root / "slurm.conf"
    conf.write_text(
        f"""\
ClusterName=mtci
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge.sock
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
PlugStackConfig={root}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldTimeout=60
SlurmdTimeout=60
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""
    )
    (root / "plugstack.conf").write_text("")
    return conf


def _write_srun_shim(root: Path, conf: Path, srun: str) -> Path:
    """A ``bin/srun`` that restores ``SLURM_CONF`` before running the real srun.

    Inside a job, snakemake-executor-plugin-slurm-jobstep (0.3/0.4) starts the rule's
    ``srun`` with every ``SLURM_*`` variable removed except the job's identity, so
    ``SLURM_CONF`` is lost. Real clusters keep slurm.conf where srun finds it without
    the variable (/etc/slurm, or slurmd's configless cache); this private cluster
    cannot, without writing outside its directory. The shim is first on ``PATH`` and
    changes nothing else.
    """
    shims = root / "bin"
    shims.mkdir()
    shim = shims / "srun"
    shim.write_text(f'#!/bin/sh\nSLURM_CONF="{conf}" exec "{srun}" "$@"\n')
    shim.chmod(0o755)
    return shims


def _stop(proc: subprocess.Popen, name: str, timeout: float = 10.0) -> None:
    """Stop one daemon we started: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def _leftover_stepds(conf: Path) -> list[int]:
    """PIDs of slurmstepd processes of *this* cluster (their SLURM_CONF is ours)."""
    marker = f"SLURM_CONF={conf}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "cmdline").read_bytes().startswith(b"slurmstepd"):
                continue
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _wait_until(predicate, timeout: float, what: str, cluster_root: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    logs = "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
        for p in sorted(cluster_root.glob("*.log"))
    )
    raise RuntimeError(f"local SLURM: {what} not ready after {timeout:.0f} s\n{logs}")


@contextmanager
def single_node_slurm(
    cpus: int | None = None, startup_timeout: float = 60.0
) -> Iterator[SlurmCluster]:
    """Start munged, slurmctld and slurmd in a private directory; stop them on exit.

    Parameters
    ----------
    cpus
        CPUs the node declares (default: this machine's count). SLURM schedules by
        these, so jobs asking for more than this stay pending.
    startup_timeout
        Seconds to wait for the node to become idle before giving up.

    Yields
    ------
    SlurmCluster
        With ``env``: this process's environment plus ``SLURM_CONF`` (and the sbin
        directories on ``PATH``), to run clients and Snakemake against the cluster.
    """
    node = socket.gethostname().split(".")[0]
    cpus = cpus or os.cpu_count() or 1
    root = Path(tempfile.mkdtemp(prefix="mt-slurm-", dir="/tmp"))
    root.chmod(0o700)
    for sub in ("state", "spool"):
        (root / sub).mkdir(mode=0o700)
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    conf = write_slurm_conf(root, node, cpus, max(1000, _total_memory_mb() - 1000))
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    shims = _write_srun_shim(root, conf, shutil.which("srun", path=path))
    env = {**os.environ, "SLURM_CONF": str(conf), "PATH": f"{shims}{os.pathsep}{path}"}
    for var in [v for v in env if v.startswith(("SLURM_", "SBATCH_", "SRUN_", "SQUEUE_"))]:
        if var != "SLURM_CONF":
            del env[var]
    cluster = SlurmCluster(root, conf, node, PARTITION, cpus, env)

    def popen(*cmd: str) -> subprocess.Popen:
        return subprocess.Popen(
            list(cmd),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(root / f"{Path(cmd[0]).name}.stderr.log", "w"),
            start_new_session=True,
        )

    with ExitStack() as stack:
        # Registered first, so run last: remove the private directory.
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        munged = popen(
            shutil.which("munged", path=path),
            "--foreground",
            "--force",
            f"--socket={root}/munge.sock",
            f"--key-file={key}",
            f"--pid-file={root}/munged.pid",
            f"--log-file={root}/munged.log",
            f"--seed-file={root}/munged.seed",
        )
        stack.callback(_stop, munged, "munged")
        _wait_until(lambda: (root / "munge.sock").exists(), startup_timeout, "munged", root)

        slurmctld = popen(shutil.which("slurmctld", path=path), "-D", "-i", "-f", str(conf))
        stack.callback(_stop, slurmctld, "slurmctld")
        slurmd = popen(shutil.which("slurmd", path=path), "-D", "-f", str(conf), "-N", node)
        stack.callback(_stop, slurmd, "slurmd")
        # Before the daemons stop: cancel every job and end this cluster's job steps.
        stack.callback(_cancel_all, cluster)

        def node_idle() -> bool:
            for proc, name in ((munged, "munged"), (slurmctld, "slurmctld"), (slurmd, "slurmd")):
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"local SLURM: {name} exited with {proc.returncode}\n" + cluster.log_tail()
                    )
            out = cluster.run("sinfo", "-h", "-N", "-o", "%T", check=False)
            return out.returncode == 0 and out.stdout.strip().rstrip("*") == "idle"

        _wait_until(node_idle, startup_timeout, "node", root)
        yield cluster


def _cancel_all(cluster: SlurmCluster) -> None:
    """Cancel every job of the cluster and end its leftover job steps."""
    cluster.run("scancel", "--full", "--partition", cluster.partition, check=False)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        out = cluster.run("squeue", "-h", "-o", "%i", "-t", "PD,R,CG,CF", check=False)
        if out.returncode != 0 or not out.stdout.strip():
            break
        time.sleep(0.5)
    for pid in _leftover_stepds(cluster.conf):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
