//! Recurrent layers (SimpleRNN, LSTM, GRU) over whole sequences, forward and
//! backpropagation through time.
//!
//! Forward: each step runs one GEMM, `[x_s | h]·[W; R]` (the input and
//! recurrent products summed in one product, `W` and `R` stacked and packed
//! once for all steps), straight into the step's block of the saved gates,
//! followed by one element-wise pass per batch row ([`cells`]) that adds the
//! bias, applies the gate non-linearities and writes the new state. A batch
//! row's steps depend only on its own earlier steps, so each thread runs the
//! whole sequence for its block of rows, with no wait between steps. GRU
//! keeps `x_s·W` and `h·R` apart (its candidate takes `r ⊙ (h·R_h)`): two
//! products per step. Saved for backward: the states (`h`, and `c` for LSTM),
//! the activated gates and, for GRU, the recurrent part of the candidate,
//! the last two step-major so a step's rows are one contiguous block (read
//! back row by row from batch-major buffers, they came from memory at the
//! latency of a cache miss per row).
//!
//! Backward walks the steps in reverse: one element-wise pass per row turns
//! dL/dh (and dL/dc) into the step's gate gradients `dG`; then, while those
//! (one step's, `batch × G·units`) are in cache, `d[W; R] += [x_s | h]ᵀ·dG`
//! and `[dx_s | dh_prev] = dG·[W; R]ᵀ` (GRU: the same products with its two
//! sides apart) and the bias column sums. No array of every step's gate
//! gradients is stored and read back.
//!
//! The reset-before GRU (Keras' `reset_after=False`) needs `r` before its
//! candidate's recurrent product, so its step runs two GEMMs ([`gru_before`]):
//! `h·R_zr` for the gates `z, r`, then `(r⊙h)·R_h` for the candidate, each
//! followed by its element-wise pass; it saves `r⊙h` for the weight gradient.
//!
//! Steps whose mask is 0 carry the state through unchanged and pass its
//! gradient back unchanged. Sequences run in the order given (the caller
//! reverses them for `go_backwards`). Work is split over batch rows and the
//! GEMM never splits its sum, so results are bitwise identical for any thread
//! count.

mod backward;
mod cells;
mod gru_before;
#[cfg(test)]
mod tests;

use crate::error::{shape_err, value_err, Result};
use crate::gemm::{self, GemmFloat, MatPtr};
use crate::ops::vmath::{has_fma, Fused, MulAdd, Plain, VFloat};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};
use crate::workspace::{with_scratch, Slot};
pub use backward::rnn_backward;
use cells::{forward_on, Pass, RowFwd};
use std::ops::Range;

const OP_F: &str = "rnn_forward";

/// The recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// `h = act(x·W + h·R + b)`.
    Simple,
    /// Gates `i, f, c, o`; state `(h, c)`.
    Lstm,
    /// Gates `z, r, h` with the reset gate applied after the recurrent
    /// product (Keras' `reset_after=True`), bias `(2, 3·units)`.
    Gru,
    /// Gates `z, r, h` with the reset gate applied to `h` before its
    /// product (Keras' `reset_after=False`), bias `(3·units,)`.
    GruResetBefore,
}

impl Cell {
    /// `"simple_rnn"`, `"lstm"`, `"gru"` or `"gru_reset_before"`.
    pub fn parse(name: &str) -> Result<Cell> {
        match name {
            "simple_rnn" => Ok(Cell::Simple),
            "lstm" => Ok(Cell::Lstm),
            "gru" => Ok(Cell::Gru),
            "gru_reset_before" => Ok(Cell::GruResetBefore),
            _ => value_err(
                OP_F,
                format!("cell must be 'simple_rnn', 'lstm', 'gru' or 'gru_reset_before'. Received: cell='{name}'"),
            ),
        }
    }

    /// Number of gate blocks in the kernels' last axis.
    pub fn gates(self) -> usize {
        match self {
            Cell::Simple => 1,
            Cell::Lstm => 4,
            Cell::Gru | Cell::GruResetBefore => 3,
        }
    }

