"""The forecast: inputs from the customer table, the published fits, parameter recovery, the field's
library as an oracle, the out-of-time check, the lists, and the command line."""

from __future__ import annotations

import importlib.util
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import cli_error
from segmentation import columns as c
from segmentation import config
from segmentation.__main__ import main
from segmentation.analysis import forecast, pipeline
from segmentation.engines.runners import OutcomeWindow

# --- inputs: what the models read of a customer ------------------------------------------------

def _customers(rows: list[tuple]) -> pd.DataFrame:
    """A customer table of (CustomerID, Frequency, Purchase_Interval_Days, Recency_Days, Total_Bill_Size)."""
    ids, frequency, interval, recency, spend = zip(*rows, strict=True)
    index = pd.Index(ids, dtype="Int64", name=c.CUSTOMER_ID)
    return pd.DataFrame({
        c.FREQUENCY: pd.array(frequency, dtype="int64"),
        c.PURCHASE_INTERVAL_DAYS: pd.array(interval, dtype="Int64"),
        c.RECENCY_DAYS: pd.array(recency, dtype="Int64"),
        c.TOTAL_BILL_SIZE: pd.array(spend, dtype="float64"),
        c.MOST_COMMON_LOCATION: "United Kingdom",
    }, index=index)


def test_histories_count_repeat_occasions_and_days_from_the_first_occasion():
    customers = _customers([
        (1, 3, 40, 10, 300.0),   # 3 occasions over 40 days, the last 10 days ago: x 2, t_x 40, T 50, £100 each
        (2, 1, 0, 7, 25.0),      # one occasion a week ago: x 0, t_x 0, T 7
        (3, 0, None, None, 9.0),  # postage alone: no occasion, no history
    ])
    history = forecast.purchase_histories(customers)
    assert list(history.index) == [1, 2]
    assert history.loc[1].to_dict() == {"x": 2.0, "t_x": 40.0, "T": 50.0, "n": 3.0, "m": 100.0}
    assert history.loc[2].to_dict() == {"x": 0.0, "t_x": 0.0, "T": 7.0, "n": 1.0, "m": 25.0}


def test_one_off_buyers_are_always_active_under_the_bgnbd_but_not_under_the_modified_one():
    x, t_x, T = np.array([0.0, 0.0]), np.array([0.0, 0.0]), np.array([10.0, 200.0])
    params = {"r": 0.5, "alpha": 20.0, "a": 0.8, "b": 2.0}
    bg = forecast.PurchaseModel(forecast.BG_NBD, **params, customers=2, repeat_customers=0, log_likelihood=0,
                                converged=True)
    mbg = forecast.PurchaseModel(forecast.MBG_NBD, **params, customers=2, repeat_customers=0, log_likelihood=0,
                                 converged=True)
    assert forecast.probability_alive(bg, x, t_x, T).tolist() == [1.0, 1.0]
    # modified BG/NBD: 1 / (1 + a/b ((alpha + T)/alpha)^r), by hand: 1/(1 + 0.4 * 1.5^0.5), 1/(1 + 0.4 * 11^0.5)
    expected = [1 / (1 + 0.4 * math.sqrt(1.5)), 1 / (1 + 0.4 * math.sqrt(11))]
    np.testing.assert_allclose(forecast.probability_alive(mbg, x, t_x, T), expected, rtol=1e-12)
    # the longer a one-off buyer has been silent, the less likely any purchase next
    chance = forecast.probability_purchase(mbg, 30, x, t_x, T)
    assert chance[0] > chance[1]


def test_the_chance_of_a_purchase_is_at_most_the_chance_of_being_active_and_grows_with_the_horizon():
    model = forecast.PurchaseModel(forecast.MBG_NBD, r=0.8, alpha=60.0, a=0.3, b=5.0, customers=1,
                                   repeat_customers=1, log_likelihood=0, converged=True)
    x, t_x, T = np.array([4.0]), np.array([100.0]), np.array([250.0])
    alive = forecast.probability_alive(model, x, t_x, T)
    chances = [forecast.probability_purchase(model, t, x, t_x, T)[0] for t in (7, 30, 90, 365)]
    assert chances == sorted(chances) and chances[-1] < alive[0]
    purchases = [forecast.expected_purchases(model, t, x, t_x, T)[0] for t in (7, 30, 90, 365)]
    assert purchases == sorted(purchases)


