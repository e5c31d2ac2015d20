"""Tests of the synthetic invoice-line generator and the bundled sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segmentation import columns, config
from segmentation.errors import InvoiceDataError
from segmentation.reading import synthetic

REAL_FILE = config.REAL_DATA_PATH

# Bands that bracket the numbers of the real "Online Retail II" 2009-2010 file
# (no customer 0.205, UK 0.925, cancellations 0.019, duplicates 0.013, lines per
# customer median 44 and p90 218, spend per customer p25 308, median 706, p75
# 1,723, p90 3,800, p99 20,137, p99/median 28.5) and of generated samples of a
# few hundred customers.
SHAPE_BANDS: dict[str, tuple[float, float]] = {
    synthetic.NO_CUSTOMER_SHARE: (0.15, 0.25),
    synthetic.UK_SHARE: (0.80, 0.96),
    synthetic.CANCELLATION_SHARE: (0.01, 0.03),
    synthetic.DUPLICATE_SHARE: (0.005, 0.02),
    synthetic.LINES_PER_CUSTOMER_MEDIAN: (20, 80),
    synthetic.LINES_PER_CUSTOMER_P90: (80, 400),
    synthetic.SPEND_P25: (100, 600),
    synthetic.SPEND_P50: (300, 1_500),
    synthetic.SPEND_P75: (800, 4_000),
    synthetic.SPEND_P90: (1_500, 8_000),
    synthetic.SPEND_P99: (8_000, 60_000),
    synthetic.SPEND_P99_OVER_MEDIAN: (10, 80),
}

NON_PRODUCT_CODES = {
    code
    for code, _ in (
        synthetic.POSTAGE,
        synthetic.DOTCOM_POSTAGE,
        synthetic.MANUAL,
        synthetic.CARRIAGE,
        synthetic.BANK_CHARGES,
        synthetic.DISCOUNT,
    )
}


@pytest.fixture(scope="module")
def sample_invoices() -> pd.DataFrame:
    """The lines of the bundled sample, generated in memory."""
    return synthetic.generate_invoices(config.SAMPLE_CUSTOMERS, seed=config.SAMPLE_SEED)


def _outside_bands(shape: pd.Series) -> dict[str, float]:
    """The statistics of ``shape`` that fall outside :data:`SHAPE_BANDS`."""
    return {
        name: shape[name]
        for name, (low, high) in SHAPE_BANDS.items()
        if not low <= shape[name] <= high
    }


# --- the bundled sample -------------------------------------------------------------
def test_regenerated_sample_matches_committed_file_byte_for_byte(tmp_path):
    written = synthetic.write_sample(
        tmp_path / "sample.csv", n_customers=config.SAMPLE_CUSTOMERS, seed=config.SAMPLE_SEED
    )
    assert written.read_bytes() == config.SAMPLE_PATH.read_bytes()


def test_sample_file_is_small_and_has_several_hundred_customers():
    text = config.SAMPLE_PATH.read_text(encoding="utf-8")
    assert config.SAMPLE_PATH.stat().st_size <= 3_000_000
    assert "\r" not in text
    assert text.splitlines()[0] == ",".join(columns.INVOICE_COLUMNS)
    assert config.SAMPLE_CUSTOMERS >= 300


def test_command_line_writes_the_same_bytes_as_write_sample(tmp_path, capsys):
    expected = synthetic.write_sample(tmp_path / "expected.csv", n_customers=20, seed=3)
    out = tmp_path / "cli.csv"
    assert synthetic.main(["--out", str(out), "--customers", "20", "--seed", "3"]) == 0
    assert out.read_bytes() == expected.read_bytes()
    assert str(out) in capsys.readouterr().out


def test_written_file_formats_dates_prices_and_missing_customers(tmp_path):
    path = synthetic.write_sample(tmp_path / "sample.csv", n_customers=30, seed=5)
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert rows[columns.INVOICE_DATE].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert rows[columns.UNIT_PRICE].str.fullmatch(r"\d+\.\d\d").all()
    assert rows[columns.CUSTOMER_ID].str.fullmatch(r"(\d+)?").all()
    assert (rows[columns.CUSTOMER_ID] == "").any()


# --- determinism and schema -----------------------------------------------------------
def test_same_seed_gives_equal_frames_and_another_seed_a_different_one():
    first = synthetic.generate_invoices(50, seed=11)
    pd.testing.assert_frame_equal(first, synthetic.generate_invoices(50, seed=11))
    assert not first.equals(synthetic.generate_invoices(50, seed=12))


def test_generated_lines_have_the_canonical_columns_and_dtypes(sample_invoices):
    assert tuple(sample_invoices.columns) == columns.INVOICE_COLUMNS
    dtypes = sample_invoices.dtypes
    for name in columns.TEXT_COLUMNS:
        assert pd.api.types.is_string_dtype(dtypes[name]), name
    assert dtypes[columns.QUANTITY] == np.int64
    assert pd.api.types.is_datetime64_dtype(dtypes[columns.INVOICE_DATE])
    assert dtypes[columns.UNIT_PRICE] == np.float64
    assert dtypes[columns.CUSTOMER_ID] == pd.Int64Dtype()
    assert sample_invoices[list(columns.TEXT_COLUMNS)].notna().all().all()


def test_invoice_numbers_increase_with_one_time_in_shop_hours_per_invoice(sample_invoices):
    invoice = sample_invoices[columns.INVOICE]
    assert invoice.str.fullmatch(r"C?\d{6}").all()
    when = sample_invoices[columns.INVOICE_DATE]
    per_invoice = pd.DataFrame({"number": invoice.str.lstrip("C").astype(int), "when": when})
    per_invoice = per_invoice.drop_duplicates().sort_values("number")
    assert per_invoice["number"].is_unique
    assert per_invoice["when"].is_monotonic_increasing
    assert when.dt.hour.between(7, 20).all()
    assert not (when.dt.day_of_week == 5).any()
    customers_per_invoice = sample_invoices.groupby(columns.INVOICE)[columns.CUSTOMER_ID]
    assert customers_per_invoice.nunique(dropna=False).max() == 1


def test_stock_codes_are_five_digits_and_a_letter_or_known_non_product_codes(sample_invoices):
    code = sample_invoices[columns.STOCK_CODE]
    product = code.str.fullmatch(r"\d{5}[A-Z]?")
    assert set(code[~product]) == NON_PRODUCT_CODES
    assert code[product].nunique() >= 300
    spellings = sample_invoices[product].groupby(columns.STOCK_CODE)[columns.DESCRIPTION].nunique()
    assert (spellings == 2).sum() >= 10
    prices = sample_invoices.loc[product, columns.UNIT_PRICE]
    assert prices.between(0.3, 10).mean() > 0.8
    assert (prices == 0).any()


def test_some_customers_order_from_two_countries(sample_invoices):
    known = sample_invoices.dropna(subset=[columns.CUSTOMER_ID])
    countries_per_customer = known.groupby(columns.CUSTOMER_ID)[columns.COUNTRY].nunique()
    assert 1 <= (countries_per_customer == 2).sum() <= 0.02 * len(countries_per_customer)


# --- cancellations --------------------------------------------------------------------
def test_cancellation_lines_are_negative_and_mostly_return_earlier_purchases(sample_invoices):
    cancelled = sample_invoices[columns.INVOICE].str.startswith(synthetic.CANCELLATION_PREFIX)
    assert (sample_invoices.loc[cancelled, columns.QUANTITY] < 0).all()
    assert (sample_invoices.loc[~cancelled, columns.QUANTITY] > 0).all()
    returns = sample_invoices[cancelled].rename_axis("return_line").reset_index()
    purchases = sample_invoices[~cancelled].dropna(subset=[columns.CUSTOMER_ID])
    pairs = returns.merge(
        purchases, on=[columns.CUSTOMER_ID, columns.STOCK_CODE], suffixes=("", "_bought")
    )
    pairs = pairs[pairs[columns.INVOICE_DATE + "_bought"] < pairs[columns.INVOICE_DATE]]
    most_bought = pairs.groupby("return_line")[columns.QUANTITY + "_bought"].max()
    returned = -returns.set_index("return_line").loc[most_bought.index, columns.QUANTITY]
    assert len(most_bought) / len(returns) > 0.7
    assert (returned <= most_bought).all()


def test_cancellations_include_returns_of_goods_never_bought_and_discounts(sample_invoices):
    cancelled = sample_invoices[columns.INVOICE].str.startswith(synthetic.CANCELLATION_PREFIX)
    key = [columns.CUSTOMER_ID, columns.STOCK_CODE]
    bought = set(sample_invoices.loc[~cancelled, key].itertuples(index=False, name=None))
    returns = sample_invoices[cancelled].dropna(subset=[columns.CUSTOMER_ID])
    product = returns[columns.STOCK_CODE].str.fullmatch(r"\d{5}[A-Z]?")
    never_bought = [
        pair not in bought for pair in returns.loc[product, key].itertuples(index=False, name=None)
    ]
    assert 0 < sum(never_bought) < 0.3 * len(never_bought)
    discount_code, discount_text = synthetic.DISCOUNT
    discounts = sample_invoices[sample_invoices[columns.STOCK_CODE] == discount_code]
    assert len(discounts) > 0
    assert (discounts[columns.DESCRIPTION] == discount_text).all()
    assert discounts[columns.INVOICE].str.startswith(synthetic.CANCELLATION_PREFIX).all()


# --- shape against the real data ----------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_shape_falls_within_the_bands_of_the_real_data(seed):
    shape = synthetic.describe_shape(
        synthetic.generate_invoices(config.SAMPLE_CUSTOMERS, seed=seed)
    )
    assert _outside_bands(shape) == {}


def test_real_data_shape_falls_within_the_same_bands():
    real_names = {real: canonical for canonical, real in columns.ONLINE_RETAIL_II_NAMES.items()}
    invoices = pd.read_parquet(REAL_FILE).rename(columns=real_names)
    assert _outside_bands(synthetic.describe_shape(invoices)) == {}


# --- describe_shape by hand ------------------------------------------------------------------
def test_describe_shape_of_a_hand_built_table():
    uk = synthetic.UNITED_KINGDOM
    invoices = pd.DataFrame(
        [
            ("536365", "21459", "PARTY BUNTING", 4, "2010-12-01 08:26", 2.50, 17850, uk),
            ("536365", "22866", "KEY RING", 10, "2010-12-01 08:26", 2.00, 17850, uk),
            ("536365", "22866", "KEY RING", 10, "2010-12-01 08:26", 2.00, 17850, uk),
            ("536366", "35533", "LUNCH BAG", 20, "2010-12-01 08:28", 5.00, 12583, "France"),
            ("536367", "20848", "CHALKBOARD", 6, "2010-12-01 08:34", 0.00, 12583, "France"),
            ("536368", "84522", "CANDLE", 8, "2010-12-01 08:45", 1.95, None, uk),
            ("C536369", "D", "Discount", -1, "2010-12-01 09:41", 27.50, 14527, uk),
        ],
        columns=list(columns.INVOICE_COLUMNS),
    ).astype({columns.CUSTOMER_ID: "Int64"})
    # 7 lines: one guest (1/7), five from the UK (5/7), one cancellation (1/7),
    # one exact repeat of the line above it (1/7).
    # Lines per customer: 17850 -> 3, 12583 -> 2, 14527 -> 1; median 2, p90 of
    # [1, 2, 3] = 2 + 0.8 * (3 - 2) = 2.8.
    # Spend (positive quantity and price): 17850 -> 4 * 2.50 + 10 * 2.00 + 10 * 2.00
    # = 50; 12583 -> 20 * 5.00 = 100 (the zero-price line does not count);
    # 14527 has no purchase. Quantiles of [50, 100]: 50 + q * 50, so 62.5, 75,
    # 87.5, 95 and 99.5; p99 / median = 99.5 / 75.
    expected = pd.Series(
        {
            synthetic.NO_CUSTOMER_SHARE: 1 / 7,
            synthetic.UK_SHARE: 5 / 7,
            synthetic.CANCELLATION_SHARE: 1 / 7,
            synthetic.DUPLICATE_SHARE: 1 / 7,
            synthetic.LINES_PER_CUSTOMER_MEDIAN: 2.0,
            synthetic.LINES_PER_CUSTOMER_P90: 2.8,
            synthetic.SPEND_P25: 62.5,
            synthetic.SPEND_P50: 75.0,
            synthetic.SPEND_P75: 87.5,
            synthetic.SPEND_P90: 95.0,
            synthetic.SPEND_P99: 99.5,
            synthetic.SPEND_P99_OVER_MEDIAN: 99.5 / 75,
        }
    )
    pd.testing.assert_series_equal(synthetic.describe_shape(invoices), expected)


def test_describe_shape_names_a_missing_column():
    invoices = pd.DataFrame(columns=[c for c in columns.INVOICE_COLUMNS if c != columns.QUANTITY])
    with pytest.raises(InvoiceDataError, match=columns.QUANTITY):
        synthetic.describe_shape(invoices)


def test_generate_invoices_rejects_fewer_than_one_customer():
    with pytest.raises(ValueError, match="n_customers"):
        synthetic.generate_invoices(0, seed=1)
