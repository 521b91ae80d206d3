#!/usr/bin/env python3
"""Independent NumPy check of a spectop state dump.

    python3 scripts/check_dump.py DIR [--tolerance 1e-4] [--eig-floor 1e-6]
                                      [--fd-check K] [--quiet]

DIR is what `spectop run --dump DIR` wrote: DIR/probe_x.npy, DIR/probe_y.npy
and one DIR/<model-id>/manifest.json per model (format: StateDump.swift and
docs/METHOD.md). For every model this script

  1. rebuilds the forward pass from the manifest and the .npy files alone, in
     float64 (h_l = s_l * a_{l-1} W_l^T + t_l * b_l, a_l = phi(h_l));
  2. computes the probe loss L and g = dL/dF (MSE: L = mean_i 1/2 |f_i - y_i|^2,
     g = (f - y)/n; cross-entropy: g = (softmax(f) - onehot(y))/n);
  3. builds the Jacobian J = dF/dtheta (nC x P_trainable) explicitly by
     back-propagation, one backward pass per output c, writing every sample's
     parameter gradient row by row (never spectop's Gram-Hadamard shortcut),
     then Theta = J J^T and numpy.linalg.eigh of it;
  4. derives chi_loss = |g|^2, chi_net = Tr Theta, grad_sq = g^T Theta g,
     chi_pos both as g^T Theta g / (|g|^2 Tr Theta) and in spectral form
     sum_k w_k lambda_k / sum_k lambda_k with w_k = (v_k . g/|g|)^2,
     lambda_eff = ghat^T Theta ghat, r_eff = #{lambda_k >= lambda_eff}/m and the
     effective rank exp(H(lambda / Tr Theta));
  5. compares them with the manifest's metrics, eigenvalues.npy and
     mode_weights.npy, prints the largest relative error per quantity and
     exits 1 if any exceeds its tolerance (2 for an unreadable dump).

A dump without eigenvalues, or with a matrix-free spectrum (nC above the exact
limit), is checked on loss, chi_loss, chi_net,
grad_sq and chi_pos only; Theta is then never formed. Each layer's share of
chi_net and of g^T Theta g is printed for comparison with the monitor (the
dump does not record it).

Tolerances. spectop trains and measures in Float32 (only the exact kernel and
its eigen-decomposition are Float64, built from Float32 activations and
deltas), so its numbers carry relative round-off of order 1e-7..1e-6 (the
largest seen on correct dumps: 3.9e-6, docs/METHOD.md). The default
--tolerance 1e-4 leaves a margin of more than 20x over that, and is far below
what a real mistake (a wrong multiplier, a dropped bias term, a mis-ordered
index) produces: those show up as errors of 1e-3 and more. Relative error is
|a - b| / max(|a|, |b|, 1e-300).

Eigenvalues are compared one by one (both sorted descending) in relative
error only where the reference lambda_k >= eig_floor * lambda_1 (default
1e-6): Float32 round-off in Theta may perturb every eigenvalue by about
1e-7 * lambda_1 in absolute terms (Weyl's inequality), so eigenvalues far
below lambda_1 are not guaranteed to match to 1e-4 relative, even though in
practice they usually do. All eigenvalues, tail included, are also checked in
absolute terms against tolerance * lambda_1.

r_eff is a count: it must match exactly unless an eigenvalue lies within
tolerance (relative) of lambda_eff, in which case any count in that band is
accepted. Mode weights are compared as cumulative sums sum_{j<=k} w_j, only
at indices k where the spectrum has a gap lambda_k - lambda_{k+1} >=
1e-3 * lambda_1 (inside a cluster of near-equal eigenvalues the individual
eigenvectors are not determined, only the cluster's total weight is), with
absolute tolerance 10 * tolerance.

--fd-check K also checks K random columns of the analytic Jacobian against
central finite differences of the float64 forward pass (a check of this
script itself; off by default because a ReLU kink near a probe sample makes
finite differences unreliable).
"""

