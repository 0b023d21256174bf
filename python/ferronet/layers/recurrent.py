"""``RNNBase``: what ``SimpleRNN``, ``LSTM`` and ``GRU`` share (Keras' ``RNN`` layer arguments and call).

A subclass names its cell (``_cell``: ``"simple_rnn"``, ``"lstm"``, ``"gru"``, ``"gru_reset_before"``),
its number of gate blocks and its bias; the whole sequence then runs as one
fused primitive (:func:`ferronet.tensor.recurrent_ops.rnn_sequence`).

Call arguments, as in Keras: ``layer(x, mask=None, training=None,
initial_state=None)``. The mask ``(batch, steps)`` usually comes from a
``Masking`` or ``Embedding(mask_zero=True)`` layer upstream: a masked step
keeps the state unchanged, and with ``return_sequences`` its output repeats
the previous one (zeros inside ``Bidirectional``, Keras'
``zero_output_for_mask``).
"""

from __future__ import annotations

import numpy as np

from .. import activations, initializers, regularizers
from ..errors import ShapeError
from ..tensor import array_ops as A
from ..tensor import math_ops as M
from ..tensor.core import Tensor, unwrap
from ..tensor.recurrent_ops import FUSED_ACTIVATIONS, rnn_sequence
from .base import Layer, fmt_shape

__all__ = ["RNNBase", "SequenceLayer"]


def use_cudnn_arg(value):
    """Keras' ``use_cudnn`` of LSTM and GRU, checked and kept: ferronet always runs its fused CPU kernels,
    whatever it says (there is no cuDNN here, and the results are the same)."""
    if not (value is True or value is False or isinstance(value, str) and value == "auto"):
        raise ValueError(f"use_cudnn must be 'auto', True or False. Received: use_cudnn={value!r}")
    return value


def _rate(value, name):
    try:
        r = float(value)
    except (TypeError, ValueError):
        r = -1.0
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"{name} must be a float in [0, 1]. Received: {name}={value!r}")
    return r


def _act_name(value, name):
    fn = activations.get(value)
    label = "linear" if fn is None else activations.serialize(fn)
    if label not in FUSED_ACTIVATIONS:
        raise ValueError(f"{name} must be one of {', '.join(FUSED_ACTIVATIONS)} (computed inside the fused "
                         f"recurrent kernel). Received: {name}={value!r}")
    return label


def fold_initial_state(args, kwargs):
    """``args`` with Keras' ``initial_state=`` (popped from ``kwargs``) joined to the inputs, ``[x, *states]``.

    Initial states travel with the inputs (Keras does the same), so that symbolic ones become graph inputs.
    """
    state = kwargs.pop("initial_state", None)
    if state is None:
        return args
    states = list(state) if isinstance(state, (list, tuple)) else [state]
    if args:
        return ([args[0], *states],) + tuple(args[1:])
    kwargs["inputs"] = [kwargs["inputs"], *states]
    return args


def _reg(r):
    return None if r is None else regularizers.serialize(r)


