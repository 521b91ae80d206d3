"""The models people train, as they feed them: keyword inputs with an
attention mask and a non-tensor ``use_cache=False``, labels with the ignore
index -100 on padding, Hugging Face's shifted causal-LM loss. Every route
(exact trace, Hutchinson, exact and matrix-free spectra) against an explicit
float64 Jacobian (reference_jacobian.py): a small masked LM written here,
and GPT-2 and Llama built from small Hugging Face configs (random weights,
no downloads; skipped with a message where transformers is missing), in the
plain loop and with the Hugging Face callback."""

import json
import warnings

import numpy as np
import pytest
import torch

from masked_lm import masked_lm, padded_batch
from reference_jacobian import assert_matches, explicit, relative
from spectop_probe import Probe, ProbeError, ProbeWarning

try:
    import transformers  # noqa: F401
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
    transformers.logging.set_verbosity_error()
    HAVE_TRANSFORMERS = True
except ImportError:
    HAVE_TRANSFORMERS = False

needs_transformers = pytest.mark.skipif(
    not HAVE_TRANSFORMERS, reason="transformers is not installed (scripts/install-python-deps.sh installs it; "
                                  "pip install transformers, which does not pull torch)")

VOCAB, BLOCK = 11, 6


def padded_labels(inputs):
    """Labels as a Hugging Face collator writes them: the tokens, -100 on padding."""
    return inputs["input_ids"].masked_fill(inputs["attention_mask"] == 0, -100)


def lm_batch(seed=1, items=3, lengths=(6, 4, 2)):
    inputs = padded_batch(seed=seed, items=items, block=BLOCK, vocab=VOCAB, lengths=lengths)
    return inputs, padded_labels(inputs)


def train_like(model):
    """Weights off their initial values (std 0.02, unit norms), as after some
    training: at initialisation the logits are nearly uniform and
    ‖∇L‖² = gᵀΘg is a 1e-8 cancellation of terms of size χ_loss·χ_net."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def gpt2(seed=0):
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=VOCAB, n_positions=BLOCK, n_embd=8, n_layer=1, n_head=2, resid_pdrop=0.0,
                        embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
    return train_like(GPT2LMHeadModel(config).double())


def llama(seed=0):
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=BLOCK,
                         bos_token_id=0, eos_token_id=0, pad_token_id=0)
    return train_like(LlamaForCausalLM(config).double())


def hf_models():
    if not HAVE_TRANSFORMERS:
        return []
    return [pytest.param(gpt2, id="gpt2"), pytest.param(llama, id="llama")]


# Llama's RMSNorm (and rotary embedding) compute in float32 whatever the
# model's dtype, so its numbers are float32-rounded: a single pullback of g
# and the explicit gᵀ(JJᵀ)g sum the float32-rounded terms in other orders
# and agree to ~2e-8. GPT-2 stays in float64 throughout.
TOLERANCE = {"gpt2": 1e-10, "llama": 1e-6}


# ---------------------------------------------------------------- a masked LM written here


@pytest.mark.parametrize("loss,causal", [("cross_entropy", False), ("causal_lm", True)])
def test_masked_lm_with_ignored_rows_equals_the_explicit_jacobian(loss, causal):
    """n counts the valid rows only (−100 and, for causal_lm, each sequence's
    last position leave it); the exact trace (whole-batch products: the mask
    defeats per-sample vmap) and spectrum equal the reference to 1e-10."""
    model = masked_lm(vocab=VOCAB, block=BLOCK)
    inputs, labels = lm_batch()
    ref = explicit(model, inputs, labels, causal=causal)
    assert ref["rows"] == (12 if not causal else 9)   # 6 + 4 + 2 tokens; one fewer per sequence shifted
    probe = Probe(model, inputs, labels, loss=loss, out=None, dtype=torch.float64, trace="exact")
    assert probe.rows == ref["rows"]
    result = probe.measure(0)
    assert_matches(result, ref)
    assert result.spectrum is not None and result.spectrum.method == "exact"
    eigenvalues = torch.tensor(result.spectrum.eigenvalues, dtype=torch.float64)
    assert len(eigenvalues) == ref["outputs"]
    assert float((eigenvalues - ref["eigenvalues"]).abs().max()) <= 1e-10 * float(ref["eigenvalues"][0])


def test_masked_lm_hutchinson_and_matrix_free_spectrum():
    model = masked_lm(vocab=VOCAB, block=BLOCK)
    inputs, labels = lm_batch()
    ref = explicit(model, inputs, labels, causal=True)
    probe = Probe(model, inputs, labels, loss="causal_lm", out=None, dtype=torch.float64, trace="hutchinson",
                  hutchinson_vectors=16, top_k=8)
    result = probe.measure(0)
    assert result.chi_net_estimate and result.hutchinson_vectors == 16
    assert_matches(result, ref, estimate=True)
    s = result.spectrum
    assert s.method == "lanczos" and s.mode_count == ref["outputs"]
    top = np.array(s.eigenvalues[:8])
    assert np.max(np.abs(top - ref["eigenvalues"][:8].numpy()) / ref["eigenvalues"][:8].numpy()) < 1e-8


def test_non_tensor_keywords_reach_the_model_unchanged():
    """use_cache=False (the masked LM asserts it) and None go through as given."""
    model = masked_lm(vocab=VOCAB, block=BLOCK)
    inputs, labels = lm_batch()
    seen = []
    original = model.forward

    def forward(input_ids, attention_mask=None, use_cache=False, note=None):
        seen.append((use_cache, note))
        return original(input_ids, attention_mask=attention_mask, use_cache=use_cache)

    model.forward = forward
    probe = Probe(model, {**inputs, "note": "as-is"}, labels, loss="cross_entropy", out=None, dtype=torch.float64,
                  spectrum=False)
    probe.measure(0)
    assert seen and set(seen) == {(False, "as-is")}
    with pytest.raises(ProbeError, match="holds no tensor"):
        Probe(model, {"use_cache": False}, labels, out=None)


def test_all_labels_ignored_is_refused():
    model = masked_lm(vocab=VOCAB, block=BLOCK)
    inputs, _ = lm_batch()
    with pytest.raises(ProbeError, match="every label.*-100"):
        Probe(model, inputs, torch.full((3, BLOCK), -100), loss="cross_entropy", out=None)
    with pytest.raises(ProbeError, match="labels shaped \\[batch, sequence\\]"):
        Probe(model, inputs, torch.zeros(3 * BLOCK, dtype=torch.long), loss="causal_lm", out=None)


def test_record_counts_valid_rows(tmp_path):
    model = masked_lm(vocab=VOCAB, block=BLOCK)
    inputs, labels = lm_batch()
    out = tmp_path / "lm.jsonl"
    with Probe(model, inputs, labels, loss="causal_lm", out=str(out), dtype=torch.float64, spectrum=False) as probe:
        probe.measure(0)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["data"]["probe"] == 9 and lines[0]["data"]["loss"] == "causal_lm"
    assert lines[1]["rows"] == 9


# ---------------------------------------------------------------- Hugging Face


@needs_transformers
@pytest.mark.parametrize("build", hf_models())
def test_causal_lm_loss_is_the_models_own(build):
    """loss="causal_lm" is model(**batch, labels=labels).loss (which
    Hugging Face computes in float32), and the reference's float64 one."""
    model = build()
    inputs, labels = lm_batch()
    probe = Probe(model, inputs, labels, loss="causal_lm", out=None, dtype=torch.float64, spectrum=False)
    result = probe.measure(0)
    model.eval()
    with torch.no_grad():
        own = float(model(**inputs, labels=labels).loss)
    assert result.loss == pytest.approx(own, rel=1e-6)
    assert relative(result.loss, explicit(model, inputs, labels, causal=True)["loss"]) <= 1e-12