import argparse
import json
import math
import os
import sys

import numpy as np

ERF = np.vectorize(math.erf, otypes=[np.float64])
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class DumpError(Exception):
    pass


# ---------------------------------------------------------------- activations

def activate(name, h):
    if name == "identity":
        return h
    if name == "relu":
        return np.maximum(h, 0.0)
    if name == "tanh":
        return np.tanh(h)
    if name == "gelu":
        return h * (1.0 + ERF(h / math.sqrt(2.0))) / 2.0
    if name == "gelu_tanh":
        return h * (1.0 + np.tanh(SQRT_2_OVER_PI * (h + 0.044715 * h ** 3))) / 2.0
    raise DumpError("unknown activation %r" % name)


def derivative(name, h):
    if name == "identity":
        return np.ones_like(h)
    if name == "relu":
        return (h > 0).astype(np.float64)
    if name == "tanh":
        return 1.0 - np.tanh(h) ** 2
    if name == "gelu":
        cdf = (1.0 + ERF(h / math.sqrt(2.0))) / 2.0
        pdf = np.exp(-h * h / 2.0) / math.sqrt(2.0 * math.pi)
        return cdf + h * pdf
    if name == "gelu_tanh":
        u = SQRT_2_OVER_PI * (h + 0.044715 * h ** 3)
        th = np.tanh(u)
        du = SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * h * h)
        return (1.0 + th) / 2.0 + h * (1.0 - th * th) * du / 2.0
    raise DumpError("unknown activation %r" % name)


# ---------------------------------------------------------------- the model

