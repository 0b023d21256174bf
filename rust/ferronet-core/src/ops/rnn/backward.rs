//! Backpropagation through time (see the module documentation of [`super`]).

use super::cells::{backward_on, Pass, RowBwd};
use super::{
    gather_step, gru_before, part, part_mut, prefetch, stack_weights, state_before, step_product, Cell, Grads, Inputs,
    Rnn, Saved, Weights,
};
use crate::error::{shape_err, value_err, Result};
use crate::gemm::{self, GemmFloat, MatPtr};
use crate::ops::reduce::{self, RowTerm};
use crate::ops::sweep::{sweep, Body};
use crate::ops::vmath::{has_fma, Fused, MulAdd, Plain, VFloat};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};
use crate::workspace::{with_scratch, Slot};
use std::ops::Range;

const OP_B: &str = "rnn_backward";

/// Backpropagation through time. `d_states` is dL/d`states` (same layout),
/// or for an LSTM dL/dh alone, `(batch, steps, units)` (c's part zero);
/// `saved` is what [`rnn_forward`] wrote for the same inputs.
pub fn rnn_backward<T: GemmFloat + VFloat>(
    rnn: &Rnn,
    w: Weights<'_, T>,
    inp: Inputs<'_, T>,
    saved: Saved<'_, T>,
    d_states: &[T],
    grads: Grads<'_, T>,
) -> Result<()> {
    rnn.check(OP_B, &w, &inp)?;
    rnn.check_saved(OP_B, saved.states.len(), saved.gates.len(), saved.aux.len())?;
    let (b, t, f, u, gu) = (rnn.batch, rnn.steps, rnn.features, rnn.units, rnn.gu());
    let sizes = [
        ("d_states", d_states.len(), b * t * d_width(rnn, d_states.len())),
        ("dx", grads.dx.len(), b * t * f),
        ("dkernel", grads.dkernel.len(), f * gu),
        ("drecurrent", grads.drecurrent.len(), u * gu),
        ("dh0", grads.dh0.len(), b * u),
        ("dbias", grads.dbias.as_ref().map_or(rnn.bias_len(), |d| d.len()), rnn.bias_len()),
        ("dc0", grads.dc0.as_ref().map_or(b * u, |d| d.len()), b * u),
    ];
    for (name, got, want) in sizes {
        if got != want {
            return shape_err(OP_B, format!("{name} must hold {want} elements. Received: {got}"));
        }
    }
    if (grads.dc0.is_some()) != (rnn.cell == Cell::Lstm) || grads.dbias.is_some() != w.bias.is_some() {
        return value_err(
            OP_B,
            "dc0 is needed exactly for an LSTM and dbias exactly with a bias. Received: a mismatch",
        );
    }
    let isa = simd::active();
    if has_fma(isa) {
        backward_with::<Fused, T>(isa, rnn, w, inp, saved, d_states, grads);
    } else {
        backward_with::<Plain, T>(isa, rnn, w, inp, saved, d_states, grads);
    }
    Ok(())
}

/// Values per (batch, step) row of an output gradient of `len` elements:
/// the states' width, or `units` when an LSTM's gradient is dL/dh alone.
fn d_width(rnn: &Rnn, len: usize) -> usize {
    if rnn.cell == Cell::Lstm && len == rnn.batch * rnn.steps * rnn.units {
        rnn.units
    } else {
        rnn.su()
    }
}

/// Steps whose weight gradient the one-product cells add in one product:
/// its k is this many times the block's rows, and the gradient (160 × 512
/// values for the benchmark's LSTM) is read and written a quarter as often.
const WGRAD_STEPS: usize = 4;

/// Batch rows per block of the backward pass. The blocks are fixed by the
/// batch size alone, so each block's share of the weight gradients, and their
/// sum in block order, come out the same for any thread count.
const ROW_BLOCK: usize = 32;

