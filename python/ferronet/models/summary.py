"""``model.summary()``: Keras 3's layer table and parameter totals."""

from __future__ import annotations

import sys

from ..layers.base import fmt_shape


def _readable_size(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes < 1024:
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.2f} PB"


def _bytes(variables) -> int:
    return int(sum(v.value.nbytes for v in variables))


def _connections(model, layer):
    """Keras' "Connected to" text: the producer of each input of each call of ``layer`` in ``model``."""
    refs = []
    for node in getattr(model, "_nodes", ()):
        if node.layer is layer:
            for t in node.flat_inputs:
                producer, index, k = t._keras_history
                refs.append(f"{producer.name}[{index}][{k}]")
    return ", ".join(refs) if refs else "-"


def _rows(model, expand_nested, depth=0):
    graph = hasattr(model, "_nodes")
    for layer in model.layers:
        built = layer.built
        shape = layer.output_shape
        for node in getattr(model, "_nodes", ()):
            if node.layer is layer:  # the graph's symbolic shapes (unknown sizes stay None), not the last call's
                shape = node.outputs[0].shape if len(node.outputs) == 1 else [t.shape for t in node.outputs]
                break
        if isinstance(shape, list):
            shape = ", ".join(fmt_shape(s) for s in shape)
        else:
            shape = fmt_shape(shape) if built and shape is not None else "?"
        params = f"{layer.count_params():,}" if built else "0 (unbuilt)"
        trainable = "Y" if layer.trainable else "N"
        row = ("  " * depth + f"{layer.name} ({type(layer).__name__})", shape, params)
        yield row + ((_connections(model, layer),) if graph else ()) + (trainable,)
        if expand_nested and hasattr(layer, "layers"):
            yield from _rows(layer, expand_nested, depth + 1)


def _box_chars(stream):
    try:
        "┏━┳┓┃┡╇┩│├┼┤└┴┘─".encode(getattr(stream, "encoding", None) or "ascii")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False):
    """Print (or pass line by line to ``print_fn``) the summary of ``model``."""
    graph = hasattr(model, "_nodes")  # a functional model: show each layer's inbound connections
    headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if graph else []) + (
        ["Trainable"] if show_trainable else [])
    rows = list(_rows(model, expand_nested))
    rows = [r if show_trainable else r[:-1] for r in rows]
    total = line_length or (88 if show_trainable else 78) + (30 if graph else 0)
    if positions is None and graph:
        fractions = [0.30, 0.52, 0.62, 0.90, 1.0] if show_trainable else [0.32, 0.56, 0.67, 1.0]
    elif positions is None:
        fractions = [0.42, 0.73, 0.90, 1.0] if show_trainable else [0.45, 0.78, 1.0]
    else:
        fractions = [p if p <= 1 else p / total for p in positions]
    bounds = [int(total * f) for f in fractions]
    widths = [bounds[0] - 3] + [bounds[i] - bounds[i - 1] - 3 for i in range(1, len(bounds))]
    widths = [max(w, len(h)) for w, h in zip(widths, headers)]
    for r in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, r)]

    fancy = print_fn is not None or _box_chars(sys.stdout)
    if fancy:
        tl, tm, tr, v, hl, ml, mm, mr, rl, rm, rr, bl, bm, br, h2, h1 = (
            "┏", "┳", "┓", "┃", "━", "┡", "╇", "┩", "├", "┼", "┤", "└", "┴", "┘", "─", "│")
    else:
        tl, tm, tr, v, hl, ml, mm, mr, rl, rm, rr, bl, bm, br, h2, h1 = (
            "+", "+", "+", "|", "=", "+", "+", "+", "+", "+", "+", "+", "+", "+", "-", "|")

    def line(left, mid, right, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def cells(values, edge):
        parts = []
        for i, (val, w) in enumerate(zip(values, widths)):
            parts.append(" " + (val.rjust(w) if i == 2 else val.ljust(w)) + " ")
        return edge + edge.join(parts) + edge

    out = [f'Model: "{model.name}"', line(tl, tm, tr, hl), cells(headers, v), line(ml, mm, mr, hl)]
    for i, r in enumerate(rows):
        out.append(cells(list(r), h1))
        if i != len(rows) - 1:
            out.append(line(rl, rm, rr, h2))
    out.append(line(bl, bm, br, h2))
    if model.built:
        trainable = model.trainable_weights
        non_trainable = model.non_trainable_weights
        n_t = sum(v.size for v in trainable)
        n_n = sum(v.size for v in non_trainable)
        out.append(f" Total params: {n_t + n_n:,} ({_readable_size(_bytes(trainable) + _bytes(non_trainable))})")
        out.append(f" Trainable params: {n_t:,} ({_readable_size(_bytes(trainable))})")
        out.append(f" Non-trainable params: {n_n:,} ({_readable_size(_bytes(non_trainable))})")
        opt = getattr(model, "optimizer", None)
        if opt is not None and opt.variables:
            slots = opt.variables
            out.append(f" Optimizer params: {sum(a.size for a in slots):,} ({_readable_size(sum(a.nbytes for a in slots))})")
    else:
        out.append(" Total params: 0 (unbuilt: call the model on data, fit it, or build(input_shape) first)")
    for text in out:
        (print_fn or print)(text)
