"""What every benchmark shares: where the project and the evaluation data are, and the project
on the import path (so `tests.fakes` can be imported too). Import it before anything else:

    from common import ROOT, SQUAD
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EVAL = ROOT.parent / "shared" / "eval"
SQUAD = EVAL / "squad" / "dev-v1.1.json"
SQUAD2 = EVAL / "squad2" / "dev-v2.0.json"
SCIFACT = EVAL / "scifact"
