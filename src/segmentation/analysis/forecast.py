"""What each customer will do next: purchases, the chance of being active and value, per customer.

Input: the customer feature table (:func:`segmentation.rules.features.build_customer_features`,
one row per customer who bought something, Recency_Days counted to the snapshot or
``--as-of`` date). Output: one row per customer with the forecast for the next
``horizon_days`` and the value over ``clv_days``, from two buy-till-you-die models fitted
by maximum likelihood:

- **purchases**, the modified BG/NBD (Batislam, Denizel and Filiztekin 2007) by default, or
  the BG/NBD (Fader, Hardie and Lee 2005): while active, a customer makes purchase
  occasions at a Poisson rate λ ~ Gamma(r, α); at their first occasion (modified BG/NBD
  only) and after every later one they drop out for good with probability
  p ~ Beta(a, b). A customer's history is (x, t_x, T): ``x`` repeat occasions (Frequency
  − 1), ``t_x`` days from the first to the last occasion (Purchase_Interval_Days) and ``T``
  days from the first occasion to the snapshot (Purchase_Interval_Days + Recency_Days);
- **spend per occasion**, the Gamma-Gamma model (Fader, Hardie and Lee 2005, "RFM and CLV"):
  each customer's occasions are worth Gamma(p, ν) on average, ν ~ Gamma(q, γ), fitted on
  the customers with two occasions or more, from their mean net spend per occasion
  (Total_Bill_Size / Frequency).

The closed forms are the ones lifetimes and pymc-marketing implement; the test suite
checks this module against pymc-marketing's fits and predictions and against the
published CDNOW parameters. One purchase occasion is the package's own definition (a
customer's day with net product value above zero), so what is forecast is what
``Frequency`` counts and what ``--as-of`` checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special
from sklearn.metrics import roc_auc_score

from segmentation import columns as c
from segmentation import config
from segmentation.errors import InvoiceDataError

BG_NBD = config.BG_NBD
MBG_NBD = config.MBG_NBD
#: The purchase models this module fits, by the name the outputs give them.
PURCHASE_MODELS = (MBG_NBD, BG_NBD)

#: Why a customer gets no forecast (``No_Forecast_Reason``): no history to forecast from.
NO_OCCASION = "no purchase occasion (no product bought and kept on any day)"
#: ``No_Forecast_Reason`` of every customer of a run that was asked for no forecast.
NOT_RUN = "not forecast (--no-forecast)"

#: Log-parameters are searched within these bounds (parameters from about 1e-9 to 1e9): a fit that
#: ends on one says so (:attr:`PurchaseModel.at_bound`) instead of running off to infinity.
_LOG_BOUND = 20.7


class ForecastUnavailable(InvoiceDataError):
    """The data cannot carry a forecast (too few repeat customers, a fit that gives no finite number).

    A run that meets it segments without the forecast and says why (summary, ``run.json``,
    ``No_Forecast_Reason``); the message names the data and the reason.
    """


@dataclass(frozen=True)
class PurchaseModel:
    """A fitted BG/NBD or modified BG/NBD, time in days.

    ``r`` and ``alpha`` shape the purchase rates (mean r / alpha occasions a day), ``a``
    and ``b`` the dropout probabilities (mean a / (a + b) per occasion). ``customers`` it
    was fitted on, ``repeat_customers`` of them with x > 0, the mean log-likelihood per
    customer, whether the optimiser converged (and its message), and the parameters
    that ended on a search bound.
    """

    model: str
    r: float
    alpha: float
    a: float
    b: float
    customers: int
    repeat_customers: int
    log_likelihood: float
    converged: bool
    message: str = ""
    at_bound: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class SpendModel:
    """A fitted Gamma-Gamma model of net spend per occasion (pounds): ``p``, ``q``, ``v``
    (the papers' ν's scale γ), fitted on ``customers`` with two occasions or more."""

    p: float
    q: float
    v: float
    customers: int
    log_likelihood: float
    converged: bool
    message: str = ""
    at_bound: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "v": self.v}

    @property
    def mean_spend_per_occasion(self) -> float:
        """The population's mean spend per occasion, p ν / (q − 1) (infinite for q ≤ 1)."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else float("inf")


@dataclass(frozen=True)
class Forecast:
    """The forecast of one customer table.

    ``table``: index CustomerID (every customer of the table), columns
    ``columns.FORECAST_COLUMNS`` (empty, with ``No_Forecast_Reason``, for customers with
    no purchase occasion). ``purchases`` and ``spend`` are the fitted models;
    ``spend_frequency_correlation`` the Pearson correlation, over the repeat customers,
    of occasions with mean spend per occasion (the Gamma-Gamma model assumes none).
    """

    table: pd.DataFrame
    purchases: PurchaseModel
    spend: SpendModel
    horizon_days: int
    clv_days: int
    spend_frequency_correlation: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: True when ``table`` holds the posterior's means (:func:`posterior_forecast`), not the point fit's.
    from_posterior: bool = False


# --- inputs ---------------------------------------------------------------------------------

