"""One-shot GPU check: CUDA fit, CPU comparison, CUDA-free unpickling, throughput.

Meant to run once on a machine with a CUDA GPU (see
``benchmarks/run_device_check.sh``). Every section is wrapped: a failure is
recorded with its traceback and the script goes on. Results are written after
every section to ``DIR/device_check.json`` and ``DIR/device_check.md``, so a run
cut short still leaves what it measured.

Sections:

- ``environment``: Python, torch, CUDA, cuDNN, GPU name, package versions.
- ``japanese_vowels``: ``WassersteinSequenceEmbedder(device="cuda",
  random_state=0)`` fitted on the JapaneseVowels training split (twice, to see
  whether the same seed gives the same embedding), 1-NN test accuracy and fit
  time; the same on the CPU with ``n_threads=1`` and ``n_threads=None``.
- ``cuda_free_unpickle``: the GPU-fitted embedder pickled to bytes, loaded again
  in this process, and loaded in a subprocess with ``CUDA_VISIBLE_DEVICES=""``,
  where ``transform`` must run on the CPU and match the GPU output.
- ``transform_throughput``: sequences per second of ``transform`` on 20,000
  synthetic sequences (3 channels, 100 to 500 steps) on the GPU; on the CPU on a
  2,000-sequence subset, extrapolated.
- ``fit_throughput``: seconds per epoch of ``fit`` on 5,000 synthetic labelled
  sequences, 3 epochs on the GPU, 1 epoch on the CPU.

``--cpu-smoke`` runs every section with ``device="cpu"`` in place of ``"cuda"``
and tiny sizes, to exercise the script without a GPU.

Usage::

    python benchmarks/device_check.py --out results_dir
    python benchmarks/device_check.py --out /tmp/devcheck --cpu-smoke
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

# Sizes of the real run and of the CPU smoke run.
SIZES = {
    "gpu": {
        "jv_max_epochs": None,  # the estimator's default
        "jv_gpu_repeats": 2,
        "transform_per_class": 4000,  # 5 classes: 20,000 sequences
        "transform_cpu_subset": 2000,
        "transform_model_per_class": 200,
        "transform_repeats": 3,
        "fit_per_class": 1000,  # 5 classes: 5,000 sequences
        "fit_gpu_epochs": 3,
        "fit_gpu_repeats": 2,
        "fit_cpu_epochs": 1,
    },
    "smoke": {
        "jv_max_epochs": 3,
        "jv_gpu_repeats": 2,
        "transform_per_class": 100,
        "transform_cpu_subset": 100,
        "transform_model_per_class": 20,
        "transform_repeats": 2,
        "fit_per_class": 50,
        "fit_gpu_epochs": 2,
        "fit_gpu_repeats": 1,
        "fit_cpu_epochs": 1,
    },
}
N_CHANNELS = 3
LENGTHS = (100, 500)
N_CLASSES = 5


class Report:
    """Section results, written to JSON and Markdown after every section."""

    def __init__(self, out: Path, meta: dict, budget: float):
        self.out = out
        self.meta = meta
        self.sections: dict[str, dict] = {}
        self.start = time.perf_counter()
        self.budget = budget

    def elapsed(self) -> float:
        """Seconds since the report was created."""
        return time.perf_counter() - self.start

    def over_budget(self) -> bool:
        """Whether the time budget is used up."""
        return self.elapsed() > self.budget

    def run(self, name: str, function, *args) -> dict | None:
        """Run one section; record its result, or its traceback on failure."""
        print(f"\n== {name} (t={self.elapsed():.0f}s)", flush=True)
        if self.over_budget():
            self.sections[name] = {
                "status": "skipped",
                "reason": f"time budget of {self.budget:.0f} s used up",
            }
            self.write()
            return None
        start = time.perf_counter()
        result: dict = {}
        try:
            function(result, *args)
            status, trace = "ok", None
        except Exception:
            status, trace = "error", traceback.format_exc()
            print(trace, file=sys.stderr, flush=True)
        self.sections[name] = {
            "status": status,
            "seconds": round(time.perf_counter() - start, 3),
            "result": result,
        }
        if trace is not None:
            self.sections[name]["traceback"] = trace
        print(json.dumps(self.sections[name], indent=1, default=str), flush=True)
        self.write()
        return result

    def write(self) -> None:
        """Write ``device_check.json`` and ``device_check.md``."""
        self.meta["elapsed_seconds"] = round(self.elapsed(), 1)
        data = {"meta": self.meta, "sections": self.sections}
        (self.out / "device_check.json").write_text(
            json.dumps(data, indent=2, default=str) + "\n"
        )
        (self.out / "device_check.md").write_text(_markdown(data))


def _markdown(data: dict) -> str:
    meta = data["meta"]
    lines = [
        "# Device check",
        "",
        f"Mode: `{meta['mode']}`, accelerator device `{meta['device']}`, "
        f"elapsed {meta['elapsed_seconds']} s (command: `{meta['command']}`).",
        "",
    ]
    for name, section in data["sections"].items():
        lines += [f"## {name}", ""]
        status = section["status"]
        if status == "skipped":
            lines += [f"Skipped: {section['reason']}.", ""]
            continue
        lines += [f"Status: **{status}**, {section['seconds']} s.", ""]
        result = section.get("result", {})
        scalars = {k: v for k, v in result.items() if not isinstance(v, list | dict)}
        for key, value in scalars.items():
            text = str(value)
            if "\n" in text:
                lines += [f"- {key}:", "", "```", text.rstrip(), "```", ""]
            else:
                lines.append(f"- {key}: {_fmt(value)}")
        if scalars:
            lines.append("")
        for key, value in result.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                lines += [f"{key}:", "", *_table(value), ""]
            elif isinstance(value, list | dict):
                lines += [f"- {key}: `{json.dumps(value, default=str)}`", ""]
        if "traceback" in section:
            lines += ["```", section["traceback"].rstrip(), "```", ""]
    return "\n".join(lines) + "\n"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _table(rows: list[dict]) -> list[str]:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    lines = ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(k, "")) for k in keys) + " |")
    return lines


# --------------------------------------------------------------------- helpers
def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _timed(device: str, function):
    """Return ``(function(), seconds)``, synchronising CUDA around the call."""
    _sync(device)
    start = time.perf_counter()
    out = function()
    _sync(device)
    return out, time.perf_counter() - start


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()


def _peak_mib(device: str) -> float | None:
    if device.startswith("cuda"):
        import torch

        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return None


def _epoch_seconds(embedder) -> list[float]:
    return [round(float(d), 4) for d in embedder.history_[:, "dur"]]


def _child_pythonpath() -> str:
    """Return this process's import path, so the child finds the same packages."""
    return os.pathsep.join(p for p in sys.path if p)


