//! Recurrent layers: whole-sequence forward and backpropagation through time.

use crate::convert::{by_dtype, described, empty, floats, same};
use crate::errors::{argument_error, dtype_error, guarded, shape_error};
use ferronet_core::gemm::GemmFloat;
use ferronet_core::ops::rnn::{self, Act, Cell, Grads, Inputs, Rnn, Saved, Weights};
use ferronet_core::ops::vmath::VFloat;
use ferronet_core::shape::fmt_shape;
use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::prelude::*;

type Arr<'py, T> = Bound<'py, PyArrayDyn<T>>;

/// `ob` as a C-contiguous array of `T` and exactly `shape`.
fn operand<'py, T: Element>(
    py: Python<'py>,
    op: &str,
    name: &str,
    ob: &Bound<'py, PyAny>,
    shape: &[usize],
) -> PyResult<Arr<'py, T>> {
    let a = same::<T>(name, "x", ob)?;
    if a.shape() != shape {
        return Err(shape_error(
            py,
            format!(
                "{op}: {name} must have shape {}. Received: {name}.shape={}",
                fmt_shape(shape),
                fmt_shape(a.shape())
            ),
        ));
    }
    if !a.is_c_contiguous() {
        return Err(argument_error(py, format!("{op}: {name} must be C-contiguous")));
    }
    Ok(a)
}

fn optional<'py, T: Element>(
    py: Python<'py>,
    op: &str,
    name: &str,
    ob: Option<&Bound<'py, PyAny>>,
    shape: &[usize],
) -> PyResult<Option<Arr<'py, T>>> {
    ob.filter(|o| !o.is_none()).map(|o| operand::<T>(py, op, name, o, shape)).transpose()
}

fn mask_operand<'py>(
    py: Python<'py>,
    op: &str,
    ob: Option<&Bound<'py, PyAny>>,
    shape: &[usize],
) -> PyResult<Option<Arr<'py, u8>>> {
    let Some(ob) = ob.filter(|o| !o.is_none()) else { return Ok(None) };
    let Ok(a) = ob.cast::<PyArrayDyn<u8>>() else {
        return Err(dtype_error(
            py,
            format!("{op}: mask must be a uint8 array (0 = skipped step). Received: mask.{}", described(ob)),
        ));
    };
    if a.shape() != shape || !a.is_c_contiguous() {
        return Err(shape_error(
            py,
            format!(
                "{op}: mask must be a C-contiguous array of shape {}. Received: mask.shape={}",
                fmt_shape(shape),
                fmt_shape(a.shape())
            ),
        ));
    }
    Ok(Some(a.clone()))
}

/// The layer description and its checked operands.
struct Operands<'py, T: Element> {
    rnn: Rnn,
    x: Arr<'py, T>,
    kernel: Arr<'py, T>,
    recurrent: Arr<'py, T>,
    bias: Option<Arr<'py, T>>,
    h0: Arr<'py, T>,
    c0: Option<Arr<'py, T>>,
    mask: Option<Arr<'py, u8>>,
    scale: Option<Arr<'py, T>>,
}

#[allow(clippy::too_many_arguments)]
fn operands<'py, T: Element>(
    py: Python<'py>,
    op: &str,
    spec: (&str, &str, &str),
    x: Arr<'py, T>,
    kernel: &Bound<'py, PyAny>,
    recurrent: &Bound<'py, PyAny>,
    bias: Option<&Bound<'py, PyAny>>,
    h0: &Bound<'py, PyAny>,
    c0: Option<&Bound<'py, PyAny>>,
    mask: Option<&Bound<'py, PyAny>>,
    scale: Option<&Bound<'py, PyAny>>,
) -> PyResult<Operands<'py, T>> {
    let to_py = |e| crate::errors::to_py(py, e);
    let cell = Cell::parse(spec.0).map_err(to_py)?;
    let (act, ract) =
        (Act::parse("activation", spec.1).map_err(to_py)?, Act::parse("recurrent_activation", spec.2).map_err(to_py)?);
    if x.ndim() != 3 || !x.is_c_contiguous() {
        return Err(shape_error(
            py,
            format!(
                "{op}: x must be a C-contiguous (batch, steps, features) array. Received: x.shape={}",
                fmt_shape(x.shape())
            ),
        ));
    }
    let (b, t, f) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let rec = same::<T>("recurrent_kernel", "x", recurrent)?;
    let u = rec.shape().first().copied().unwrap_or(0);
    let gu = cell.gates() * u;
    let rnn = Rnn { cell, activation: act, recurrent_activation: ract, batch: b, steps: t, features: f, units: u };
    let bias_shape: Vec<usize> = if cell == Cell::Gru { vec![2, gu] } else { vec![gu] };
    let c0 = optional::<T>(py, op, "c0", c0, &[b, u])?;
    if c0.is_some() != (cell == Cell::Lstm) {
        return Err(argument_error(
            py,
            format!(
                "{op}: c0 is given exactly for an LSTM. Received: cell='{}', c0 {}",
                spec.0,
                if c0.is_some() { "given" } else { "None" }
            ),
        ));
    }
    Ok(Operands {
        rnn,
        kernel: operand::<T>(py, op, "kernel", kernel, &[f, gu])?,
        recurrent: operand::<T>(py, op, "recurrent_kernel", recurrent, &[u, gu])?,
        bias: optional::<T>(py, op, "bias", bias, &bias_shape)?,
        h0: operand::<T>(py, op, "h0", h0, &[b, u])?,
        c0,
        mask: mask_operand(py, op, mask, &[b, t])?,
        scale: optional::<T>(py, op, "recurrent_scale", scale, &[b, u])?,
        x,
    })
}

