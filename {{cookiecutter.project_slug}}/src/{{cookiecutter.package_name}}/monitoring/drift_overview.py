"""The first table of the drift report: every column's drift test, its score and verdict.

The report draws a chart only for the predictions and the drifted features (a chart costs
time and megabytes per column), so without this table the stable features would not appear
in it at all. It is an Evidently metric of its own, rendered like Evidently's, whose rows
are the results of the tests already run (``drift_tests``): it computes nothing again.
"""

from typing import Any

import pandas as pd
from evidently.core.metric_types import DataframeCalculation, DataframeMetric
from evidently.legacy.renderers.html_widgets import WidgetSize, table_data

TITLE = "Drift of every column (the charts below show the drifted ones)"
HEADER = ["column", "test", "score", "threshold", "verdict"]


class DriftOverview(DataframeMetric):  # type: ignore[misc]  # Evidently ships no type hints
    """Rows of ``HEADER``, one per column, drifted first."""

    rows: list[list[str]]


class DriftOverviewCalculation(DataframeCalculation[DriftOverview]):  # type: ignore[misc]
    """Shows the rows as one table, all on one page."""

    def display_name(self) -> str:
        """The table's title."""
        return TITLE

    def calculate(self, context: Any, current_data: Any, reference_data: Any) -> tuple[Any, None]:
        """The rows as a DataFrame (the JSON report), drawn as a table (the HTML report)."""
        rows: list[list[str]] = self.metric.rows
        value = self.result(pd.DataFrame(rows, columns=HEADER))
        table = table_data(title=TITLE, column_names=HEADER, data=rows, size=WidgetSize.FULL)
        table.pageSize = max(len(rows), 1)
        value.widget = [table]
        return value, None