@needs_transformers
@pytest.mark.parametrize("build", hf_models())
@pytest.mark.parametrize("trace", ["exact", "hutchinson"])
def test_hugging_face_models_equal_the_explicit_jacobian(build, trace):
    model = build()
    inputs, labels = lm_batch()
    ref = explicit(model, inputs, labels, causal=True)
    probe = Probe(model, inputs, labels, loss="causal_lm", out=None, dtype=torch.float64, trace=trace,
                  hutchinson_vectors=64, top_k=8)
    result = probe.measure(0)
    assert_matches(result, ref, TOLERANCE[build.__name__], estimate=trace == "hutchinson")
    s = result.spectrum
    assert s is not None and s.method == ("exact" if trace == "exact" else "lanczos")
    k = 8
    top = np.array(s.eigenvalues[:k])
    assert np.max(np.abs(top - ref["eigenvalues"][:k].numpy()) / ref["eigenvalues"][:k].numpy()) < max(
        1e-8, TOLERANCE[build.__name__])


@needs_transformers
def test_unshifted_labels_on_a_causal_lm_are_said_once():
    model = gpt2()
    inputs, labels = lm_batch(lengths=(6, 6, 6))
    with pytest.warns(ProbeWarning, match="causal_lm"):
        Probe(model, inputs, inputs["input_ids"], loss="cross_entropy", out=None, spectrum=False)
    _, padded = lm_batch()   # -100 on padding, the tokens elsewhere: still unshifted
    with pytest.warns(ProbeWarning, match="causal_lm"):
        Probe(model, lm_batch()[0], padded, loss="cross_entropy", out=None, spectrum=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProbeWarning)  # the right loss for labels = input_ids: nothing to say
        Probe(model, inputs, inputs["input_ids"], loss="causal_lm", out=None, spectrum=False).measure(0)