    /// Number of `units`-wide state blocks per step (`h`, or `h` and `c`).
    pub fn state_blocks(self) -> usize {
        if self == Cell::Lstm {
            2
        } else {
            1
        }
    }
}

/// An activation the cells apply inside the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Linear,
    Tanh,
    Sigmoid,
    Relu,
}

impl Act {
    /// `"linear"`, `"tanh"`, `"sigmoid"` or `"relu"`.
    pub fn parse(what: &str, name: &str) -> Result<Act> {
        match name {
            "linear" => Ok(Act::Linear),
            "tanh" => Ok(Act::Tanh),
            "sigmoid" => Ok(Act::Sigmoid),
            "relu" => Ok(Act::Relu),
            _ => value_err(
                OP_F,
                format!("{what} must be 'linear', 'tanh', 'sigmoid' or 'relu'. Received: {what}='{name}'"),
            ),
        }
    }
}

/// What a recurrent layer computes and on which sizes.
#[derive(Clone, Copy, Debug)]
pub struct Rnn {
    pub cell: Cell,
    pub activation: Act,
    pub recurrent_activation: Act,
    pub batch: usize,
    pub steps: usize,
    pub features: usize,
    pub units: usize,
}

/// The layer's weights in Keras' layouts: `kernel (features, G·units)`,
/// `recurrent (units, G·units)`, `bias (G·units)` or, for GRU with the reset
/// gate after the product, `(2, 3·units)`.
#[derive(Clone, Copy)]
pub struct Weights<'a, T> {
    pub kernel: &'a [T],
    pub recurrent: &'a [T],
    pub bias: Option<&'a [T]>,
}

/// Everything about the sequences besides the weights.
#[derive(Clone, Copy)]
pub struct Inputs<'a, T> {
    /// `(batch, steps, features)`.
    pub x: &'a [T],
    /// Initial `h` `(batch, units)`, and `c` for LSTM.
    pub h0: &'a [T],
    pub c0: Option<&'a [T]>,
    /// `(batch, steps)`, 0 where a step is skipped.
    pub mask: Option<&'a [u8]>,
    /// Recurrent dropout: `(batch, units)` factors on `h` before the
    /// recurrent product.
    pub recurrent_scale: Option<&'a [T]>,
}

/// What the forward pass keeps for the backward pass.
pub struct Saved<'a, T> {
    /// `(batch, steps, S·units)`: `h` after each step, then `c` for LSTM.
    pub states: &'a mut [T],
    /// `(steps, batch, G·units)`: the activated gates, step-major so that
    /// each step's rows are one block for the backward pass's reads.
    pub gates: &'a mut [T],
    /// `(steps, batch, units)`: LSTM `activation(c)`, GRU the recurrent part
    /// of the candidate, reset-before GRU `r⊙h`. Empty for SimpleRNN.
    pub aux: &'a mut [T],
}

/// The gradients the backward pass writes (every one overwritten).
pub struct Grads<'a, T> {
    pub dx: &'a mut [T],
    pub dkernel: &'a mut [T],
    pub drecurrent: &'a mut [T],
    pub dbias: Option<&'a mut [T]>,
    pub dh0: &'a mut [T],
    pub dc0: Option<&'a mut [T]>,
}

impl Rnn {
    pub(super) fn gu(&self) -> usize {
        self.cell.gates() * self.units
    }

    pub(super) fn su(&self) -> usize {
        self.cell.state_blocks() * self.units
    }

    pub(super) fn bias_len(&self) -> usize {
        if self.cell == Cell::Gru {
            2 * self.gu()
        } else {
            self.gu()
        }
    }

    fn aux_len(&self) -> usize {
        if self.cell != Cell::Simple {
            self.batch * self.steps * self.units
        } else {
            0
        }
    }