class SequenceLayer(Layer):
    """What every recurrent layer over a sequence shares (``RNNBase`` and ``RNN``): the mask it passes on,
    ``initial_state=`` joined to the inputs, and a stateful layer's ``states`` and ``reset_states``. A subclass
    has ``_n_states``, ``return_sequences``, ``return_state``, ``stateful`` and ``_states``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.layers.recurrent import SequenceLayer
        >>> issubclass(fn.layers.LSTM, SequenceLayer), issubclass(fn.layers.RNN, SequenceLayer)
        (True, True)
    """

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        return [out] + [None] * self._n_states if self.return_state else out

    # -------------------------------------------------------------- call
    def __call__(self, *args, **kwargs):
        return super().__call__(*fold_initial_state(args, kwargs), **kwargs)

    def reset_states(self, states=None):
        """Reset a stateful layer's states to zeros (or to ``states``, a list of ``(batch, units)`` arrays)."""
        if not self.stateful:
            raise AttributeError(f'Layer "{self.name}" is not stateful: create it with stateful=True. Received: '
                                 "reset_states() on a layer with stateful=False")
        if states is None:
            self._states = None if self._states is None else [np.zeros_like(s) for s in self._states]
            return
        states = states if isinstance(states, (list, tuple)) else [states]
        if len(states) != self._n_states:
            raise ValueError(f'Layer "{self.name}" has {self._n_states} state(s). Received: {len(states)}')
        self._states = [np.array(unwrap(s), dtype=self._np_dtype, copy=True) for s in states]

    reset_state = reset_states

    def _features(self, input_shape):
        """``(the sequence's shape, its feature size)`` of a build's shape (a list: ``[x, *states]``)."""
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        if input_shape[-1] is None:
            raise ShapeError(f'Layer "{self.name}" ({type(self).__name__}) needs a known feature dimension. '
                             f"Received: input shape {fmt_shape(input_shape)}")
        return input_shape, input_shape[-1]

    def _split_inputs(self, x, mask):
        """``(sequence, given initial states, the sequence's boolean (batch, steps) mask or None)`` of a call's
        inputs ``[x, *states]`` or ``x``, checked."""
        given = []
        if isinstance(x, (list, tuple)):
            x, given = x[0], list(x[1:])
            if isinstance(mask, (list, tuple)):
                mask = mask[0]
        if x.ndim != 3:
            raise ShapeError(f'Layer "{self.name}" ({type(self).__name__}) takes (batch, steps, features). '
                             f"Received: input shape {fmt_shape(tuple(x.shape))}")
        m = None if mask is None else np.asarray(unwrap(mask), dtype=bool)
        if m is not None and m.shape != tuple(x.shape[:2]):
            raise ShapeError(f'Layer "{self.name}": the mask must have shape {tuple(x.shape[:2])}. Received: mask '
                             f"shape {m.shape}")
        return x, given, m

    def _initial_states(self, batch, given, dtype):
        """The states a call starts from: ``given`` (checked), a stateful layer's stored ones, or zeros."""
        sizes = self._state_sizes
        if given:
            if len(given) != len(sizes):
                raise ValueError(f'Layer "{self.name}" ({type(self).__name__}) has {len(sizes)} state(s). Received: '
                                 f"initial_state with {len(given)} tensor(s)")
            for s, size in zip(given, sizes):
                if tuple(s.shape) != (batch, size):
                    raise ShapeError(f'Layer "{self.name}": each initial state must have shape ({batch}, '
                                     f"{size}). Received: shape {tuple(s.shape)}")
            return list(given)
        if self.stateful:
            # NOTE: a batch of another size (the one-sample batch that shape inference runs, a last partial
            # batch) cannot continue the stored states: it starts from zeros and its states are kept instead.
            if self._states is None or self._states[0].shape[0] != batch:
                self._states = [np.zeros((batch, n), dtype) for n in sizes]
            return [Tensor(s) for s in self._states]
        return [Tensor(np.zeros((batch, n), dtype)) for n in sizes]

    @property
    def states(self):
        """The stateful layer's current states (None before the first call)."""
        return None if self._states is None else [Tensor(s.copy()) for s in self._states]


