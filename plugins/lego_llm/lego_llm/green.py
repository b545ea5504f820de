"""Green AI: the energy and carbon of a run, and ApC (AUC per carbon), as a settings table and lifecycle hooks.

Paper: Liu et al., "Benchmarking News Recommendation in the Era of Green AI"
(GreenRec), WWW 2024 Companion, https://arxiv.org/abs/2403.04736: report a
model's carbon emission next to its accuracy, and their trade-off
``ApC = (AUC - 50) / CO2e x 100`` (AUC in percent).

``[plugins.green] measure = true`` (or ``apc = true``) meters every run from
``lego_experiment_start`` (the model is built) to ``lego_experiment_end``
(the test split is evaluated), so it covers training and evaluation:

- CPU: the RAPL energy counters of the CPU packages (Linux,
  ``/sys/class/powercap/intel-rapl:*/energy_uj``, wrap-around handled; a
  ``psys`` zone, which covers the whole platform, is used alone when present),
  else an estimate: the process's CPU time x ``cpu_watts_per_core`` (Green
  Algorithms' default, 12 W per core; Lannelongue et al., Adv. Sci. 2021);
- memory: RAPL's ``dram`` zones where the machine has them, else the
  process's peak resident memory x ``memory_watts_per_gb`` (0.3725 W/GB,
  Green Algorithms) x the wall time;
- GPU (when the run used CUDA): NVML's total-energy counter of each GPU
  (``nvmlDeviceGetTotalEnergyConsumption``, through ``ctypes``: no Python
  package needed), else ``gpu_watts`` x the wall time.

Counters meter the whole machine (every process on those packages and GPUs),
estimates only this process: on a shared machine the first is an upper
bound, the second a rough model. ``green.json`` in the run directory says
which method gave each part; ``source = "estimate"`` skips the counters,
``"measured"`` refuses to estimate the CPU (and, on CUDA, the GPU) part.

Energy (kWh) = joules / 3.6e6 x ``pue`` (the data centre's overhead; 1 =
the machine only); carbon (kg CO2e) = kWh x ``carbon_intensity`` (g/kWh,
default 475, the 2019 world average of the IEA that carbontracker also
uses) / 1000. A resumed run adds its segments up. ``results.json`` gets a
``green`` table (``energy_wh``, ``carbon_g``, ``seconds``, and ``apc`` when
asked, from the AUC of ``apc_split``; ApC divides by kilograms of CO2e, and
``green.json`` keeps kWh and kg with every segment's details).

Example:
    >>> round(apc(0.7, 0.5), 3)  # AUC 70 %, half a kilogram
    4000.0
"""

from __future__ import annotations

import ctypes
import datetime
import json
import os
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import validators as v

from lego_core.atomic import write_json
from lego_core.config.settings import PluginSettings
from lego_core.errors import ConfigError

POWERCAP = Path("/sys/class/powercap")
GREEN_FILE = "green.json"
RESULTS_FILE = "results.json"
SOURCES = ("auto", "measured", "estimate")
_RUNNING: dict[Path, dict[str, Any]] = {}


@attrs.define(kw_only=True, frozen=True)
class GreenSettings(PluginSettings):
    """``[plugins.green]``: energy, carbon and ApC of each run."""

    name = "green"
    description = "Energy (RAPL, NVML or an estimate), carbon and ApC (AUC per carbon, GreenRec) of each run."

    measure: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={"doc": "Meter the run's energy and carbon (green.json, and a green table in results.json)."},
    )
    apc: bool = attrs.field(
        default=False,
        validator=v.instance_of(bool),
        metadata={
            "doc": "Also report ApC = (100 AUC - 50) / kg CO2e x 100 (GreenRec); implies measure and needs auc in "
            "train.metrics."
        },
    )
    apc_split: str = attrs.field(
        default="test", validator=v.instance_of(str), metadata={"doc": "The split whose AUC ApC uses."}
    )
    source: str = attrs.field(
        default="auto",
        validator=v.in_(SOURCES),
        metadata={
            "doc": '"auto": counters where the machine has them, estimates for the rest; "measured": refuse to '
            'estimate the CPU/GPU part; "estimate": estimates only.'
        },
    )
    carbon_intensity: float = attrs.field(
        default=475.0,
        converter=float,
        validator=v.gt(0.0),
        metadata={"doc": "Grams of CO2e per kWh of the electricity used (475: the 2019 world average, IEA)."},
    )
    pue: float = attrs.field(
        default=1.0,
        converter=float,
        validator=v.ge(1.0),
        metadata={
            "doc": "Power usage effectiveness of the data centre (1: the machine alone; Green Algorithms uses 1.67)."
        },
    )
    cpu_watts_per_core: float = attrs.field(
        default=12.0,
        converter=float,
        validator=v.gt(0.0),
        metadata={"doc": "Estimate: watts per fully used CPU core (Green Algorithms' default)."},
    )
    memory_watts_per_gb: float = attrs.field(
        default=0.3725,
        converter=float,
        validator=v.ge(0.0),
        metadata={"doc": "Estimate: watts per GB of resident memory (Green Algorithms)."},
    )
    gpu_watts: float = attrs.field(
        default=300.0,
        converter=float,
        validator=v.gt(0.0),
        metadata={"doc": "Estimate, when NVML is unavailable: watts of the GPU the run uses."},
    )
    nvml_devices: list[int] | None = attrs.field(
        default=None, metadata={"doc": "NVML indices of the GPUs to meter; default every GPU NVML lists."}
    )

    @property
    def active(self) -> bool:
        return self.measure or self.apc