fn backward_with<M: MulAdd, T: GemmFloat + VFloat>(
    isa: Isa,
    rnn: &Rnn,
    w: Weights<'_, T>,
    inp: Inputs<'_, T>,
    saved: Saved<'_, T>,
    d_states: &[T],
    mut grads: Grads<'_, T>,
) {
    let (nb, nf, u, gu) = (rnn.batch, rnn.features, rnn.units, rnn.gu());
    let fused = one_sum(rnn);
    let (width, wr_len) = if fused { (nf + u, (nf + u) * gu) } else { (u, 0) };
    let (wlen, bias_len) = ((nf + u) * gu, if w.bias.is_some() { rnn.bias_len() } else { 0 });
    let blocks = nb.div_ceil(ROW_BLOCK);
    let out = Back {
        states: SendPtr(saved.states.as_mut_ptr()),
        gates: SendPtr(saved.gates.as_mut_ptr()),
        aux: SendPtr(saved.aux.as_mut_ptr()),
        dx: SendPtr(grads.dx.as_mut_ptr()),
        dh: SendPtr(grads.dh0.as_mut_ptr()),
        dc: grads.dc0.as_mut().map(|d| SendPtr(d.as_mut_ptr())),
    };
    with_scratch(Slot::SeqB, |buf| {
        let (wr, partials) = buf.slice::<T>(wr_len + blocks * (wlen + bias_len)).split_at_mut(wr_len);
        // The right factor of the products that send the gate gradients back: [W; R]ᵀ, or Rᵀ for GRU.
        let back = if fused {
            stack_weights(&w, wr);
            MatPtr { ptr: wr.as_ptr(), rs: 1, cs: gu as isize }
        } else {
            MatPtr { ptr: w.recurrent.as_ptr(), rs: 1, cs: gu as isize }
        };
        let parts = SendPtr(partials.as_mut_ptr());
        // SAFETY: the packed factor is G·units × width; block k owns its rows and its partial sums.
        let run = |back: Option<&gemm::PackedB<T>>| {
            crate::parallel::for_each(blocks, |k| unsafe {
                let rows = k * ROW_BLOCK..nb.min((k + 1) * ROW_BLOCK);
                let part = parts.get().add(k * (wlen + bias_len));
                let g = GradPtrs {
                    dx: out.dx.get(),
                    dkernel: part,
                    drecurrent: part.add(nf * gu),
                    dbias: if bias_len > 0 { part.add(wlen) } else { std::ptr::null_mut() },
                };
                match back {
                    Some(back) => block_steps::<M, T>(isa, rnn, &w, &inp, d_states, out, back, g, rows),
                    None => gru_before::block_steps::<M, T>(isa, rnn, &w, &inp, d_states, out, g, rows),
                }
            })
        };
        if rnn.cell == Cell::GruResetBefore {
            // (its products take slices of R, packed by each GEMM)
            run(None)
        } else {
            // The second packing buffer: the weight-gradient GEMMs inside pack theirs in the first.
            unsafe { gemm::with_packed_b_in(Slot::PackB2, gu, width, back, |back| run(Some(back))) }
        }
        // The blocks' shares, summed in block order.
        let mut targets = vec![&mut *grads.dkernel, &mut *grads.drecurrent];
        targets.extend(grads.dbias.as_deref_mut());
        for (k, part) in partials.chunks_exact(wlen + bias_len).enumerate() {
            let mut off = 0;
            for t in targets.iter_mut() {
                let src = &part[off..off + t.len()];
                if k == 0 {
                    t.copy_from_slice(src);
                } else {
                    t.iter_mut().zip(src).for_each(|(d, &v)| *d += v);
                }
                off += t.len();
            }
        }
    })
}

/// Whether `rnn`'s step is one product `[x_s | h]·[W; R]` (all cells but the GRUs).
pub(super) fn one_sum(rnn: &Rnn) -> bool {
    matches!(rnn.cell, Cell::Simple | Cell::Lstm)
}

/// The saved buffers and the per-row gradients, shared by the blocks.
#[derive(Clone, Copy)]
pub(super) struct Back<T> {
    pub states: SendPtr<T>,
    pub gates: SendPtr<T>,
    pub aux: SendPtr<T>,
    pub dx: SendPtr<T>,
    pub dh: SendPtr<T>,
    pub dc: Option<SendPtr<T>>,
}