def purchase_histories(customers: pd.DataFrame) -> pd.DataFrame:
    """The models' inputs, one row per customer with a purchase occasion (index CustomerID).

    Columns: ``x`` repeat occasions (Frequency − 1), ``t_x`` days from the first to the last
    occasion, ``T`` days from the first occasion to the snapshot, ``n`` occasions
    (Frequency) and ``m`` the mean net spend per occasion (Total_Bill_Size / Frequency, £).
    """
    bought = customers[customers[c.FREQUENCY] > 0]
    interval = bought[c.PURCHASE_INTERVAL_DAYS].astype("float64")
    return pd.DataFrame(
        {
            "x": (bought[c.FREQUENCY] - 1).astype("float64"),
            "t_x": interval,
            "T": interval + bought[c.RECENCY_DAYS].astype("float64"),
            "n": bought[c.FREQUENCY].astype("float64"),
            "m": bought[c.TOTAL_BILL_SIZE].astype("float64") / bought[c.FREQUENCY],
        },
        index=bought.index,
    )


# --- log-likelihoods --------------------------------------------------------------------------

def purchase_log_likelihood(model: str, params: dict[str, float], x: np.ndarray, t_x: np.ndarray,
                            T: np.ndarray) -> np.ndarray:
    """Each customer's log-likelihood of (x, t_x, T) under ``model`` with ``params``."""
    r, alpha, a, b = (params[name] for name in ("r", "alpha", "a", "b"))
    head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    if model == BG_NBD:
        beta = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
        with np.errstate(divide="ignore", invalid="ignore"):
            dropped = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    elif model == MBG_NBD:
        beta = (special.gammaln(a + b) + special.gammaln(b + x + 1) - special.gammaln(b)
                - special.gammaln(a + b + x + 1))
        dropped = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
    else:
        raise ValueError(f"unknown purchase model {model!r}; expected one of {', '.join(PURCHASE_MODELS)}")
    return head + beta + np.logaddexp(-(r + x) * np.log(alpha + T), dropped)