/// Read-only slices of the operands, valid while `o` lives.
unsafe fn parts<'a, T: Element>(o: &'a Operands<'_, T>) -> (Weights<'a, T>, Inputs<'a, T>) {
    let s = |a: &'a Arr<'_, T>| a.as_slice().unwrap_or(&[]);
    let w = Weights { kernel: s(&o.kernel), recurrent: s(&o.recurrent), bias: o.bias.as_ref().map(s) };
    let inp = Inputs {
        x: s(&o.x),
        h0: s(&o.h0),
        c0: o.c0.as_ref().map(s),
        mask: o.mask.as_ref().map(|m| m.as_slice().unwrap_or(&[])),
        recurrent_scale: o.scale.as_ref().map(s),
    };
    (w, inp)
}

type Triple<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>);

#[allow(clippy::too_many_arguments)]
fn forward_t<'py, T: GemmFloat + VFloat + Element>(
    py: Python<'py>,
    spec: (&str, &str, &str),
    x: Arr<'py, T>,
    kernel: &Bound<'py, PyAny>,
    recurrent: &Bound<'py, PyAny>,
    bias: Option<&Bound<'py, PyAny>>,
    h0: &Bound<'py, PyAny>,
    c0: Option<&Bound<'py, PyAny>>,
    mask: Option<&Bound<'py, PyAny>>,
    scale: Option<&Bound<'py, PyAny>>,
) -> PyResult<Triple<'py>> {
    let o = operands(py, "rnn_forward", spec, x, kernel, recurrent, bias, h0, c0, mask, scale)?;
    let r = o.rnn;
    let (b, t, u) = (r.batch, r.steps, r.units);
    let states = empty::<T>(py, &[b, t, r.cell.state_blocks() * u])?;
    let gates = empty::<T>(py, &[t, b, r.cell.gates() * u])?;
    let aux = empty::<T>(py, &[if r.cell == Cell::Simple { 0 } else { t }, b, u])?;
    unsafe {
        let (w, inp) = parts(&o);
        let (st, g, a) = (states.as_slice_mut()?, gates.as_slice_mut()?, aux.as_slice_mut()?);
        guarded(py, || rnn::rnn_forward(&r, w, inp, Saved { states: st, gates: g, aux: a }))?;
    }
    Ok((states.into_any(), gates.into_any(), aux.into_any()))
}

/// Runs a recurrent layer over whole sequences: returns (states, gates, aux),
/// states `(batch, steps, units)` (LSTM: `2·units`, h then c) after each step,
/// and what `rnn_backward` needs: the activated gates `(steps, batch,
/// G·units)` and aux `(steps, batch, units)` (empty for SimpleRNN), laid out
/// step by step for the backward pass's reads. `cell` is 'simple_rnn', 'lstm', 'gru'
/// (reset gate after the recurrent product, bias `(2, 3·units)`) or
/// 'gru_reset_before' (before it, bias `(3·units,)`); mask is uint8 `(batch, steps)`;
/// recurrent_scale multiplies h before the recurrent product.
#[pyfunction]
#[pyo3(signature = (cell, activation, recurrent_activation, x, kernel, recurrent_kernel, h0, bias=None, c0=None, mask=None, recurrent_scale=None))]
#[allow(clippy::too_many_arguments)]
fn rnn_forward<'py>(
    py: Python<'py>,
    cell: &str,
    activation: &str,
    recurrent_activation: &str,
    x: &Bound<'py, PyAny>,
    kernel: &Bound<'py, PyAny>,
    recurrent_kernel: &Bound<'py, PyAny>,
    h0: &Bound<'py, PyAny>,
    bias: Option<&Bound<'py, PyAny>>,
    c0: Option<&Bound<'py, PyAny>>,
    mask: Option<&Bound<'py, PyAny>>,
    recurrent_scale: Option<&Bound<'py, PyAny>>,
) -> PyResult<Triple<'py>> {
    let spec = (cell, activation, recurrent_activation);
    by_dtype!(floats("x", x)?, x => forward_t(py, spec, x, kernel, recurrent_kernel, bias, h0, c0, mask, recurrent_scale))
}

type Six<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Option<Bound<'py, PyAny>>,
    Bound<'py, PyAny>,
    Option<Bound<'py, PyAny>>,
);

