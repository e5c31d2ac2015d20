"""``make bench``, the forecast: this package's fit against pymc-marketing's and lifetimes', side by side.

Each (input, library) runs in a fresh process, one after the other, repeat 1 of every library before
repeat 2. The process times its imports, then fits the purchase model (the modified BG/NBD) and the
Gamma-Gamma model twice on the same customers: the first fit includes whatever the library compiles
on first use (pymc-marketing's PyTensor functions, cached on disk afterwards), the second is the
warm fit. Peak RSS is the whole process's. Every library fits by maximum likelihood (pymc-marketing's
MAP with flat priors), so the parameters must agree: each row gives the largest relative difference of
its r and α from this package's (a and b are poorly identified where dropout nearly vanishes, so they
are left out of the comparison), and its mean log-likelihood per customer under this package's formula.

Inputs: the bundled year's customers (one row per customer with a purchase occasion) and 1,000,000
customers drawn from a modified BG/NBD with known parameters (seeded), spend drawn from a Gamma-Gamma.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from segmentation import config

LIBRARIES = ("segmentation", "pymc-marketing", "lifetimes")
#: The drawn input: its customers and the parameters it is drawn with.
SIMULATED_CUSTOMERS = 1_000_000
SIMULATED_PURCHASES = {"r": 0.8, "alpha": 70.0, "a": 0.2, "b": 3.0}
SIMULATED_SPEND = {"p": 2.0, "q": 3.6, "v": 540.0}
SIMULATION_SEED = 2026
#: A worker that runs longer than this is stopped, and its row says so.
WORKER_TIMEOUT_S = 900


def simulate_customers(customers: int, *, seed: int = SIMULATION_SEED) -> pd.DataFrame:
    """Histories (x, t_x, T in days, n occasions, m mean spend) drawn from a modified BG/NBD and a
    Gamma-Gamma with ``SIMULATED_PURCHASES`` and ``SIMULATED_SPEND``; T ~ Uniform(1, 365) whole days."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = (SIMULATED_PURCHASES[name] for name in ("r", "alpha", "a", "b"))
    rate, dropout = rng.gamma(r, 1 / alpha, customers), rng.beta(a, b, customers)
    T = rng.integers(1, 366, customers).astype(float)
    x, t_x, clock = np.zeros(customers), np.zeros(customers), np.zeros(customers)
    active = rng.random(customers) >= dropout
    while active.any():
        clock = clock + rng.exponential(1 / np.maximum(rate, 1e-12))
        bought = active & (clock < T)
        x[bought] += 1
        t_x[bought] = np.floor(clock[bought])
        active = bought & (rng.random(customers) >= dropout)
    n = x + 1
    p, q, v = (SIMULATED_SPEND[name] for name in ("p", "q", "v"))
    m = rng.gamma(p * n, 1 / (n * rng.gamma(q, 1 / v, customers)))
    return pd.DataFrame({"x": x, "t_x": t_x, "T": T, "n": n, "m": m})


def real_customers(path: Path) -> pd.DataFrame:
    """The bundled year's customers as the models read them."""
    from segmentation.analysis import forecast
    from segmentation.engines.runners import DuckDBEngine

    histories = forecast.purchase_histories(DuckDBEngine().customer_table(path).customers)
    return histories.reset_index(drop=True)


# --- one library in one process ------------------------------------------------------------------

def _fit_segmentation(histories: pd.DataFrame) -> dict[str, float]:
    from segmentation.analysis import forecast

    x, t_x, T, n, m = (histories[name].to_numpy() for name in ("x", "t_x", "T", "n", "m"))
    purchases = forecast.fit_purchases(x, t_x, T, model=config.MBG_NBD)
    repeat = (x > 0) & (m > 0)
    forecast.fit_spend(n[repeat], m[repeat])
    return purchases.params


def _fit_pymc_marketing(histories: pd.DataFrame) -> dict[str, float]:
    from pymc_extras.prior import Prior
    from pymc_marketing import clv

    data = pd.DataFrame({"customer_id": np.arange(len(histories)), "frequency": histories["x"],
                         "recency": histories["t_x"], "T": histories["T"]})
    model = clv.ModifiedBetaGeoModel(model_config={name: Prior("HalfFlat") for name in ("r", "alpha", "a", "b")})
    model.fit(data=data, method="map", progressbar=False)
    repeat = histories[(histories["x"] > 0) & (histories["m"] > 0)]
    spend = clv.GammaGammaModel(model_config={name: Prior("HalfFlat") for name in ("p", "q", "v")})
    spend.fit(data=pd.DataFrame({"customer_id": np.arange(len(repeat)), "frequency": repeat["n"].to_numpy(),
                                 "monetary_value": repeat["m"].to_numpy()}), method="map", progressbar=False)
    return {name: float(model.idata.posterior[name].to_numpy().ravel()[0]) for name in ("r", "alpha", "a", "b")}


