"""Python source for a model: one nn.Module class a person could have written.

The class is an nn.Sequential built from the same `Call`s as engine.model's
build_model (engine.model_summary.layer_calls), so parameter names
("0.weight", "3.rnn.weight_ih_l0") match and a LayerDeck checkpoint's
state_dict loads into it. Helper modules (Recurrent,
SelfAttention, Residual, Branch, Permute) are copied from engine.blocks.modules when used.
"""
from __future__ import annotations

import inspect
import keyword

from engine.blocks import Call, fmt_shape
from engine.model_summary import BlockRow, ModelSummary, block_parts, layer_calls

INDENT = "    "
HELPERS = ("causal_mask", "Recurrent", "SelfAttention", "CausalEncoderLayer", "Residual", "Branch",
           "Permute", "PositionalEmbedding", "SequencePool",
           "PretrainedTextClassifier")  # in the order they are defined in the files
NEEDS = {"SelfAttention": ("causal_mask",), "CausalEncoderLayer": ("causal_mask",)}


def _value(v) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_value(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def render(call: Call, indent: str = "") -> str:
    """`nn.Conv2d(1, 16, kernel_size=3)`; a call too long for one line puts its arguments one per
    line, indented one level past `indent` (the indentation of the line it starts on)."""
    inner = indent + INDENT
    args = [render(a, inner) if isinstance(a, Call) else _value(a) for a in call.args]
    args += [f"{k}={_value(v)}" for k, v in call.kwargs.items()]
    func = call.func
    if func.startswith("custom:"):  # a user's block: its class, imported at the top of the file
        from engine.blocks.custom import class_name

        func = class_name(func)
    one_line = f"{func}({', '.join(args)})"
    if "\n" not in one_line and len(indent) + len(one_line) + 2 <= 100:
        return one_line
    return f"{func}(\n" + "".join(f"{inner}{a},\n" for a in args) + f"{indent})"


def _used_helpers(call: Call, found: set[str]) -> set[str]:
    if call.func in HELPERS or call.func.startswith("custom:"):
        found.add(call.func)
        found.update(NEEDS.get(call.func, ()))
    for a in call.args:
        if isinstance(a, Call):
            _used_helpers(a, found)
    return found


def _custom_imports(used: set[str]) -> list[str]:
    """`from my_package.modules import ScaledTanh` for each custom block the model uses."""
    from engine.blocks.custom import import_line

    return sorted({import_line(f) for f in used if f.startswith("custom:")})


def _class_name(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"{name!r} is not a valid Python class name")
    return name


def python_source(blocks: list, summary: ModelSummary, class_name: str = "Net") -> str:
    from engine.blocks import modules

    class_name = _class_name(class_name)
    top: list[BlockRow] = [r for r in summary.rows if r.depth == 0]
    calls = layer_calls(blocks, summary)
    helpers: set[str] = set()
    for c in calls:
        _used_helpers(c, helpers)

    lines = [
        f'"""{class_name}: a PyTorch model exported by LayerDeck.',
        "",
        f"Input: a batch of {fmt_shape(summary.input_shape)} tensors; output: {fmt_shape(summary.output_shape)} "
        "per sample.",
        f"Parameters: {summary.total_params:,}. To load trained weights:",
        "",
        f"    model = {class_name}()",
        '    model.load_state_dict(torch.load("weights.pt", weights_only=True))',
        '"""',
        "import torch",
        "from torch import nn",
        *_custom_imports(helpers),
        "",
    ]
    for name in HELPERS:
        if name in helpers:
            lines += ["", inspect.getsource(getattr(modules, name)).rstrip(), ""]
    body = []
    for call, row in zip(calls, top):
        code = render(call, INDENT * 3)
        comment = f"  # {row.number}: -> {fmt_shape(row.out_shape)}"
        if "\n" in code:
            first, rest = code.split("\n", 1)
            body.append(f"{INDENT * 3}{first}{comment}\n{rest},")
        else:
            body.append(f"{INDENT * 3}{code},{comment}")
    lines += [
        "",
        f"class {class_name}(nn.Sequential):",
        f'    """{fmt_shape(summary.input_shape)} -> {fmt_shape(summary.output_shape)}; '
        f'{summary.total_params:,} parameters."""',
        "",
        "    def __init__(self) -> None:",
        "        super().__init__(",
        *body,
        "        )",
        "",
        "",
        'if __name__ == "__main__":',
        f"    model = {class_name}()",
        f"    x = {_example_input(blocks, summary)}",
        "    print(model(x).shape)",
        "",
    ]
    return "\n".join(lines)


def _example_input(blocks: list, summary: ModelSummary) -> str:
    dims = ", ".join(str(d) for d in (2,) + tuple(summary.input_shape))
    type_, params, _ = block_parts(blocks[0])
    if type_ == "Embedding":  # ids, not floats
        return f"torch.randint(0, {params['num_embeddings']}, ({dims}))"
    return f"torch.randn({dims})"

