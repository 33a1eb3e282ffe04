"""Writes openapi.yaml: the schema the app serves (with its `x-error-codes` table).

Run after changing any route: `.venv/bin/python scripts/export_openapi.py`. A test fails while the
file and the app disagree.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.app import create_app  # noqa: E402
from server.config import Settings  # noqa: E402
from server.openapi_doc import openapi_yaml  # noqa: E402

OPENAPI_PATH = ROOT / "openapi.yaml"


def current_schema() -> dict[str, Any]:
    """The app's schema as plain JSON data (what /openapi.json serves)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), secret_key="export")  # type: ignore[call-arg]
        app = create_app(settings, start_workers=False)
        schema = json.loads(json.dumps(app.openapi()))
        app.state.ctx.engine.dispose()
    return schema


def main() -> None:
    OPENAPI_PATH.write_text(openapi_yaml(current_schema()))
    print(f"wrote {OPENAPI_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