    pub(super) fn check<T>(&self, op: &'static str, w: &Weights<'_, T>, inp: &Inputs<'_, T>) -> Result<()> {
        let (b, t, f, u, gu) = (self.batch, self.steps, self.features, self.units, self.gu());
        if u == 0 || f == 0 || t == 0 {
            return value_err(
                op,
                format!("units, features and steps must be positive. Received: units={u}, features={f}, steps={t}"),
            );
        }
        let want = |name: &str, got: usize, n: usize, shape: String| -> Result<()> {
            if got != n {
                return shape_err(op, format!("{name} must have shape {shape}. Received: {got} elements"));
            }
            Ok(())
        };
        want("x", inp.x.len(), b * t * f, format!("({b}, {t}, {f})"))?;
        want("kernel", w.kernel.len(), f * gu, format!("({f}, {gu})"))?;
        want("recurrent_kernel", w.recurrent.len(), u * gu, format!("({u}, {gu})"))?;
        if let Some(bias) = w.bias {
            let shape = if self.cell == Cell::Gru { format!("(2, {gu})") } else { format!("({gu},)") };
            want("bias", bias.len(), self.bias_len(), shape)?;
        }
        want("h0", inp.h0.len(), b * u, format!("({b}, {u})"))?;
        match (self.cell, inp.c0) {
            (Cell::Lstm, Some(c0)) => want("c0", c0.len(), b * u, format!("({b}, {u})"))?,
            (Cell::Lstm, None) => return value_err(op, "an LSTM needs c0. Received: c0=None"),
            (_, Some(_)) => {
                return value_err(op, format!("only an LSTM takes c0. Received: c0 for cell {:?}", self.cell))
            }
            _ => {}
        }
        if let Some(m) = inp.mask {
            want("mask", m.len(), b * t, format!("({b}, {t})"))?;
        }
        if let Some(s) = inp.recurrent_scale {
            want("recurrent_scale", s.len(), b * u, format!("({b}, {u})"))?;
        }
        Ok(())
    }

    pub(super) fn check_saved(&self, op: &'static str, states: usize, gates: usize, aux: usize) -> Result<()> {
        let (b, t) = (self.batch, self.steps);
        if states != b * t * self.su() || gates != b * t * self.gu() || aux != self.aux_len() {
            return shape_err(
                op,
                format!(
                    "saved buffers must hold states ({b}, {t}, {}), gates ({t}, {b}, {}) and aux {}. Received: {states}, {gates} and {aux} elements",
                    self.su(),
                    self.gu(),
                    self.aux_len()
                ),
            );
        }
        Ok(())
    }
}

/// Asks for the cache lines of `n` values from `p` to be brought into L2.
/// The backward pass reads each step's saved rows once, a step after the
/// one it works on: blocks of rows the hardware prefetchers, which stop at
/// every 4 KiB page, bring in too late.
#[inline(always)]
pub(super) fn prefetch<T>(p: *const T, n: usize) {
    let bytes = n * std::mem::size_of::<T>();
    for off in (0..bytes).step_by(64) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch is a hint; it never faults, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch((p as *const i8).wrapping_add(off), std::arch::x86_64::_MM_HINT_T1)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (p, off);
    }
}

/// `&s[i·n .. (i+1)·n]` of a raw buffer.
#[inline(always)]
pub(super) unsafe fn part<'a, T>(p: *const T, i: usize, n: usize) -> &'a [T] {
    std::slice::from_raw_parts(p.add(i * n), n)
}

/// The state batch row `b` starts step `s` from, `(h, c)` (`c` empty but for
/// LSTM): the initial state at the first step, else row `(b, s − 1)` of
/// `states`.
///
/// # Safety
/// `states` is the `(batch, steps, S·units)` buffer, written up to step
/// `s − 1` for row `b`.
#[inline(always)]
pub(super) unsafe fn state_before<'a, T>(
    rnn: &Rnn,
    inp: &Inputs<'a, T>,
    states: *const T,
    b: usize,
    s: usize,
) -> (&'a [T], &'a [T]) {
    let (u, su) = (rnn.units, rnn.su());
    if s > 0 {
        return part(states, b * rnn.steps + s - 1, su).split_at(u);
    }
    (part(inp.h0.as_ptr(), b, u), inp.c0.map_or(&[][..], |c| part(c.as_ptr(), b, u)))
}

