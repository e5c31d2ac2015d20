"""Numbers are written for people by one rule, chosen from the column's name."""

from __future__ import annotations

import pandas as pd

from segmentation import columns as c
from segmentation.presentation import present


def test_each_kind_of_number_is_written_its_own_way():
    assert present.money(1757248.58) == "£1,757,249"
    assert present.money(-12.4) == "−£12"
    assert present.money(272.5) == "£273" and present.money(-0.4) == "−£0.40"
    assert present.money(0.73) == "£0.73" and present.money(9.999) == "£10.00" and present.money(0) == "£0"
    assert present.share(0.0931) == "9.3%"
    assert present.count(4261) == "4,261"
    assert present.days(214.5) == "214.5" and present.days(12.0) == "12"
    assert present.decimal(0.42099) == "0.421"


def test_column_names_decide_the_kind():
    assert present.kind_of(c.TOTAL_BILL_SIZE) == "money"
    assert present.kind_of("median_" + c.TOTAL_BILL_SIZE) == "money"
    assert present.kind_of(c.LEDGER_AMOUNT) == "money"
    assert present.kind_of("share_of_revenue") == "share"
    assert present.kind_of("median_" + c.RECENCY_DAYS) == "days"
    assert present.kind_of(c.FREQUENCY) == "days"
    assert present.kind_of(c.SILHOUETTE) == ""
    assert present.kind_of(c.INERTIA) == "inertia"


def test_for_people_formats_cells_and_headers_and_keeps_rows():
    table = pd.DataFrame(
        {c.SEGMENT: ["Low spend", "High spend"], c.CUSTOMERS: [4261, 3], "share_of_spend": [0.749, 0.092],
         "max_" + c.TOTAL_BILL_SIZE: [23628.4, 346585.9], c.SILHOUETTE: [0.95612, 0.95612],
         c.STABLE: [True, False]},
        index=pd.Index([0, 2], name=c.CLUSTER),
    )
    shown = present.for_people(table)
    assert shown.to_dict(orient="list") == {
        "Segment": ["Low spend", "High spend"], "customers": ["4,261", "3"], "share of spend": ["74.9%", "9.2%"],
        "max Total Bill Size": ["£23,628", "£346,586"], "silhouette": ["0.956", "0.956"], "stable": ["yes", "no"],
    }
    assert shown.index.tolist() == ["0", "2"] and shown.index.name == "Cluster"


def test_multi_level_columns_take_the_kind_of_their_last_level():
    scans = pd.concat({"raw spend": pd.DataFrame({c.INERTIA: [1439.6], c.SILHOUETTE: [0.98776]}, index=[2])},
                      axis=1, names=["features", "measure"])
    shown = present.for_people(scans)
    assert shown[("raw spend", "silhouette")].tolist() == ["0.988"]
    assert shown[("raw spend", "inertia")].tolist() == ["1,439.6"]


def test_missing_values_are_blank_and_ids_keep_no_separator():
    table = pd.DataFrame({c.TOP_ITEM: ["MUG", None]}, index=pd.Index([12346, 15823], name=c.CUSTOMER_ID))
    shown = present.for_people(table)
    assert shown.index.tolist() == ["12346", "15823"]
    assert shown["Top Item"].tolist() == ["MUG", ""]


def test_describe_features_writes_each_row_in_its_features_unit():
    customers = pd.DataFrame({c.TOTAL_BILL_SIZE: [10.0, 20.0, 30.0, 1000.0], c.RECENCY_DAYS: [1, 2, 3, 4]})
    table = present.for_people_by_row(present.describe_features(customers, (c.TOTAL_BILL_SIZE, c.RECENCY_DAYS)))
    assert table.loc[c.TOTAL_BILL_SIZE].tolist() == ["4", "£265", "£18", "£25", "£273", "£1,000"]
    assert table.loc[c.RECENCY_DAYS].tolist() == ["4", "2.5", "1.8", "2.5", "3.2", "4"]
