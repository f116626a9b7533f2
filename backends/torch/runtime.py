"""PyTorch's runtime record (bench.spec.runtime). Light: it imports no torch; its hooks look in
`sys.modules`, and the GPU probe is a script run in a subprocess of its own."""

from __future__ import annotations

import math
import sys

from bench.spec.runtime import Framework, GpuProbe

GPU_FIX = (
    "install a CUDA build from PyTorch's wheel index, e.g. "
    "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu130"
)


def configure_threads(threads: int) -> None:
    """torch sizes its pools in-process: intra-op from OMP_NUM_THREADS already, inter-op only by
    call, and only before its first parallel work."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != threads:
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # inter-op work already ran in this process; the report shows what stands
            pass


def report_threads() -> dict[str, int] | None:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    return {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}


def peak_device_bytes(device: str) -> float:
    """`torch.cuda.max_memory_allocated` on a GPU; NaN on the CPU (torch keeps no peak there)."""
    torch = sys.modules.get("torch")
    if device != "gpu" or torch is None or not torch.cuda.is_available():
        return math.nan
    return float(torch.cuda.max_memory_allocated())


def fork_hazard() -> str:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        return "CUDA was initialised during the imports"
    return ""


GPU_PROBE = f"""
import json
try:
    import torch
except ImportError:
    print(json.dumps({{"ok": False, "reason": "torch is not installed (pip install 'bench[torch]')"}}))
    raise SystemExit
info = {{"version": torch.__version__, "cuda": torch.version.cuda}}
if torch.version.cuda is None:
    reason = f"torch {{torch.__version__}} is a CPU build ({GPU_FIX})"
    print(json.dumps({{"ok": False, "reason": reason, "info": info}}))
elif not torch.cuda.is_available():
    reason = (f"torch {{torch.__version__}} (CUDA {{torch.version.cuda}}) sees no CUDA device "
              "(torch.cuda.is_available() is False)")
    print(json.dumps({{"ok": False, "reason": reason, "info": info}}))
else:
    info["devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    info["cudnn"] = torch.backends.cudnn.version()
    print(json.dumps({{"ok": True, "reason": "", "info": info}}))
"""

TORCH = Framework(
    name="torch",
    packages=("torch",),
    configure_threads=configure_threads,
    report_threads=report_threads,
    gpu=GpuProbe(GPU_PROBE, packages=("torch",)),
    peak_device_bytes=peak_device_bytes,
    fork_hazard=fork_hazard,
)
