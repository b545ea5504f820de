"""train.keep_freed_memory: memory a step frees stays in the process for the next step (glibc)."""

import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's"
)

# a 24 MiB block, touched, freed: by default glibc mmaps a block that size and unmaps it on free
PROBE = textwrap.dedent(
    """
    import sys
    from lego_core.engine.memory_pool import keep_freed_memory

    def resident_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096 / 2**20

    if sys.argv[1] == "keep":
        assert keep_freed_memory() and keep_freed_memory()  # the second call: already set
    before = resident_mb()
    block = bytearray(24 << 20)  # zero-filled: every page touched
    del block
    print(resident_mb() - before)
    """
)


def retained_mb(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
    return float(done.stdout)


def test_freed_memory_is_returned_by_default_and_kept_when_asked():
    assert retained_mb("default") < 4  # glibc unmapped it
    assert retained_mb("keep") > 20  # kept for the next allocation of that size


def test_a_run_applies_it_only_when_asked(experiment_dict, tmp_path, monkeypatch):
    from lego_core.engine import run as run_module
    from lego_core.experiment import Experiment

    calls = []
    monkeypatch.setattr(run_module, "keep_freed_memory", lambda: calls.append(1) or True)
    Experiment.from_dict(experiment_dict(train={"epochs": 1, "max_steps_per_epoch": 2})).run(output=tmp_path / "a")
    assert calls == []  # off by default
    Experiment.from_dict(experiment_dict(train={"epochs": 1, "max_steps_per_epoch": 2, "keep_freed_memory": True})).run(
        output=tmp_path / "b"
    )
    assert calls == [1]
