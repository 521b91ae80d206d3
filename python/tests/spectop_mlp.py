"""spectop's MLP rebuilt in torch from a state dump (docs/USAGE.md, "State dump";
the same reading of the manifest as scripts/check_dump.py)."""

import json
import math
import os

import numpy as np
import torch
from torch import nn

ACTIVATIONS = {
    "identity": lambda h: h,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "gelu": lambda h: nn.functional.gelu(h),  # the exact erf form, as spectop's "gelu"
    "gelu_tanh": lambda h: nn.functional.gelu(h, approximate="tanh"),
}


class ScaledLinear(nn.Module):
    """h = s * (a @ W.T) + t * b: spectop's layer with its multipliers."""

    def __init__(self, weight, bias, s, t, activation):
        super().__init__()
        self.weight = nn.Parameter(torch.as_tensor(weight))
        self.bias = nn.Parameter(torch.as_tensor(bias))
        self.s, self.t = float(s), float(t)
        self.activation = ACTIVATIONS[activation]

    def forward(self, a):
        return self.activation(self.s * (a @ self.weight.T) + self.t * self.bias)


class DumpedMLP(nn.Sequential):
    pass


def load_dump_model(folder):
    """(model, manifest) with the trainable flags set as the manifest says:
    a frozen model ("trainable": "readout") trains its last layer alone."""
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    layers = []
    for layer in manifest["layers"]:
        w = np.load(os.path.join(folder, layer["weight"]))
        b = np.load(os.path.join(folder, layer["bias"]))
        layers.append(ScaledLinear(w, b, layer["weight_multiplier"], layer["bias_multiplier"], layer["activation"]))
    model = DumpedMLP(*layers)
    if manifest["trainable"] == "readout":
        for layer in layers[:-1]:
            layer.weight.requires_grad_(False)
            layer.bias.requires_grad_(False)
    return model, manifest


def load_probe(folder, manifest):
    x = torch.from_numpy(np.load(os.path.join(folder, manifest["probe_x"])))
    y = torch.from_numpy(np.load(os.path.join(folder, manifest["probe_y"])))
    return x, y
