"""The ``Doctor`` callback and ``diagnose``: the rules of ``rules.py`` applied to a run.

``Doctor`` watches a fit: at every epoch end (and, with ``check_every=K``, every K batches for
the fast signals: a NaN or exploding loss, unscaled inputs) it runs the rules on the History
so far, prints each new finding once, keeps them on ``history.findings``, and prints a short
summary when training ends. ``diagnose(history, model)`` replays the same rules epoch by epoch
over a finished History, so it finds the same things at the same epochs.
"""

from __future__ import annotations

import re
import shutil
import sys
import textwrap
import unicodedata
from collections.abc import Iterable
from typing import IO, Any

from .. import i18n
from ..errors import InvalidArgumentError, UnknownNameError
from ..i18n import t
from ..training.callbacks import Callback
from .rules import RULE_NAMES, RULES, SUPERSEDED_BY, Finding, Findings, Rule, RunView

__all__ = ["Doctor", "diagnose", "evaluate"]


def _select_rules(rules: Iterable[str] | None, where: str) -> list[Rule]:
    if rules is None:
        return list(RULES.values())
    if isinstance(rules, str):
        rules = [rules]
    chosen = []
    for name in rules:
        if name not in RULES:
            raise UnknownNameError(
                f"{where}: unknown rule {name!r}; the rules are {', '.join(RULE_NAMES)}"
            )
        chosen.append(RULES[name])
    return chosen


def evaluate(
    view: RunView, rules: Iterable[Rule], seen: set[tuple[str, str | None, str]]
) -> list[Finding]:
    """Run ``rules`` on ``view``; return the findings whose key is not in ``seen``
    (and add them to it). A rule superseded by one already found is not reported."""
    new: list[Finding] = []
    for rule in rules:
        for finding in rule(view):
            if finding.key in seen:
                continue
            found_rules = {key[0] for key in seen} | {f.rule for f in new}
            if any(s in found_rules for s in SUPERSEDED_BY.get(finding.rule, ())):
                continue
            seen.add(finding.key)
            new.append(finding)
    return new


def diagnose(
    history: Any,
    model: Any = None,
    rules: Iterable[str] | None = None,
    lang: str | None = None,
    x: Any = None,
) -> Findings:
    """The doctor's findings for a finished run, post hoc (``history.findings`` is untouched).

    ``history``: what fit returned (a History; its ``telemetry`` enables the per-layer rules);
    ``model``: the model, for its loss and optimiser (optional); ``rules``: names of the rules
    to run (default all of ``RULES``). Each finding's ``epoch`` is the first epoch at which
    the evidence seen so far was enough, as the Doctor callback would have reported it.
    ``lang``: "en" (default) or "zh", the language of the findings' evidence and advice.
    ``x``: a batch of inputs (with ``model``) to judge the filters of Conv → BatchNormalization
    → Activation blocks after their activation; the model's final weights are all there is
    after training, so those findings carry the last epoch.
    """
    if not hasattr(history, "history") or not hasattr(history, "epoch"):
        raise InvalidArgumentError(
            f"diagnose: history must be the History returned by fit, received "
            f"{type(history).__name__}"
        )
    chosen = _select_rules(rules, "diagnose")
    seen: set[tuple[str, str | None, str]] = set()
    found: list[Finding] = []
    with i18n.in_lang(lang):
        for epoch in sorted(set(int(e) for e in history.epoch)):
            found += evaluate(RunView.from_history(history, model, epoch), chosen, seen)
        found += evaluate(RunView.from_history(history, model, x=x), chosen, seen)
    return Findings(found)


def text_width() -> int:
    """The width the doctor wraps its text to: the terminal's (``COLUMNS`` or the terminal
    itself, 80 when neither is known), at least 40."""
    return max(40, shutil.get_terminal_size((80, 24)).columns)


