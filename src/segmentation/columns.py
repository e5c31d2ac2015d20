"""Every column name the project uses, spelled once.

Invoice lines use the UCI "Online Retail" names after loading, whatever the
input file called them; customer features use the seed analysis's names.
"""

from __future__ import annotations

import re

# --- invoice lines: one row is one line of one invoice -------------------------
INVOICE = "InvoiceNo"
STOCK_CODE = "StockCode"
DESCRIPTION = "Description"
QUANTITY = "Quantity"
INVOICE_DATE = "InvoiceDate"
UNIT_PRICE = "UnitPrice"
CUSTOMER_ID = "CustomerID"
COUNTRY = "Country"

#: The eight columns every input must have, in canonical order.
INVOICE_COLUMNS: tuple[str, ...] = (
    INVOICE,
    STOCK_CODE,
    DESCRIPTION,
    QUANTITY,
    INVOICE_DATE,
    UNIT_PRICE,
    CUSTOMER_ID,
    COUNTRY,
)

#: The "Online Retail II" spelling of the columns whose names differ.
ONLINE_RETAIL_II_NAMES: dict[str, str] = {
    INVOICE: "Invoice",
    UNIT_PRICE: "Price",
    CUSTOMER_ID: "Customer ID",
}

#: Header spellings accepted for each canonical column, compared after
#: :func:`normalise_header` (case, spaces, underscores and a BOM ignored).
ALIASES: dict[str, str] = {
    "invoiceno": INVOICE,
    "invoice": INVOICE,
    "stockcode": STOCK_CODE,
    "description": DESCRIPTION,
    "quantity": QUANTITY,
    "invoicedate": INVOICE_DATE,
    "unitprice": UNIT_PRICE,
    "price": UNIT_PRICE,
    "customerid": CUSTOMER_ID,
    "country": COUNTRY,
}

TEXT_COLUMNS: tuple[str, ...] = (INVOICE, STOCK_CODE, DESCRIPTION, COUNTRY)


def normalise_header(name: object) -> str:
    """Lower-case ``name`` and drop a BOM, spaces, underscores and hyphens."""
    return re.sub(r"[\s_\-]+", "", str(name).replace("\ufeff", "")).lower()


# --- derived per line ------------------------------------------------------------
AMOUNT = "Amount"  # Quantity x UnitPrice of one line

# --- customers: one row is one customer with at least one purchase line ----------
TOTAL_BILL_SIZE = "Total_Bill_Size"
GROSS_SPEND = "Gross_Spend"
RETURNED_AMOUNT = "Returned_Amount"
UNMATCHED_RETURNS = "Unmatched_Returns"
PRODUCT_SPEND = "Product_Spend"
FIRST_PURCHASE = "First_Purchase"
LAST_PURCHASE = "Last_Purchase"
PURCHASE_INTERVAL_DAYS = "Purchase_Interval_Days"
FREQUENCY = "Frequency"
RECENCY_DAYS = "Recency_Days"
MOST_COMMON_LOCATION = "Most_Common_Location"
TOP_ITEM = "Top_Item"
TOP_ITEM_CODE = "Top_Item_Code"

#: Columns of the customer feature table, in order (index: CustomerID).
FEATURES: tuple[str, ...] = (
    TOTAL_BILL_SIZE,
    GROSS_SPEND,
    RETURNED_AMOUNT,
    UNMATCHED_RETURNS,
    PRODUCT_SPEND,
    FIRST_PURCHASE,
    LAST_PURCHASE,
    PURCHASE_INTERVAL_DAYS,
    FREQUENCY,
    RECENCY_DAYS,
    MOST_COMMON_LOCATION,
    TOP_ITEM,
    TOP_ITEM_CODE,
)

MONEY_FEATURES: tuple[str, ...] = (
    TOTAL_BILL_SIZE,
    GROSS_SPEND,
    RETURNED_AMOUNT,
    UNMATCHED_RETURNS,
    PRODUCT_SPEND,
)

#: Numeric features whose rank correlations the heatmap shows.
CORRELATION_FEATURES: tuple[str, ...] = (
    TOTAL_BILL_SIZE,
    GROSS_SPEND,
    RETURNED_AMOUNT,
    PURCHASE_INTERVAL_DAYS,
    FREQUENCY,
    RECENCY_DAYS,
)

# --- clusters --------------------------------------------------------------------
CLUSTER = "Cluster"
SEGMENT = "Segment"
#: Why a customer has no cluster (``cluster.not_clustered_reasons``).
NOT_CLUSTERED_REASON = "Not_Clustered_Reason"

