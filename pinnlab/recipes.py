"""A recipe: what differs between the runs of one compare (the model, the weighting, causal weights, the
optimiser), everything else being the setup they share.

In a link a recipe list is one parameter, ``recipes=M1,M2,mlp+ntk,mlp+fixed+causal``: each recipe is the paper's
method name (M1-M4) or ``model+weighting`` followed by its other fields where they differ from the default, a
switch by its name (``causal``), any other field as ``name=value`` (a value may hold a ``+`` itself:
``mlp+fixed+optimizer=adam+lbfgs``). Every value is checked against its registry
(``pinncore.models.MODELS``, ``pinncore.weighting.WEIGHTINGS``, ...); a malformed recipe is a ConfigError naming
``recipes``, the recipe's place in the list and what is wrong, in one line.

A new recipe field is one ``Recipe`` field (its default the RunConfig's, so that old links keep their meaning) and
one entry in ``CHOICES`` (the registry its values come from, for the dashboard's options and the checks).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from pinncore import METHODS, ConfigError, RunConfig

MAX_RECIPES = 4     # runs in one compare (a server's per-session limit is 4 as well)
MAX_TOKEN = 120     # characters of one recipe in a link


def _models() -> tuple[str, ...]:
    from pinncore.models import MODELS

    return tuple(MODELS)


def _optimizers() -> tuple[str, ...]:
    from pinncore.optim import OPTIMIZERS

    return tuple(OPTIMIZERS)


def _weightings() -> tuple[str, ...]:
    from pinncore.weighting import WEIGHTINGS

    return tuple(WEIGHTINGS)


@dataclass(frozen=True)
class Recipe:
    model: str = "mlp"          # RunConfig.model
    weighting: str = "fixed"    # RunConfig.weighting
    causal: bool = False        # RunConfig.causal
    optimizer: str = "adam"     # RunConfig.optimizer

    @classmethod
    def of_method(cls, method: str) -> "Recipe":
        model, weighting = METHODS[method]
        return cls(model=model, weighting=weighting)

    @classmethod
    def of_config(cls, config: RunConfig) -> "Recipe":
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)})

    def fields(self) -> dict[str, Any]:
        """The RunConfig fields this recipe sets."""
        return dataclasses.asdict(self)

    def config(self, **common: Any) -> RunConfig:
        """The RunConfig of this recipe on a shared setup (``common``: every other field)."""
        return RunConfig(**{**common, **self.fields()})

    @property
    def method(self) -> str | None:
        """M1..M4 when the recipe is one of the paper's presets."""
        return RunConfig(**self.fields()).method

    def label(self) -> str:
        return RunConfig(**self.fields()).label()

    def token(self) -> str:
        """The recipe as a link writes it (``M2``, ``mlp+ntk``, ``mlp+fixed+causal``)."""
        if self.method:
            return self.method
        parts = [self.model, self.weighting]
        for f in dataclasses.fields(self)[2:]:
            v = getattr(self, f.name)
            if v != f.default:
                parts.append(f.name if v is True else f"{f.name}={v}")
        return "+".join(parts)

    @classmethod
    def parse(cls, token: str) -> "Recipe":
        """A recipe from its link form; ConfigError (field ``recipe``) saying what is wrong."""
        token = token.strip()
        if token in METHODS:
            return cls.of_method(token)
        if len(token) > MAX_TOKEN:
            raise ConfigError("recipe", f"longer than {MAX_TOKEN} characters")
        parts = [p.strip() for p in token.split("+")]
        if len(parts) < 2 or not all(parts):
            raise ConfigError("recipe", f"'{token}' is not M1-M4 or MODEL+WEIGHTING[+causal]")
        values: dict[str, Any] = {"model": parts[0], "weighting": parts[1]}
        extras = {f.name: f for f in dataclasses.fields(cls)[2:]}
        parts = parts[:2] + _joined(parts[2:], extras)
        for part in parts[2:]:
            name, sep, text = part.partition("=")
            if name not in extras:
                raise ConfigError("recipe", f"unknown part '{part}'; allowed: {', '.join(extras)}")
            if name in values:
                raise ConfigError("recipe", f"'{name}' given twice")
            values[name] = _value(extras[name], text if sep else None)
        recipe = cls(**values)
        recipe.check()
        return recipe

    def check(self) -> None:
        """ConfigError unless every value is one its registry allows."""
        for name, allowed in CHOICES.items():
            v = getattr(self, name)
            if isinstance(v, bool):
                continue
            if v not in allowed():
                raise ConfigError("recipe", f"unknown {name} '{v}'; allowed: {', '.join(allowed())}")


# the registry each recipe field's values come from (a bool field is a switch)
CHOICES: dict[str, Callable[[], tuple[str, ...]]] = {"model": _models, "weighting": _weightings,
                                                     "optimizer": _optimizers}


def _joined(parts: list[str], extras: dict) -> list[str]:
    """The parts after MODEL+WEIGHTING, a part that is neither a field nor ``name=value`` put back into the value
    before it (``optimizer=adam``, ``lbfgs`` -> ``optimizer=adam+lbfgs``)."""
    out: list[str] = []
    for part in parts:
        if part not in extras and "=" not in part and out and "=" in out[-1]:
            out[-1] += "+" + part
        else:
            out.append(part)
    return out


def _value(f: dataclasses.Field, text: str | None) -> Any:
    if f.type in ("bool", bool):
        if text is None or text.lower() in ("1", "true", "on", "yes"):
            return True
        if text.lower() in ("0", "false", "off", "no"):
            return False
        raise ConfigError("recipe", f"'{f.name}={text}' must be on or off")
    if text is None or not text:
        raise ConfigError("recipe", f"'{f.name}' needs a value ({f.name}=...)")
    return text


DEFAULT = tuple(Recipe.of_method(m) for m in METHODS)  # the paper's M1-M4


def parse_recipes(text: str) -> list[Recipe]:
    """``M1,M2,mlp+ntk`` -> recipes; ConfigError naming ``recipes``, the recipe's place and the problem."""
    tokens = [t.strip() for t in str(text).split(",")]
    if not any(tokens):
        raise ConfigError("recipes", "empty: list 1 to 4 recipes, e.g. M1,M2 or mlp+ntk")
    if len(tokens) > MAX_RECIPES:
        raise ConfigError("recipes", f"{len(tokens)} recipes; a compare has at most {MAX_RECIPES}")
    out = []
    for i, token in enumerate(tokens, 1):
        try:
            out.append(Recipe.parse(token))
        except ConfigError as exc:
            shown = token if len(token) <= 40 else token[:39] + "…"
            raise ConfigError("recipes", f"recipe {i} '{shown}': {exc.reason}") from None
    return out


def format_recipes(recipes: Sequence[Recipe]) -> str:
    return ",".join(r.token() for r in recipes)
