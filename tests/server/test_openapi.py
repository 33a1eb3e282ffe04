"""openapi.yaml is what the app serves, and the error table is the same in the contract, the code
and the document."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import yaml

from server.errors import HTTP_STATUS, ErrorCode

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "api-contract.md"  # in the repository: the test never skips


def _document() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "openapi.yaml").read_text()))


def test_openapi_yaml_is_what_the_app_serves(client: httpx.Client) -> None:
    served = client.get("/openapi.json").json()
    assert _document() == served, "openapi.yaml is stale: run scripts/export_openapi.py"


def test_the_document_names_every_route_of_the_contract(app: Any) -> None:
    paths = set(_document()["paths"])
    for path in (
        "/api/auth/anonymous-token",
        "/api/tasks/{user}/with-session/nemo_agent",
        "/run_sse",
        "/api/credits/balance/simple",
        "/api/state/nemo_agent/{user}/{session_id}/{version}",
        "/api/auth/claim-token",
        "/workspace/claim",
        "/healthz",
        "/metrics",
    ):
        assert path in paths, path


def _contract_table() -> set[tuple[int, int]]:
    text = CONTRACT.read_text()
    section = text[text.index("## Error codes") : text.index("## Endpoints")]
    rows = {(int(m[1]), int(m[2])) for m in re.finditer(r"^\| (\d+) \| (\d{3}) \|", section, re.M)}
    extensions = section[section.index("Extensions") :]
    rows |= {(int(m[1]), int(m[2])) for m in re.finditer(r"\b(\d{4})/(\d{3})\b", extensions)}
    return rows


def test_the_error_table_is_the_same_in_contract_code_and_openapi() -> None:
    contract = _contract_table()
    code = {(0, 200)} | {(int(c), HTTP_STATUS[c]) for c in ErrorCode}
    document = {(row["code"], row["http"]) for row in _document()["x-error-codes"]}
    assert contract == code == document
    assert len(contract) == 13


def test_error_answers_are_documented_with_the_envelope() -> None:
    doc = _document()
    run_sse = doc["paths"]["/run_sse"]["post"]["responses"]
    assert {"200", "400", "401", "402", "404", "429"} <= set(run_sse)
    assert all("422" not in op["responses"] for item in doc["paths"].values() for op in item.values())
    assert json.dumps(doc).count("ErrorEnvelope") > 5