def _knn_accuracy(embedder, E_train, y_train, E_test, y_test) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=1, metric=embedder.metric_)
    return float(knn.fit(E_train, y_train).score(E_test, y_test))


def _shape_sequences(per_class: int, seed: int):
    from sklearn_wdist.datasets import make_shape_sequences

    return make_shape_sequences(
        per_class, N_CLASSES, N_CHANNELS, LENGTHS, random_state=seed
    )


# -------------------------------------------------------------------- sections
def section_environment(result: dict, device: str) -> None:
    import scipy
    import sklearn
    import torch

    result["python"] = sys.version.split()[0]
    result["platform"] = platform.platform()
    result["cpu_count"] = os.cpu_count()
    result["torch"] = torch.__version__
    result["torch_cuda"] = torch.version.cuda
    result["cudnn"] = torch.backends.cudnn.version()
    result["cudnn_deterministic"] = torch.backends.cudnn.deterministic
    result["cudnn_benchmark"] = torch.backends.cudnn.benchmark
    result["cuda_available"] = torch.cuda.is_available()
    result["torch_num_threads"] = torch.get_num_threads()
    result["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    if torch.cuda.is_available():
        result["gpu"] = torch.cuda.get_device_name(0)
        result["gpu_count"] = torch.cuda.device_count()
        props = torch.cuda.get_device_properties(0)
        result["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        result["gpu_capability"] = f"{props.major}.{props.minor}"
    result["numpy"] = np.__version__
    result["scipy"] = scipy.__version__
    result["scikit-learn"] = sklearn.__version__
    for name, module in [("skorch", "skorch"), ("pot", "ot")]:
        try:
            imported = __import__(module)
            result[name] = f"{imported.__version__} ({Path(imported.__file__).parent})"
        except Exception as error:
            result[name] = f"import failed: {error!r}"
    import sklearn_wdist

    result["sklearn_wdist"] = f"{sklearn_wdist.__version__} ({sklearn_wdist.__file__})"
    for key in ("torch", "torch_cuda", "cudnn", "gpu"):
        print(f"{key}: {result.get(key)}", flush=True)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("CUDA is not available to torch on this machine.")


def section_japanese_vowels(
    result: dict, device: str, sizes: dict, state: dict, report: Report
):
    from sklearn_wdist import WassersteinSequenceEmbedder
    from sklearn_wdist.datasets import load_japanese_vowels

    X_train, y_train = load_japanese_vowels("train")
    X_test, y_test = load_japanese_vowels("test")
    result["n_train"], result["n_test"] = len(X_train), len(X_test)
    extra = {}
    if sizes["jv_max_epochs"] is not None:
        extra["max_epochs"] = sizes["jv_max_epochs"]
    result["max_epochs"] = sizes["jv_max_epochs"] or "default"
    rows = []
    gpu_embeddings = []
    for repeat in range(sizes["jv_gpu_repeats"]):
        embedder = WassersteinSequenceEmbedder(device=device, random_state=0, **extra)
        _reset_peak(device)
        _, seconds = _timed(device, lambda e=embedder: e.fit(X_train, y_train))
        E_train, E_test = embedder.transform(X_train), embedder.transform(X_test)
        gpu_embeddings.append(E_test)
        rows.append(
            {
                "role": "accelerator",
                "device": device,
                "n_threads": embedder.n_threads,
                "run": repeat + 1,
                "fit_s": round(seconds, 3),
                "epochs": len(embedder.history_),
                "median_epoch_s": statistics.median(_epoch_seconds(embedder)),
                "test_1nn_accuracy": round(
                    _knn_accuracy(embedder, E_train, y_train, E_test, y_test), 4
                ),
                "peak_gpu_mib": _peak_mib(device),
            }
        )
        if repeat == 0:
            state["jv_model"] = embedder
            state["jv_test"] = (X_test, E_test)
    if len(gpu_embeddings) > 1:
        # Same random_state twice on the same device: identical unless a kernel
        # (e.g. cuDNN) is nondeterministic.
        result["same_seed_max_abs_diff"] = float(
            np.max(np.abs(gpu_embeddings[0] - gpu_embeddings[1]))
        )
    for n_threads in (1, None):
        if n_threads is None and report.elapsed() > report.budget / 2:
            # All threads on a busy machine can be many times slower: keep the
            # time for the later sections.
            rows.append(
                {
                    "role": "cpu baseline",
                    "device": "cpu",
                    "n_threads": None,
                    "run": "skipped (half the time budget used)",
                }
            )
            continue
        embedder = WassersteinSequenceEmbedder(
            device="cpu", random_state=0, n_threads=n_threads, **extra
        )
        _, seconds = _timed("cpu", lambda e=embedder: e.fit(X_train, y_train))
        E_train, E_test = embedder.transform(X_train), embedder.transform(X_test)
        rows.append(
            {
                "role": "cpu baseline",
                "device": "cpu",
                "n_threads": n_threads,
                "run": 1,
                "fit_s": round(seconds, 3),
                "epochs": len(embedder.history_),
                "median_epoch_s": statistics.median(_epoch_seconds(embedder)),
                "test_1nn_accuracy": round(
                    _knn_accuracy(embedder, E_train, y_train, E_test, y_test), 4
                ),
                "peak_gpu_mib": None,
            }
        )
        if n_threads == 1:
            result["cpu_vs_accel_max_abs_diff"] = float(
                np.max(np.abs(E_test - gpu_embeddings[0]))
            )
    result["runs"] = rows


_CHILD_RESULT = "child_result.json"


def section_cuda_free_unpickle(result: dict, device: str, state: dict) -> None:
    if "jv_model" not in state:
        raise RuntimeError("no fitted model: the japanese_vowels section failed")
    embedder = state["jv_model"]
    X_test, expected = state["jv_test"]
    payload = pickle.dumps(embedder)
    result["pickle_mib"] = round(len(payload) / 2**20, 3)
    result["fitted_on"] = str(embedder.net_.device)

    # Round trip in this process, where the device is still there.
    reloaded = pickle.loads(payload)
    again = reloaded.transform(X_test)
    result["same_process_max_abs_diff"] = float(np.max(np.abs(again - expected)))

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "model.pkl").write_bytes(payload)
        with open(work / "data.pkl", "wb") as f:
            pickle.dump({"X": X_test, "expected": expected}, f)
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
        env["PYTHONPATH"] = _child_pythonpath()
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--_unpickle-child",
            str(work),
        ]
        completed = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=180
        )
        result["child_returncode"] = completed.returncode
        child_file = work / _CHILD_RESULT
        if child_file.exists():
            child = json.loads(child_file.read_text())
        else:
            child = {"ok": False, "traceback": "child wrote no result"}
        if not child.get("ok"):
            result["child_stderr_tail"] = completed.stderr[-3000:]
    for key, value in child.items():
        result[f"child_{key}"] = value
    if not child.get("ok"):
        raise RuntimeError(
            "the pickled model could not transform in a process without CUDA; "
            "see child_traceback"
        )
    # cuDNN convolutions use TF32 by default (10-bit mantissa): the same weights
    # give outputs that agree to about 1e-3 of their scale on GPU and CPU.
    tolerance = 1e-3 * max(1.0, float(child.get("max_abs_output", 1.0)))
    result["tolerance"] = tolerance
    if child["max_abs_diff"] > tolerance:
        raise AssertionError(
            f"CPU transform of the unpickled model differs by "
            f"{child['max_abs_diff']:.3g} (> {tolerance:.3g}) from the original output"
        )