#: Features the seed analysis clusters on.
SEED_CLUSTER_FEATURES: tuple[str, ...] = (TOTAL_BILL_SIZE,)
#: Recency, frequency, monetary: the features of the RFM segmentation, in that order.
RFM_FEATURES: tuple[str, ...] = (RECENCY_DAYS, FREQUENCY, TOTAL_BILL_SIZE)

#: The feature sets the command line offers (``--features``), by name.
SPEND_FEATURE_SET = "spend"
RFM_FEATURE_SET = "rfm"
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    SPEND_FEATURE_SET: SEED_CLUSTER_FEATURES,
    RFM_FEATURE_SET: RFM_FEATURES,
}

# --- rule-based RFM: one row is one customer -------------------------------------
#: Quintile scores 1 (worst fifth) to 5 (best fifth) of Recency_Days, Frequency and Total_Bill_Size.
R_SCORE = "R_Score"
F_SCORE = "F_Score"
M_SCORE = "M_Score"
#: The mean of F_Score and M_Score, halves rounded up: the column axis of the segment map.
FM_SCORE = "FM_Score"
#: R_Score + F_Score + M_Score, 3 to 15.
RFM_SCORE = "RFM_Score"
#: The named segment of a customer's (R_Score, FM_Score) cell in a segment map.
RFM_SEGMENT = "RFM_Segment"
#: Share of a KMeans cluster's customers whose rule segment is the cluster's name.
NAME_AGREEMENT = "share_in_named_segment"

#: Columns of ``rfm.score_customers``, in order (index: CustomerID).
RFM_SCORE_COLUMNS: tuple[str, ...] = (R_SCORE, F_SCORE, M_SCORE, FM_SCORE, RFM_SCORE)

# --- choosing k: one row is one k of a k scan -------------------------------------
K = "k"
INERTIA = "inertia"
SILHOUETTE = "silhouette"
#: One row per feature set of a scan summary (``diagnostics.summarise_scans``).
FEATURE_SET = "features"
BEST_K = "best_k"
BEST_SILHOUETTE = "best_silhouette"
LOWEST_SILHOUETTE = "lowest_silhouette"
FLAT = "flat"

# --- segment profiles: one row is one cluster -------------------------------------
CUSTOMERS = "customers"
SHARE_OF_CUSTOMERS = "share_of_customers"
SHARE_OF_REVENUE = "share_of_revenue"
TOP_COUNTRIES = "top_countries"
TOP_ITEMS = "top_items"
#: Prefix of the per-cluster median of a feature ("median_Recency_Days").
MEDIAN_PREFIX = "median_"

# --- per-segment stability: one row is one cluster --------------------------------
MEAN_JACCARD = "mean_jaccard"
MIN_JACCARD = "min_jaccard"
DISSOLVED = "resamples_dissolved"
STABLE = "stable"

# --- the forecast: one row is one customer (``forecast.forecast_customers``) ----------
#: Expected purchase occasions in the next ``--horizon-days``.
EXPECTED_PURCHASES = "Expected_Purchases"
#: Chance that the customer is still active (has not dropped out) at the snapshot or ``--as-of``.
P_ALIVE = "P_Alive"
#: Chance of at least one purchase occasion in the next ``--horizon-days``.
P_PURCHASE = "P_Purchase"
#: Expected net spend in the next ``--horizon-days`` (£): expected occasions x expected spend per occasion.
EXPECTED_SPEND = "Expected_Spend"
#: Expected net spend over the next ``--clv-days`` (£), undiscounted.
CLV = "CLV"
#: Why a customer has no forecast (empty when forecast).
NO_FORECAST_REASON = "No_Forecast_Reason"
#: With ``--intervals``: the 90% credible interval of Expected_Purchases and of Expected_Spend.
EXPECTED_PURCHASES_LOW = "Expected_Purchases_Low"
EXPECTED_PURCHASES_HIGH = "Expected_Purchases_High"
EXPECTED_SPEND_LOW = "Expected_Spend_Low"
EXPECTED_SPEND_HIGH = "Expected_Spend_High"
INTERVAL_COLUMNS: tuple[str, ...] = (EXPECTED_PURCHASES_LOW, EXPECTED_PURCHASES_HIGH, EXPECTED_SPEND_LOW,
                                     EXPECTED_SPEND_HIGH)
