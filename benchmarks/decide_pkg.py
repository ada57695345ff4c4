"""Make the new tiertool/decide/*.py modules importable while tiertool/decide.py still exists.

Branch `arch` turns tiertool/decide.py into the tiertool/decide/ package; until it lands, `tiertool.decide` is a
module and `import tiertool.decide.policy` fails. Importing this file first lends the module the folder as its
package path. Once tiertool/decide/__init__.py exists this does nothing: delete it and its imports then.
"""

from __future__ import annotations

from pathlib import Path

import tiertool.decide as _decide

if not hasattr(_decide, "__path__"):
    _decide.__path__ = [str(Path(_decide.__file__).with_suffix(""))]  # type: ignore[attr-defined]