def _fit_lifetimes(histories: pd.DataFrame) -> dict[str, float]:
    from lifetimes import GammaGammaFitter, ModifiedBetaGeoFitter

    model = ModifiedBetaGeoFitter().fit(histories["x"], histories["t_x"], histories["T"])
    repeat = histories[(histories["x"] > 0) & (histories["m"] > 0)]
    GammaGammaFitter().fit(repeat["n"], repeat["m"])
    return {name: float(model.params_[name]) for name in ("r", "alpha", "a", "b")}


_FITS = {"segmentation": _fit_segmentation, "pymc-marketing": _fit_pymc_marketing, "lifetimes": _fit_lifetimes}
_IMPORTS = {"segmentation": "segmentation.analysis.forecast", "pymc-marketing": "pymc_marketing.clv",
            "lifetimes": "lifetimes"}


def _peak_rss_kib() -> float:
    """This process's peak resident set size (VmHWM, which starts anew at exec; getrusage's ru_maxrss
    keeps the parent's peak across fork and exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


@dataclass
class FitStats:
    """What one process measured: import, first and warm fit seconds, peak RSS, the fitted parameters."""

    import_s: float
    first_fit_s: float
    warm_fit_s: float
    peak_rss_mb: float
    params: dict[str, float]


def worker(library: str, histories_path: Path) -> FitStats:
    histories = pd.read_parquet(histories_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        __import__(_IMPORTS[library])
        imported = time.perf_counter()
        _FITS[library](histories)
        first = time.perf_counter()
        params = _FITS[library](histories)
        warm = time.perf_counter()
    peak = _peak_rss_kib() / 1024
    return FitStats(import_s=imported - start, first_fit_s=first - imported, warm_fit_s=warm - first,
                    peak_rss_mb=peak, params=params)


# --- the run -------------------------------------------------------------------------------------

@dataclass
class ForecastRow:
    input: str
    customers: int
    library: str
    runs: list[FitStats]
    problem: str = ""
    agreement: float | None = None
    log_likelihood: float | None = None

    def record(self) -> dict:
        def median(name: str) -> float | None:
            values = [getattr(run, name) for run in self.runs]
            return round(statistics.median(values), 3) if values else None

        return {"input": self.input, "customers": f"{self.customers:,}", "library": self.library,
                "runs": len(self.runs), "import s": median("import_s"), "first fit s": median("first_fit_s"),
                "warm fit s": median("warm_fit_s"), "peak RSS MB": median("peak_rss_mb"),
                "r, α: largest relative difference": self.agreement,
                "log-likelihood per customer": self.log_likelihood, "problem": self.problem}


def _run_worker(library: str, histories_path: Path) -> FitStats:
    done = subprocess.run([sys.executable, "-m", "benchmarks.forecast", "--worker", library, str(histories_path)],
                          capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, check=False,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or ["no output"])[-1])
    return FitStats(**json.loads(done.stdout.strip().splitlines()[-1]))


def measure_forecast(real_file: Path | None, *, repeats: int, scratch: Path,
                     customers: int = SIMULATED_CUSTOMERS) -> list[ForecastRow]:
    """Every library on the real year's customers (when ``real_file``) and on ``customers`` drawn ones."""
    from segmentation.analysis import forecast

    inputs = {}
    if real_file is not None:
        inputs[f"{real_file.name} customers"] = real_customers(real_file)
    if customers:
        inputs[f"{customers:,} drawn customers"] = simulate_customers(customers)
    rows = []
    for name, histories in inputs.items():
        path = scratch / f"histories-{len(rows)}.parquet"
        histories.to_parquet(path)
        found = {library: ForecastRow(name, len(histories), library, []) for library in LIBRARIES}
        for _ in range(repeats):
            for library, row in found.items():
                if row.problem:
                    continue
                print(f"forecast bench: {name}, {library}", file=sys.stderr, flush=True)
                try:
                    row.runs.append(_run_worker(library, path))
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    row.problem = f"stopped after {WORKER_TIMEOUT_S} s" if isinstance(
                        error, subprocess.TimeoutExpired) else str(error)[:200]
        ours = found["segmentation"].runs[-1].params if found["segmentation"].runs else None
        x, t_x, T = (histories[column].to_numpy() for column in ("x", "t_x", "T"))
        for row in found.values():
            if row.runs and ours is not None:
                theirs = row.runs[-1].params
                row.agreement = round(max(abs(theirs[k] / ours[k] - 1) for k in ("r", "alpha")), 6)
                row.log_likelihood = round(float(forecast.purchase_log_likelihood(
                    config.MBG_NBD, theirs, x, t_x, T).mean()), 6)
        rows += found.values()
    return rows


def report(rows: list[ForecastRow]) -> str:
    table = pd.DataFrame([row.record() for row in rows]).astype(object)
    table = table.where(table.notna(), "—")
    return ("Forecast fit (modified BG/NBD and Gamma-Gamma, maximum likelihood), each run a fresh process: "
            "imports, the first fit (compiling included) and a second, warm fit of the same customers:\n\n"
            + table.to_markdown(index=False))


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["--worker"]:
        print(json.dumps(asdict(worker(arguments[1], Path(arguments[2])))))
        return 0
    raise SystemExit("run through `make bench` (python -m benchmarks.bench)")


if __name__ == "__main__":
    raise SystemExit(main())