def spend_log_likelihood(params: dict[str, float], n: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Each customer's Gamma-Gamma log-likelihood of a mean ``m`` over ``n`` occasions."""
    p, q, v = params["p"], params["q"], params["v"]
    return (special.gammaln(p * n + q) - special.gammaln(p * n) - special.gammaln(q) + q * np.log(v)
            + (p * n - 1) * np.log(m) + p * n * np.log(n) - (p * n + q) * np.log(n * m + v))


# --- fitting ----------------------------------------------------------------------------------

def fit_purchases(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, model: str = config.FORECAST_MODEL
                  ) -> PurchaseModel:
    """Maximum-likelihood fit of ``model`` to histories (x repeat occasions, t_x, T in days).

    Customers with the same history are fitted once with their count as weight, so the
    cost grows with the distinct histories (bounded by the days in the data), not with
    the customers.
    """
    if model not in PURCHASE_MODELS:
        raise ValueError(f"unknown purchase model {model!r}; expected one of {', '.join(PURCHASE_MODELS)}")
    rows, weights = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    ux, ut, uT = rows.T
    names = ("r", "alpha", "a", "b")

    def loss(log_params: np.ndarray) -> float:
        params = dict(zip(names, np.exp(log_params), strict=True))
        return -float(weights @ purchase_log_likelihood(model, params, ux, ut, uT)) / weights.sum()

    mean_rate = (x.sum() + len(x)) / max(T.sum(), 1.0)
    start = np.log([1.0, 1.0 / mean_rate, 1.0, 3.0])
    found = _minimise(loss, start)
    params = dict(zip(names, np.exp(found.x), strict=True))
    return PurchaseModel(model=model, **params, customers=len(x), repeat_customers=int((x > 0).sum()),
                         log_likelihood=-float(found.fun), converged=bool(found.success),
                         message=str(found.message), at_bound=_at_bound(names, found.x))


def fit_spend(n: np.ndarray, m: np.ndarray) -> SpendModel:
    """Maximum-likelihood Gamma-Gamma fit to customers' mean spend ``m`` (> 0) over ``n`` (≥ 1) occasions."""
    names = ("p", "q", "v")

    def loss(log_params: np.ndarray) -> float:
        params = dict(zip(names, np.exp(log_params), strict=True))
        return -float(spend_log_likelihood(params, n, m).mean())

    found = _minimise(loss, np.log([1.0, 2.0, float(np.median(m))]))
    params = dict(zip(names, np.exp(found.x), strict=True))
    return SpendModel(**params, customers=len(n), log_likelihood=-float(found.fun), converged=bool(found.success),
                      message=str(found.message), at_bound=_at_bound(names, found.x))


def _minimise(loss, start: np.ndarray) -> optimize.OptimizeResult:
    """L-BFGS-B over log-parameters within ±``_LOG_BOUND``, then Nelder-Mead from its end when it stopped
    short (a flat valley): the better of the two."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(start)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        found = optimize.minimize(loss, start, method="L-BFGS-B", bounds=bounds,
                                  options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9})
        if not found.success:
            polished = optimize.minimize(loss, found.x, method="Nelder-Mead", bounds=bounds,
                                         options={"maxiter": 20000, "xatol": 1e-9, "fatol": 1e-13})
            if polished.fun <= found.fun:
                found = polished
    return found


def _at_bound(names: tuple[str, ...], log_params: np.ndarray) -> tuple[str, ...]:
    return tuple(name for name, value in zip(names, log_params, strict=True) if abs(value) >= _LOG_BOUND - 1e-6)


# --- predictions -------------------------------------------------------------------------------

def probability_alive(model: PurchaseModel, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """The chance that each customer is still active at T (has not dropped out)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    log_ratio = (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    if model.model == BG_NBD:
        with np.errstate(divide="ignore", invalid="ignore"):
            odds = np.where(x > 0, np.exp(np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + log_ratio), 0.0)
    else:
        odds = np.exp(np.log(a) - np.log(b + x) + log_ratio)
    return 1.0 / (1.0 + odds)


def expected_purchases(model: PurchaseModel, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
                       ) -> np.ndarray:
    """Expected purchase occasions in the ``t`` days after T, given each customer's history."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    shrink = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
    z = t / (alpha + T + t)
    if model.model == BG_NBD:
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        scale = (a + b + x - 1) / (a - 1)
    else:
        hyp = special.hyp2f1(r + x, b + x + 1, a + b + x, z)
        scale = (a + b + x) / (a - 1)
    return scale * (1.0 - shrink * hyp) * probability_alive(model, x, t_x, T)


def probability_purchase(model: PurchaseModel, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
                         ) -> np.ndarray:
    """The chance of at least one purchase occasion in the ``t`` days after T.

    Dropout happens only at an occasion, so a customer active at T who buys nothing stays
    active: P = P(active at T) × (1 − E[e^(−λt)]), the rate's posterior being Gamma(r + x, α + T).
    """
    no_purchase_if_alive = np.exp((model.r + x) * (np.log(model.alpha + T) - np.log(model.alpha + T + t)))
    return probability_alive(model, x, t_x, T) * (1.0 - no_purchase_if_alive)


def expected_spend_per_occasion(model: SpendModel, n: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Each customer's expected net spend per future occasion: p (ν + n m) / (p n + q − 1)."""
    return model.p * (model.v + n * m) / (model.p * n + model.q - 1)


# --- the forecast of a customer table -----------------------------------------------------------

def forecast_customers(customers: pd.DataFrame, *, horizon_days: int = config.HORIZON_DAYS,
                       clv_days: int = config.CLV_DAYS, model: str = config.FORECAST_MODEL,
                       source: str = "the data") -> Forecast:
    """Fit the purchase and spend models to ``customers`` and forecast every customer.

    Columns of the table (``columns.FORECAST_COLUMNS``): Expected_Purchases (occasions in
    the next ``horizon_days``), P_Alive (chance of being active at the snapshot),
    P_Purchase (chance of at least one occasion in the next ``horizon_days``),
    Expected_Spend (expected net spend in the next ``horizon_days``: expected occasions ×
    expected spend per occasion, £), CLV (the same over ``clv_days``, undiscounted) and
    No_Forecast_Reason (empty when forecast).

    Raises
    ------
    ForecastUnavailable
        When fewer than ``config.FORECAST_MIN_REPEAT_CUSTOMERS`` customers made two
        occasions or more (nothing to learn purchase rates and spend from), or a fit gives a
        forecast that is not a finite number; the message names ``source``.
    """
    history = purchase_histories(customers)
    x, t_x, T, n, m = (history[name].to_numpy() for name in ("x", "t_x", "T", "n", "m"))
    repeaters = (x > 0) & (m > 0)
    needed = config.FORECAST_MIN_REPEAT_CUSTOMERS
    if repeaters.sum() < needed:
        raise ForecastUnavailable(
            f"{source}: no forecast: {int(repeaters.sum()):,} customer(s) made two purchase occasions or more "
            f"(with net spend above 0), and the forecast needs at least {needed} to learn purchase rates and "
            "spend from; a file with more history gets one"
        )
    purchases = fit_purchases(x, t_x, T, model=model)
    spend = fit_spend(n[repeaters], m[repeaters])
    return forecast_with(customers, purchases, spend, horizon_days=horizon_days, clv_days=clv_days, source=source)


def forecast_with(customers: pd.DataFrame, purchases: PurchaseModel, spend: SpendModel, *,
                  horizon_days: int = config.HORIZON_DAYS, clv_days: int = config.CLV_DAYS,
                  source: str = "the data") -> Forecast:
    """The forecast of every customer of ``customers`` with models already fitted (by
    :func:`forecast_customers`, on this table or on another one, as a saved model holds them): the
    table of :func:`forecast_customers`, nothing refitted.

    Raises
    ------
    ForecastUnavailable
        When the forecast is not a finite number for a customer; the message names ``source``.
    """
    history = purchase_histories(customers)
    x, t_x, T, n, m = (history[name].to_numpy() for name in ("x", "t_x", "T", "n", "m"))
    repeaters = (x > 0) & (m > 0)
    per_occasion = expected_spend_per_occasion(spend, n, np.maximum(m, 0.0))
    horizon = expected_purchases(purchases, horizon_days, x, t_x, T)
    forecast = pd.DataFrame(
        {
            c.EXPECTED_PURCHASES: horizon,
            c.P_ALIVE: probability_alive(purchases, x, t_x, T),
            c.P_PURCHASE: probability_purchase(purchases, horizon_days, x, t_x, T),
            c.EXPECTED_SPEND: horizon * per_occasion,
            c.CLV: expected_purchases(purchases, clv_days, x, t_x, T) * per_occasion,
        },
        index=history.index,
    )
    _check_finite(forecast, purchases, spend, source=source)
    table = forecast.reindex(customers.index)
    reason = pd.Series(pd.NA, index=customers.index, dtype="string")
    reason[~customers.index.isin(history.index)] = NO_OCCASION
    table[c.NO_FORECAST_REASON] = reason
    return Forecast(
        table=table[list(c.FORECAST_COLUMNS)],
        purchases=purchases,
        spend=spend,
        horizon_days=horizon_days,
        clv_days=clv_days,
        spend_frequency_correlation=_correlation(n[repeaters], m[repeaters]),
        notes=_fit_notes(purchases, spend, forecast),
    )


def _check_finite(forecast: pd.DataFrame, purchases: PurchaseModel, spend: SpendModel, *, source: str) -> None:
    bad = ~np.isfinite(forecast.to_numpy(dtype="float64")).all(axis=1)
    if bad.any():
        raise ForecastUnavailable(
            f"{source}: no forecast: it is not a finite number for {int(bad.sum()):,} customer(s) (first: "
            f"{forecast.index[bad][0]}) with {purchases.model} {_rounded(purchases.params)} and Gamma-Gamma "
            f"{_rounded(spend.params)}"
        )


def _correlation(n: np.ndarray, m: np.ndarray) -> float:
    if len(n) < 2 or np.ptp(n) == 0 or np.ptp(m) == 0:
        return float("nan")
    return float(np.corrcoef(n, m)[0, 1])


def _rounded(params: dict[str, float]) -> str:
    return ", ".join(f"{name} = {value:.4g}" for name, value in params.items())


def _fit_notes(purchases: PurchaseModel, spend: SpendModel, forecast: pd.DataFrame) -> tuple[str, ...]:
    """What a reader of the forecast must know about its fit: non-convergence, parameters on a bound,
    a population mean spend that does not exist (q ≤ 1), and P_Alive that separates no one."""
    notes = []
    for name, fitted in ((purchases.model, purchases), ("Gamma-Gamma", spend)):
        if not fitted.converged:
            notes.append(f"the {name} fit did not converge ({fitted.message}); its forecast is unreliable")
        if fitted.at_bound:
            notes.append(f"the {name} fit ended with {', '.join(fitted.at_bound)} at the search bound "
                         f"({_rounded(fitted.params)})")
    if spend.q <= 1:
        notes.append(f"the Gamma-Gamma q is {spend.q:.3g} (≤ 1): spend per occasion is so heavy-tailed that its "
                     "population mean does not exist, and single-occasion customers' Expected_Spend is unreliable")
    share = float((forecast[c.P_ALIVE] >= config.P_ALIVE_UNINFORMATIVE).mean())
    if share >= 0.9:
        notes.append(f"P_Alive is {config.P_ALIVE_UNINFORMATIVE:.2f} or more for {share:.0%} of customers: the "
                     f"{purchases.model} fit sees almost no dropout (a = {purchases.a:.3g}, b = {purchases.b:.3g}), "
                     "so P_Purchase, not P_Alive, tells who is likely to buy")
    return tuple(notes)


def describe_fit(forecast: Forecast) -> dict:
    """The fitted models as plain numbers and text (for ``run.json``): each model's parameters,
    customers and convergence, the horizons, the Gamma-Gamma check and the notes."""
    return {
        "purchases": {"model": forecast.purchases.model, **_plain_params(forecast.purchases.params),
                      "customers": forecast.purchases.customers,
                      "repeat_customers": forecast.purchases.repeat_customers,
                      "converged": forecast.purchases.converged},
        "spend": {"model": "Gamma-Gamma", **_plain_params(forecast.spend.params),
                  "customers": forecast.spend.customers, "converged": forecast.spend.converged},
        "horizon_days": forecast.horizon_days,
        "clv_days": forecast.clv_days,
        "spend_frequency_correlation": _plain_number(forecast.spend_frequency_correlation),
        "notes": list(forecast.notes),
        "table": (f"posterior means, pymc-marketing's default priors, {config.POSTERIOR_CHAINS} chains of "
                  f"{config.POSTERIOR_DRAWS} draws" if forecast.from_posterior else "maximum likelihood"),
    }


def _plain_params(params: dict[str, float]) -> dict[str, float]:
    return {name: _plain_number(value) for name, value in params.items()}


def _plain_number(value: float) -> float | None:
    """A float for JSON, to 10 significant digits (None for NaN)."""
    return None if np.isnan(value) else float(f"{value:.10g}")


def summary_lines(forecast: Forecast, check: ForecastCheck | None = None) -> list[str]:
    """The command line's summary of a forecast (and of its check against the next period)."""
    table = forecast.table
    forecast_customers = int(table[c.EXPECTED_PURCHASES].notna().sum())
    purchases, spend = forecast.purchases, forecast.spend
    lines = [
        f"forecast for the next {forecast.horizon_days} days, {forecast_customers:,} customers: "
        f"{table[c.EXPECTED_PURCHASES].sum():,.0f} purchases and £{table[c.EXPECTED_SPEND].sum():,.0f} expected; "
        f"CLV over {forecast.clv_days} days £{table[c.CLV].sum():,.0f}",
        f"  {purchases.model} {_rounded(purchases.params)}; Gamma-Gamma {_rounded(spend.params)} "
        f"({spend.customers:,} repeat customers; spend per purchase and purchases correlate at "
        f"{forecast.spend_frequency_correlation:.2f}, the model assumes 0)",
    ]
    missing = len(table) - forecast_customers
    if missing:
        lines.append(f"  no forecast, {NO_OCCASION}: {missing:,}")
    lines += [f"  note: {note}" for note in forecast.notes]
    if check is not None:
        scores = check.scores
        mae, rmse = scores.loc[PURCHASES_MAE], scores.loc[PURCHASES_RMSE]
        total, rank = scores.loc[TOTAL_PURCHASES], scores.loc[SPEND_RANK_CORRELATION]
        lines += [
            f"forecast from lines before {check.as_of:%Y-%m-%d} against the next {check.horizon_days} days "
            f"({check.customers:,} customers; naive: {SAME_AS_BEFORE}, {SCORE_BASELINE}):",
            f"  purchases MAE {mae['forecast']:.3f} (naive {mae['baseline']:.3f}), RMSE {rmse['forecast']:.3f} "
            f"(naive {rmse['baseline']:.3f}); total {total['forecast']:,.0f} forecast, {total['baseline']:,.0f} "
            f"naive, {total['actual']:,.0f} happened",
            f"  rank correlation with next spend {rank['forecast']:.3f} ({SCORE_BASELINE} {rank['baseline']:.3f})",
        ]
    return lines


def describe_models(forecast: Forecast) -> pd.DataFrame:
    """One row per fitted model: its parameters, customers, log-likelihood and convergence."""
    rows = {
        forecast.purchases.model: {**forecast.purchases.params, "customers": forecast.purchases.customers,
                                   "log_likelihood_per_customer": forecast.purchases.log_likelihood,
                                   "converged": forecast.purchases.converged},
        "Gamma-Gamma": {**forecast.spend.params, "customers": forecast.spend.customers,
                        "log_likelihood_per_customer": forecast.spend.log_likelihood,
                        "converged": forecast.spend.converged},
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


# --- checked out of time -----------------------------------------------------------------------

#: ``forecast_check.csv``'s two views: by earlier repeat occasions, and by decile of Expected_Spend.
BY_EARLIER_PURCHASES = "purchases by earlier repeat purchases"
BY_SPEND_DECILE = "spend by decile of Expected_Spend"
#: Earlier repeat occasions at and above this are one group ("7+").
TOP_EARLIER_GROUP = 7
#: The naive forecasts the checks compare with.
SAME_AS_BEFORE = "same as the previous period"
SCORE_BASELINE = "R+F+M score"

#: Rows of ``forecast_scores.csv``.
PURCHASES_MAE = "purchases: mean absolute error"
PURCHASES_RMSE = "purchases: root mean squared error"
TOTAL_PURCHASES = "purchases: total"
TOTAL_SPEND = "spend: total (£)"
AUC_P_ALIVE = "bought again: AUC of P_Alive"
AUC_P_PURCHASE = "bought again: AUC of P_Purchase"
SPEND_RANK_CORRELATION = "spend: rank correlation with next spend"
CONTACT_NEXT_REVENUE = "contact list: share of next revenue"
SLIPPING_BOUGHT_AGAIN = "slipping away: share who bought again"
SAME_SIZE_BY_SCORE = "as many customers by R+F+M score"
ALL_VALUABLE = "every customer of that past spend"


@dataclass(frozen=True)
class ForecastCheck:
    """A forecast made at ``as_of`` against what customers did in the ``horizon_days`` after it.

    ``calibration`` (``forecast_check.csv``): index (check, group); columns customers,
    predicted, actual and baseline means per customer. ``scores``
    (``forecast_scores.csv``): index metric; columns forecast, baseline (its name in
    baseline_name), actual where there is one, and better ("forecast", "baseline" or
    "tie"). ``customers`` were compared: every customer with an occasion before ``as_of``.
    """

    calibration: pd.DataFrame
    scores: pd.DataFrame
    as_of: pd.Timestamp
    horizon_days: int
    customers: int


def check_forecast(forecast: Forecast, customers: pd.DataFrame, *, outcome: pd.DataFrame, previous: pd.DataFrame,
                   score: pd.Series, as_of: pd.Timestamp) -> ForecastCheck:
    """Compare ``forecast`` (made from ``customers``, the lines before ``as_of``) with ``outcome``.

    ``outcome`` and ``previous`` are the feature tables of the lines in the window and in
    the ``horizon_days`` before ``as_of`` (customers absent bought nothing); ``score`` is each
    customer's R+F+M score (``rfm.score_customers``), the baseline for ranking spend.
    """
    table = forecast.table.dropna(subset=[c.EXPECTED_PURCHASES])
    index = table.index
    actual = outcome[c.FREQUENCY].reindex(index).fillna(0).to_numpy(dtype="float64")
    actual_spend = outcome[c.TOTAL_BILL_SIZE].reindex(index).fillna(0).to_numpy(dtype="float64")
    before = previous[c.FREQUENCY].reindex(index).fillna(0).to_numpy(dtype="float64")
    before_spend = previous[c.TOTAL_BILL_SIZE].reindex(index).fillna(0).to_numpy(dtype="float64")
    predicted = table[c.EXPECTED_PURCHASES].to_numpy()
    spend = table[c.EXPECTED_SPEND].to_numpy()
    repeats = (customers.loc[index, c.FREQUENCY] - 1).to_numpy()
    calibration = pd.concat([
        _calibration(BY_EARLIER_PURCHASES, _earlier_groups(repeats), predicted, actual, before),
        _calibration(BY_SPEND_DECILE, _deciles(spend), spend, actual_spend, before_spend),
    ])
    bought_again = actual > 0
    baseline_score = score.reindex(index).to_numpy(dtype="float64")
    rows = {
        PURCHASES_MAE: (_mae(predicted, actual), _mae(before, actual), SAME_AS_BEFORE, np.nan, "lower"),
        PURCHASES_RMSE: (_rmse(predicted, actual), _rmse(before, actual), SAME_AS_BEFORE, np.nan, "lower"),
        TOTAL_PURCHASES: (predicted.sum(), before.sum(), SAME_AS_BEFORE, actual.sum(), "closer"),
        TOTAL_SPEND: (spend.sum(), before_spend.sum(), SAME_AS_BEFORE, actual_spend.sum(), "closer"),
        AUC_P_ALIVE: (_auc(bought_again, table[c.P_ALIVE].to_numpy()), _auc(bought_again, baseline_score),
                      SCORE_BASELINE, np.nan, "higher"),
        AUC_P_PURCHASE: (_auc(bought_again, table[c.P_PURCHASE].to_numpy()), _auc(bought_again, baseline_score),
                         SCORE_BASELINE, np.nan, "higher"),
        SPEND_RANK_CORRELATION: (_spearman(spend, actual_spend), _spearman(baseline_score, actual_spend),
                                 SCORE_BASELINE, np.nan, "higher"),
        **_list_scores(forecast, customers, actual=pd.Series(actual, index=index),
                       actual_spend=pd.Series(actual_spend, index=index), score=score),
    }
    scores = pd.DataFrame(
        [{"metric": metric, "forecast": float(ours), "baseline": float(theirs), "baseline_name": name,
          "actual": float(truth), "better": _better(ours, theirs, truth, rule)}
         for metric, (ours, theirs, name, truth, rule) in rows.items()]
    ).set_index("metric")
    return ForecastCheck(calibration=calibration, scores=scores, as_of=pd.Timestamp(as_of),
                         horizon_days=forecast.horizon_days, customers=len(index))


def _list_scores(forecast: Forecast, customers: pd.DataFrame, *, actual: pd.Series, actual_spend: pd.Series,
                 score: pd.Series) -> dict[str, tuple]:
    """Did the lists keep their promise? The contact list's share of the next period's revenue against
    as many customers taken by R+F+M score (ties: higher past spend), and the share of the slipping-away
    customers who bought again against every customer of the past spend the list starts from."""
    contact = customers_to_contact(forecast, customers)
    by_score = pd.DataFrame({"score": score.reindex(actual.index),
                             "spend": customers[c.TOTAL_BILL_SIZE].reindex(actual.index)}).sort_values(
        ["score", "spend"], ascending=False, kind="stable").head(len(contact))
    total = actual_spend.sum()
    share = (lambda chosen: float(actual_spend[chosen].sum() / total)) if total > 0 else (lambda chosen: np.nan)
    slipping = customers_slipping_away(forecast, customers)
    listed = _listed(forecast, customers)
    valuable = listed.index[listed[c.TOTAL_BILL_SIZE] >= listed[c.TOTAL_BILL_SIZE].quantile(
        config.SLIPPING_SPEND_QUANTILE)]
    again = actual > 0
    return {
        CONTACT_NEXT_REVENUE: (share(contact.index), share(by_score.index), SAME_SIZE_BY_SCORE, np.nan, "higher"),
        SLIPPING_BOUGHT_AGAIN: (float(again[slipping.index].mean()) if len(slipping) else np.nan,
                                float(again[valuable].mean()), ALL_VALUABLE, np.nan, "lower"),
    }


def _earlier_groups(repeats: np.ndarray) -> pd.Series:
    labels = [str(k) for k in range(TOP_EARLIER_GROUP)] + [f"{TOP_EARLIER_GROUP}+"]
    return pd.Series(pd.Categorical.from_codes(np.minimum(repeats, TOP_EARLIER_GROUP).astype(int), labels))


def _deciles(values: np.ndarray) -> pd.Series:
    """Decile 1 (lowest) … 10 of ``values`` by rank, ties in file order split evenly: every decile holds a tenth."""
    ranks = pd.Series(values).rank(method="first").to_numpy()
    deciles = np.ceil(ranks * 10 / len(values)).astype(int)
    return pd.Series(pd.Categorical(deciles.astype(str), categories=[str(k) for k in range(1, 11)]))


def _calibration(check: str, groups: pd.Series, predicted: np.ndarray, actual: np.ndarray,
                 baseline: np.ndarray) -> pd.DataFrame:
    grouped = pd.DataFrame({"group": groups.array, "predicted": predicted, "actual": actual,
                            "baseline": baseline}).groupby("group", observed=True, sort=True)
    table = grouped[["predicted", "actual", "baseline"]].mean()
    table.insert(0, c.CUSTOMERS, grouped.size())
    table.index = pd.MultiIndex.from_arrays([[check] * len(table), table.index.astype("str")],
                                            names=["check", "group"])
    return table


def _mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.abs(predicted - actual).mean())


def _rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(((predicted - actual) ** 2).mean()))


def _auc(outcome: np.ndarray, score: np.ndarray) -> float:
    """The chance that a customer who bought again scores above one who did not (ties count half);
    NaN when everyone or no one bought again."""
    if outcome.all() or not outcome.any():
        return float("nan")
    return float(roc_auc_score(outcome, score))


def _spearman(score: np.ndarray, actual: np.ndarray) -> float:
    if np.ptp(score) == 0 or np.ptp(actual) == 0:
        return float("nan")
    return float(pd.Series(score).corr(pd.Series(actual), method="spearman"))


def _better(ours: float, theirs: float, truth: float, rule: str) -> str:
    if np.isnan(ours) or np.isnan(theirs):
        return ""
    if rule == "closer":
        ours, theirs = -abs(ours - truth), -abs(theirs - truth)
    elif rule == "lower":
        ours, theirs = -ours, -theirs
    if np.isclose(ours, theirs, rtol=1e-9, atol=1e-12):
        return "tie"
    return "forecast" if ours > theirs else "baseline"


# --- lists a team can act on ---------------------------------------------------------------------

#: Columns of ``contact_list.csv`` and ``slipping_away.csv``, after CustomerID.
LIST_COLUMNS: tuple[str, ...] = (c.EXPECTED_SPEND, c.EXPECTED_PURCHASES, c.P_PURCHASE, c.P_ALIVE, c.CLV,
                                 c.TOTAL_BILL_SIZE, c.FREQUENCY, c.RECENCY_DAYS, c.MOST_COMMON_LOCATION)


def customers_to_contact(forecast: Forecast, customers: pd.DataFrame) -> pd.DataFrame:
    """``contact_list.csv``: the customers expected to spend most in the next ``horizon_days``.

    The top ``config.CONTACT_SHARE`` of the forecast customers (at least one) by
    Expected_Spend, highest first (ties by CustomerID); columns :data:`LIST_COLUMNS`.
    """
    table = _listed(forecast, customers)
    count = max(1, int(np.ceil(len(table) * config.CONTACT_SHARE)))
    return table.sort_values([c.EXPECTED_SPEND, c.CUSTOMER_ID], ascending=[False, True], kind="stable").head(count)


def customers_slipping_away(forecast: Forecast, customers: pd.DataFrame) -> pd.DataFrame:
    """``slipping_away.csv``: valuable customers unlikely to buy in the next ``horizon_days``.

    Past net spend (Total_Bill_Size) in the top ``1 - config.SLIPPING_SPEND_QUANTILE`` of
    the forecast customers and P_Purchase below ``config.SLIPPING_P_PURCHASE``; highest past
    spend first (ties by CustomerID); columns :data:`LIST_COLUMNS`.
    """
    table = _listed(forecast, customers)
    valuable = table[c.TOTAL_BILL_SIZE] >= table[c.TOTAL_BILL_SIZE].quantile(config.SLIPPING_SPEND_QUANTILE)
    slipping = table[valuable & (table[c.P_PURCHASE] < config.SLIPPING_P_PURCHASE)]
    return slipping.sort_values([c.TOTAL_BILL_SIZE, c.CUSTOMER_ID], ascending=[False, True], kind="stable")


def _listed(forecast: Forecast, customers: pd.DataFrame) -> pd.DataFrame:
    table = forecast.table.dropna(subset=[c.EXPECTED_PURCHASES]).join(
        customers[[c.TOTAL_BILL_SIZE, c.FREQUENCY, c.RECENCY_DAYS, c.MOST_COMMON_LOCATION]])
    return table.rename_axis(c.CUSTOMER_ID)[list(LIST_COLUMNS)]


# --- the full posterior: credible intervals (pymc-marketing) -----------------------------------------

#: The package that samples the posterior, and the extra that installs it.
POSTERIOR_PACKAGE = "pymc_marketing"
POSTERIOR_EXTRA = config.install_hint("bayes", "requirements-bayes.txt")


def posterior_forecast(customers: pd.DataFrame, *, horizon_days: int = config.HORIZON_DAYS,
                       clv_days: int = config.CLV_DAYS, draws: int | None = None, tune: int | None = None,
                       chains: int | None = None) -> pd.DataFrame:
    """The forecast from the full posterior, with credible intervals of Expected_Purchases and Expected_Spend.

    pymc-marketing samples the modified BG/NBD and the Gamma-Gamma model with NUTS (its
    default priors, seeded by ``config.RANDOM_STATE``, chains one after the other); every
    posterior draw of the parameters is put through this module's formulas (the same as
    :func:`forecast_customers`). Columns: ``columns.FORECAST_COLUMNS`` but the reason, as
    posterior means, and ``columns.INTERVAL_COLUMNS``, the ``config.INTERVAL_QUANTILES`` of
    the draws (the uncertainty of each customer's expected value given the data, not of
    what a customer will do). Index CustomerID, every customer of ``customers``; empty
    without an occasion. ``draws``, ``tune`` and ``chains`` default to ``config``'s.
    """
    import warnings

    history = purchase_histories(customers)
    x, t_x, T, n, m = (history[name].to_numpy() for name in ("x", "t_x", "T", "n", "m"))
    repeat = (x > 0) & (m > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymc_marketing import clv

        sampling = {"method": "mcmc", "draws": draws or config.POSTERIOR_DRAWS, "tune": tune or config.POSTERIOR_TUNE,
                    "chains": chains or config.POSTERIOR_CHAINS, "cores": 1,
                    "random_seed": config.RANDOM_STATE, "progressbar": False}
        purchase_model = clv.ModifiedBetaGeoModel()
        purchase_model.fit(data=pd.DataFrame({"customer_id": np.arange(len(x)), "frequency": x, "recency": t_x,
                                              "T": T}), **sampling)
        spend_model = clv.GammaGammaModel()
        spend_model.fit(data=pd.DataFrame({"customer_id": np.arange(repeat.sum()), "frequency": n[repeat],
                                           "monetary_value": m[repeat]}), **sampling)
    purchase_draws = _draws(purchase_model, ("r", "alpha", "a", "b"))
    spend_draws = _draws(spend_model, ("p", "q", "v"))
    values = {name: [] for name in (c.EXPECTED_PURCHASES, c.P_ALIVE, c.P_PURCHASE, c.EXPECTED_SPEND, c.CLV)}
    for purchase_params, spend_params in zip(purchase_draws, spend_draws, strict=True):
        purchases = PurchaseModel(MBG_NBD, **purchase_params, customers=len(x), repeat_customers=int(repeat.sum()),
                                  log_likelihood=np.nan, converged=True)
        per_occasion = expected_spend_per_occasion(
            SpendModel(**spend_params, customers=int(repeat.sum()), log_likelihood=np.nan, converged=True),
            n, np.maximum(m, 0.0))
        horizon = expected_purchases(purchases, horizon_days, x, t_x, T)
        values[c.EXPECTED_PURCHASES].append(horizon)
        values[c.P_ALIVE].append(probability_alive(purchases, x, t_x, T))
        values[c.P_PURCHASE].append(probability_purchase(purchases, horizon_days, x, t_x, T))
        values[c.EXPECTED_SPEND].append(horizon * per_occasion)
        values[c.CLV].append(expected_purchases(purchases, clv_days, x, t_x, T) * per_occasion)
    stacked = {name: np.vstack(rows) for name, rows in values.items()}
    low, high = config.INTERVAL_QUANTILES
    table = pd.DataFrame({
        **{name: rows.mean(axis=0) for name, rows in stacked.items()},
        c.EXPECTED_PURCHASES_LOW: np.quantile(stacked[c.EXPECTED_PURCHASES], low, axis=0),
        c.EXPECTED_PURCHASES_HIGH: np.quantile(stacked[c.EXPECTED_PURCHASES], high, axis=0),
        c.EXPECTED_SPEND_LOW: np.quantile(stacked[c.EXPECTED_SPEND], low, axis=0),
        c.EXPECTED_SPEND_HIGH: np.quantile(stacked[c.EXPECTED_SPEND], high, axis=0),
    }, index=history.index)
    return table.reindex(customers.index)


def _draws(model, names: tuple[str, ...]) -> list[dict[str, float]]:
    """Every posterior draw of a fitted pymc-marketing model's ``names``, chains one after the other."""
    posterior = model.idata.posterior
    columns = {name: posterior[name].transpose("chain", "draw").to_numpy().ravel() for name in names}
    return [{name: float(values[i]) for name, values in columns.items()} for i in range(len(columns[names[0]]))]