class Model:
    """The MLP of one manifest, in float64."""

    def __init__(self, folder, manifest):
        self.layers = []
        for k, layer in enumerate(manifest["layers"]):
            w = np.load(os.path.join(folder, layer["weight"])).astype(np.float64)
            b = np.load(os.path.join(folder, layer["bias"])).astype(np.float64)
            if list(w.shape) != list(layer.get("weight_shape", w.shape)) or w.ndim != 2:
                raise DumpError("layer %d: weight shape %s does not match the manifest" % (k, w.shape))
            if b.shape != (w.shape[0],):
                raise DumpError("layer %d: bias shape %s does not match weight %s" % (k, b.shape, w.shape))
            self.layers.append({
                "W": w, "b": b,
                "s": float(layer["weight_multiplier"]), "t": float(layer["bias_multiplier"]),
                "act": layer["activation"],
            })
        for k in range(1, len(self.layers)):
            if self.layers[k]["W"].shape[1] != self.layers[k - 1]["W"].shape[0]:
                raise DumpError("layer %d: fan-in does not match layer %d's fan-out" % (k, k - 1))
        trainable = manifest.get("trainable", "all")
        if trainable == "all":
            self.first_trainable = 0
        elif trainable == "readout":
            self.first_trainable = len(self.layers) - 1
        else:
            raise DumpError("unknown value of 'trainable': %r" % trainable)

    def forward(self, x, layers=None):
        """Returns (layer inputs a_{l-1}, pre-activations h_l, outputs f)."""
        layers = self.layers if layers is None else layers
        inputs, pres = [], []
        a = x
        for layer in layers:
            inputs.append(a)
            h = layer["s"] * (a @ layer["W"].T) + layer["t"] * layer["b"]
            pres.append(h)
            a = activate(layer["act"], h)
        return inputs, pres, a

    def trainable_parameter_count(self):
        return sum(l["W"].size + l["b"].size for l in self.layers[self.first_trainable:])

    def jacobian_blocks(self, x, max_block=1 << 24):
        """Yields (layer, block of J) with J = dF/dtheta, rows (i, c) -> i*C + c.

        For every output c one backward pass seeded with e_c gives
        delta_{l,i}^{(c)} = df_c(x_i)/dh_l for all samples i; the row of J for
        (i, c) and layer l is then vec(s_l delta a_{l-1,i}^T) followed by
        t_l delta, written out explicitly. Columns are produced in blocks of
        output units to bound memory.
        """
        inputs, pres, f = self.forward(x)
        n, C = f.shape
        L = len(self.layers)
        deltas = [np.zeros((n, C, l["W"].shape[0])) for l in self.layers]  # [n, C, fan_out]
        for c in range(C):
            delta = np.zeros((n, C))
            delta[:, c] = 1.0
            for l in range(L - 1, self.first_trainable - 1, -1):
                deltas[l][:, c, :] = delta
                if l > self.first_trainable:
                    layer, previous = self.layers[l], self.layers[l - 1]
                    delta = (layer["s"] * (delta @ layer["W"])) * derivative(previous["act"], pres[l - 1])
        for l in range(self.first_trainable, L):
            layer = self.layers[l]
            out, fan_in = layer["W"].shape
            a = inputs[l]  # [n, fan_in]
            d = deltas[l].reshape(n * C, out)  # row i*C + c
            a_rows = np.repeat(a, C, axis=0)  # a_{l-1,i} for row i*C + c
            units = max(1, min(out, max_block // max(1, n * C * fan_in)))
            for start in range(0, out, units):
                stop = min(out, start + units)
                # dF[i,c]/dW[o,k] = s * delta[i,c,o] * a[i,k]
                block = layer["s"] * d[:, start:stop, None] * a_rows[:, None, :]
                yield l, ("W", start, stop), block.reshape(n * C, (stop - start) * fan_in)
            # dF[i,c]/db[o] = t * delta[i,c,o]
            yield l, ("b", 0, out), layer["t"] * d


def loss_and_residual(kind, f, y):
    n, C = f.shape
    if kind == "mse":
        y = y.astype(np.float64).reshape(n, C)
        diff = f - y
        return float(np.sum(diff * diff) / 2.0 / n), diff / n
    if kind == "cross_entropy":
        labels = y.astype(np.int64).reshape(n)
        if labels.min() < 0 or labels.max() >= C:
            raise DumpError("labels outside 0..%d" % (C - 1))
        shift = f - f.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(shift).sum(axis=1, keepdims=True))
        log_p = shift - log_z
        loss = float(-log_p[np.arange(n), labels].mean())
        g = np.exp(log_p)
        g[np.arange(n), labels] -= 1.0
        return loss, g / n
    raise DumpError("unknown loss %r" % kind)


# ---------------------------------------------------------------- reference

def reference(model, kind, x, y, fd_check=0, rng=None, spectrum=True):
    """Everything the dump can be compared with. With spectrum=False (a dump
    without eigenvalues: nC too large) Theta is never formed, only its trace
    and g^T Theta g = |J^T g|^2."""
    _, _, f = model.forward(x)
    n, C = f.shape
    m = n * C
    loss, g_matrix = loss_and_residual(kind, f, y)
    g = g_matrix.reshape(m)  # index i*C + c
    theta = np.zeros((m, m)) if spectrum else None
    grad = []  # J^T g, block by block
    layer_trace, layer_grad = {}, {}
    checked = []
    for l, (kind_, start, stop), block in model.jacobian_blocks(x):
        if spectrum:
            theta += block @ block.T
        grad.append(block.T @ g)
        layer_grad[l] = layer_grad.get(l, 0.0) + float(grad[-1] @ grad[-1])
        layer_trace[l] = layer_trace.get(l, 0.0) + float(np.sum(block * block))
        if fd_check:
            checked.append((l, kind_, start, stop, block))
    fd_error = None
    if fd_check:
        fd_error = check_jacobian_columns(model, x, checked, fd_check, rng or np.random.default_rng(0))
    grad = np.concatenate(grad)
    r = {"fd_error": fd_error, "m": m, "P": model.trainable_parameter_count()}
    r["loss"] = loss
    r["chi_loss"] = float(g @ g)
    r["chi_net"] = float(sum(layer_trace.values()))  # Tr J J^T = sum of squares of J
    r["grad_sq"] = float(grad @ grad)
    r["grad"] = grad  # J^T g = the parameter gradient, for the cross-batch dot product
    r["layer_traces"], r["layer_grad_sq"] = layer_trace, layer_grad
    denominator = r["chi_loss"] * r["chi_net"]
    defined = denominator > 0 and math.isfinite(denominator)
    r["chi_pos"] = r["grad_sq"] / denominator if defined else None
    if not spectrum:
        return r
    theta = (theta + theta.T) / 2.0
    lam, vec = np.linalg.eigh(theta)
    order = np.argsort(lam)[::-1]
    lam, vec = lam[order], vec[:, order]
    r["eigenvalues_raw"] = lam
    lam_clamped = np.maximum(lam, 0.0)
    r["eigenvalues"] = lam_clamped
    total = lam_clamped.sum()
    if defined:
        ghat = g / math.sqrt(r["chi_loss"])
        w = (vec.T @ ghat) ** 2
        r["mode_weights"] = w
        r["chi_pos_spectral"] = float(w @ lam_clamped / total)
        r["lambda_eff"] = float(ghat @ theta @ ghat)
        r["r_eff"] = float(np.sum(lam_clamped >= r["lambda_eff"])) / m
    else:
        for key in ("chi_pos_spectral", "lambda_eff", "r_eff", "mode_weights"):
            r[key] = None
    p = lam_clamped[lam_clamped > 0] / total if total > 0 else np.array([])
    r["effective_rank"] = float(np.exp(-np.sum(p * np.log(p)))) if total > 0 else 0.0
    return r


def check_jacobian_columns(model, x, blocks, count, rng):
    """Central finite differences of the float64 forward pass for `count`
    random Jacobian columns; raises DumpError if the analytic ones disagree."""
    columns = []
    for l, kind, start, stop, block in blocks:
        for j in range(block.shape[1]):
            columns.append((l, kind, start, block.shape[1] // max(1, stop - start), j, block[:, j]))
    picks = rng.choice(len(columns), size=min(count, len(columns)), replace=False)
    h = 1e-6
    worst = 0.0
    for p in picks:
        l, kind, start, fan_in, j, analytic = columns[p]
        layers = [dict(layer) for layer in model.layers]
        target = layers[l]
        array = target[kind].copy()
        if kind == "W":
            index = (start + j // fan_in, j % fan_in)
        else:
            index = (j,)
        saved = array[index]
        array[index] = saved + h
        target[kind] = array
        up = model.forward(x, layers)[2].reshape(-1)
        array = array.copy()
        array[index] = saved - h
        target[kind] = array
        down = model.forward(x, layers)[2].reshape(-1)
        numeric = (up - down) / (2 * h)
        scale = max(np.abs(analytic).max(), np.abs(numeric).max(), 1e-12)
        worst = max(worst, float(np.abs(numeric - analytic).max() / scale))
    if worst > 1e-5:
        raise DumpError("this script's Jacobian disagrees with finite differences (%.2e): a bug here, not in spectop" % worst)
    return worst


# ---------------------------------------------------------------- comparison

def relative_error(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def compare_model(folder, manifest, x, y, args, rng):
    kind = manifest["loss"]
    model = Model(folder, manifest)
    if x.shape[1] != model.layers[0]["W"].shape[1]:
        raise DumpError("probe_x has %d columns, the first layer expects %d" % (x.shape[1], model.layers[0]["W"].shape[1]))
    metrics = manifest.get("metrics", {})
    # A matrix-free spectrum (m above the exact limit) lists only its top k
    # modes and estimates the rest: compared like a dump without eigenvalues.
    matrix_free = metrics.get("spectrum_method", "exact") != "exact"
    ref = reference(model, kind, x, y, fd_check=args.fd_check, rng=rng,
                    spectrum=metrics.get("eigenvalues") is not None and not matrix_free)
    tol = args.tolerance
    rows = []  # (quantity, spectop, reference, error, passed, note)
    notes = []

    def add(name, got, expected, error, limit, note=""):
        rows.append((name, got, expected, error, bool(error <= limit), note))

    def scalar(name, key, value):
        got = metrics.get(key)
        if got is None and value is None:
            add(name, None, None, 0.0, tol, "undefined in both")
        elif got is None or value is None:
            add(name, got, value, math.inf, tol, "defined in only one")
        else:
            add(name, float(got), float(value), relative_error(float(got), float(value)), tol)

    scalar("loss", "loss", ref["loss"])
    scalar("chi_loss", "chi_loss", ref["chi_loss"])
    if metrics.get("chi_net_is_estimate"):
        notes.append("chi_net is a Hutchinson estimate in this dump: not compared")
    else:
        scalar("chi_net", "chi_net", ref["chi_net"])
    scalar("grad_sq", "grad_sq", ref["grad_sq"])
    scalar("chi_pos", "chi_pos", ref["chi_pos"])
    # The reference's own two forms of chi_pos must agree (a check of this script).
    if ref["chi_pos"] is not None and ref.get("chi_pos_spectral") is not None:
        internal = relative_error(ref["chi_pos"], ref["chi_pos_spectral"])
        if internal > 1e-8:
            raise DumpError("reference chi_pos forms disagree (%.2e): a bug here, not in spectop" % internal)
    eigen_file = metrics.get("eigenvalues")
    if matrix_free:
        notes.append("matrix-free spectrum (top %s of m = %s, r_eff and effective rank estimated): spectral quantities not compared"
                     % (metrics.get("eigenvalues") and "k", metrics.get("mode_count")))
    elif eigen_file is None:
        notes.append("no eigenvalues in this dump (kernel too large): spectral quantities not compared")
    else:
        scalar("chi_pos_exact", "chi_pos_exact", ref["chi_pos_spectral"])
        scalar("lambda_eff", "lambda_eff", ref["lambda_eff"])
        scalar("effective_rank", "effective_rank", ref["effective_rank"])
        # r_eff: a count.
        got = metrics.get("r_eff")
        if got is None or ref["r_eff"] is None:
            if got is None and ref["r_eff"] is None:
                add("r_eff", None, None, 0.0, tol, "undefined in both")
            else:
                add("r_eff", got, ref["r_eff"], math.inf, tol, "defined in only one")
        else:
            lam, eff, m = ref["eigenvalues"], ref["lambda_eff"], ref["m"]
            low = np.sum(lam >= eff * (1 + tol)) / m
            high = np.sum(lam >= eff * (1 - tol)) / m
            ok = low - 1e-12 <= got <= high + 1e-12
            error = relative_error(float(got), ref["r_eff"])
            note = "" if error == 0 else ("an eigenvalue lies within tolerance of lambda_eff: accepted" if ok
                                          else "outside the accepted band [%g, %g]" % (low, high))
            rows.append(("r_eff", float(got), ref["r_eff"], error, ok, note))
        # Eigenvalues.
        eig = np.load(os.path.join(folder, eigen_file)).astype(np.float64)
        lam = ref["eigenvalues"]
        if eig.shape != lam.shape:
            add("eigenvalues", eig.shape, lam.shape, math.inf, tol, "different counts")
        else:
            top = lam[0] if lam.size else 0.0
            if not np.all(np.diff(eig) <= 0):
                notes.append("eigenvalues.npy is not sorted descending")
                add("eigenvalues order", None, None, math.inf, tol, "not descending")
            head = lam >= args.eig_floor * top
            if np.any(head):
                errors = np.abs(eig[head] - lam[head]) / np.maximum(np.maximum(np.abs(eig[head]), np.abs(lam[head])), 1e-300)
                k = int(np.argmax(errors))
                add("eigenvalues (>= %g lambda_1)" % args.eig_floor, float(eig[head][k]), float(lam[head][k]),
                    float(errors[k]), tol, "worst of %d, at k=%d" % (int(head.sum()), k + 1))
            if lam.size and top > 0:
                absolute = np.abs(eig - lam) / top
                k = int(np.argmax(absolute))
                add("eigenvalues (all, |err|/lambda_1)", float(eig[k]), float(lam[k]), float(absolute[k]), tol,
                    "worst of %d, at k=%d" % (lam.size, k + 1))
            if np.any(eig < 0):
                add("eigenvalues >= 0", float(eig.min()), 0.0, math.inf, tol, "negative eigenvalue not clamped")
            notes.append("sum(eigenvalues.npy) = %.9g, Tr Theta (reference) = %.9g" % (eig.sum(), ref["chi_net"]))
    # The cross-batch quantities on batch B (cross_x, cross_y beside the weights): the same
    # reference on B, at the same parameters, and the paper's definitions from the two.
    if manifest.get("cross_x"):
        xb = np.load(os.path.join(folder, manifest["cross_x"])).astype(np.float64)
        yb = np.load(os.path.join(folder, manifest["cross_y"]))
        ref_b = reference(model, kind, xb, yb, spectrum=False)
        dot = float(ref["grad"] @ ref_b["grad"])
        cross_chi_loss = math.sqrt(ref["chi_loss"] * ref_b["chi_loss"])
        cross_chi_net = math.sqrt(ref["chi_net"] * ref_b["chi_net"])
        denominator = cross_chi_loss * cross_chi_net
        scalar("cross_loss", "cross_loss", ref_b["loss"])
        scalar("cross_chi_loss", "cross_chi_loss", cross_chi_loss)
        if not metrics.get("chi_net_is_estimate"):
            scalar("cross_chi_net", "cross_chi_net", cross_chi_net)
        # A dot product of two gradients can cancel: compared relative to the larger of |dot| and the bound.
        got = metrics.get("cross_grad_dot")
        scale = max(abs(dot), 1e-6 * math.sqrt(ref["grad_sq"] * ref_b["grad_sq"]))
        if got is None:
            add("cross_grad_dot", None, dot, math.inf, tol, "missing")
        else:
            add("cross_grad_dot", float(got), dot, abs(float(got) - dot) / scale, tol)
        scalar("cross_chi_pos", "cross_chi_pos", dot / denominator if denominator > 0 else None)
    # Per-layer shares (not in the dump; shown for comparison with the monitor).
    layers = sorted(ref["layer_traces"])
    if ref["chi_net"] > 0:
        shares = " ".join("%d:%.4g" % (l, ref["layer_traces"][l] / ref["chi_net"]) for l in layers)
        notes.append("reference layer shares of chi_net: " + shares)
    if ref["grad_sq"] > 0:
        shares = " ".join("%d:%.4g" % (l, ref["layer_grad_sq"][l] / ref["grad_sq"]) for l in layers)
        notes.append("reference layer shares of g^T Theta g: " + shares)
        # Mode weights, cumulative, at gaps.
        weights_path = os.path.join(folder, "mode_weights.npy")
        if os.path.exists(weights_path) and ref["mode_weights"] is not None and eig.shape == lam.shape:
            w = np.load(weights_path).astype(np.float64)
            if w.shape == lam.shape:
                gaps = np.where(lam[:-1] - lam[1:] >= 1e-3 * lam[0])[0]
                cumulative_got, cumulative_ref = np.cumsum(w), np.cumsum(ref["mode_weights"])
                if gaps.size:
                    errors = np.abs(cumulative_got[gaps] - cumulative_ref[gaps])
                    k = int(np.argmax(errors))
                    add("mode weights (cumulative, at gaps)", float(cumulative_got[gaps][k]),
                        float(cumulative_ref[gaps][k]), float(errors[k]), 10 * tol,
                        "absolute; %d gaps, worst after k=%d" % (gaps.size, gaps[k] + 1))
                add("mode weights sum", float(w.sum()), 1.0, abs(w.sum() - 1.0), 10 * tol, "absolute")
            else:
                add("mode weights", w.shape, lam.shape, math.inf, tol, "different counts")
    return ref, rows, notes


def format_value(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.9g" % v
    return str(v)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Check a spectop state dump against an independent NumPy computation.")
    parser.add_argument("dump", help="the directory given to spectop run --dump")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest accepted relative error of every metric and of eigenvalues above --eig-floor (default 1e-4)")
    parser.add_argument("--eig-floor", type=float, default=1e-6,
                        help="compare eigenvalues in relative error only above this fraction of lambda_1 (default 1e-6)")
    parser.add_argument("--fd-check", type=int, default=0, metavar="K",
                        help="also check K random Jacobian columns of this script against finite differences")
    parser.add_argument("--quiet", action="store_true", help="print only the summary (and failures)")
    args = parser.parse_args(argv)

    try:
        x = np.load(os.path.join(args.dump, "probe_x.npy")).astype(np.float64)
        y = np.load(os.path.join(args.dump, "probe_y.npy"))
    except (OSError, ValueError) as error:
        print("check_dump: cannot read the probe set in %s: %s" % (args.dump, error), file=sys.stderr)
        return 2
    folders = sorted(d for d in os.listdir(args.dump) if os.path.isfile(os.path.join(args.dump, d, "manifest.json")))
    if not folders:
        print("check_dump: no <model>/manifest.json under %s" % args.dump, file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    worst = {}  # quantity -> (error, model)
    failures = []
    for name in folders:
        folder = os.path.join(args.dump, name)
        try:
            with open(os.path.join(folder, "manifest.json")) as handle:
                manifest = json.load(handle)
            if manifest.get("format") != "spectop-dump" or manifest.get("version") != 1:
                raise DumpError("not a spectop-dump version 1 manifest")
            ref, rows, notes = compare_model(folder, manifest, x, y, args, rng)
        except (DumpError, OSError, ValueError, KeyError) as error:
            print("check_dump: %s: %s" % (name, error), file=sys.stderr)
            return 2
        bad = [r for r in rows if not r[4]]
        if not args.quiet or bad:
            print("%s  (step %s, %s, trainable=%s, n*C=%d, P=%d)" % (
                name, manifest.get("step"), manifest["loss"], manifest.get("trainable"), ref["m"], ref["P"]))
            shown = rows if not args.quiet else bad
            for quantity, got, expected, error, passed, note in shown:
                flag = "ok" if passed else "FAIL"
                print("  %-36s spectop %-18s reference %-18s err %-9s %s%s" % (
                    quantity, format_value(got), format_value(expected),
                    "%.2e" % error if math.isfinite(error) else "inf", flag, ("  (" + note + ")") if note else ""))
            if not args.quiet:
                if ref["fd_error"] is not None:
                    notes.append("this script's Jacobian vs finite differences (%d columns): %.1e" % (args.fd_check, ref["fd_error"]))
                for note in notes:
                    print("  note: " + note)
        for quantity, got, _, error, _, _ in rows:
            if got is None and error == 0:
                continue  # undefined in both
            if quantity not in worst or not (error <= worst[quantity][0]):
                worst[quantity] = (error, name)
        failures += ["%s: %s" % (name, r[0]) for r in bad]
    print("largest error per quantity over %d model(s) (tolerance %g):" % (len(folders), args.tolerance))
    for quantity, (error, name) in worst.items():
        print("  %-36s %.2e  (%s)" % (quantity, error, name))
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
