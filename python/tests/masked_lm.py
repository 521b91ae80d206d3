"""A small causal transformer LM shaped like a Hugging Face one: keyword
inputs (``input_ids``, ``attention_mask``, a non-tensor ``use_cache``), a
padding mask applied only when the batch has padding (data-dependent Python
control flow, which per-sample ``vmap`` cannot trace), right padding, and
attention through ``scaled_dot_product_attention`` (``sdpa=True``: the fused
CPU kernel, whose backward has no derivative of its own) or written out."""

import math

import torch
from torch import nn


class MaskedBlock(nn.Module):
    def __init__(self, width, heads, sdpa):
        super().__init__()
        self.heads, self.sdpa = heads, sdpa
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def forward(self, x, allowed):            # x [B, T, W], allowed [B, 1, T, T] (bool)
        B, T, W = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(W, dim=-1)
        q, k, v = (t.reshape(B, T, self.heads, W // self.heads).transpose(1, 2) for t in (q, k, v))
        if self.sdpa:
            y = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        else:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(W // self.heads)
            y = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, W))
        return x + self.mlp(self.norm2(x))


class MaskedLM(nn.Module):
    def __init__(self, vocab=7, block=6, width=8, heads=2, depth=1, sdpa=False):
        super().__init__()
        self.token = nn.Embedding(vocab, width)
        self.position = nn.Embedding(block, width)
        self.blocks = nn.ModuleList([MaskedBlock(width, heads, sdpa) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)

    def forward(self, input_ids, attention_mask=None, use_cache=False):
        assert use_cache is False  # a non-tensor keyword passed through unchanged
        B, T = input_ids.shape
        allowed = torch.ones(T, T, dtype=torch.bool, device=input_ids.device).tril()[None, None].expand(B, 1, T, T)
        if attention_mask is not None and not bool(attention_mask.all()):
            # Keys at padded positions are hidden, as in Hugging Face models: a
            # padded query attends to the real tokens before it, and one with
            # no visible key (left padding) to itself.
            allowed = allowed & attention_mask.bool()[:, None, None, :]
            alone = ~allowed.any(dim=-1, keepdim=True)
            allowed = allowed | (alone & torch.eye(T, dtype=torch.bool, device=input_ids.device))
        x = self.token(input_ids) + self.position(torch.arange(T, device=input_ids.device))
        for block in self.blocks:
            x = block(x, allowed)
        return self.head(self.norm(x))       # [B, T, vocab]


def masked_lm(seed=0, sdpa=False, dtype=torch.float64, **sizes):
    torch.manual_seed(seed)
    model = MaskedLM(sdpa=sdpa, **sizes).to(dtype)
    with torch.no_grad():  # train-like weights, not LayerNorm's symmetric 1/0
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def padded_batch(seed=1, items=3, block=6, vocab=7, lengths=(6, 4, 2)):
    """Token ids with right padding (id 0) and its attention mask."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (items, block), generator=generator)
    mask = torch.zeros(items, block, dtype=torch.long)
    for row, length in enumerate(lengths[:items]):
        mask[row, :length] = 1
    return {"input_ids": ids * mask, "attention_mask": mask, "use_cache": False}
