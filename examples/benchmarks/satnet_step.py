"""SATNet step time at Sudoku size: forward and forward+backward, ours against the official build.

    python examples/benchmarks/satnet_step.py [--official-python /tmp/satnet-venv/bin/python]

Times each backend (``satnet-cpu``, ``satnet-torch``) and, when ``--official-python`` names an
interpreter where locuslab's ``satnet`` is installed, the official implementation in a
subprocess on the same inputs (n=729, m=600, aux=300, batch 40, 36 given cells of 9 bits each).
Prints a markdown table and appends it, with the command, date and machine, to ``--record``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from solverlayers.layers import SATNet

HERE = Path(__file__).resolve().parent

# Runs under --official-python: times locuslab's SATNet on the saved inputs, prints JSON.
OFFICIAL = r"""
import json, sys, time, torch, satnet
torch.set_num_threads(int(sys.argv[2]))
data = torch.load(sys.argv[1])
n, m, aux, repeats = data["n"], data["m"], data["aux"], data["repeats"]
torch.manual_seed(0)
layer = satnet.SATNet(n, m, aux)
fwd, bwd, cpu = [], [], []
for _ in range(repeats):
    z = data["z"].clone().requires_grad_()
    c0 = time.process_time(); t0 = time.perf_counter(); out = layer(z, data["is_input"]); t1 = time.perf_counter()
    torch.nn.functional.binary_cross_entropy(out, data["target"]).backward(); t2 = time.perf_counter()
    fwd.append(t1 - t0); bwd.append(t2 - t1); cpu.append(time.process_time() - c0)
print(json.dumps({"fwd": fwd, "bwd": bwd, "cpu": cpu}))
"""


OFFICIAL_NAME = "official (locuslab C++/OpenMP)"


Measured = dict[str, "float | list[float]"]


def merge(results: dict[str, dict[str, list[float]]], name: str, measured: Measured) -> None:
    """Append one measurement's lists (and scalars) to ``results[name]``."""
    into = results.setdefault(name, {})
    for key, value in measured.items():
        into.setdefault(key, []).extend(value if isinstance(value, list) else [value])


def progress(name: str, results: dict[str, dict[str, list[float]]]) -> None:
    r = results[name]
    print(f"[{name}] step {len(r['fwd'])}: forward {r['fwd'][-1]:.3f} s, backward {r['bwd'][-1]:.3f} s, "
          f"CPU {r['cpu'][-1]:.2f} s", file=sys.stderr, flush=True)


