"""spectop-probe: spectop's LNP measurement (χ_loss, χ_net, χ_pos and the eNTK
spectrum, docs/METHOD.md) for any PyTorch model, written as a spectop record.

    from spectop_probe import Probe
    with Probe(model, x_probe, y_probe, loss="cross_entropy", every=100, out="run.jsonl", name="w256-active") as probe:
        for step in range(steps):
            train_step()
            probe.step(step + 1)
"""

__version__ = "0.1.0"

from .entk import entk_operator  # noqa: E402
from .errors import ProbeError, ProbeWarning  # noqa: E402
from .measure import Spectrum  # noqa: E402
from .probe import Measurement, Probe  # noqa: E402
from .record import merge_records  # noqa: E402
from .cross import Cross  # noqa: E402
from .schedule import LogSchedule  # noqa: E402
from .history import History  # noqa: E402
from .settings import (CrossBatchSettings, LoggingSettings, MeasurementSettings, RecordSettings,  # noqa: E402
                       SpectrumSettings)

__all__ = ["Probe", "Measurement", "Spectrum", "Cross", "LogSchedule", "ProbeError", "ProbeWarning", "merge_records",
           "entk_operator", "MeasurementSettings", "SpectrumSettings", "RecordSettings", "LoggingSettings",
           "CrossBatchSettings", "History", "__version__"]
