"""Imports point downward only (shared/DESIGN.md §2), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "riskstream"

# package -> the internal packages it may import (besides itself, errors and settings-free leaves)
ALLOWED = {
    "events": {"errors"},
    "log": {"events", "errors"},
    "state": {"log", "errors"},
    "stream": {"log", "state", "events", "errors"},
    "sim": {"events", "log", "errors"},
    "fraud": {"stream", "events", "errors"},
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_the_layers_below(layer: str) -> None:
    for path in (PACKAGE / layer).rglob("*.py"):
        for module in _imports(path):
            parts = module.split(".")
            if parts[0] != "riskstream" or len(parts) < 2 or parts[1] == layer:
                continue
            assert parts[1] in ALLOWED[layer], f"{path.relative_to(PACKAGE)} imports {module}"


def test_only_the_kafka_backend_imports_confluent_kafka() -> None:
    for path in PACKAGE.rglob("*.py"):
        if (PACKAGE / "log" / "kafka") in path.parents:
            continue
        assert not any(m.split(".")[0] == "confluent_kafka" for m in _imports(path)), path