#[inline(always)]
pub(super) unsafe fn part_mut<'a, T>(p: SendPtr<T>, i: usize, n: usize) -> &'a mut [T] {
    std::slice::from_raw_parts_mut(p.get().add(i * n), n)
}

/// `[W; R]`, `(features + units) × G·units`: the right factor of the fused
/// step product `[x_s | h]·[W; R]` of the cells whose input and recurrent
/// sums are one sum (all but the GRUs).
pub(super) fn stack_weights<T: Copy>(w: &Weights<'_, T>, out: &mut [T]) {
    let (k, r) = out.split_at_mut(w.kernel.len());
    k.copy_from_slice(w.kernel);
    r.copy_from_slice(w.recurrent);
}

/// Batch rows `rows` of step `s`'s left factor, written to `out`: `[x_s |
/// h_prev]` with `with_x`, else `h_prev` alone, where `h_prev` is the state
/// the step starts from as its recurrent product sees it (times the
/// recurrent dropout factors when there are any).
///
/// # Safety
/// `states` is the forward pass's `(batch, steps, S·units)` buffer, written
/// up to step `s - 1` for these rows; `out` holds `rows.len()` rows of
/// `features + units` (`with_x`) or `units` values.
pub(super) unsafe fn gather_step<T: Copy + std::ops::Mul<Output = T>>(
    rnn: &Rnn,
    inp: &Inputs<'_, T>,
    states: *const T,
    s: usize,
    rows: Range<usize>,
    with_x: bool,
    out: &mut [T],
) {
    let (nt, nf, u) = (rnn.steps, rnn.features, rnn.units);
    let width = if with_x { nf + u } else { u };
    for (o, b) in out.chunks_exact_mut(width).zip(rows) {
        let (ox, oh) = o.split_at_mut(width - u);
        if with_x {
            ox.copy_from_slice(part(inp.x.as_ptr(), b * nt + s, nf));
        }
        let h = state_before(rnn, inp, states, b, s).0;
        match inp.recurrent_scale {
            None => oh.copy_from_slice(h),
            Some(k) => oh.iter_mut().zip(h).zip(&k[b * u..(b + 1) * u]).for_each(|((o, &h), &k)| *o = h * k),
        }
    }
}

/// Forward pass over all steps; fills `saved`.
pub fn rnn_forward<T: GemmFloat + VFloat>(
    rnn: &Rnn,
    w: Weights<'_, T>,
    inp: Inputs<'_, T>,
    saved: Saved<'_, T>,
) -> Result<()> {
    rnn.check(OP_F, &w, &inp)?;
    rnn.check_saved(OP_F, saved.states.len(), saved.gates.len(), saved.aux.len())?;
    let isa = simd::active();
    if has_fma(isa) {
        forward_with::<Fused, T>(isa, rnn, w, inp, saved);
    } else {
        forward_with::<Plain, T>(isa, rnn, w, inp, saved);
    }
    Ok(())
}

/// The step products' right factors, packed once for all steps: `[W; R]`
/// for the cells with one sum, `W` and `R` apart for GRU (its candidate
/// takes `r ⊙ (h·R_h)`).
#[derive(Clone, Copy)]
enum Factors<'a, T> {
    Stacked(&'a gemm::PackedB<'a, T>),
    Split(&'a gemm::PackedB<'a, T>, &'a gemm::PackedB<'a, T>),
}

/// The forward pass's output buffers.
#[derive(Clone, Copy)]
struct Out<T> {
    states: SendPtr<T>,
    gates: SendPtr<T>,
    aux: SendPtr<T>,
}

