"""A LayerDeck block plugin used by the tests: what a user's package looks like.

Its dist-info beside it declares the entry point
`[layerdeck.blocks] testblocks = layerdeck_testblocks:BLOCKS`, so with this
folder on sys.path importlib.metadata finds it like an installed package.
The declarations name their classes by import path: loading the plugin does
not import torch.
"""

BLOCKS = [
    {"type": "ScaledTanh", "class": "layerdeck_testblocks.modules:ScaledTanh",
     "doc": "tanh(x) times a fixed scale.",
     "params": [{"name": "scale", "type": "float", "default": 2.0, "help": "Output scale."}]},
    {"type": "GatedLinear", "class": "layerdeck_testblocks.modules:GatedLinear",
     "doc": "A linear layer whose output is gated by a sigmoid of a second one (GLU).",
     "params": [{"name": "out_features", "type": "int", "default": 16, "min": 1, "required": True,
                 "help": "Number of output values."}],
     "input_arg": "in_features",
     "shape": lambda s, p: s[:-1] + (p["out_features"],)},
    {"type": "TopHalf", "class": "layerdeck_testblocks.modules:TopHalf",
     "doc": "Keeps the first half of the channels of (channels, height, width).",
     "params": []},
]