# Runs of Latin text (words, numbers, code) stay whole; any other character may end a line.
_TOKENS = re.compile(r"\s+|[!-~]+|.")


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fill(text: str, width: int, first: str, rest: str) -> str:
    """``textwrap.fill`` for text that may be Chinese: a Chinese character takes two columns
    and a line may break between any two of them (textwrap breaks only at spaces)."""
    if all(ord(c) < 0x2E80 for c in text):
        return textwrap.fill(text, width=width, initial_indent=first, subsequent_indent=rest)
    lines, line = [], first
    for token in _TOKENS.findall(text):
        if line.strip() and _columns(line) + _columns(token.rstrip()) > width:
            lines.append(line.rstrip())
            line = rest
            if token.isspace():
                continue
        line += token
    lines.append(line.rstrip())
    return "\n".join(lines)


class Doctor(Callback):
    """A callback that diagnoses the run while it trains: ``fit(..., callbacks=[Doctor()])``.

    At each epoch end it runs the rules (``RULES``; or only the names in ``rules``) on the
    History and Telemetry so far, prints every new finding once, and appends it to
    ``history.findings``; at the end of fit it prints a one-line-per-finding summary.
    ``check_every=K`` also runs the fast rules (NaN or blown-up loss, unscaled inputs) every
    K batches (their findings are printed at the epoch end, not across the progress bar).
    ``verbose`` (default: fit's) 0 prints nothing; ``stream`` defaults to fit's stream when fit
    passes one in ``params``, else stdout. The findings are also on ``doctor.findings``.
    ``lang``: "en" or "zh" for what it finds and prints (default: the language current when
    training starts, English unless ``glassnet.i18n.using("zh")`` or ``--lang zh`` set it).
    ``x``: a batch of inputs (e.g. ``x_train[:256]``) run through the model at each epoch end
    to judge the filters of Conv → BatchNormalization → Activation blocks on the activation
    after the normalisation (telemetry sees only the convolution's own, linear, z).
    """

    #: fit runs it after History, whose epoch it reads
    reads_history = True

    def __init__(
        self,
        rules: Iterable[str] | None = None,
        check_every: int | None = None,
        verbose: int | None = None,
        stream: IO[str] | None = None,
        lang: str | None = None,
        x: Any = None,
    ) -> None:
        super().__init__()
        if x is not None:
            from .conv_rules import check_probe

            x = check_probe(x, "Doctor")
        self.x = x
        self.lang = None if lang is None else i18n.check_lang(lang)
        self._lang = self.lang or "en"
        self.rules = _select_rules(rules, "Doctor")
        if check_every is not None and (
            isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 1
        ):
            raise InvalidArgumentError(
                f"Doctor: check_every must be an integer >= 1 or None, "
                f"received check_every={check_every!r}"
            )
        if verbose is not None and verbose not in (0, 1, 2):
            raise InvalidArgumentError(
                f"Doctor: verbose must be 0, 1, 2 or None (fit's), received verbose={verbose!r}"
            )
        self.check_every = check_every
        self.verbose = verbose
        self.stream = stream
        self.findings: Findings = Findings()
        self._seen: set[tuple[str, str | None, str]] = set()
        self._pending: list[Finding] = []
        self._epoch = 0
        self._epochs_seen = 0
        self._batches = 0

    # -- plumbing ----------------------------------------------------------------------------------
    def _wants_batches(self) -> bool:
        return self.check_every is not None

    def _history(self) -> Any:
        return getattr(self.model, "history", None) if self.model is not None else None

    def _out(self) -> IO[str]:
        if self.stream is not None:
            return self.stream
        stream = self.params.get("stream") if isinstance(self.params, dict) else None
        return stream if stream is not None else sys.stdout

    def _loud(self) -> bool:
        verbose = self.verbose if self.verbose is not None else self.params.get("verbose", 1)
        return bool(verbose)

    def _run(self, epoch: int | None, fast_only: bool = False) -> list[Finding]:
        history = self._history()
        if history is None:
            return []
        probe = None if fast_only else self.x
        view = RunView.from_history(history, self.model, epoch, x=probe)
        rules = [r for r in self.rules if r.fast] if fast_only else self.rules
        with i18n.using(self._lang):
            new = evaluate(view, rules, self._seen)
        self.findings.extend(new)
        if history.findings is not self.findings:
            history.findings.extend(f for f in new if f not in history.findings)
        return new

    def _print(self, findings: list[Finding]) -> None:
        if not findings or not self._loud():
            return
        out = self._out()
        width = text_width()
        for f in findings:
            with i18n.using(self._lang):
                head = t("Doctor: {head}: {evidence}").format(head=f._head(), evidence=f.evidence)
                space = " " if self._lang == "en" else ""
                suggestion = t("Suggestion:") + space + f.suggestion
            print(_fill(head, width, "", "    "), file=out)
            print(_fill(suggestion, width, "    ", "    "), file=out)
        out.flush()

    # -- hooks -------------------------------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._lang = self.lang or i18n.current()
        self.findings = Findings()
        self._seen = set()
        self._pending = []
        self._epochs_seen = 0
        self._batches = 0
        history = self._history()
        if history is not None:
            history.findings = self.findings

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.check_every is None:
            return
        self._batches += 1
        if self._batches % self.check_every == 0:
            self._pending.extend(self._run(self._epoch, fast_only=True))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epochs_seen += 1
        new = self._pending + self._run(epoch)
        self._pending = []
        self._print(new)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        new = self._pending + self._run(None)
        self._pending = []
        self._print(new)
        if not self._loud():
            return
        out = self._out()
        with i18n.using(self._lang):
            for line in self._summary():
                print(line, file=out)
        out.flush()

    def _summary(self) -> list[str]:
        """The end-of-training lines, in the current language."""
        n_rules, epochs = len(self.rules), self._epochs_seen
        if not self.findings:
            if i18n.current() == "en":
                return [
                    f"Doctor: no problems found ({n_rules} rules checked over "
                    f"{epochs} epoch{'s' if epochs != 1 else ''})."
                ]
            return [
                t("Doctor: no problems found ({rules} rules checked over {epochs} epochs).").format(
                    rules=n_rules, epochs=epochs
                )
            ]
        n = len(self.findings)
        if i18n.current() == "en":
            lines = [
                f"Doctor: {n} problem{'s' if n != 1 else ''} found (details in history.findings):"
            ]
        else:
            lines = [t("Doctor: {n} problems found (details in history.findings):").format(n=n)]
        for f in self.findings:
            if i18n.current() == "en":
                where = f" in {f.layer}" if f.layer else ""
                lines.append(f"  - {f.severity}: {f.rule}{where}, from epoch {f.epoch + 1}")
            else:
                where = t(" in {layer}").format(layer=f.layer) if f.layer else ""
                lines.append(
                    t("  - {severity}: {title} ({rule}){where}, from epoch {epoch}").format(
                        severity=t(f.severity),
                        title=t(RULES[f.rule].title),
                        rule=f.rule,
                        where=where,
                        epoch=f.epoch + 1,
                    )
                )
        return lines

    # -- checkpoints -------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """The findings so far (JSON-friendly), so a resumed fit does not report them again."""
        return {"findings": [f.as_dict() for f in self.findings], "epochs_seen": self._epochs_seen}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what ``get_state`` returned (fit calls it after ``on_train_begin``)."""
        restored = [Finding(**f) for f in state.get("findings", [])]
        self.findings[:] = restored
        self._seen = {f.key for f in restored}
        self._epochs_seen = int(state.get("epochs_seen", 0))
        history = self._history()
        if history is not None and history.findings is not self.findings:
            history.findings = self.findings

    def __repr__(self) -> str:
        names = ", ".join(r.name for r in self.rules)
        return f"Doctor(rules=[{names}], check_every={self.check_every})"