fn forward_with<M: MulAdd, T: GemmFloat + VFloat>(
    isa: Isa,
    rnn: &Rnn,
    w: Weights<'_, T>,
    inp: Inputs<'_, T>,
    saved: Saved<'_, T>,
) {
    if rnn.cell == Cell::GruResetBefore {
        return gru_before::forward::<M, T>(isa, rnn, w, inp, saved);
    }
    let (nf, u, gu) = (rnn.features, rnn.units, rnn.gu());
    let out = Out {
        states: SendPtr(saved.states.as_mut_ptr()),
        gates: SendPtr(saved.gates.as_mut_ptr()),
        aux: SendPtr(saved.aux.as_mut_ptr()),
    };
    let run =
        |f: Factors<'_, T>| by_rows(rnn, |rows| unsafe { steps_on_rows::<M, T>(isa, rnn, &w, &inp, out, f, rows) });
    // SAFETY (of the packings): W is features × G·units and R units × G·units, as checked.
    if rnn.cell == Cell::Gru {
        let wk = MatPtr { ptr: w.kernel.as_ptr(), rs: gu as isize, cs: 1 };
        let rk = MatPtr { ptr: w.recurrent.as_ptr(), rs: gu as isize, cs: 1 };
        unsafe {
            gemm::with_packed_b(nf, gu, wk, |wp| {
                gemm::with_packed_b_in(Slot::PackB2, u, gu, rk, |rp| run(Factors::Split(wp, rp)))
            })
        }
    } else {
        with_scratch(Slot::SeqA, |buf| {
            let wr = buf.slice::<T>((nf + u) * gu);
            stack_weights(&w, wr);
            let m = MatPtr { ptr: wr.as_ptr(), rs: gu as isize, cs: 1 };
            unsafe { gemm::with_packed_b(nf + u, gu, m, |p| run(Factors::Stacked(p))) }
        })
    }
}

/// Runs `f(rows)` over the batch in blocks of rows, one per thread. A batch
/// row's steps depend only on its own earlier steps, so the threads run the
/// whole sequence without waiting for each other at every step. Blocks are
/// multiples of 8 rows, and a row's sums do not depend on its block.
fn by_rows(rnn: &Rnn, f: impl Fn(Range<usize>) + Sync) {
    let nb = rnn.batch;
    let work = nb * rnn.steps * rnn.gu() * (rnn.features + rnn.units);
    let threads = if crate::parallel::worth_parallel(work, 1 << 21) { crate::parallel::num_threads() } else { 1 };
    let per = nb.div_ceil(threads).next_multiple_of(8);
    crate::parallel::for_each(nb.div_ceil(per), |i| f(i * per..nb.min((i + 1) * per)));
}