@needs_transformers
def test_trainable_readout_names_the_tied_embedding():
    model = gpt2()
    inputs, labels = lm_batch()
    with pytest.warns(ProbeWarning, match="lm_head.weight is tied to transformer.wte.weight|"
                                          "transformer.wte.weight is tied to lm_head.weight"):
        probe = Probe(model, inputs, labels, loss="causal_lm", out=None, trainable="readout", spectrum=False)
    assert probe.trainable == ["transformer.wte.weight"]
    untied = llama()  # tie_word_embeddings False: the readout alone, nothing to say
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProbeWarning)
        assert Probe(untied, inputs, labels, loss="causal_lm", out=None, trainable="readout",
                     spectrum=False).trainable == ["lm_head.weight"]


class TokenDataset(torch.utils.data.Dataset):
    def __init__(self, inputs, labels):
        self.inputs, self.labels = inputs, labels

    def __len__(self):
        return self.labels.shape[0]

    def __getitem__(self, index):
        return {"input_ids": self.inputs["input_ids"][index], "attention_mask": self.inputs["attention_mask"][index],
                "labels": self.labels[index]}


@needs_transformers
def test_hugging_face_callback_measures_the_trained_model(tmp_path):
    """Two optimizer steps of transformers.Trainer with the callback: the
    probe measures steps 0 and 2, and the last measurement equals the
    explicit Jacobian of the trained model."""
    pytest.importorskip("accelerate", reason="transformers.Trainer needs accelerate (scripts/install-python-deps.sh "
                                             "installs it with --no-deps)")
    from transformers import Trainer, TrainingArguments
    from spectop_probe.callbacks import huggingface_callback

    model = gpt2()
    train_inputs, train_labels = lm_batch(seed=4, items=8, lengths=(6, 5, 4, 3, 6, 5, 4, 3))
    probe_inputs, probe_labels = lm_batch()
    out = tmp_path / "hf.jsonl"
    probe = Probe(model, probe_inputs, probe_labels, loss="causal_lm", every=2, out=str(out), dtype=torch.float64,
                  trace="exact", name="gpt2")
    arguments = TrainingArguments(output_dir=str(tmp_path / "trainer"), max_steps=2, per_device_train_batch_size=4,
                                  learning_rate=1e-2, report_to=[], save_strategy="no", use_cpu=True,
                                  logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0)
    trainer = Trainer(model=model, args=arguments, train_dataset=TokenDataset(train_inputs, train_labels),
                      callbacks=[huggingface_callback(probe, log_to=None)])
    trainer.train()
    assert [m.step for m in probe.history] == [0, 2]
    ref = explicit(model, probe_inputs, probe_labels, causal=True)
    assert_matches(probe.history[-1], ref)
    first = explicit(gpt2(), probe_inputs, probe_labels, causal=True)
    assert_matches(probe.history[0], first)   # and the first one is the initial model's
    steps = [json.loads(line) for line in out.read_text().splitlines() if '"type":"step"' in line]
    assert [s["step"] for s in steps] == [0, 2] and all(s["rows"] == 9 for s in steps)


def test_cross_batch_of_a_masked_lm_counts_its_valid_rows():
    """A held-out batch B shaped like a tokenizer's (mask, -100 on padding,
    use_cache=False): its loss and ‖J^B‖_F are those of its counted rows,
    against B's own explicit Jacobian; δL(A, B) against both."""
    model = masked_lm(vocab=VOCAB, block=BLOCK)
    inputs, labels = lm_batch()
    held_inputs, held_labels = lm_batch(seed=9, lengths=(3, 6, 5))
    probe = Probe(model, inputs, labels, loss="causal_lm", out=None, dtype=torch.float64, trace="exact",
                  spectrum=False, cross_inputs=held_inputs, cross_targets=held_labels)
    result = probe.measure(0)
    a = explicit(model, inputs, labels, causal=True)
    b = explicit(model, held_inputs, held_labels, causal=True)
    cross = result.cross
    assert cross.rows == b["rows"] == 2 + 5 + 4
    assert relative(cross.loss, b["loss"]) <= 1e-12
    assert relative(cross.chi_net, (a["chi_net"] * b["chi_net"]) ** 0.5) <= 1e-10
    # δL(A, B) = g_Aᵀ J_A J_Bᵀ g_B from the two explicit Jacobians and residuals.
    g_a, g_b = _residual(model, inputs, labels), _residual(model, held_inputs, held_labels)
    dot = float((a["J"].T @ g_a) @ (b["J"].T @ g_b))
    assert relative(cross.grad_dot, dot) <= 1e-10


def _residual(model, inputs, labels):
    """(softmax − onehot)/n over the counted rows, flattened: the explicit g."""
    from reference_jacobian import logits_of, valid_rows
    rows, targets = valid_rows(labels, causal=True)
    model.eval()
    with torch.no_grad():
        F = logits_of(model(**inputs))
    F = F.reshape(-1, F.shape[-1]).index_select(0, rows)
    g = torch.softmax(F, 1)
    g[torch.arange(rows.numel()), targets] -= 1
    return (g / rows.numel()).reshape(-1)
