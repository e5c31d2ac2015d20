"""Paths and fixed settings, resolved from the package, never from the cwd."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
#: True when the package runs from a checkout (``src/segmentation`` beside ``pyproject.toml``, the
#: editable install included); False when it was installed from a wheel into site-packages.
IN_CHECKOUT = _PACKAGE_DIR.parent.name == "src" and (_PACKAGE_DIR.parents[1] / "pyproject.toml").is_file()
#: The repository root. An installed package has no data/, figures/ or notebook of its own: there the
#: working directory the command was started in stands for the project, so that a default output
#: (``data/processed/<input name>/``) lands beside the user's files, never inside site-packages.
PROJECT_ROOT = _PACKAGE_DIR.parents[1] if IN_CHECKOUT else Path.cwd()


def install_hint(extra: str, requirements: str) -> str:
    """How to install one of the package's extras: in a checkout, its pinned ``requirements`` file
    into the project's .venv; installed as a package, ``segmentation[extra]``."""
    if IN_CHECKOUT:
        return f".venv/bin/pip install -r {requirements}"
    return f"pip install 'segmentation[{extra}]'"

DATA_DIR = PROJECT_ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
#: Parsed copies of Excel inputs, keyed by content (see ``load.load_invoices``).
CACHE_DIR = Path(os.environ.get("SEGMENTATION_CACHE_DIR") or PROCESSED_DIR / "cache")
#: The most bytes read out of one compressed input (.gz, .bz2, .xz, .zip), counted while it is
#: decompressed: a file past it is refused, so a decompression bomb (a few hundred KB that inflate
#: to gigabytes) can neither fill memory nor run for long. The pandas engine holds the text in memory.
MAX_DECOMPRESSED_BYTES = 2 << 30
#: The committed figures of the analysis on the default data.
COMMITTED_FIGURES_DIR = PROJECT_ROOT / "figures"
#: Where the notebook saves figures by default; the environment variable
#: SEGMENTATION_FIGURES_DIR redirects it (the test suite does, so that running
#: the notebook under nbval never rewrites the committed figures).
FIGURES_DIR = Path(os.environ.get("SEGMENTATION_FIGURES_DIR") or COMMITTED_FIGURES_DIR)

NOTEBOOK_PATH = PROJECT_ROOT / "notebooks" / "Project_on_clustering_customer_invoice_data.ipynb"

#: Extensions stripped from an input's name to name its output folder.
INPUT_SUFFIXES = (".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip", ".csv", ".zip", ".gz",
                  ".xlsx", ".xlsm", ".xls", ".parquet", ".pq", ".txt")

#: The bundled real data: the first year (2009-12-01 to 2010-12-09) of the UCI
#: "Online Retail II" data set, CC BY 4.0 (see data/README.md). The default
#: input of the notebook, of ``make run`` and of the committed figures.
REAL_DATA_PATH = DATA_DIR / "online_retail_II_2009_2010.parquet"
DEFAULT_DATA_PATH = REAL_DATA_PATH
#: The bundled synthetic sample, for fast tests and benchmarks.
SAMPLE_PATH = DATA_DIR / "sample_invoices.csv"
#: Seed and size the bundled sample was generated with.
SAMPLE_SEED = 42
SAMPLE_CUSTOMERS = 400

#: DuckDB engine: lines per batch the loader reads from a Parquet file and hands to DuckDB (a Parquet
#: file's row groups are cut to at most this many lines).
BATCH_LINES = 1 << 19
#: DuckDB engine: the memory DuckDB may use (its syntax); above it, it spills to its temporary folder.
#: None leaves DuckDB's own default, 80 % of the machine's memory; ``--memory-limit`` sets it for a run.
#: A lower limit spills sooner: 20M lines took 36 s with DuckDB's default and 87 s at 1 GiB
#: (docs/performance.md).
DUCKDB_MEMORY_LIMIT: str | None = None
#: DuckDB engine: threads (None: one per core).
DUCKDB_THREADS: int | None = None

#: Dask engine, local cluster: the memory limit of each worker, above which it spills to disk.
DASK_WORKER_MEMORY = "4GiB"
#: Dask engine, local cluster: the least memory a worker may be given. Below it a worker spends its
#: time spilling and is killed on the first large partition, so a smaller limit is refused up front.
DASK_MIN_WORKER_MEMORY = "256MiB"
#: Dask engine, running cluster: seconds to wait for the scheduler at ``--scheduler`` to answer.
DASK_SCHEDULER_TIMEOUT = 10.0

