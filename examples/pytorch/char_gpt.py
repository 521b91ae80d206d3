"""A character-level GPT-style transformer, small enough for two CPU cores.

Shapes: tokens [B, T] (int64) -> logits [B, T, V]. Pre-norm blocks (causal
self-attention, then a GELU MLP), learned position embeddings, and an
untied linear readout ``lm_head``: untied so that the probe recognises it and
computes its share of χ_net in closed form, which keeps χ_net of a
body-frozen model exactly constant.

Attention is written out (softmax of a masked score matrix) rather than
through ``scaled_dot_product_attention``, so that forward- and
reverse-mode torch.func transforms work on every torch version.
"""

import math

import torch
from torch import nn


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, block: int, dropout: float):
        super().__init__()
        assert width % heads == 0, "width must be a multiple of heads"
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.tril(torch.ones(block, block, dtype=torch.bool)), persistent=False)

    def forward(self, x):                       # x [B, T, W]
        B, T, W = x.shape
        q, k, v = self.qkv(x).split(W, dim=-1)  # each [B, T, W]
        shape = (B, T, self.heads, W // self.heads)
        q, k, v = (t.reshape(shape).transpose(1, 2) for t in (q, k, v))  # [B, H, T, W/H]
        scores = q @ k.transpose(-2, -1) / math.sqrt(W // self.heads)    # [B, H, T, T]
        scores = scores.masked_fill(~self.mask[:T, :T], float("-inf"))
        attention = self.dropout(torch.softmax(scores, dim=-1))
        y = (attention @ v).transpose(1, 2).reshape(B, T, W)
        return self.dropout(self.proj(y))


class Block(nn.Module):
    def __init__(self, width: int, heads: int, block: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads, block, dropout)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width),
                                 nn.Dropout(dropout))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CharGPT(nn.Module):
    def __init__(self, vocab: int, block: int, width: int, depth: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.block = block
        self.token = nn.Embedding(vocab, width)
        self.position = nn.Embedding(block, width)
        self.blocks = nn.Sequential(*[Block(width, heads, block, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.lm_head = nn.Linear(width, vocab)
        self.width, self.depth = width, depth

    def forward(self, tokens):                  # tokens [B, T]
        T = tokens.shape[1]
        positions = torch.arange(T, device=tokens.device)
        x = self.token(tokens) + self.position(positions)
        return self.lm_head(self.norm(self.blocks(x)))  # [B, T, V]

    def freeze_body(self):
        """Only the readout trains: spectop's frozen model (random features)."""
        for name, p in self.named_parameters():
            p.requires_grad_(name.startswith("lm_head."))
        return self