def sudoku_like(n: int, batch: int, givens: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One-hot cells of 9 bits (``n // 9`` cells): inputs z (B, n), is_input (int32) marking
    ``givens`` whole cells, random one-hot targets."""
    g = torch.Generator().manual_seed(seed)
    cells = n // 9
    z = torch.nn.functional.one_hot(torch.randint(0, 9, (batch, cells), generator=g), 9).reshape(batch, n).float()
    chosen = torch.rand(batch, cells, generator=g).argsort(1)[:, :givens]
    is_input = torch.zeros(batch, cells, dtype=torch.int32).scatter_(1, chosen, 1).repeat_interleave(9, dim=1)
    target = torch.nn.functional.one_hot(torch.randint(0, 9, (batch, cells), generator=g), 9).reshape(batch, n).float()
    return z, is_input, target


def time_ours(backend: str, args: argparse.Namespace, z: torch.Tensor, is_input: torch.Tensor,
              target: torch.Tensor, repeats: int) -> Measured:
    layer = SATNet(args.n, args.m, args.aux, backend=backend, generator=torch.Generator().manual_seed(0))
    fwd: list[float] = []
    bwd: list[float] = []
    cpu: list[float] = []
    sweeps: list[float] = []
    for _ in range(repeats):
        zr = z.clone().requires_grad_()
        c0, t0 = time.process_time(), time.perf_counter()
        out = layer(zr, is_input)
        t1 = time.perf_counter()
        torch.nn.functional.binary_cross_entropy(out, target).backward()
        t2 = time.perf_counter()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
        cpu.append(time.process_time() - c0)
        assert layer.last_sweeps is not None
        sweeps.append(float(layer.last_sweeps.float().mean()))
    return {"fwd": fwd, "bwd": bwd, "cpu": cpu, "sweeps": statistics.mean(sweeps)}


def time_official(python: str, args: argparse.Namespace, z: torch.Tensor, is_input: torch.Tensor,
                  target: torch.Tensor, repeats: int) -> Measured:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inputs.pt"
        torch.save({"n": args.n, "m": args.m, "aux": args.aux, "repeats": repeats, "z": z,
                    "is_input": is_input, "target": target}, path)
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
        proc = subprocess.run([python, "-c", OFFICIAL, str(path), str(args.threads)], capture_output=True,
                              text=True, env=env, cwd=tmp, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the official implementation failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} logical CPUs, {threads} threads by default, torch {torch.__version__}, "
            f"Python {platform.python_version()}, load average {load:.1f} at start")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=729)
    p.add_argument("--m", type=int, default=600)
    p.add_argument("--aux", type=int, default=300)
    p.add_argument("--batch", type=int, default=40)
    p.add_argument("--givens", type=int, default=36)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3, help="steps timed per fast implementation (best reported)")
    p.add_argument("--backends", default="satnet-cpu,satnet-torch")
    p.add_argument("--torch-repeats", type=int, default=1, help="steps timed for satnet-torch (slow)")
    p.add_argument("--torch-threads", type=int, default=0,
                   help="torch threads for satnet-torch (0: --threads); its thousands of small parallel ops "
                        "slow down badly when other processes compete for the cores")
    p.add_argument("--official-python", default=None, help="interpreter with locuslab's satnet installed")
    p.add_argument("--record", default=str(HERE / "satnet_step.md"), help="markdown file to append to ('' for none)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    started = machine(args.threads)
    if args.n % 9:
        p.error("--n must be a multiple of 9 (cells of 9 one-hot bits)")
    z, is_input, target = sudoku_like(args.n, args.batch, args.givens, seed=0)
    backends = [b for b in args.backends.split(",") if b]
    results: dict[str, dict[str, list[float]]] = {}
    # Interleave the fast implementations step by step so that load from other processes hits
    # them alike; satnet-torch (slow) runs last.
    threads = {OFFICIAL_NAME: args.threads, **{b: args.threads for b in backends}}
    if "satnet-torch" in backends and args.torch_threads:
        threads["satnet-torch"] = args.torch_threads
    for rep in range(args.repeats):
        if args.official_python:
            merge(results, OFFICIAL_NAME, time_official(args.official_python, args, z, is_input, target, 1))
            progress(OFFICIAL_NAME, results)
        for backend in backends:
            if backend != "satnet-torch" or rep < args.torch_repeats:
                torch.set_num_threads(threads[backend])
                merge(results, backend, time_ours(backend, args, z, is_input, target, 1))
                progress(backend, results)
    official = results.get(OFFICIAL_NAME)
    caption = (f"n={args.n}, m={args.m}, aux={args.aux}, batch {args.batch}, {args.givens} given cells, float32, "
               "threads as listed. Wall times are the best of the timed steps (other processes share the "
               "machine); CPU is the process CPU time of that step, all threads.")
    header = ("| implementation | threads | steps | forward (s) | backward (s) | fwd+bwd step (s) | step / official | "
              "step CPU (s) | CPU / official | sweeps (mean) |")
    lines = [caption, "", header, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        best = min(range(len(r["fwd"])), key=lambda i: r["fwd"][i] + r["bwd"][i])
        step, cpu = r["fwd"][best] + r["bwd"][best], min(r["cpu"])
        ratio = cpu_ratio = ""
        if official is not None:
            ratio = f"{step / min(f + b for f, b in zip(official['fwd'], official['bwd'])):.2f}"
            cpu_ratio = f"{cpu / min(official['cpu']):.2f}"
        sweeps = f"{statistics.mean(r['sweeps']):.1f}" if "sweeps" in r else "-"
        lines.append(f"| {name} | {threads[name]} | {len(r['fwd'])} | {r['fwd'][best]:.3f} | {r['bwd'][best]:.3f} | {step:.3f} | {ratio} "
                     f"| {cpu:.2f} | {cpu_ratio} | {sweeps} |")
    table = "\n".join(lines)
    print(table)
    if args.record:
        command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
        stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        with open(args.record, "a") as fh:
            fh.write(f"\n## {stamp}\n\n`{command}`\n\nMachine: {started}\n\n{table}\n")


if __name__ == "__main__":
    main()
