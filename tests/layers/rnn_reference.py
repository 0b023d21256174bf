"""NumPy implementations of Keras' documented SimpleRNN, LSTM and GRU equations (the tests' oracle).

``cell`` is "simple_rnn", "lstm", "gru" (Keras' ``reset_after=True``, bias ``(2, 3u)``) or "gru_reset_before"
(``reset_after=False``, bias ``(3u,)``).
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def run(cell, x, kernel, recurrent, bias, h0=None, c0=None, mask=None, go_backwards=False, act=np.tanh,
        ract=sigmoid):
    """Returns (outputs per step, final h, final c) with Keras' masking (state and output carried)."""
    b, t, _ = x.shape
    u = recurrent.shape[0]
    h = np.zeros((b, u)) if h0 is None else np.array(h0, dtype=float)
    c = np.zeros((b, u)) if c0 is None else np.array(c0, dtype=float)
    order = range(t - 1, -1, -1) if go_backwards else range(t)
    outs = []
    for s in order:
        xs = x[:, s]
        if cell == "simple_rnn":
            hn = act(xs @ kernel + h @ recurrent + (0 if bias is None else bias))
            cn = c
        elif cell == "lstm":
            z = xs @ kernel + h @ recurrent + (0 if bias is None else bias)
            i, f, g, o = (z[:, k * u:(k + 1) * u] for k in range(4))
            cn = ract(f) * c + ract(i) * act(g)
            hn = ract(o) * act(cn)
        elif cell == "gru_reset_before":
            xz = xs @ kernel + (0 if bias is None else bias)
            zg = ract(xz[:, :u] + h @ recurrent[:, :u])
            rg = ract(xz[:, u:2 * u] + h @ recurrent[:, u:2 * u])
            hh = act(xz[:, 2 * u:] + (rg * h) @ recurrent[:, 2 * u:])
            hn = zg * h + (1 - zg) * hh
            cn = c
        else:
            bi, br = (0, 0) if bias is None else (bias[0], bias[1])
            xz = xs @ kernel + bi
            hz = h @ recurrent + br
            zg = ract(xz[:, :u] + hz[:, :u])
            rg = ract(xz[:, u:2 * u] + hz[:, u:2 * u])
            hh = act(xz[:, 2 * u:] + rg * hz[:, 2 * u:])
            hn = zg * h + (1 - zg) * hh
            cn = c
        if mask is not None:
            keep = mask[:, s][:, None]
            hn = np.where(keep, hn, h)
            cn = np.where(keep, cn, c)
        h, c = hn, cn
        outs.append(h)
    return np.stack(outs, axis=1), h, c
