"""``Dense``: ``activation(x @ kernel + bias)`` on the last axis."""

from __future__ import annotations

import numpy as np

from .. import _core
from ..errors import ShapeError
from .base import Layer, fmt_shape

__all__ = ["Dense"]


class Dense(Layer):
    """Densely connected layer: ``activation(inputs @ kernel + bias)``.

    Args:
        units: positive int, size of the output's last axis.
        activation: name (``"relu"``, ``"softmax"``, ...), function from
            ``ferronet.activations`` or ``None`` (linear).
        use_bias: whether to add a bias vector.
        kernel_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.
        kernel_regularizer: optional regularizer (``ferronet.regularizers.l2(1e-4)``).
        bias_regularizer: optional regularizer.
        **kwargs: base layer arguments (``name``, ``trainable``, ``dtype``, ``input_shape``, ``input_dim``).

    Input shape:
        ``(batch, ..., input_dim)``.

    Output shape:
        ``(batch, ..., units)``. Weights: ``kernel (input_dim, units)``, ``bias (units,)``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> fn.layers.Dense(3, activation="relu")(np.ones((2, 4))).shape
        (2, 3)
    """

    supports_masking = True

    _min_ndim = 2

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"units must be a positive integer. Received: units={units!r}")
        self.units = int(units)
        self._init_kernel_args(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                               bias_regularizer)

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ShapeError(
                f'Layer "{self.name}" (Dense) needs a known last dimension. Received: input shape {fmt_shape(input_shape)}'
            )
        self._add_kernel((in_dim, self.units), self.units)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _check_call_shape(self, shape):
        want = self.input_shape
        if want is not None and (len(shape) < 2 or shape[-1] != want[-1]):
            raise ShapeError(
                f'Layer "{self.name}" (Dense) expects inputs whose last dimension is {want[-1]} '
                f"(built for {fmt_shape(want)}). Received: input shape {fmt_shape(shape)}"
            )

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import fused_layers

        bias = self.bias if self.use_bias else None
        name = None if self._act is None else self._act.name
        if self._act is None or name in ("relu", "sigmoid", "tanh"):  # applied inside the fused primitive
            return fused_layers.dense_act(x, self.kernel, bias, activation=name, precision=self._precision)
        return self._activation_tensor(fused_layers.dense_act(x, self.kernel, bias, precision=self._precision))

    def _forward(self, state, inputs, training):
        state.x = inputs
        z = state.buf("z", inputs.shape[:-1] + (self.units,))
        # NOTE: the compiled kernel is called directly (inputs are C-contiguous in the layer's dtype, see
        # Layer.__call__ and the model's input checks): the ops wrapper's checks cost as much as the kernel
        # at batch 32.
        if inputs.ndim == 2:
            _core.linear(inputs, self.kernel.value, self.bias.value if self.use_bias else None, z, self._precision)
        else:
            _core.linear(inputs.reshape(-1, inputs.shape[-1]), self.kernel.value,
                         self.bias.value if self.use_bias else None, z.reshape(-1, self.units), self._precision)
        return self._forward_activation(state, z)

    # A training plan may hand this layer its optimizer's Adam step (``state.adam``): the kernel is then updated
    # inside the weight-gradient kernel, and its gradient is never stored. That kernel multiplies in float32
    # only, so a mixed_bfloat16 layer takes the plain backward and the optimizer's own update.
    @property
    def _fusable_adam(self):
        return self._precision == "float32"

    def _backward(self, state, dy, need_dx):
        dz = self._backward_activation(state, dy)
        x = x_in = state.x
        train = state.train
        if x.ndim != 2:
            x = x.reshape(-1, x.shape[-1])
            dz = dz.reshape(-1, self.units)
        dx_out = state.buf("dx", x_in.shape) if need_dx else None
        fused = state.adam
        if fused is not None and train:
            opt, step, lr = fused
            slots = opt._slots[id(self.kernel)]
            _core.linear_backward_adam(
                dz, x, self.kernel.value, slots["momentum"], slots["velocity"], step, lr, opt.beta_1, opt.beta_2,
                opt.epsilon, need_dx, None if dx_out is None else dx_out.reshape(x.shape),
                state.grad(self.bias) if self.use_bias else None,
            )
            return dx_out
        _core.linear_backward(
            dz, x, self.kernel.value, need_dx, train, train and self.use_bias,
            None if dx_out is None else dx_out.reshape(x.shape),
            state.grad(self.kernel) if train else None,
            state.grad(self.bias) if train and self.use_bias else None,
            self._precision,
        )
        return dx_out

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            **self._kernel_args_config(),
        }