class RNNBase(SequenceLayer):
    """Base of the recurrent layers (see the module docstring); not used directly.

    Example:
        The arguments and call shared by :class:`~ferronet.layers.SimpleRNN`, :class:`~ferronet.layers.LSTM` and
        :class:`~ferronet.layers.GRU`:

        >>> import numpy as np, ferronet as fn
        >>> from ferronet.layers.recurrent import RNNBase
        >>> all(issubclass(c, RNNBase) for c in (fn.layers.SimpleRNN, fn.layers.LSTM, fn.layers.GRU))
        True
        >>> x = np.ones((2, 4, 5), np.float32)  # (batch, steps, features)
        >>> rnn = fn.layers.SimpleRNN(3, return_sequences=True)
        >>> mask = np.array([[True, True, False, False], [True, True, True, True]])
        >>> y = rnn(x, mask=mask, initial_state=np.zeros((2, 3), np.float32)).numpy()
        >>> y.shape, bool(np.allclose(y[0, 3], y[0, 1]))  # masked steps repeat the last output
        ((2, 4, 3), True)
        >>> gru = fn.layers.GRU(3, go_backwards=True, return_state=True)
        >>> outputs, state = gru(x)
        >>> outputs.shape, state.shape, [w.shape for w in gru.get_weights()]
        ((2, 3), (2, 3), [(5, 9), (3, 9), (2, 9)])
    """

    _ndim = 3
    _cell = ""
    _gates = 1
    supports_masking = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"units must be a positive integer. Received: units={units!r}")
        for name, value in (("activity_regularizer", activity_regularizer), ("kernel_constraint", kernel_constraint),
                            ("recurrent_constraint", recurrent_constraint), ("bias_constraint", bias_constraint)):
            if value is not None:
                raise ValueError(f"{type(self).__name__} does not support {name}. Received: {name}={value!r}")
        self.units = int(units)
        self.activation = _act_name(activation, "activation")
        self.recurrent_activation = _act_name(recurrent_activation, "recurrent_activation")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = _rate(dropout, "dropout")
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout")
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted for Keras compatibility: the fused kernel never unrolls
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.kernel = self.recurrent_kernel = self.bias = None
        self._states = None

    # ------------------------------------------------------------ weights
    @property
    def _n_states(self):
        return 2 if self._cell == "lstm" else 1

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        input_shape, features = self._features(input_shape)
        width = self._gates * self.units
        self.kernel = self.add_weight((features, width), self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      name="kernel")
        self.recurrent_kernel = self.add_weight((self.units, width), self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer, name="recurrent_kernel")
        if self.use_bias:
            self.bias = self.add_weight(self._bias_shape(), self._bias_initializer(),
                                        regularizer=self.bias_regularizer, name="bias")
        # Built by a direct build() call too (Keras), so set_weights() can follow it.
        self.built = True
        self.input_shape = (None,) + tuple(input_shape[1:])

    def _check_call_shape(self, shape):
        want = self.input_shape
        if want is not None and (len(shape) != 3 or shape[-1] != want[-1]):
            raise ShapeError(f'Layer "{self.name}" ({type(self).__name__}) was built for (batch, steps, {want[-1]}) '
                             f"inputs. Received: input shape {fmt_shape(shape)}")

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        batch, steps = input_shape[0], input_shape[1]
        out = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out] + [(batch, self.units)] * self._n_states
        return out

    @property
    def _state_sizes(self):
        return [self.units] * self._n_states

    def _dropout_factors(self, rate, shape):
        """Inverted-dropout factors: 0 for a dropped entry, ``1 / (1 - rate)`` for a kept one."""
        return ((self._rng.random(shape) >= rate) / (1.0 - rate)).astype(self._np_dtype)

    def _tensor_call(self, x, training, mask=None, **kwargs):
        x, given, m = self._split_inputs(x, mask)
        batch, units = x.shape[0], self.units
        dt = self._np_dtype
        states = self._initial_states(batch, given, dt)
        if training and self.dropout > 0:
            x = M.multiply(x, self._dropout_factors(self.dropout, (batch, 1, x.shape[-1])))
        scale = None
        if training and self.recurrent_dropout > 0:
            scale = self._dropout_factors(self.recurrent_dropout, (batch, units))
        if self.go_backwards:
            x = A.reverse(x, [1])
            m = None if m is None else m[:, ::-1]
        # An LSTM whose c is not wanted returns h alone (its gradient then has no c part to fill with zeros).
        both = self._n_states == 2 and (self.return_state or self.stateful)
        seq = rnn_sequence(x, self.kernel, self.recurrent_kernel, self.bias if self.use_bias else None, states[0],
                           states[1] if self._n_states == 2 else None, cell=self._cell, activation=self.activation,
                           recurrent_activation=self.recurrent_activation, mask=m, recurrent_scale=scale,
                           h_only=not both)
        h_seq = seq[:, :, :units] if both else seq
        finals = [seq[:, -1, :units]] + ([seq[:, -1, units:]] if both else [])
        if self.stateful:
            self._states = [np.array(unwrap(s), copy=True) for s in finals]
        if self.return_sequences:
            out = h_seq
            if self.zero_output_for_mask and m is not None:
                out = M.multiply(out, m[:, :, None].astype(dt))
        else:
            out = finals[0]
        return [out] + finals if self.return_state else out

    # ------------------------------------------------------------ config
    def get_config(self):
        config = {
            **super().get_config(), "units": self.units, "activation": self.activation, "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _reg(self.kernel_regularizer),
            "recurrent_regularizer": _reg(self.recurrent_regularizer),
            "bias_regularizer": _reg(self.bias_regularizer), "activity_regularizer": None,
            "kernel_constraint": None, "recurrent_constraint": None, "bias_constraint": None,
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
            "return_sequences": self.return_sequences, "return_state": self.return_state,
            "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
        }
        if self.zero_output_for_mask:
            config["zero_output_for_mask"] = True
        return config
