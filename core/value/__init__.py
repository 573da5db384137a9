"""Value models for rows that arrive later: predict a row's value (a score, or a keep/drop decision)
from its features, backtest the selections it would make against random rows on the scored data,
and report how far a new batch lies from what the model saw.

``model.py`` (the model, its file format, fitting and selecting), ``fit.py`` (the small models as
plain weight arrays), ``backtest.py`` (the backtest and the default strategy it chooses) and
``drift.py`` (the distance of a new batch, and ``cover``). The same names stay importable from
:mod:`core.search`, where they lived before.
"""

from core.value.backtest import KEEPS as BACKTEST_KEEPS
from core.value.backtest import describe_entry as describe_backtest
from core.value.model import DECISION_COLUMN, ValueModel, cover_gaps, fit_value_model, load_value_model

__all__ = ["ValueModel", "fit_value_model", "load_value_model", "cover_gaps", "BACKTEST_KEEPS", "describe_backtest",
           "DECISION_COLUMN"]