/// Backpropagation through every step for the batch rows `rows`, their
/// share of the weight gradients written to `g` (`g.dx` and `dh0`, `dc0` are
/// the layer's, of which these rows are theirs). Per step: the cells turn
/// dL/dh (and dL/dc) into the gate gradients `dG`; then, while those are in
/// cache, `[dx_s | dh_prev] = dG·[W; R]ᵀ` (GRU: `dh_prev = dG_rec·Rᵀ`) and the
/// bias column sums, and every [`WGRAD_STEPS`] steps the weight gradients of
/// those steps ([`slot_grads`]).
///
/// # Safety
/// The pointers address the checked buffers of `rnn`; no other thread
/// touches these rows or `g`'s weight gradients.
#[allow(clippy::too_many_arguments)]
unsafe fn block_steps<M: MulAdd, T: GemmFloat + VFloat>(
    isa: Isa,
    rnn: &Rnn,
    w: &Weights<'_, T>,
    inp: &Inputs<'_, T>,
    d_states: &[T],
    out: Back<T>,
    back: &gemm::PackedB<T>,
    g: GradPtrs<T>,
    rows: Range<usize>,
) {
    let Rnn { cell, activation: act, recurrent_activation: ract, batch: nb, steps: nt, units: u, .. } = *rnn;
    let (gu, su, m, r0) = (rnn.gu(), rnn.su(), rows.len(), rows.start);
    let dw = d_width(rnn, d_states.len());
    let (gru, fused) = (cell == Cell::Gru, one_sum(rnn));
    // d_left's width (the columns of the step product), and the left factors' [x | h].
    let (width, lw) = (back.n(), rnn.features + u);
    let (states, gates, aux) = (out.states.get() as *const T, out.gates.get() as *const T, out.aux.get() as *const T);
    std::ptr::write_bytes(out.dh.get().add(r0 * u), 0, m * u);
    if let Some(dc) = out.dc {
        std::ptr::write_bytes(dc.get().add(r0 * u), 0, m * u);
    }
    // WGRAD_STEPS steps of gate gradients (GRU: the input sides, then the recurrent sides)
    // and left factors, one slot each; their weight gradients come in one product with
    // k = slots · rows (and the GRU's dx, through a buffer of rows in slot order).
    let slots = WGRAD_STEPS;
    let dx_len = if gru { slots * m * rnn.features } else { 0 };
    with_scratch(Slot::SeqA, |a| {
        with_scratch(Slot::SeqC, |c| {
            let dg_all = a.slice::<T>(slots * m * gu * if gru { 2 } else { 1 });
            let (lefts, rest) = c.slice::<T>(slots * m * lw + m * width + dx_len).split_at_mut(slots * m * lw);
            let (d_left, dx_rows) = rest.split_at_mut(m * width);
            for s in (0..nt).rev() {
                let slot = (nt - 1 - s) % slots;
                let pin = dg_all.as_mut_ptr().add(slot * m * gu);
                let prec = if gru { pin.add(slots * m * gu) } else { pin };
                let left = &mut lefts[slot * m * lw..(slot + 1) * m * lw];
                // Stage 1: dL/dh, dL/dc of step s -> gate gradients and the direct part of dL/dh_prev.
                for (i, b) in rows.clone().enumerate() {
                    let (row, srow) = (b * nt + s, s * nb + b);
                    if s > 0 {
                        // What this row reads at the next step visited.
                        prefetch(gates.add((srow - nb) * gu), gu);
                        prefetch(aux.add((srow - nb) * u), if cell != Cell::Simple { u } else { 0 });
                        prefetch(d_states.as_ptr().add((row - 1) * dw), dw);
                        prefetch(states.add((row - 1) * su).wrapping_sub(su), su);
                    }
                    let (dh_b, d_out) = (part_mut(out.dh, b, u), part(d_states.as_ptr(), row, dw));
                    let dc_b = out.dc.map_or(&mut [][..], |dc| part_mut(dc, b, u));
                    let dg_in = std::slice::from_raw_parts_mut(pin.add(i * gu), gu);
                    let dg_rec = if gru { std::slice::from_raw_parts_mut(prec.add(i * gu), gu) } else { &mut [] };
                    if inp.mask.is_some_and(|m| m[row] == 0) {
                        // A skipped step passes its state gradient through, and its gates have none.
                        dh_b.iter_mut().zip(d_out).for_each(|(d, &g)| *d += g);
                        dc_b.iter_mut().zip(d_out.get(u..).unwrap_or(&[])).for_each(|(d, &g)| *d += g);
                        dg_in.fill(T::ZERO);
                        dg_rec.fill(T::ZERO);
                        continue;
                    }
                    let (h_prev, c_prev) = state_before(rnn, inp, states, b, s);
                    let r = RowBwd {
                        pass: Pass::Gates,
                        gates: part(gates, srow, gu),
                        aux: if cell != Cell::Simple { part(aux, srow, u) } else { &[] },
                        h: &part(states, row, su)[..u],
                        h_prev,
                        h_rec: h_prev,
                        c_prev,
                        d_out,
                        dh: dh_b,
                        dc: dc_b,
                        dg_in,
                        dg_rec,
                    };
                    backward_on::<M, T>(isa, cell, act, ract, u, r);
                }
                // Stage 2: the weight and input gradients, and dL/dh_prev through the product.
                gather_step(rnn, inp, states, s, rows.clone(), true, left);
                if slot + 1 == slots || s == 0 {
                    let filled =
                        Filled { first: s, slots: slot + 1, rows: rows.clone(), accumulate: nt - 1 - s >= slots };
                    slot_grads(rnn, w, g, filled, lefts, dg_all, dx_rows);
                }
                let dgr = MatPtr { ptr: prec as *const T, rs: gu as isize, cs: 1 };
                step_product(m, dgr, back, d_left.as_mut_ptr(), width, false);
                bias_sums(isa, rnn, g, m, s + 1 == nt, pin, prec);
                scatter_back(rnn, inp, s, rows.clone(), d_left, fused.then_some(g.dx), out.dh.get());
            }
        })
    })
}