# --- the published fits --------------------------------------------------------------------------

def _lifetimes_dataset(name: str) -> pd.DataFrame:
    """A CSV that lifetimes ships (its CDNOW summaries), read without importing lifetimes."""
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.origin, "lifetimes is installed by `make test` (requirements-test.txt)"
    return pd.read_csv(Path(spec.origin).parent / "datasets" / name)


def test_bgnbd_on_cdnow_reproduces_fader_hardie_and_lee_2005():
    """Fader, Hardie and Lee (2005), "Counting your customers the easy way": r = 0.243, α = 4.414,
    a = 0.793, b = 2.426 on the 2,357 CDNOW customers (time in weeks)."""
    cdnow = _lifetimes_dataset("cdnow_customers_summary.csv")
    assert len(cdnow) == 2357
    fitted = forecast.fit_purchases(cdnow["frequency"].to_numpy(float), cdnow["recency"].to_numpy(float),
                                    cdnow["T"].to_numpy(float), model=forecast.BG_NBD)
    assert fitted.converged
    assert {name: round(value, 3) for name, value in fitted.params.items()} == {
        "r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def test_gamma_gamma_on_cdnow_repeat_buyers_reproduces_the_published_fit():
    """p = 6.25, q = 3.74, v = 15.45 on the 946 CDNOW customers who bought again (lifetimes' documentation)."""
    cdnow = _lifetimes_dataset("cdnow_customers_summary_with_transactions.csv")
    repeat = cdnow[cdnow["x"] > 0]
    assert len(repeat) == 946
    fitted = forecast.fit_spend(repeat["x"].to_numpy(float), repeat["zbar"].to_numpy(float))
    assert fitted.converged
    assert {name: round(value, 2) for name, value in fitted.params.items()} == {"p": 6.25, "q": 3.74, "v": 15.45}


# --- parameter recovery ------------------------------------------------------------------------

TRUE_PURCHASE_PARAMS = {"r": 0.6, "alpha": 40.0, "a": 0.8, "b": 2.5}


def simulate_histories(model: str, *, r: float, alpha: float, a: float, b: float, customers: int,
                       seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) of customers drawn from ``model``: rate λ ~ Gamma(r, 1/α), dropout p ~ Beta(a, b),
    T ~ Uniform(30, 365) days; exponential gaps, a dropout draw after each occasion (and, for the
    modified BG/NBD, at the first)."""
    rng = np.random.default_rng(seed)
    rate, dropout = rng.gamma(r, 1 / alpha, customers), rng.beta(a, b, customers)
    T = rng.uniform(30, 365, customers)
    x, t_x, clock = np.zeros(customers), np.zeros(customers), np.zeros(customers)
    active = rng.random(customers) >= dropout if model == forecast.MBG_NBD else np.ones(customers, bool)
    while active.any():
        clock = clock + rng.exponential(1 / rate)
        bought = active & (clock < T)
        x[bought] += 1
        t_x[bought] = clock[bought]
        active = bought & (rng.random(customers) >= dropout)
    return x, t_x, T


def _recovered(fitted: forecast.PurchaseModel) -> bool:
    """Within 5% for the purchase rate's r and α, 25% for the less well identified a and b."""
    tolerance = {"r": 0.05, "alpha": 0.05, "a": 0.25, "b": 0.25}
    return all(abs(fitted.params[name] / true - 1) <= tolerance[name] for name, true in TRUE_PURCHASE_PARAMS.items())


@pytest.mark.parametrize("model", forecast.PURCHASE_MODELS)
def test_a_fit_recovers_the_parameters_the_histories_were_drawn_with(model):
    x, t_x, T = simulate_histories(model, **TRUE_PURCHASE_PARAMS, customers=20_000, seed=1)
    fitted = forecast.fit_purchases(x, t_x, T, model=model)
    assert fitted.converged and _recovered(fitted), fitted.params


@pytest.mark.parametrize("model", forecast.PURCHASE_MODELS)
def test_counting_every_occasion_instead_of_repeat_occasions_fails_the_recovery(model):
    x, t_x, T = simulate_histories(model, **TRUE_PURCHASE_PARAMS, customers=20_000, seed=1)
    assert not _recovered(forecast.fit_purchases(x + 1, t_x, T, model=model))


def test_gamma_gamma_recovers_the_parameters_the_spend_was_drawn_with():
    rng = np.random.default_rng(2)
    p, q, v = 3.0, 4.0, 60.0
    n = rng.integers(2, 15, 20_000).astype(float)
    scale = rng.gamma(q, 1 / v, len(n))  # ν, the rate of each customer's spend per occasion
    mean_spend = rng.gamma(p * n, 1 / (n * scale)) # the mean of n Gamma(p, ν) spends
    fitted = forecast.fit_spend(n, mean_spend)
    assert fitted.converged
    assert fitted.params == pytest.approx({"p": p, "q": q, "v": v}, rel=0.15)
    # the total spend instead of the mean per occasion is far off
    assert forecast.fit_spend(n, mean_spend * n).params != pytest.approx({"p": p, "q": q, "v": v}, rel=0.15)


# --- the field's library as an oracle ------------------------------------------------------------

@pytest.fixture(scope="module")
def clv():
    """pymc-marketing's CLV models (installed by `make test`), imported quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymc_extras.prior import Prior
        from pymc_marketing import clv as models
    return models, Prior


def _pymc_fit(model, data: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data=data, method="map", progressbar=False)
    return model


def _posterior(model, name: str) -> float:
    return float(model.idata.posterior[name].to_numpy().ravel()[0])


@pytest.fixture(scope="module")
def real_histories() -> pd.DataFrame:
    """The bundled year's customers as of the validation's date, as the models read them."""
    table = pipeline.DuckDBEngine().customer_table(config.REAL_DATA_PATH,
                                                   window=OutcomeWindow(pd.Timestamp("2010-09-11"), 90))
    return forecast.purchase_histories(table.customers)


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.parametrize(("model", "oracle"), [(forecast.BG_NBD, "BetaGeoModel"),
                                                (forecast.MBG_NBD, "ModifiedBetaGeoModel")])
def test_purchase_fit_and_predictions_match_pymc_marketing_on_the_real_year(clv, real_histories, model, oracle):
    models, prior = clv
    data = pd.DataFrame({"customer_id": np.arange(len(real_histories)), "frequency": real_histories["x"],
                         "recency": real_histories["t_x"], "T": real_histories["T"]}).reset_index(drop=True)
    flat = {name: prior("HalfFlat") for name in ("r", "alpha", "a", "b")}  # maximum likelihood, as here
    theirs = _pymc_fit(getattr(models, oracle)(model_config=flat), data)
    x, t_x, T = (data[name].to_numpy(float) for name in ("frequency", "recency", "T"))
    ours = forecast.fit_purchases(x, t_x, T, model=model)
    their_params = {name: _posterior(theirs, name) for name in ("r", "alpha", "a")}
    # r and α are pinned down; a (and b) sit in a flat valley where dropout nearly vanishes, where the
    # two optimisers stop at different points: the likelihoods are compared too, ours at least as high
    assert {name: ours.params[name] for name in ("r", "alpha")} == pytest.approx(
        {name: their_params[name] for name in ("r", "alpha")}, rel=1e-2)
    at_theirs = {name: _posterior(theirs, name) for name in ("r", "alpha", "a", "b")}
    mean_ll = forecast.purchase_log_likelihood(model, at_theirs, x, t_x, T).mean()
    assert ours.log_likelihood >= mean_ll - 1e-9
    # the predictions at their parameters, by our formulas and by theirs
    same = forecast.PurchaseModel(model, **at_theirs, customers=len(x), repeat_customers=0, log_likelihood=0,
                                  converged=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        their_purchases = theirs.expected_purchases(data=data, future_t=90).to_numpy().ravel()
        their_alive = theirs.expected_probability_alive(data=data).to_numpy().ravel()
    np.testing.assert_allclose(forecast.expected_purchases(same, 90, x, t_x, T), their_purchases, rtol=1e-6)
    np.testing.assert_allclose(forecast.probability_alive(same, x, t_x, T), their_alive, rtol=1e-6)


@pytest.mark.slow
@pytest.mark.real_data
def test_spend_fit_and_expected_spend_match_pymc_marketing_on_the_real_year(clv, real_histories):
    models, prior = clv
    repeat = real_histories[(real_histories["x"] > 0) & (real_histories["m"] > 0)]
    data = pd.DataFrame({"customer_id": np.arange(len(repeat)), "frequency": repeat["n"].to_numpy(),
                         "monetary_value": repeat["m"].to_numpy()})
    flat = {name: prior("HalfFlat") for name in ("p", "q", "v")}
    theirs = _pymc_fit(models.GammaGammaModel(model_config=flat), data)
    ours = forecast.fit_spend(data["frequency"].to_numpy(float), data["monetary_value"].to_numpy(float))
    assert ours.params == pytest.approx({name: _posterior(theirs, name) for name in ("p", "q", "v")}, rel=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        their_spend = theirs.expected_customer_spend(data=data).to_numpy().ravel()
    np.testing.assert_allclose(
        forecast.expected_spend_per_occasion(ours, data["frequency"].to_numpy(float),
                                             data["monetary_value"].to_numpy(float)), their_spend, rtol=1e-3)


# --- the forecast of a customer table --------------------------------------------------------------

def _small_history_table(repeaters: int) -> pd.DataFrame:
    rows = [(i, 2 + i % 5, 20 + 3 * i, 5 + i, 100.0 + 10 * i) for i in range(1, repeaters + 1)]
    rows += [(1000 + i, 1, 0, 30 + i, 50.0) for i in range(10)] + [(2000, 0, None, None, 5.0)]
    return _customers(rows)


def test_every_customer_gets_a_finite_forecast_or_a_reason():
    predicted = forecast.forecast_customers(_small_history_table(40), horizon_days=90, clv_days=365)
    table = predicted.table
    assert list(table.columns) == list(c.FORECAST_COLUMNS)
    assert table.loc[2000, c.NO_FORECAST_REASON] == forecast.NO_OCCASION
    assert table.loc[2000, list(c.FORECAST_COLUMNS[:-1])].isna().all()
    forecast_rows = table.drop(index=2000)
    assert forecast_rows[c.NO_FORECAST_REASON].isna().all()
    assert np.isfinite(forecast_rows[list(c.FORECAST_COLUMNS[:-1])].to_numpy(float)).all()
    # CLV over a year is at least the spend of the next 90 days; probabilities are probabilities
    assert (forecast_rows[c.CLV] >= forecast_rows[c.EXPECTED_SPEND]).all()
    assert forecast_rows[[c.P_ALIVE, c.P_PURCHASE]].stack().between(0, 1).all()


def test_too_few_repeat_customers_is_one_line_naming_how_many_and_how_many_are_needed():
    needed = config.FORECAST_MIN_REPEAT_CUSTOMERS
    pattern = rf"^shop.csv: no forecast: {needed - 1} customer\(s\) made two purchase occasions .* at least {needed} "
    with pytest.raises(forecast.ForecastUnavailable, match=pattern):
        forecast.forecast_customers(_small_history_table(needed - 1), source="shop.csv")
    forecast.forecast_customers(_small_history_table(needed), source="shop.csv")


def _hand_check() -> tuple[forecast.Forecast, pd.DataFrame, forecast.ForecastCheck]:
    """Four customers with a forecast set by hand, what they did next and before, and their scores."""
    customers = _customers([(1, 1, 0, 10, 100.0), (2, 2, 30, 10, 400.0), (3, 5, 200, 5, 2000.0),
                            (4, 1, 0, 100, 60.0)])
    table = pd.DataFrame({
        c.EXPECTED_PURCHASES: [0.5, 1.0, 3.0, 0.2], c.P_ALIVE: [0.9, 0.8, 0.99, 0.5],
        c.P_PURCHASE: [0.4, 0.6, 0.95, 0.1], c.EXPECTED_SPEND: [50.0, 200.0, 1200.0, 10.0],
        c.CLV: [200.0, 800.0, 4800.0, 40.0], c.NO_FORECAST_REASON: pd.array([pd.NA] * 4, dtype="string"),
    }, index=customers.index)
    model = forecast.PurchaseModel(forecast.MBG_NBD, 1, 1, 1, 1, customers=4, repeat_customers=2,
                                   log_likelihood=0, converged=True)
    spend = forecast.SpendModel(1, 2, 1, customers=2, log_likelihood=0, converged=True)
    predicted = forecast.Forecast(table=table, purchases=model, spend=spend, horizon_days=90, clv_days=365,
                                  spend_frequency_correlation=0.0)
    outcome = pd.DataFrame({c.FREQUENCY: [1, 2, 4], c.TOTAL_BILL_SIZE: [80.0, 300.0, 1500.0]},
                           index=pd.Index([1, 2, 3], dtype="Int64", name=c.CUSTOMER_ID))
    previous = pd.DataFrame({c.FREQUENCY: [1, 1], c.TOTAL_BILL_SIZE: [400.0, 900.0]},
                            index=pd.Index([2, 3], dtype="Int64", name=c.CUSTOMER_ID))
    score = pd.Series([9, 11, 15, 4], index=customers.index)
    check = forecast.check_forecast(predicted, customers, outcome=outcome, previous=previous, score=score,
                                    as_of=pd.Timestamp("2011-01-01"))
    return predicted, customers, check


def test_the_check_scores_a_forecast_and_the_naive_one_as_worked_out_by_hand():
    _, _, check = _hand_check()
    scores = check.scores
    # actual 1, 2, 4, 0; forecast 0.5, 1, 3, 0.2; naive (the 90 days before) 0, 1, 1, 0
    assert scores.loc[forecast.PURCHASES_MAE, "forecast"] == pytest.approx((0.5 + 1 + 1 + 0.2) / 4)
    assert scores.loc[forecast.PURCHASES_MAE, "baseline"] == pytest.approx((1 + 1 + 3 + 0) / 4)
    assert scores.loc[forecast.PURCHASES_RMSE, "forecast"] == pytest.approx(math.sqrt((0.25 + 1 + 1 + 0.04) / 4))
    assert scores.loc[forecast.PURCHASES_RMSE, "baseline"] == pytest.approx(math.sqrt((1 + 1 + 9) / 4))
    assert scores.loc[forecast.TOTAL_PURCHASES, ["forecast", "baseline", "actual"]].tolist() == [4.7, 2.0, 7.0]
    assert scores.loc[forecast.TOTAL_PURCHASES, "better"] == "forecast"  # 2.3 away against 5
    # bought again: 1, 2, 3; P_Purchase ranks them above 4, so the AUC is 1; so does the score
    assert scores.loc[forecast.AUC_P_PURCHASE, ["forecast", "baseline", "better"]].tolist() == [1.0, 1.0, "tie"]
    # next spend 80, 300, 1500, 0: Expected_Spend has its order exactly
    assert scores.loc[forecast.SPEND_RANK_CORRELATION, "forecast"] == pytest.approx(1.0)
    purchases = check.calibration.loc[forecast.BY_EARLIER_PURCHASES]
    assert purchases.loc["0"].to_dict() == {c.CUSTOMERS: 2, "predicted": 0.35, "actual": 0.5, "baseline": 0.0}
    assert purchases.loc["4"].to_dict() == {c.CUSTOMERS: 1, "predicted": 3.0, "actual": 4.0, "baseline": 1.0}


def test_the_lists_hold_the_customers_their_rules_name():
    predicted, customers, _ = _hand_check()
    contact = forecast.customers_to_contact(predicted, customers)
    assert list(contact.index) == [3]  # a tenth of four customers, at least one: the highest Expected_Spend
    slipping = forecast.customers_slipping_away(predicted, customers)
    # the top quarter of past spend is customer 3 alone (P_Purchase 0.95): nobody valuable is slipping
    assert slipping.empty
    predicted.table.loc[3, c.P_PURCHASE] = 0.3
    assert list(forecast.customers_slipping_away(predicted, customers).index) == [3]


# --- on the real year, out of time -----------------------------------------------------------------

@pytest.fixture(scope="module")
def real_check() -> pipeline.SegmentationRun:
    return pipeline.segment_file(config.REAL_DATA_PATH, window=OutcomeWindow(pd.Timestamp("2010-09-11"), 90))


@pytest.mark.real_data
def test_on_the_real_year_the_forecast_beats_same_as_last_quarter_on_purchases(real_check):
    """Fitted on the lines before 2010-09-11 and checked on the next 90 days (3,348 customers): MAE
    0.964 against 0.980 and RMSE 1.573 against 1.599 for "as many purchases as in the previous 90 days"."""
    scores = real_check.forecast_check.scores
    assert real_check.forecast_check.customers == 3348
    assert scores.loc[forecast.PURCHASES_MAE, ["forecast", "baseline"]].round(3).tolist() == [0.964, 0.980]
    assert scores.loc[forecast.PURCHASES_RMSE, ["forecast", "baseline"]].round(3).tolist() == [1.573, 1.599]
    assert scores.loc[[forecast.PURCHASES_MAE, forecast.PURCHASES_RMSE], "better"].tolist() == ["forecast"] * 2


@pytest.mark.real_data
def test_on_the_real_year_the_lists_keep_their_promise(real_check):
    """The slipping-away customers bought again far less often than every customer of that past spend,
    and the contact list brought more of the next quarter's revenue than as many customers by R+F+M score."""
    scores = real_check.forecast_check.scores
    slipping = scores.loc[forecast.SLIPPING_BOUGHT_AGAIN]
    assert slipping["forecast"] < slipping["baseline"] - 0.2
    assert scores.loc[forecast.CONTACT_NEXT_REVENUE, "better"] == "forecast"


# --- the command line ----------------------------------------------------------------------------

def test_the_command_line_writes_the_forecast_columns_lists_and_check(tmp_path):
    out = tmp_path / "out"
    assert main([str(config.SAMPLE_PATH), "--out", str(out), "--as-of", "2011-09-01", "--horizon-days", "60"]) == 0
    segments = pd.read_csv(out / "customer_segments.csv")
    for name in c.FORECAST_COLUMNS:
        assert name in segments.columns
    forecast_rows = segments[segments[c.NO_FORECAST_REASON].isna()]
    assert np.isfinite(forecast_rows[list(c.FORECAST_COLUMNS[:-1])].to_numpy(float)).all()
    assert (segments[c.NO_FORECAST_REASON].dropna() == forecast.NO_OCCASION).all()
    contact = pd.read_csv(out / "contact_list.csv")
    assert contact[c.EXPECTED_SPEND].is_monotonic_decreasing
    assert len(contact) == math.ceil(len(forecast_rows) * config.CONTACT_SHARE)
    check = pd.read_csv(out / "forecast_check.csv")
    assert set(check["check"]) == {forecast.BY_EARLIER_PURCHASES, forecast.BY_SPEND_DECILE}
    scores = pd.read_csv(out / "forecast_scores.csv", index_col="metric")
    assert scores.loc[forecast.TOTAL_PURCHASES, "actual"] == pytest.approx(check.loc[
        check["check"] == forecast.BY_EARLIER_PURCHASES].eval("customers * actual").sum(), abs=1e-3)
    assert (out / "forecast_check.png").is_file()
    record = json.loads((out / "run.json").read_text())
    assert record["forecast"]["purchases"]["model"] == config.FORECAST_MODEL
    assert record["forecast"]["horizon_days"] == 60


def test_no_forecast_leaves_the_columns_empty_with_the_reason(tmp_path):
    out = tmp_path / "out"
    assert main([str(config.SAMPLE_PATH), "--out", str(out), "--no-forecast"]) == 0
    segments = pd.read_csv(out / "customer_segments.csv")
    assert segments[list(c.FORECAST_COLUMNS[:-1])].isna().all().all()
    assert (segments[c.NO_FORECAST_REASON] == forecast.NOT_RUN).all()
    assert not (out / "contact_list.csv").exists()
    assert json.loads((out / "run.json").read_text())["forecast"] is None


def test_a_file_with_too_few_repeat_customers_is_segmented_and_says_why_there_is_no_forecast(tmp_path, capsys):
    lines = ["Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"]
    for customer in range(4):
        for day in range(1, 2 + customer % 2):  # customers 1 and 3 buy on two days
            lines.append(f"{500 + 10 * customer + day},85123A,HEART,2,2010-12-0{day + customer} 10:00,2.55,"
                         f"{1000 + customer},UK")
    path, out = tmp_path / "four.csv", tmp_path / "out"
    path.write_text("\n".join(lines) + "\n")
    assert main([str(path), "--out", str(out), "--k", "2", "--rfm-k", "2"]) == 0
    summary = capsys.readouterr().out
    reason = (f"{path}: no forecast: 2 customer(s) made two purchase occasions or more (with net spend above 0), "
              f"and the forecast needs at least {config.FORECAST_MIN_REPEAT_CUSTOMERS}")
    assert f"note: {reason}" in summary
    assert json.loads((out / "run.json").read_text())["forecast"]["skipped"].startswith(reason)
    segments = pd.read_csv(out / "customer_segments.csv")
    assert segments[c.NO_FORECAST_REASON].str.startswith(reason).all()
    assert segments[list(c.FORECAST_COLUMNS[:-1])].isna().all().all()
    assert not (out / "contact_list.csv").exists()


@pytest.mark.real_data
def test_what_the_readme_says_of_the_models_on_the_real_year(real_check):
    """The README's section on the forecast, number by number, against runs on the bundled year."""
    as_of = real_check.forecast
    assert (round(as_of.purchases.a, 3), round(as_of.purchases.b, 1)) == (0.007, 9.9)
    assert round((as_of.table[c.P_ALIVE].dropna() >= 0.99).mean(), 2) == 0.99
    scores = real_check.forecast_check.scores.loc[forecast.TOTAL_PURCHASES]
    assert scores[["forecast", "baseline", "actual"]].round().tolist() == [3356, 3535, 4411]
    assert round(real_check.forecast_check.scores.loc[forecast.AUC_P_ALIVE, "forecast"], 2) == 0.63
    customers = real_check.customers
    history = forecast.purchase_histories(customers)
    x, t_x, T = (history[name].to_numpy() for name in ("x", "t_x", "T"))
    outcome = pipeline.DuckDBEngine().customer_table(config.REAL_DATA_PATH, window=real_check.window).outcome
    bought_again = outcome[c.FREQUENCY].reindex(history.index).fillna(0).to_numpy() > 0
    plain = forecast.fit_purchases(x, t_x, T, model=forecast.BG_NBD)
    alive = forecast.probability_alive(plain, x, t_x, T)
    assert round(_auc(bought_again, alive), 2) == 0.40
    # left out of the fit: customers whose first purchase falls in the data's first month
    later = (customers.loc[history.index, c.FIRST_PURCHASE] >= "2010-01-01").to_numpy()
    cohort = forecast.fit_purchases(x[later], t_x[later], T[later])
    predicted = forecast.expected_purchases(cohort, 90, x, t_x, T)
    actual = outcome[c.FREQUENCY].reindex(history.index).fillna(0).to_numpy()
    assert round(float(np.abs(predicted - actual).mean()), 3) == 0.985
    assert round(float(np.sqrt(((predicted - actual) ** 2).mean())), 3) == 1.658
    spend = real_check.forecast.spend
    per_occasion = forecast.expected_spend_per_occasion(spend, history["n"].to_numpy(), history["m"].clip(lower=0))
    next_spend = outcome[c.TOTAL_BILL_SIZE].reindex(history.index).fillna(0)
    assert round(pd.Series(predicted * per_occasion, index=history.index).corr(next_spend, method="spearman"), 3) \
        == 0.504
    # the Pareto/NBD (lifetimes' fit) sees no dropout either: s, the dropout rates' shape, near 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import ParetoNBDFitter
        pareto = ParetoNBDFitter().fit(x, t_x, T)
    assert pareto.params_["s"] < 0.01
    # on every line: spend per purchase and purchases correlate at 0.15 among repeat customers
    full = pipeline.segment_file(config.REAL_DATA_PATH)
    assert round(full.forecast.spend_frequency_correlation, 2) == 0.15


def _auc(outcome: np.ndarray, score: np.ndarray) -> float:
    ranks = pd.Series(score).rank().to_numpy()
    positives = int(outcome.sum())
    return float((ranks[outcome].sum() - positives * (positives + 1) / 2) / (positives * (len(outcome) - positives)))


@pytest.mark.slow
def test_intervals_come_from_the_posterior_and_hold_its_means(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "POSTERIOR_DRAWS", 150)
    monkeypatch.setattr(config, "POSTERIOR_TUNE", 150)
    out = tmp_path / "out"
    assert main([str(config.SAMPLE_PATH), "--out", str(out), "--intervals"]) == 0
    segments = pd.read_csv(out / "customer_segments.csv")
    assert list(segments.columns[-len(c.INTERVAL_COLUMNS):]) == list(c.INTERVAL_COLUMNS)
    forecast_rows = segments[segments[c.NO_FORECAST_REASON].isna()]
    for value in (c.EXPECTED_PURCHASES, c.EXPECTED_SPEND):
        low, high = forecast_rows[f"{value}_Low"], forecast_rows[f"{value}_High"]
        assert (low <= forecast_rows[value] + 1e-2).all() and (forecast_rows[value] <= high + 1e-2).all()
        assert (low < high).all()
    assert segments.loc[segments[c.NO_FORECAST_REASON].notna(), list(c.INTERVAL_COLUMNS)].isna().all().all()
    assert json.loads((out / "run.json").read_text())["forecast"]["table"].startswith("posterior means")
    # the posterior's means and the point fit rank customers alike
    assert main([str(config.SAMPLE_PATH), "--out", str(tmp_path / "point")]) == 0
    point = pd.read_csv(tmp_path / "point" / "customer_segments.csv").set_index(c.CUSTOMER_ID)
    posterior = segments.set_index(c.CUSTOMER_ID)[c.EXPECTED_PURCHASES]
    assert posterior.corr(point[c.EXPECTED_PURCHASES], method="spearman") > 0.99


def test_intervals_without_pymc_marketing_is_one_line_naming_the_extra(tmp_path, capsys, monkeypatch):
    from segmentation import __main__ as cli

    real_find_spec = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name, *args: None if name == forecast.POSTERIOR_PACKAGE else real_find_spec(name, *args))
    message = cli_error(config.SAMPLE_PATH, tmp_path, capsys, "--intervals")
    assert message == "error: --intervals needs pymc-marketing: .venv/bin/pip install -r requirements-bayes.txt"