def apc(auc: float, carbon_kg: float) -> float:
    """GreenRec's ApC: ``(100 * auc - 50) / carbon_kg * 100``."""
    return (100.0 * auc - 50.0) / carbon_kg * 100.0


# --------------------------------------------------------------------- meters


def read_rapl(root: Path | None = None) -> tuple[dict[str, tuple[int, int]], str | None]:
    """``{zone: (energy_uj, max_energy_range_uj)}`` of the CPU packages (and DRAM), or ``({}, why not)``."""
    root = POWERCAP if root is None else root
    zones = sorted(root.glob("intel-rapl:*")) if root.is_dir() else []
    if not zones:
        return {}, f"no RAPL counters ({root}/intel-rapl:* does not exist)"
    found: dict[str, tuple[int, int]] = {}
    try:
        named = [(zone, (zone / "name").read_text().strip()) for zone in zones]
        psys = [z for z, name in named if name.startswith("psys")]
        for zone, name in named:
            top = zone.name.count(":") == 1
            if psys and zone not in psys:
                continue  # psys covers the whole platform: packages and DRAM are inside it
            if not psys and not ((top and name.startswith("package")) or (not top and name == "dram")):
                continue
            found[f"{zone.name}/{name}"] = (
                int((zone / "energy_uj").read_text()),
                int((zone / "max_energy_range_uj").read_text()),
            )
    except PermissionError as err:
        return {}, (
            f"the RAPL counters are not readable ({err.filename}: permission denied; Linux keeps them "
            "root-only since 5.10)"
        )
    except (OSError, ValueError) as err:
        return {}, f"the RAPL counters cannot be read ({err})"
    return found, None


def read_nvml(devices: list[int] | None = None) -> tuple[dict[int, int], str | None]:
    """``{gpu index: total energy in mJ}`` from NVML, or ``({}, why not)``."""
    try:
        lib = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return {}, "NVML is not available (no NVIDIA driver library libnvidia-ml.so.1)"
    if lib.nvmlInit_v2() != 0:
        return {}, "NVML did not initialise"
    try:
        count = ctypes.c_uint()
        if lib.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
            return {}, "NVML cannot count the GPUs"
        out: dict[int, int] = {}
        for index in range(count.value) if devices is None else devices:
            handle = ctypes.c_void_p()
            energy = ctypes.c_ulonglong()
            if (
                lib.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) != 0
                or lib.nvmlDeviceGetTotalEnergyConsumption(handle, ctypes.byref(energy)) != 0
            ):
                return {}, f"NVML has no energy counter for GPU {index} (it needs a Volta or newer GPU)"
            out[index] = int(energy.value)
        return out, None
    finally:
        lib.nvmlShutdown()


def _peak_rss_gb() -> float:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 30) if os.uname().sysname == "Darwin" else peak / (1 << 20)  # bytes on macOS, KiB on Linux


def _cuda_used() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_initialized())