def _unpickle_child(work: Path) -> None:
    """Run in a subprocess with CUDA hidden: load the model, transform, compare."""
    result: dict = {"ok": False}
    try:
        import torch

        result["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
        result["cuda_available"] = torch.cuda.is_available()
        with open(work / "data.pkl", "rb") as f:
            data = pickle.load(f)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            embedder = pickle.loads((work / "model.pkl").read_bytes())
        result["load_warnings"] = sorted({str(w.message)[:200] for w in caught})
        result["net_device"] = str(embedder.net_.device)
        result["module_device"] = str(next(embedder.module_.parameters()).device)
        start = time.perf_counter()
        out = embedder.transform(data["X"])
        result["transform_s"] = round(time.perf_counter() - start, 4)
        result["dtype"] = str(out.dtype)
        result["shape"] = list(out.shape)
        result["max_abs_diff"] = float(np.max(np.abs(out - data["expected"])))
        result["max_abs_output"] = float(np.max(np.abs(data["expected"])))
        result["ok"] = True
    except Exception:
        result["traceback"] = traceback.format_exc()
    (work / _CHILD_RESULT).write_text(json.dumps(result, default=str))


def _throughput_row(role, device, n_threads, n, seconds, measured_on, extrapolated):
    median = statistics.median(seconds)
    return {
        "role": role,
        "device": device,
        "n_threads": n_threads,
        "measured_on_n": measured_on,
        "repeats": len(seconds),
        "median_s": round(median, 4),
        "min_s": round(min(seconds), 4),
        "sequences_per_s": round(measured_on / median, 1),
        f"seconds_for_{n}": round(median * n / measured_on, 3),
        "extrapolated": extrapolated,
    }


def section_transform_throughput(
    result: dict, device: str, sizes: dict, report: Report
):
    from sklearn_wdist import WassersteinSequenceEmbedder

    (X, _), data_s = _timed(
        "cpu", lambda: _shape_sequences(sizes["transform_per_class"], 1)
    )
    n = len(X)
    result["n_sequences"] = n
    result["channels"], result["lengths"] = N_CHANNELS, f"{LENGTHS[0]}-{LENGTHS[1]}"
    result["total_steps"] = int(sum(x.shape[-1] for x in X))
    result["data_generation_s"] = round(data_s, 3)
    X_fit, y_fit = _shape_sequences(sizes["transform_model_per_class"], 2)
    # Throughput does not depend on the weights: one short fit per device.
    models = {}
    for dev in (device, "cpu"):
        models[dev] = WassersteinSequenceEmbedder(
            device=dev, random_state=0, max_epochs=1
        ).fit(X_fit, y_fit)
    result["embedding_dim"] = int(models[device].transform(X_fit[:2]).shape[1])
    repeats = sizes["transform_repeats"]
    rows = []

    model = models[device]
    model.transform(X[:512])  # warm-up: CUDA context, kernels, allocator
    _reset_peak(device)
    seconds = []
    for _ in range(repeats):
        out, s = _timed(device, lambda: model.transform(X))
        seconds.append(s)
    rows.append(
        _throughput_row("accelerator", device, model.n_threads, n, seconds, n, False)
    )
    rows[-1]["peak_gpu_mib"] = _peak_mib(device)
    result["output_finite"] = bool(np.isfinite(out).all())

    subset_n = min(sizes["transform_cpu_subset"], n)
    subset_index = np.random.default_rng(0).choice(n, subset_n, replace=False)
    subset = [X[i] for i in subset_index]
    cpu = models["cpu"]
    for n_threads in (1, None):
        cpu.set_params(n_threads=n_threads)
        cpu.transform(subset[:64])
        seconds = []
        for _ in range(repeats):
            if report.over_budget() and seconds:
                break
            seconds.append(_timed("cpu", lambda: cpu.transform(subset))[1])
        rows.append(
            _throughput_row(
                "cpu baseline", "cpu", n_threads, n, seconds, subset_n, subset_n < n
            )
        )
    result["rows"] = rows
    result["note"] = (
        f"CPU rows are measured on a random subset of {subset_n} of the {n} "
        f"sequences; seconds_for_{n} is extrapolated linearly from it."
    )


def section_fit_throughput(result: dict, device: str, sizes: dict, report: Report):
    from sklearn_wdist import WassersteinSequenceEmbedder

    (X, y), data_s = _timed("cpu", lambda: _shape_sequences(sizes["fit_per_class"], 3))
    result["n_sequences"] = len(X)
    result["n_classes"] = N_CLASSES
    result["data_generation_s"] = round(data_s, 3)
    rows = []
    for repeat in range(sizes["fit_gpu_repeats"]):
        if repeat and report.over_budget():
            break
        embedder = WassersteinSequenceEmbedder(
            device=device, random_state=0, max_epochs=sizes["fit_gpu_epochs"]
        )
        _reset_peak(device)
        _, seconds = _timed(device, lambda e=embedder: e.fit(X, y))
        epochs = _epoch_seconds(embedder)
        rows.append(
            {
                "role": "accelerator",
                "device": device,
                "n_threads": embedder.n_threads,
                "run": repeat + 1,
                "epochs": len(epochs),
                "fit_s": round(seconds, 3),
                "epoch_s": epochs,
                "median_epoch_s": statistics.median(epochs),
                "peak_gpu_mib": _peak_mib(device),
            }
        )
    for n_threads in (1, None):
        if report.over_budget():
            rows.append(
                {
                    "role": "cpu baseline",
                    "device": "cpu",
                    "n_threads": n_threads,
                    "run": "skipped",
                }
            )
            continue
        embedder = WassersteinSequenceEmbedder(
            device="cpu",
            random_state=0,
            n_threads=n_threads,
            max_epochs=sizes["fit_cpu_epochs"],
        )
        _, seconds = _timed("cpu", lambda e=embedder: e.fit(X, y))
        epochs = _epoch_seconds(embedder)
        rows.append(
            {
                "role": "cpu baseline",
                "device": "cpu",
                "n_threads": n_threads,
                "run": 1,
                "epochs": len(epochs),
                "fit_s": round(seconds, 3),
                "epoch_s": epochs,
                "median_epoch_s": statistics.median(epochs),
                "peak_gpu_mib": None,
            }
        )
    result["rows"] = rows
    accel = [r["median_epoch_s"] for r in rows if r["role"] == "accelerator"]
    cpu = [
        r["median_epoch_s"]
        for r in rows
        if r["role"] == "cpu baseline" and "epochs" in r
    ]
    if accel and cpu:
        result["cpu_best_over_accel_epoch_ratio"] = round(
            min(cpu) / statistics.median(accel), 2
        )
    result["note"] = (
        "epoch_s are skorch's per-epoch durations (the first GPU epoch includes "
        "warm-up); one epoch draws about n_sequences sequences in class-balanced "
        "batches."
    )


# ------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=False, help="output folder")
    parser.add_argument(
        "--cpu-smoke",
        action="store_true",
        help="use device cpu in place of cuda and tiny sizes (no GPU needed)",
    )
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=240.0,
        help="skip remaining sections and repeats once this much time has passed",
    )
    parser.add_argument("--_unpickle-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._unpickle_child is not None:
        _unpickle_child(args._unpickle_child)
        return
    if args.out is None:
        parser.error("--out is required")
    args.out.mkdir(parents=True, exist_ok=True)

    mode = "smoke" if args.cpu_smoke else "gpu"
    device = "cpu" if args.cpu_smoke else "cuda"
    sizes = SIZES[mode]
    meta = {
        "mode": "cpu-smoke" if args.cpu_smoke else "gpu",
        "device": device,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sizes": sizes,
        "budget_seconds": args.budget_seconds,
    }
    report = Report(args.out, meta, args.budget_seconds)
    state: dict = {}
    report.run("environment", section_environment, device)
    report.run("japanese_vowels", section_japanese_vowels, device, sizes, state, report)
    report.run("cuda_free_unpickle", section_cuda_free_unpickle, device, state)
    report.run(
        "transform_throughput", section_transform_throughput, device, sizes, report
    )
    report.run("fit_throughput", section_fit_throughput, device, sizes, report)
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    report.write()
    statuses = {name: s["status"] for name, s in report.sections.items()}
    print(f"\nDone in {report.elapsed():.0f} s: {statuses}", flush=True)
    print(f"Wrote {args.out / 'device_check.json'} and device_check.md", flush=True)


if __name__ == "__main__":
    main()