/// Every step of the batch rows `rows`: the step product into the step's
/// gates, then the cells, one row at a time.
///
/// # Safety
/// `out` addresses the checked saved buffers of `rnn`; no other thread
/// touches these rows.
#[allow(clippy::too_many_arguments)]
unsafe fn steps_on_rows<M: MulAdd, T: GemmFloat + VFloat>(
    isa: Isa,
    rnn: &Rnn,
    w: &Weights<'_, T>,
    inp: &Inputs<'_, T>,
    out: Out<T>,
    f: Factors<'_, T>,
    rows: Range<usize>,
) {
    let Rnn { cell, activation: act, recurrent_activation: ract, batch: nb, steps: nt, features: nf, units: u } = *rnn;
    let (gu, su, m, r0) = (rnn.gu(), rnn.su(), rows.len(), rows.start);
    let fused = matches!(f, Factors::Stacked(_));
    let width = if fused { nf + u } else { u };
    let (bias, rec_bias) = match (cell, w.bias) {
        (Cell::Gru, Some(b)) => (Some(&b[..gu]), Some(&b[gu..])),
        (_, b) => (b, None),
    };
    with_scratch(Slot::SeqC, |buf| {
        let (left, rec) = buf.slice::<T>(m * (width + if fused { 0 } else { gu })).split_at_mut(m * width);
        let a = MatPtr { ptr: left.as_ptr(), rs: width as isize, cs: 1 };
        for s in 0..nt {
            // Stage 1: the step product of these rows, into the step's gates (and `rec` for GRU).
            gather_step(rnn, inp, out.states.get(), s, rows.clone(), fused, left);
            let g_s = out.gates.get().add((s * nb + r0) * gu);
            match f {
                Factors::Stacked(p) => gemm::gemm_packed(m, a, p, g_s, gu as isize, 1, false),
                Factors::Split(wp, rp) => {
                    let x_s = MatPtr { ptr: inp.x.as_ptr().add((r0 * nt + s) * nf), rs: (nt * nf) as isize, cs: 1 };
                    gemm::gemm_packed(m, x_s, wp, g_s, gu as isize, 1, false);
                    gemm::gemm_packed(m, a, rp, rec.as_mut_ptr(), gu as isize, 1, false);
                }
            }
            // Stage 2: gates and new state, one row at a time.
            for (i, b) in rows.clone().enumerate() {
                let (row, srow) = (b * nt + s, s * nb + b);
                let (h_prev, c_prev) = state_before(rnn, inp, out.states.get(), b, s);
                let st = part_mut(out.states, row, su);
                let g = part_mut(out.gates, srow, gu);
                let aux = if cell != Cell::Simple { part_mut(out.aux, srow, u) } else { &mut [] };
                if inp.mask.is_some_and(|m| m[row] == 0) {
                    // A skipped step: the state goes through unchanged.
                    st[..u].copy_from_slice(h_prev);
                    st[u..].copy_from_slice(c_prev);
                    g.fill(T::ZERO);
                    aux.fill(T::ZERO);
                    continue;
                }
                let (h, c) = st.split_at_mut(u);
                let rec = if fused { &mut [][..] } else { &mut rec[i * gu..(i + 1) * gu] };
                let r = RowFwd {
                    pass: Pass::Gates,
                    gates: g,
                    rec,
                    bias,
                    rec_bias,
                    h_prev,
                    h_rec: h_prev,
                    c_prev,
                    h,
                    c,
                    aux,
                };
                forward_on::<M, T>(isa, cell, act, ract, u, r);
            }
        }
    })
}

/// `C (+)= A·B` for the `nb` batch rows of one step against a B packed once
/// for all steps (packing the recurrent kernel on every step cost about a
/// third of the step), the rows split over the team. Each element's sum is
/// the same whatever the split, so results do not depend on the thread count.
///
/// # Safety
/// `a` has `nb` valid rows of `b.k()` values; `c` has `nb` rows of `b.n()`, `rsc` apart.
pub(crate) unsafe fn step_product<T: GemmFloat>(
    nb: usize,
    a: MatPtr<T>,
    b: &gemm::PackedB<T>,
    c: *mut T,
    rsc: usize,
    accumulate: bool,
) {
    let work = nb * b.n() * b.k();
    let threads = if crate::parallel::worth_parallel(work, 1 << 17) { crate::parallel::num_threads() } else { 1 };
    let per = nb.div_ceil(threads).next_multiple_of(8);
    if threads == 1 || per >= nb {
        return gemm::gemm_packed(nb, a, b, c, rsc as isize, 1, accumulate);
    }
    let (ap, cp, (ars, acs)) = (SendPtr(a.ptr as *mut T), SendPtr(c), (a.rs, a.cs));
    crate::parallel::for_each(nb.div_ceil(per), |i| {
        let (r0, m) = (i * per, per.min(nb - i * per));
        // SAFETY: block i owns rows r0..r0+m of C.
        let a = MatPtr { ptr: ap.get().offset(r0 as isize * ars) as *const T, rs: ars, cs: acs };
        gemm::gemm_packed(m, a, b, cp.get().add(r0 * rsc), rsc as isize, 1, accumulate);
    });
}