def snapshot(settings: GreenSettings) -> dict[str, Any]:
    """The counters and clocks at one moment."""
    rapl, rapl_note = read_rapl() if settings.source != "estimate" else ({}, "estimates only (source)")
    nvml, nvml_note = (
        read_nvml(settings.nvml_devices) if settings.source != "estimate" else ({}, "estimates only (source)")
    )
    return {
        "wall": time.perf_counter(),
        "cpu": time.process_time(),
        "rapl": rapl,
        "rapl_note": rapl_note,
        "nvml": nvml,
        "nvml_note": nvml_note,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def segment(start: dict[str, Any], end: dict[str, Any], settings: GreenSettings) -> dict[str, Any]:
    """Joules per part (CPU, memory, GPU) between two snapshots, and how each was obtained."""
    seconds = end["wall"] - start["wall"]
    cpu_seconds = end["cpu"] - start["cpu"]
    rss = _peak_rss_gb()
    joules: dict[str, float] = {}
    methods: dict[str, str] = {}
    notes = [n for n in (start["rapl_note"], start["nvml_note"]) if n]
    rapl = {
        z: (end["rapl"][z][0] - e) % m if m else end["rapl"][z][0] - e
        for z, (e, m) in start["rapl"].items()
        if z in end["rapl"]
    }
    if rapl:
        joules["cpu"] = sum(u for z, u in rapl.items() if not z.endswith("/dram")) / 1e6
        methods["cpu"] = "rapl"
    else:
        joules["cpu"] = cpu_seconds * settings.cpu_watts_per_core
        methods["cpu"] = "estimate"
    if any("/psys" in z for z in rapl):
        joules["memory"], methods["memory"] = 0.0, "rapl (inside the psys zone)"
    elif any(z.endswith("/dram") for z in rapl):
        joules["memory"] = sum(u for z, u in rapl.items() if z.endswith("/dram")) / 1e6
        methods["memory"] = "rapl"
    else:
        joules["memory"] = rss * settings.memory_watts_per_gb * seconds
        methods["memory"] = "estimate"
    nvml = {g: end["nvml"][g] - e for g, e in start["nvml"].items() if g in end["nvml"]}
    if nvml:
        joules["gpu"] = sum(nvml.values()) / 1e3
        methods["gpu"] = "nvml"
    elif _cuda_used():
        joules["gpu"] = settings.gpu_watts * seconds
        methods["gpu"] = "estimate"
    else:
        joules["gpu"], methods["gpu"] = 0.0, "none (the run used no GPU)"
    if settings.source == "measured":
        estimated = [part for part in ("cpu", "gpu") if methods[part] == "estimate"]
        if estimated:
            raise ConfigError(
                f'[plugins.green] source = "measured", but the {", ".join(estimated)} energy can only '
                f'be estimated here: {"; ".join(notes)}. Use source = "auto"'
            )
    return {
        "started": start["started"],
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "peak_rss_gb": round(rss, 3),
        "joules": {k: round(x, 3) for k, x in joules.items()},
        "methods": methods,
        "notes": notes,
    }


# --------------------------------------------------------------------- the hooks' work


def _settings(settings: Mapping[str, Any]) -> GreenSettings | None:
    found = settings.get("green")
    return found if isinstance(found, GreenSettings) and found.active else None


def start(run_dir: Path, settings: Mapping[str, Any]) -> None:
    """``lego_experiment_start``: take the first snapshot."""
    options = _settings(settings)
    if options is not None:
        _RUNNING[Path(run_dir)] = snapshot(options)


def end(run_dir: Path, settings: Mapping[str, Any], results: dict[str, Any]) -> None:
    """``lego_experiment_end``: add this segment to ``green.json``, the totals (and ApC) to ``results.json``."""
    options = _settings(settings)
    run_dir = Path(run_dir)
    first = _RUNNING.pop(run_dir, None)
    if options is None or first is None:
        return
    record = segment(first, snapshot(options), options)
    file = run_dir / GREEN_FILE
    previous = json.loads(file.read_text()).get("segments", []) if file.is_file() else []
    segments = [*previous, record]
    joules = sum(sum(s["joules"].values()) for s in segments)
    energy = joules / 3.6e6 * options.pue
    carbon = energy * options.carbon_intensity / 1000.0
    # watt-hours and grams read better in the results table than kWh and kg for runs of minutes
    table: dict[str, float] = {
        "energy_wh": energy * 1000.0,
        "carbon_g": carbon * 1000.0,
        "seconds": round(sum(s["seconds"] for s in segments), 3),
    }
    note = None
    if options.apc:
        auc = (
            results.get(options.apc_split, {}).get("auc") if isinstance(results.get(options.apc_split), dict) else None
        )
        if auc is None:
            note = (
                f'apc: the {options.apc_split!r} split has no auc; add "auc" to train.metrics '
                "(and the split to train.eval_splits)"
            )
            warnings.warn(f"[plugins.green] {note}", stacklevel=2)
        else:
            table["apc"] = apc(float(auc), carbon)
    write_json(
        file,
        {
            "segments": segments,
            "energy_kwh": energy,
            "carbon_kg": carbon,
            "joules": joules,
            "carbon_intensity_g_per_kwh": options.carbon_intensity,
            "pue": options.pue,
            **({"note": note} if note else {}),
            **({"apc": table["apc"]} if "apc" in table else {}),
        },
    )
    results["green"] = table
    if (run_dir / RESULTS_FILE).is_file():
        write_json(run_dir / RESULTS_FILE, results)