/// The slots a weight-gradient product covers: slot `j < slots` holds step
/// `first + slots - 1 - j` of the batch rows `rows`.
struct Filled {
    first: usize,
    slots: usize,
    rows: Range<usize>,
    /// Add to the weight gradients (false at the first product, which overwrites).
    accumulate: bool,
}

/// The weight gradients of the filled slots: `d[W; R] (+)= [x | h]ᵀ·dG`; for
/// GRU `dW (+)= xᵀ·dG_in`, `dR (+)= hᵀ·dG_rec` and the slots' `dx = dG_in·Wᵀ`
/// (into `dx_rows`, then each row to its (batch, step) place).
///
/// # Safety
/// As [`block_steps`]; `lefts` and `dg_all` hold the slots as `block_steps` lays them out.
unsafe fn slot_grads<T: GemmFloat>(
    rnn: &Rnn,
    w: &Weights<'_, T>,
    g: GradPtrs<T>,
    f: Filled,
    lefts: &[T],
    dg_all: &[T],
    dx_rows: &mut [T],
) {
    let (nt, nf, u, gu, m) = (rnn.steps, rnn.features, rnn.units, rnn.gu(), f.rows.len());
    let (lw, k) = (nf + u, f.slots * m);
    let lt = MatPtr { ptr: lefts.as_ptr(), rs: 1, cs: lw as isize };
    let dgi = MatPtr { ptr: dg_all.as_ptr(), rs: gu as isize, cs: 1 };
    if one_sum(rnn) {
        // dkernel and drecurrent are one (features + units) × G·units block.
        return gemm::gemm(lw, gu, k, lt, dgi, g.dkernel, gu as isize, 1, f.accumulate);
    }
    let dgr = MatPtr { ptr: dg_all.as_ptr().add(dg_all.len() / 2), ..dgi };
    gemm::gemm(nf, gu, k, lt, dgi, g.dkernel, gu as isize, 1, f.accumulate);
    let ht = MatPtr { ptr: lefts.as_ptr().add(nf), ..lt };
    gemm::gemm(u, gu, k, ht, dgr, g.drecurrent, gu as isize, 1, f.accumulate);
    let wt = MatPtr { ptr: w.kernel.as_ptr(), rs: 1, cs: gu as isize };
    gemm::gemm(k, nf, gu, dgi, wt, dx_rows.as_mut_ptr(), nf as isize, 1, false);
    for (j, rows) in dx_rows[..k * nf].chunks_exact(m * nf).enumerate() {
        let s = f.first + f.slots - 1 - j;
        for (b, d) in f.rows.clone().zip(rows.chunks_exact(nf)) {
            std::ptr::copy_nonoverlapping(d.as_ptr(), g.dx.add((b * nt + s) * nf), nf);
        }
    }
}

