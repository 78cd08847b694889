"""A checked rule: the definition a rule set compiles and a decision cites."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from riskstream.fraud.rules.catalogue import Action, ValueType
from riskstream.fraud.rules.nodes import Expr, Literal
from riskstream.fraud.rules.render import render, render_literal

__all__ = ["Rule"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One rule that passed the checker.

    ``condition`` is the typed-checked AST of its ``when`` clause; ``used_features`` the
    features it reads, in order of first use (what an explanation shows and what the model
    and the feature engine must provide); ``used_lists`` the named lists it tests.
    ``file``/``line``/``column`` say where it was written (not part of equality).
    """

    id: str
    version: int
    condition: Expr
    score: int | float = 0
    action: Action = Action.ALLOW
    shadow: bool = False
    description: str = ""
    used_features: tuple[str, ...] = ()
    used_lists: tuple[str, ...] = ()
    file: str = field(default="<rules>", compare=False)
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)

    @property
    def when(self) -> str:
        """The condition as canonical text."""
        return render(self.condition)

    def render(self) -> str:
        """The rule in canonical rule-file form (parses back to an equal rule)."""
        lines = [f"rule {self.id}", f"  version {self.version}"]
        if self.description:
            lines.append(f"  description {json.dumps(self.description, ensure_ascii=False)}")
        lines.append(f"  when {self.when}")
        lines.append(f"  score {render_literal(Literal(value=self.score, type=ValueType.NUMBER))}")
        lines.append(f"  action {self.action.value}")
        if self.shadow:
            lines.append("  shadow")
        return "\n".join(lines) + "\n"
