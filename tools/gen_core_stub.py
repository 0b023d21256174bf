"""Regenerate python/ferronet/_core.pyi from the built extension.

Signatures come from each function's ``__text_signature__``; types follow the
binding crate's conventions (argument names decide them). Run after adding a
binding, then review the diff: ``python tools/gen_core_stub.py``. CI checks the
stub against the extension with ``mypy.stubtest``.
"""

import inspect
import pathlib

import ferronet._core as core

ARRAY = "_Array"
INT_ARGS = {"step", "seed", "n", "reps", "l", "n_equilibrate", "n_between", "samples"}
FLOAT_ARGS = {
    "learning_rate", "momentum", "beta_1", "beta_2", "epsilon", "weight_decay", "rho", "rate",
    "negative_slope", "alpha", "scale", "delta", "margin", "l1", "l2", "fill_value",
}
BOOL_ARGS = {"nesterov", "approximate", "need_dx", "need_dw", "need_db", "through_relu", "center", "causal", "wolff",
             "ordered"}
PAIR_ARGS = {"strides", "dilation", "pool_size", "out_size"}
STR_ARGS = {"padding", "name", "precision", "interpolation", "fill_mode", "cell", "activation", "recurrent_activation"}
RETURNS = {
    "get_num_threads": "int",
    "set_num_threads": "None",
    "simd": "str",
    "amx": "bool",
    "fma_peak": "Optional[float]",
    "set_simd": "str",
    "supported_simd": "list[str]",
    "taylor_tanh_forward": "tuple[_Array, _Array]",
    "taylor_tanh_backward": "tuple[_Array, _Array, _Array]",
    "matmul": "Any",
    "conv2d_backward": "tuple[Optional[_Array], Optional[_Array], Optional[_Array]]",
    "depthwise_conv2d_backward": "tuple[Optional[_Array], Optional[_Array], Optional[_Array]]",
    "linear_backward": "tuple[Optional[_Array], Optional[_Array], Optional[_Array]]",
    "batch_norm_train": "tuple[_Array, _Array, _Array]",
    "batch_norm_backward": "tuple[_Array, _Array, _Array]",
    "softmax_cross_entropy": "tuple[_Array, _Array]",
    "sigmoid_cross_entropy": "tuple[_Array, _Array]",
    "categorical_crossentropy": "tuple[_Array, _Array]",
    "binary_crossentropy": "tuple[_Array, _Array]",
    "mean_squared_error": "tuple[_Array, _Array]",
    "mean_absolute_error": "tuple[_Array, _Array]",
    "huber": "tuple[_Array, _Array]",
    "hinge": "tuple[_Array, _Array]",
    "categorical_hinge": "tuple[_Array, _Array]",
    "multiclass_hinge": "tuple[_Array, _Array]",
    "dropout": "tuple[_Array, NDArray[np.uint8]]",
    "l1_l2_penalty": "float",
    "argmax_hits": "int",
    "attention": "tuple[_Array, _Array]",
    "attention_backward": "tuple[_Array, _Array, _Array]",
    "rnn_forward": "tuple[_Array, _Array, _Array]",
    "rnn_backward": "tuple[_Array, _Array, _Array, Optional[_Array], _Array, Optional[_Array]]",
    "ising_sample": "NDArray[np.int8]",
    "sort_scores": "tuple[_Array, NDArray[np.uint8]]",
}


# Arguments that take None (meaning "no state") or another type besides an array.
OVERRIDES = {
    ("sgd_update", "velocity"): "Optional[_Array]",
    ("avg_pool2d_backward", "x"): "_Array | Sequence[int]",
    ("global_avg_pool2d_backward", "x_shape"): "_Array | Sequence[int]",
    ("conv2d", "activation"): "Optional[str]",
    ("depthwise_conv2d", "bias"): "Optional[_Array]",
    ("affine_transform", "transforms"): "NDArray[np.float64]",
    ("adjust_images", "factor"): "NDArray[np.float64]",
    ("adjust_images", "delta"): "NDArray[np.float64]",
    ("adjust_images", "value_range"): "tuple[float, float]",
    ("adjust_images_backward", "factor"): "NDArray[np.float64]",
    ("adjust_images_backward", "delta"): "NDArray[np.float64]",
    ("adjust_images_backward", "value_range"): "tuple[float, float]",
    ("affine_transform_backward", "transforms"): "NDArray[np.float64]",
    ("dropout", "noise_shape"): "Optional[Sequence[int]]",
    ("attention", "mask"): "Optional[NDArray[np.bool_]]",
    ("attention_backward", "mask"): "Optional[NDArray[np.bool_]]",
    ("rnn_backward", "bias"): "Optional[_Array]",
    ("rnn_backward", "c0"): "Optional[_Array]",
    ("rnn_backward", "mask"): "Optional[NDArray[np.uint8]]",
    ("rnn_backward", "recurrent_scale"): "Optional[_Array]",
    ("ising_sample", "betas"): "NDArray[np.float64]",
    ("sort_scores", "positive"): "NDArray[np.uint8]",
}


def annotate(fn: str, name: str, p: inspect.Parameter) -> str:
    if (fn, name) in OVERRIDES:
        t = OVERRIDES[fn, name]
        return f"{name}: {t}" + (" = ..." if p.default is not inspect.Parameter.empty else "")
    if name in INT_ARGS:
        t = "int"
    elif name in FLOAT_ARGS:
        t = "float"
    elif name in BOOL_ARGS:
        t = "bool"
    elif name in PAIR_ARGS:
        t = "tuple[int, int]"
    elif name in STR_ARGS:
        t = "str"
    elif name == "axis":
        t = "int"
    elif name == "x_shape":
        t = "Sequence[int]"
    elif name == "mask":
        t = "NDArray[np.uint8]"
    elif name == "labels":
        t = "NDArray[Any]"
    else:
        t = ARRAY
    optional = p.default is None
    s = f"{name}: {'Optional[' + t + ']' if optional else t}"
    if p.default is not inspect.Parameter.empty:
        s += " = ..."
    return s


def main() -> None:
    lines = [
        '"""Type stubs of ferronet._core (generated by tools/gen_core_stub.py, checked by mypy.stubtest)."""',
        "",
        "from typing import Any, Optional, Sequence",
        "",
        "import numpy as np",
        "from numpy.typing import NDArray",
        "",
        "_Array = NDArray[np.floating[Any]]",
        "",
    ]
    names = sorted(n for n in dir(core) if not n.startswith("_"))
    lines += ["__all__ = [", *[f'    "{n}",' for n in names], "]", ""]
    for name in names:
        fn = getattr(core, name)
        sig = inspect.signature(fn)
        params = ", ".join(annotate(name, n, p) for n, p in sig.parameters.items())
        ret = RETURNS.get(name, "None" if name.endswith("_update") else "_Array")
        lines.append(f"def {name}({params}) -> {ret}: ...")
    out = pathlib.Path(__file__).resolve().parents[1] / "python" / "ferronet" / "_core.pyi"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
