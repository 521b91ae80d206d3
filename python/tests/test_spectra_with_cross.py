"""Matrix-free spectra together with the cross-batch measurement, log
schedules and log_to (the two branches' features at once).

- A cross batch B never enters the spectrum: with an exact trace (no draws
  from the probe's generator) the matrix-free spectrum of A is the one
  taken without B, and with Hutchinson traces on both sides its χ_pos is
  λ_eff over A's χ_net; the step carries B's fields beside it.
- A log schedule's early windows measure every step, so matrix-free spectra
  are spaced by training wall time (spectrum_share), not by measurements.
- The Hutchinson vector budget leaves a spectrum's own seconds out.
- log_to sends a matrix-free spectrum's numbers with its r_eff uncertainty,
  and the cross fields of the same step.
"""

import json
import time

import pytest
import torch

from masked_lm import masked_lm, padded_batch
from spectop_probe import LogSchedule, Probe
from test_against_jacobian import BLOCK, ITEMS, VOCAB, batch, tiny_lm


def lm_batch(seed, items=6, block=8, vocab=11):
    lengths = [block - ((i + seed) % 4) for i in range(items)]  # right padding of 0..3 tokens
    inputs = padded_batch(seed=seed, items=items, block=block, vocab=vocab, lengths=lengths)
    del inputs["use_cache"]
    return inputs, torch.roll(inputs["input_ids"], -1, dims=1)


def model():
    return masked_lm(seed=3, vocab=11, block=8, width=8, depth=1)


def test_a_cross_batch_never_enters_the_spectrum(tmp_path):
    """A model the exact trace can take (the per-sample route), so that no
    Hutchinson vector is drawn and the spectra's starts are the same."""
    (a, ya), (b, yb) = batch(1), batch(4)
    options = dict(loss="cross_entropy", dtype=torch.float64, trace="exact", spectrum_method="lanczos", top_k=8,
                   spectrum_share=None)
    alone = Probe(tiny_lm(), a, ya, out=None, **options).measure(0)
    sent = []
    out = tmp_path / "r.jsonl"
    crossed = Probe(tiny_lm(), a, ya, out=str(out), cross_inputs=b, cross_targets=yb,
                    log_to=lambda metrics, step: sent.append((step, metrics)), **options).measure(0)
    assert crossed.cross is not None and crossed.cross.rows == ITEMS * BLOCK
    s, t = crossed.spectrum, alone.spectrum
    assert s.method == t.method == "lanczos" and s.mode_count == t.mode_count == ITEMS * BLOCK * VOCAB
    assert max(abs(x - y) / y for x, y in zip(s.eigenvalues, t.eigenvalues)) <= 1e-8
    assert max(abs(x - y) for x, y in zip(s.weights, t.weights)) <= 1e-10
    assert s.lambda_eff == pytest.approx(t.lambda_eff, rel=1e-10)
    assert s.chi_pos_exact == pytest.approx(t.chi_pos_exact, rel=1e-10)
    assert crossed.chi_net == alone.chi_net
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    step = next(l for l in lines if l["type"] == "step")
    spectrum = next(l for l in lines if l["type"] == "spectrum")
    assert step["cross_rows"] == ITEMS * BLOCK and "cross_chi_pos" in step
    assert spectrum["method"] == "lanczos" and not any(key.startswith("cross") for key in spectrum)
    # log_to: the spectrum's numbers (its r_eff uncertainty too) and the cross fields of the same step.
    ((logged_step, metrics),) = sent
    assert logged_step == 0
    assert metrics["spectop/r_eff"] == s.r_eff and metrics["spectop/r_eff_uncertainty"] == s.r_eff_uncertainty
    assert metrics["spectop/lambda_eff"] == s.lambda_eff and metrics["spectop/effective_rank"] == s.effective_rank
    assert metrics["spectop/cross_chi_pos"] == crossed.cross.chi_pos
    exact = []
    Probe(tiny_lm(), a, ya, out=None, loss="cross_entropy", dtype=torch.float64, spectrum_method="exact",
          log_to=lambda metrics, step: exact.append(metrics)).measure(0)
    assert "spectop/r_eff" in exact[0] and "spectop/r_eff_uncertainty" not in exact[0]


def test_hutchinson_on_both_batches_with_a_matrix_free_spectrum():
    """χ_pos of the spectrum is λ_eff over A's (estimated) χ_net, never B's;
    the budget's cost per vector is the trace's own time (of A, B's counted
    apart), the spectrum's seconds left out."""
    (a, ya), (b, yb) = lm_batch(2), lm_batch(5)
    probe = Probe(model(), a, ya, loss="cross_entropy", out=None, dtype=torch.float64, trace="hutchinson",
                  hutchinson_vectors=3, top_k=8, spectrum_share=None, cross="train", every=1, budget=1e6)
    m = probe.step(0, cross_batch=(b, yb))
    assert m.chi_net_estimate and m.cross is not None and m.cross.estimate
    assert m.spectrum.method == "lanczos" and "Hutchinson" in m.spectrum.method_reason
    assert m.spectrum.chi_pos_exact == pytest.approx(m.spectrum.lambda_eff / m.chi_net, rel=1e-12)
    costs = probe._budget.costs
    assert costs.product is not None and costs.vector is not None
    assert costs.vector * m.hutchinson_vectors < m.seconds - m.spectrum.seconds
    assert costs.product == pytest.approx(m.spectrum.seconds / m.spectrum.products, rel=0.05)


def test_a_log_schedule_spaces_matrix_free_spectra_by_time_not_measurements():
    """LogSchedule(1, 5) measures steps 0-5 back to back and 10-14: with
    (almost) no training between steps 0-5 only the first takes a
    spectrum; a pause before step 10 of many times the first spectrum's
    cost lets the next one through."""
    a, ya = lm_batch(2)
    probe = Probe(model(), a, ya, loss="cross_entropy", out=None, dtype=torch.float64, trace="hutchinson",
                  hutchinson_vectors=2, top_k=8, spectrum_share=0.25, every=LogSchedule(points_per_decade=1, window=5))
    taken = {}
    first = None
    for step in range(11):
        if step == 10:
            time.sleep(max(0.05, 8 * first.spectrum.seconds))
        result = probe.step(step)
        if result is not None:
            taken[step] = result.spectrum is not None
            first = first or result
    assert taken == {0: True, 1: False, 2: False, 3: False, 4: False, 5: False, 10: True}
    assert all(m.window == (0 if m.step == 0 else 1 if m.step < 10 else 10) for m in probe.history)