#: Spark engine: the master URL (``--spark-master``): every core of this machine, or a cluster's master.
SPARK_MASTER = "local[*]"
#: Spark engine, standalone master (``spark://``): seconds to wait for it to accept a connection.
SPARK_MASTER_TIMEOUT = 10.0
#: Spark engine, local master: shuffle partitions per core (Spark's own 200, each a task, took the bundled
#: sample 74 s against 21 s with 8 on two cores; a cluster keeps its own setting).
SPARK_LOCAL_SHUFFLE_PER_CORE = 4

#: Every InvoiceDate must lie in ``FIRST_INVOICE_DATE <= date < END_INVOICE_DATE``: wider than any
#: shop's records, and well inside the range pandas stores dates in (1677-09-21 … 2262-04-11), so
#: that a year typed as 9999 or 0001 is refused instead of wrapping round to another century.
FIRST_INVOICE_DATE = "1900-01-01"
END_INVOICE_DATE = "2101-01-01"
#: Money is added up in whole micro-pounds (10^-6 £): integer sums are exact, so no total depends on
#: the order of the lines.
MICROS_PER_POUND = 1_000_000
#: The largest |Quantity x UnitPrice| of one line, in pounds. Money is summed in int64 micro-pounds
#: (``MICROS_PER_POUND``): a line of £10^9 is 10^15 micro-pounds, exact in a float64 and far
#: inside int64 (9.2 x 10^18), so no line's amount can wrap when it becomes a whole number.
MAX_LINE_POUNDS = 1_000_000_000
#: The largest sum of |Quantity x UnitPrice| over all lines, in micro-pounds: 2^62 (£4.6 trillion),
#: half of int64's range. Every sum of money the analysis makes (a customer, a ledger step, a
#: cluster) adds a part of these lines, so none can wrap; 10^9 lines of £4,600 each still fit, and
#: the bundled year (£20 million) uses a two-hundred-thousandth of it. Half the range leaves room
#: for the rounding of the float64 sum the check uses.
MAX_TOTAL_MICROS = 2**62

#: Seed for every random step of the analysis (KMeans initialisation).
RANDOM_STATE = 0
#: Number of clusters of the seed analysis.
N_CLUSTERS = 3
#: Above this many customers clustering uses MiniBatchKMeans (same relabelling). Full
#: KMeans on 1.2 million customers takes 2.6 s here, and mini-batches rarely hold the
#: few extreme spenders, so below this size full KMeans is both affordable and faithful.
MINIBATCH_ABOVE = 5_000_000
MINIBATCH_SIZE = 10_240
#: KMeans restarts; explicit so results do not depend on library defaults.
N_INIT = 10

#: The k values the diagnostics scan (inertia and silhouette for each).
K_RANGE = range(2, 11)
#: A k scan clusters every clusterable customer up to this many; above it, a sample of this size
#: drawn with RANDOM_STATE (KMeans for each k of K_RANGE, ten restarts each). The clustering with
#: the chosen k is fitted on every customer. See docs/performance.md for how the sample's k compares.
K_SCAN_SAMPLE_SIZE = 20_000
#: Silhouette on every clustered customer up to this many; above it, on a
#: sample of this size drawn with RANDOM_STATE (silhouette costs n squared).
SILHOUETTE_SAMPLE_SIZE = 5000
#: Seeds compared by the stability check (adjusted Rand index between runs).
STABILITY_SEEDS = range(10)
#: Bootstrap resamples of customers for the stability check.
BOOTSTRAP_RESAMPLES = 10
#: A k scan whose silhouettes span less than this (max - min over K_RANGE) has
#: no best k: the silhouette cannot tell the candidates apart.
FLAT_SILHOUETTE_RANGE = 0.05
#: A cluster holding less than this share of the clustered customers is called
#: small: the seed method's "segments" of a few extreme spenders.
SMALL_CLUSTER_SHARE = 0.01
#: Fewer customers than this per cluster (or per quintile of an RFM score) is too little data: the
#: run completes and warns in its summary, the notebook's findings and run.json
#: (segmentation.analysis.populations.too_little_data), and a cluster this small gets a note.
MIN_CUSTOMERS_PER_CLUSTER = 10
#: Per-segment bootstrap stability (mean Jaccard, Hennig 2007): at or above
#: STABLE_JACCARD a segment is "stable"; at or below DISSOLVED_JACCARD a
#: resample has "dissolved" it.
STABLE_JACCARD = 0.75
DISSOLVED_JACCARD = 0.5
#: How the RFM segmentation picks k from its scan (see diagnostics.choose_k):
#: the inertia elbow, because the silhouette peaks at k = 2 (active vs lapsed
#: customers) and is nearly flat beyond it.
RFM_K_RULE = "elbow"
#: Days after --as-of in which what customers did next is counted (the outcome window).
HORIZON_DAYS = 90

