"""What a Chinese document may keep in English: symbols, numbers, code and the names of things
(activations, losses, layers, metrics). ``english_left(text)`` returns every other English word,
so that a test can assert a Chinese output has none (an untranslated sentence shows up as its
words). ``messages_in_code()`` collects every message the package passes to t() or N_()."""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "glassnet"

# Names, not prose: activations, losses, optimisers, metric keys, the trace's step labels (like
# "BP1"), the package, and the layer names of the models under test.
NAMES = {
    "glassnet",
    "sigmoid",
    "tanh",
    "relu",
    "softmax",
    "linear",
    "leaky",
    "elu",
    "gelu",
    "softplus",
    "quadratic",
    "crossentropy",
    "binary",
    "categorical",
    "sparse",
    "mse",
    "loss",
    "accuracy",
    "val",
    "forward",
    "cost",
    "update",
    "target",
    "notation",
    "dense",
    "hidden",
    "output",
    "sheet",
    "check",
    "sequential",
    "sgd",
    "adam",
    "nan",
    "inf",
    "x",
    "y",
    "net",
    "out",
    "hot",
    "one",
    "ln",
    "exp",
    "log",
    # people, papers and the library's own API, quoted in the advice
    "smith",
    "arxiv",
    "adamw",
    "dropout",
    "leakyrelu",
    "glorot",
    "xavier",
    "he",
    "earlystopping",
    "reducelronplateau",
    "rescaling",
    "normalization",
    "flatten",
    "clipnorm",
}
# The doctor's rule names (identifiers, printed beside their Chinese titles) and ||dW||.
NAMES |= {"overfitting", "underfitting", "saturation", "oscillation", "dw"}


def english_left(text: str) -> list[str]:
    """English words of ``text`` (HTML, Markdown or plain) outside math, code, quotes and
    names."""
    text = re.sub(r"<(style|script|math|pre|code|svg)\b.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    text = html.unescape(text)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]*\$", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"'[^'\n]*'", " ", text)  # quoted names: 'hidden', 'seed000'
    text = re.sub(r"[\w.]+\([^()]*\)", " ", text)  # calls: sheet.check(...), lr_find(model, x, y)
    words = re.findall(r"(?<![\w./=-])[A-Za-z]{2,}(?![\w(=./-])", text)
    return [w for w in words if w.lower() not in NAMES]


def messages_in_code() -> dict[str, str]:
    """Every literal message passed to t(...), i18n.t(...) or N_(...) in the package, with
    where it is."""
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            first = node.args[0]
            if name in ("t", "N_") and isinstance(first, ast.Constant):
                if isinstance(first.value, str):
                    where = f"{path.relative_to(SRC)}:{node.lineno}"
                    found.setdefault(first.value, where)
    return found
