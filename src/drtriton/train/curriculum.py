"""Curriculum over synthesizer difficulty levels: promote on held-out pass@1, fall back on collapse.

    cur = Curriculum(CurriculumConfig(levels=(1, 2, 5)))
    cur.observe(pass_at_1=0.6)  # -> "promote"; cur.level == 2
    state = cur.state_dict()    # saved in every checkpoint; Curriculum.from_state(cfg, state) resumes

The paper promotes at 50% held-out pass@1 through levels 1 -> 2 -> 5. A level that has been trained for
`patience` evaluations and still scores under `demote_below` falls back one level (the policy collapsed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drtriton.util.errors import UsageError


@dataclass(frozen=True)
class CurriculumConfig:
    """Levels in order and the thresholds that move between them."""

    levels: tuple[int, ...] = (1, 2, 5)  # the paper's ladder
    promote_above: float = 0.5  # held-out pass@1 that promotes (the paper: 50%)
    demote_below: float = 0.05  # a collapse: almost nothing passes any more
    patience: int = 3  # evaluations at a level before a collapse can demote it
    eval_every: int = 50  # RL steps between held-out evaluations
    # Where a fresh run starts (default the first level): a policy already past the threshold at the
    # first levels (measured before RL) need not spend RL steps re-proving it.
    start_level: int | None = None

    def __post_init__(self) -> None:
        levels = tuple(int(x) for x in self.levels)
        object.__setattr__(self, "levels", levels)
        if not levels or any(x < 1 for x in levels) or list(levels) != sorted(set(levels)):
            raise UsageError(f"curriculum.levels must be increasing positive ints, got {list(levels)}; "
                             "use e.g. [1, 2, 5]")
        if not 0.0 < self.promote_above <= 1.0:
            raise UsageError(f"curriculum.promote_above must be in (0, 1], got {self.promote_above}; use 0.5")
        if not 0.0 <= self.demote_below < self.promote_above:
            raise UsageError(f"curriculum.demote_below must be in [0, promote_above), got {self.demote_below}")
        if self.start_level is not None and self.start_level not in levels:
            raise UsageError(f"curriculum.start_level must be one of the levels {list(levels)}, "
                             f"got {self.start_level}")
        if self.patience < 1 or self.eval_every < 1:
            raise UsageError(f"curriculum.patience and eval_every must be >= 1, got {self.patience}, "
                             f"{self.eval_every}")


@dataclass
class Curriculum:
    config: CurriculumConfig
    index: int = 0  # position in config.levels
    evals_at_level: int = 0
    history: list[dict] = field(default_factory=list)  # every observation: step, level, pass@1, event

    @classmethod
    def start(cls, config: CurriculumConfig) -> Curriculum:
        """A fresh curriculum at config.start_level (or the first level)."""
        index = config.levels.index(config.start_level) if config.start_level is not None else 0
        return cls(config, index)

    @property
    def level(self) -> int:
        return self.config.levels[self.index]

    def observe(self, pass_at_1: float, step: int | None = None) -> str:
        """Records a held-out pass@1 at the current level; returns "promote", "demote" or "stay"."""
        self.evals_at_level += 1
        event = "stay"
        if pass_at_1 > self.config.promote_above and self.index + 1 < len(self.config.levels):
            event = "promote"
        elif (pass_at_1 < self.config.demote_below and self.index > 0
              and self.evals_at_level >= self.config.patience):
            event = "demote"
        self.history.append({"step": step, "level": self.level, "pass_at_1": pass_at_1, "event": event})
        if event != "stay":
            self.index += 1 if event == "promote" else -1
            self.evals_at_level = 0
        return event

    def state_dict(self) -> dict:
        return {"levels": list(self.config.levels), "index": self.index,
                "evals_at_level": self.evals_at_level, "history": list(self.history)}

    @classmethod
    def from_state(cls, config: CurriculumConfig, state: dict) -> Curriculum:
        if list(state.get("levels", [])) != list(config.levels):
            raise UsageError(f"checkpoint curriculum levels {state.get('levels')} differ from the config's "
                             f"{list(config.levels)}; resume with the same curriculum.levels")
        return cls(config, int(state["index"]), int(state["evals_at_level"]), list(state["history"]))