#: The purchase models of ``segmentation.analysis.forecast``, by the name every output gives them.
BG_NBD = "BG/NBD"
MBG_NBD = "MBG/NBD"
#: The purchase model the forecast uses: the modified BG/NBD, which (unlike the BG/NBD) lets a
#: customer drop out after a single purchase, so one-off buyers are not all taken to be active.
FORECAST_MODEL = MBG_NBD
#: Days over which CLV adds up expected net spend (undiscounted).
CLV_DAYS = 365
#: The fewest customers with two purchase occasions or more (and net spend) that the forecast fits on.
FORECAST_MIN_REPEAT_CUSTOMERS = 20
#: P_Alive at or above this separates no one: a fit that gives it to nearly everyone says so.
P_ALIVE_UNINFORMATIVE = 0.99
#: ``--intervals``: the credible interval (quantiles of the posterior) and pymc-marketing's NUTS sampling
#: of each model (draws and tuning steps per chain, chains run one after the other, seeded by RANDOM_STATE).
INTERVAL_QUANTILES = (0.05, 0.95)
POSTERIOR_DRAWS = 500
POSTERIOR_TUNE = 500
POSTERIOR_CHAINS = 2
#: contact_list.csv: this share of the forecast customers, those with the highest Expected_Spend.
CONTACT_SHARE = 0.10
#: slipping_away.csv: past net spend at or above this quantile, and P_Purchase below SLIPPING_P_PURCHASE.
SLIPPING_SPEND_QUANTILE = 0.75
SLIPPING_P_PURCHASE = 0.5


def resolve_input(data_path: str | Path | None) -> Path:
    """The file a run reads: ``DEFAULT_DATA_PATH`` for None; a relative path is taken from the
    project root, so the notebook reads the same file whichever folder Jupyter was started in."""
    if data_path is None or str(data_path) == "":
        return DEFAULT_DATA_PATH
    path = Path(data_path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def notebook_output_dir(data_path: str | Path | None, output_dir: str | Path | None) -> Path:
    """Where a notebook run saves its figures.

    ``output_dir`` when given (relative: from the project root); otherwise
    ``FIGURES_DIR`` (the committed ``figures/``) for the default data, and
    ``data/processed/<input name>/`` as soon as ``data_path`` is set, so that a
    run on another file never overwrites the committed figures, however the
    notebook is executed (Jupyter, papermill, nbclient).
    """
    if output_dir is not None and str(output_dir) != "":
        path = Path(output_dir).expanduser()
        return path if path.is_absolute() else PROJECT_ROOT / path
    if data_path is None or str(data_path) == "":
        return FIGURES_DIR
    return output_dir_for(data_path)


def display_path(path: str | Path) -> str:
    """``path`` relative to the project root when it lies inside it, else its name alone.

    What notebooks and reports show, so that no page holds a machine's own folders.
    """
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(PROJECT_ROOT.resolve()).as_posix()
    except ValueError:
        return resolved.name


def output_dir_for(input_path: str | Path) -> Path:
    """``data/processed/<input file name without its extensions>/``."""
    name = Path(input_path).name
    for suffix in INPUT_SUFFIXES:
        if name.lower().endswith(suffix):
            return PROCESSED_DIR / name[: -len(suffix)]
    return PROCESSED_DIR / name


# --- a saved segmentation (model.json) and scoring new files with it -----------------
#: The layout of ``model.json``; a file of another version is refused (``model.read_model``).
MODEL_SCHEMA_VERSION = 1
#: The version of the rules a model was fitted with (cleaning, features, scores, segment naming): a
#: model fitted under other rules would place the same customer differently, so it is refused.
RULES_VERSION = 1
#: Bins of the population stability index: the fitted data's deciles of each drift feature.
PSI_BINS = 10
#: The share given to a bin that holds no customer on one side, so that ln(new / old) stays finite.
PSI_EPSILON = 1e-4
#: Above this population stability index on any drift feature, the new file has drifted from the fitted
#: data and refitting is advised (0.1 to 0.25 is the usual "some shift", above 0.25 "a major shift").
PSI_DRIFT = 0.25