/// The gradients the backward passes write step by step.
#[derive(Clone, Copy)]
pub(super) struct GradPtrs<T> {
    pub dx: *mut T,
    pub dkernel: *mut T,
    pub drecurrent: *mut T,
    /// Null without a bias.
    pub dbias: *mut T,
}

/// Hands step `s`'s left-factor gradient `d_left` (`rows × width`) back:
/// with `dx`, its first `features` columns are `dx[:, s]`; its last `units`
/// columns, times the recurrent dropout factors, are added to `dh`.
///
/// # Safety
/// `dx` is the `(batch, steps, features)` gradient and `dh` holds `batch × units`.
pub(super) unsafe fn scatter_back<T: VFloat>(
    rnn: &Rnn,
    inp: &Inputs<'_, T>,
    s: usize,
    rows: Range<usize>,
    d_left: &[T],
    dx: Option<*mut T>,
    dh: *mut T,
) {
    let (nt, nf, u) = (rnn.steps, rnn.features, rnn.units);
    let width = d_left.len() / rows.len();
    for (b, d) in rows.zip(d_left.chunks_exact(width)) {
        let (dxs, dhs) = d.split_at(width - u);
        if let Some(dx) = dx {
            std::ptr::copy_nonoverlapping(dxs.as_ptr(), dx.add((b * nt + s) * nf), nf);
        }
        let dh_b = std::slice::from_raw_parts_mut(dh.add(b * u), u);
        match inp.recurrent_scale {
            None => dh_b.iter_mut().zip(dhs).for_each(|(d, &g)| *d += g),
            Some(k) => dh_b.iter_mut().zip(dhs).zip(&k[b * u..(b + 1) * u]).for_each(|((d, &g), &k)| *d += g * k),
        }
    }
}

/// Adds a step's gate gradients (`nb` rows of `dg_in`, and of `dg_rec` for
/// the GRU's recurrent bias) to the bias gradient, overwriting it at the
/// `first` step visited; rows are added in order, on the active SIMD path.
///
/// # Safety
/// The pointers address the checked buffers of `rnn`.
pub(super) unsafe fn bias_sums<T: GemmFloat>(
    isa: Isa,
    rnn: &Rnn,
    g: GradPtrs<T>,
    nb: usize,
    first: bool,
    dg_in: *const T,
    dg_rec: *const T,
) {
    if g.dbias.is_null() {
        return;
    }
    let gu = rnn.gu();
    let sides: &[*const T] = if rnn.cell == Cell::Gru { &[dg_in, dg_rec] } else { &[dg_in] };
    for (side, &dg) in sides.iter().enumerate() {
        let rows = reduce::Plain { x: std::slice::from_raw_parts(dg, nb * gu), cols: gu };
        let body = BiasSums { rows, n: nb, db: SendPtr(g.dbias.add(side * gu)), first };
        sweep(isa, 1, 1, 0, &body);
    }
}

/// `db (+)= Σ_rows dg` on the sweep's SIMD path, each column group's sums in
/// registers down the rows ([`reduce::Plain`] rows).
struct BiasSums<'a, T> {
    rows: reduce::Plain<'a, T>,
    n: usize,
    db: SendPtr<T>,
    first: bool,
}

impl<T: GemmFloat> Body for BiasSums<'_, T> {
    #[inline(always)]
    fn run(&self, _lo: usize, _hi: usize) {
        // SAFETY: `bias_sums`' caller vouches for `cols` sums at `db`, which only this call writes.
        let db = unsafe { std::slice::from_raw_parts_mut(self.db.get(), self.rows.cols) };
        if self.first {
            db.fill(T::ZERO);
        }
        self.rows.add_rows(0, self.n, db);
    }
}