#[allow(clippy::too_many_arguments)]
fn backward_t<'py, T: GemmFloat + VFloat + Element>(
    py: Python<'py>,
    spec: (&str, &str, &str),
    x: Arr<'py, T>,
    kernel: &Bound<'py, PyAny>,
    recurrent: &Bound<'py, PyAny>,
    bias: Option<&Bound<'py, PyAny>>,
    h0: &Bound<'py, PyAny>,
    c0: Option<&Bound<'py, PyAny>>,
    mask: Option<&Bound<'py, PyAny>>,
    scale: Option<&Bound<'py, PyAny>>,
    saved: [&Bound<'py, PyAny>; 3],
    d_states: &Bound<'py, PyAny>,
) -> PyResult<Six<'py>> {
    const OP: &str = "rnn_backward";
    let o = operands(py, OP, spec, x, kernel, recurrent, bias, h0, c0, mask, scale)?;
    let r = o.rnn;
    let (b, t, f, u) = (r.batch, r.steps, r.features, r.units);
    let (su, gu) = (r.cell.state_blocks() * u, r.cell.gates() * u);
    // The saved buffers are read only, but copies are made if they are not C-contiguous.
    let states = operand::<T>(py, OP, "states", saved[0], &[b, t, su])?;
    let gates = operand::<T>(py, OP, "gates", saved[1], &[t, b, gu])?;
    let aux = operand::<T>(py, OP, "aux", saved[2], &[if r.cell == Cell::Simple { 0 } else { t }, b, u])?;
    // An LSTM's output gradient may be dL/dh alone, (batch, steps, units).
    let h_only = r.cell == Cell::Lstm && same::<T>("d_states", "x", d_states)?.shape() == [b, t, u];
    let ds = operand::<T>(py, OP, "d_states", d_states, &[b, t, if h_only { u } else { su }])?;
    let dx = empty::<T>(py, &[b, t, f])?;
    let dk = empty::<T>(py, &[f, gu])?;
    let dr = empty::<T>(py, &[u, gu])?;
    let db = o.bias.as_ref().map(|a| empty::<T>(py, a.shape())).transpose()?;
    let dh0 = empty::<T>(py, &[b, u])?;
    let dc0 = o.c0.as_ref().map(|_| empty::<T>(py, &[b, u])).transpose()?;
    unsafe {
        let (w, inp) = parts(&o);
        // NOTE: the kernel takes the saved buffers mutably (one struct for both passes) but only reads them
        // in backward; they are private arrays of the op, never visible elsewhere while it runs.
        let saved = Saved { states: states.as_slice_mut()?, gates: gates.as_slice_mut()?, aux: aux.as_slice_mut()? };
        let grads = Grads {
            dx: dx.as_slice_mut()?,
            dkernel: dk.as_slice_mut()?,
            drecurrent: dr.as_slice_mut()?,
            dbias: db.as_ref().map(|a| a.as_slice_mut()).transpose()?,
            dh0: dh0.as_slice_mut()?,
            dc0: dc0.as_ref().map(|a| a.as_slice_mut()).transpose()?,
        };
        let ds = ds.as_slice()?;
        guarded(py, || rnn::rnn_backward(&r, w, inp, saved, ds, grads))?;
    }
    Ok((
        dx.into_any(),
        dk.into_any(),
        dr.into_any(),
        db.map(|a| a.into_any()),
        dh0.into_any(),
        dc0.map(|a| a.into_any()),
    ))
}

/// Backpropagation through time of `rnn_forward` (same arguments, then its
/// three saved arrays and the states' gradient, for an LSTM either both
/// states' `(batch, steps, 2·units)` or h's alone, `(batch, steps, units)`): returns
/// (dx, dkernel, drecurrent_kernel, dbias or None, dh0, dc0 or None).
#[pyfunction]
#[pyo3(signature = (cell, activation, recurrent_activation, x, kernel, recurrent_kernel, h0, bias, c0, mask, recurrent_scale, states, gates, aux, d_states))]
#[allow(clippy::too_many_arguments)]
fn rnn_backward<'py>(
    py: Python<'py>,
    cell: &str,
    activation: &str,
    recurrent_activation: &str,
    x: &Bound<'py, PyAny>,
    kernel: &Bound<'py, PyAny>,
    recurrent_kernel: &Bound<'py, PyAny>,
    h0: &Bound<'py, PyAny>,
    bias: Option<&Bound<'py, PyAny>>,
    c0: Option<&Bound<'py, PyAny>>,
    mask: Option<&Bound<'py, PyAny>>,
    recurrent_scale: Option<&Bound<'py, PyAny>>,
    states: &Bound<'py, PyAny>,
    gates: &Bound<'py, PyAny>,
    aux: &Bound<'py, PyAny>,
    d_states: &Bound<'py, PyAny>,
) -> PyResult<Six<'py>> {
    let spec = (cell, activation, recurrent_activation);
    let saved = [states, gates, aux];
    by_dtype!(floats("x", x)?, x => backward_t(py, spec, x, kernel, recurrent_kernel, bias, h0, c0, mask, recurrent_scale, saved, d_states))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rnn_forward, m)?)?;
    m.add_function(wrap_pyfunction!(rnn_backward, m)?)?;
    Ok(())
}