#: Decimals the forecast is written with: hundredths of a purchase occasion are noise, pence are enough.
FORECAST_DECIMALS: dict[str, int] = {EXPECTED_PURCHASES: 4, P_ALIVE: 4, P_PURCHASE: 4, EXPECTED_SPEND: 2, CLV: 2,
                                     EXPECTED_PURCHASES_LOW: 4, EXPECTED_PURCHASES_HIGH: 4,
                                     EXPECTED_SPEND_LOW: 2, EXPECTED_SPEND_HIGH: 2}
#: Columns of the forecast, in order, as ``customer_segments.csv`` carries them.
FORECAST_COLUMNS: tuple[str, ...] = (EXPECTED_PURCHASES, P_ALIVE, P_PURCHASE, EXPECTED_SPEND, CLV, NO_FORECAST_REASON)

# --- customer_segments.csv: one row is one customer, every segmentation side by side ---
KMEANS_RFM_SEGMENT = "KMeans_RFM_Segment"
KMEANS_RFM_CLUSTER = "KMeans_RFM_Cluster"
SPEND_SEGMENT = "Spend_Segment"
SPEND_CLUSTER = "Spend_Cluster"
#: Columns of ``customer_segments.csv``, after CustomerID: what a marketing team acts on.
SEGMENT_EXPORT_COLUMNS: tuple[str, ...] = (
    RFM_SEGMENT,
    KMEANS_RFM_SEGMENT,
    KMEANS_RFM_CLUSTER,
    SPEND_SEGMENT,
    SPEND_CLUSTER,
    NOT_CLUSTERED_REASON,
    RECENCY_DAYS,
    FREQUENCY,
    TOTAL_BILL_SIZE,
    R_SCORE,
    F_SCORE,
    M_SCORE,
    FM_SCORE,
    RFM_SCORE,
    *FORECAST_COLUMNS,
    MOST_COMMON_LOCATION,
    TOP_ITEM,
)

# --- validation: one row is one segment of one segmentation -------------------------
SEGMENTATION = "segmentation"
#: 1 = the segment its segmentation promises buys again most (the order of the map, the spend level).
PROMISED_RANK = "promised_rank"
#: Share of the segment's customers with a purchase occasion in the outcome window.
SHARE_BOUGHT_AGAIN = "share_bought_again"
#: The segment's share of all the validated customers' net spend in the window.
SHARE_OF_NEXT_REVENUE = "share_of_next_revenue"
#: Mean net spend in the window per customer of the segment (those who bought nothing count as 0).
MEAN_NEXT_SPEND = "mean_next_Total_Bill_Size"
#: Spearman correlation, over customers, of the promised rank (best = highest) with next net spend.
RANK_CORRELATION = "rank_correlation"
#: Columns of ``validation.csv``, after segmentation and segment.
VALIDATION_COLUMNS: tuple[str, ...] = (
    PROMISED_RANK, CUSTOMERS, SHARE_BOUGHT_AGAIN, SHARE_OF_NEXT_REVENUE, MEAN_NEXT_SPEND, RANK_CORRELATION,
)

# --- the cleaning ledger: one row is one step of the cleaning --------------------
LEDGER_STEP = "step"
LEDGER_ROWS = "rows"
LEDGER_AMOUNT = "amount"
LEDGER_MEANING = "meaning"

# --- scoring with a saved model: one row is one customer, or one drift feature -------
#: Mean net spend per purchase occasion (Total_Bill_Size / Frequency): the "spend" of the drift check.
SPEND_PER_OCCASION = "Spend_Per_Occasion"
#: Features whose drift between the fitted data and a new file is measured (``model.population_stability``).
DRIFT_FEATURES: tuple[str, ...] = (RECENCY_DAYS, FREQUENCY, TOTAL_BILL_SIZE, SPEND_PER_OCCASION)
#: The population stability index of a feature, and whether it is above ``config.PSI_DRIFT``.
PSI = "psi"
DRIFTED = "drifted"
#: ``migration.csv``: rows the segment in the model's run, columns the segment now.
SEGMENT_BEFORE = "Segment_Before"
SEGMENT_NOW = "Segment_Now"
#: ``movers.csv``: net spend in the model's run and now.
SPEND_BEFORE = "Total_Bill_Size_Before"
SPEND_NOW = "Total_Bill_Size_Now"
#: Columns of ``movers.csv``, after CustomerID.
MOVER_COLUMNS: tuple[str, ...] = (SEGMENT_BEFORE, SEGMENT_NOW, SPEND_BEFORE, SPEND_NOW)
