//! The passes of the depthwise convolution as loop bodies over rows.
//!
//! Each pass splits an image row in two: the interior pixels, whose window
//! lies wholly inside the row, run as register tiles ([`super::tiles`]) over
//! whole vectors of channels; the border pixels and the channels left over
//! run the generic per-pixel loop, a multiply-add over one pixel's channels
//! per tap, vectorised through [`lanes`]. Both visit the taps in the same
//! order. Paths without tiles run everything through the generic loop.

use super::tiles::{DwTiles, GatherFn, KGRAD_TAPS, KGRAD_TAPS_SMALL};
use super::Depthwise2d;
use crate::float::Float;
use crate::ops::sweep::{arr, arr_mut, lanes, Body, Lanes};
use crate::parallel::SendPtr;
use crate::shape::Window;

/// `acc += a · b` lane by lane.
struct MulAdd<'a, T> {
    acc: &'a mut [T],
    a: &'a [T],
    b: &'a [T],
}

impl<T: Float> Lanes for MulAdd<'_, T> {
    fn len(&self) -> usize {
        self.acc.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (mut s, a, b) = (*arr::<T, G>(self.acc, i), *arr::<T, G>(self.a, i), *arr::<T, G>(self.b, i));
        for k in 0..G {
            s[k] += a[k] * b[k];
        }
        *arr_mut(self.acc, i) = s;
    }
}

/// `acc += a` lane by lane.
struct AddTo<'a, T> {
    acc: &'a mut [T],
    a: &'a [T],
}

impl<T: Float> Lanes for AddTo<'_, T> {
    fn len(&self) -> usize {
        self.acc.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (mut s, a) = (*arr::<T, G>(self.acc, i), *arr::<T, G>(self.a, i));
        for k in 0..G {
            s[k] += a[k];
        }
        *arr_mut(self.acc, i) = s;
    }
}

#[inline(always)]
fn mul_add<T: Float>(acc: &mut [T], a: &[T], b: &[T]) {
    lanes(MulAdd { acc, a, b })
}

#[inline(always)]
fn add_to<T: Float>(acc: &mut [T], a: &[T]) {
    lanes(AddTo { acc, a })
}

/// The outputs `[lo, hi)` whose taps all fall inside the input along `win`.
fn interior(win: &Window) -> (usize, usize) {
    let lo = win.pad_before.div_ceil(win.stride);
    let last = (win.input - 1 + win.pad_before) as isize - ((win.size - 1) * win.dilation) as isize;
    let hi = if last < 0 { 0 } else { (last as usize / win.stride + 1).min(win.output) };
    (lo.min(hi), hi)
}

/// The inputs `[lo, hi)` of a unit-stride window whose taps all reach an output.
fn interior_adjoint(win: &Window) -> (usize, usize) {
    let lo = ((win.size - 1) * win.dilation).saturating_sub(win.pad_before);
    let hi = (win.output.saturating_sub(win.pad_before)).min(win.input);
    (lo.min(hi), hi)
}

/// Channels `[0, cv)` run as tiles: whole vectors, when the path has tiles.
fn tiled_channels<T>(tiles: &Option<DwTiles<T>>, cw: usize) -> usize {
    tiles.as_ref().map_or(0, |t| cw - cw % t.w)
}

/// Calls `tile(gather, p0)` for gather tiles covering pixels `[lo, hi)`: the
/// widest tile that fits, the last one moved back to end at `hi` (tiles write
/// without reading, so a pixel computed twice gets the same value twice).
#[inline(always)]
fn cover<T>(t: &DwTiles<T>, lo: usize, hi: usize, mut tile: impl FnMut(GatherFn<T>, usize)) {
    let n = hi - lo;
    let (gather, p) = if n >= t.p {
        (t.gather, t.p)
    } else if n >= 4 {
        (t.gather4, 4)
    } else {
        (t.gather1, 1)
    };
    let mut p0 = lo;
    while p0 < hi {
        let start = p0.min(hi - p);
        tile(gather, start);
        p0 = start + p;
    }
}

/// The taps of output row `oy` of image `b` inside the input: each one's
/// offset in `x` from a pixel's first tap column, and its kernel row.
fn input_taps(g: &Depthwise2d, b: usize, oy: usize, a_offs: &mut Vec<isize>, k_offs: &mut Vec<isize>) {
    let (cw, kw) = (g.wide(), g.w.size);
    a_offs.clear();
    k_offs.clear();
    for i in 0..g.h.size {
        let Some(iy) = g.h.source(oy, i) else { continue };
        for j in 0..kw {
            a_offs.push((((b * g.h.input + iy) * g.w.input + j * g.w.dilation) * cw) as isize);
            k_offs.push(((i * kw + j) * cw) as isize);
        }
    }
}

/// The taps of output pixel `(oy, ox)` of image `b` inside the input: each
/// one's offset in `x` and its kernel row (a border pixel's window, cut).
fn pixel_taps(g: &Depthwise2d, b: usize, oy: usize, ox: usize, a_offs: &mut Vec<isize>, k_offs: &mut Vec<isize>) {
    let (cw, kw) = (g.wide(), g.w.size);
    a_offs.clear();
    k_offs.clear();
    for i in 0..g.h.size {
        let Some(iy) = g.h.source(oy, i) else { continue };
        for j in 0..kw {
            if let Some(ix) = g.w.source(ox, j) {
                a_offs.push((((b * g.h.input + iy) * g.w.input + ix) * cw) as isize);
                k_offs.push(((i * kw + j) * cw) as isize);
            }
        }
    }
}

/// The pixels of a row outside `inner`.
fn border(inner: (usize, usize), n: usize) -> impl Iterator<Item = usize> {
    (0..inner.0).chain(inner.1..n)
}

/// The gather tiles of one row (the forward pass, the unit-stride input
/// gradient) on whole vectors of channels `[0, cv)`: interior pixels by
/// [`cover`], border pixels one at a time through their own taps.
struct RowGather<'a, T> {
    t: &'a DwTiles<T>,
    cv: usize,
    cw: usize,
    src: &'a [T],
    k: &'a [T],
    bias: Option<&'a [T]>,
}

impl<T: Float> RowGather<'_, T> {
    fn init(&self, c0: usize) -> *const T {
        self.bias.map_or(std::ptr::null(), |b| b[c0..].as_ptr())
    }

    /// Pixels `[inner.0, inner.1)` of `out`: pixel `p`'s window starts `first(p)`
    /// elements into `src`, `ps` elements from the next one's, and reads the taps.
    ///
    /// # Safety
    /// Every tap of every interior pixel, and `W` lanes from each channel
    /// vector, lie inside `src`; `out` holds the row's pixels.
    unsafe fn interior(
        &self,
        inner: (usize, usize),
        ps: usize,
        first: impl Fn(usize) -> usize,
        (a_offs, k_offs): (&[isize], &[isize]),
        out: &mut [T],
    ) {
        for c0 in (0..self.cv).step_by(self.t.w) {
            cover(self.t, inner.0, inner.1, |gather, p0| {
                gather(
                    a_offs.len(),
                    self.src.as_ptr().add(first(p0) + c0),
                    ps as isize,
                    a_offs.as_ptr(),
                    self.k.as_ptr().add(c0),
                    k_offs.as_ptr(),
                    self.init(c0),
                    out.as_mut_ptr().add(p0 * self.cw + c0),
                    self.cw,
                )
            });
        }
    }

    /// Pixel `px` of `out` through its taps, offsets from the start of `src`.
    ///
    /// # Safety
    /// As for [`RowGather::interior`], for this pixel's taps.
    unsafe fn pixel(&self, px: usize, (a_offs, k_offs): (&[isize], &[isize]), out: &mut [T]) {
        for c0 in (0..self.cv).step_by(self.t.w) {
            (self.t.gather1)(
                a_offs.len(),
                self.src.as_ptr().add(c0),
                0,
                a_offs.as_ptr(),
                self.k.as_ptr().add(c0),
                k_offs.as_ptr(),
                self.init(c0),
                out.as_mut_ptr().add(px * self.cw + c0),
                self.cw,
            )
        }
    }
}

/// Pixels `lo..hi`: channel `ci` copied to `ci·dm .. ci·dm + dm`.
pub(super) struct Widen<'a, T> {
    pub c: usize,
    pub dm: usize,
    pub x: &'a [T],
    pub xe: SendPtr<T>,
}

impl<T: Float> Body for Widen<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let (c, dm) = (self.c, self.dm);
        // SAFETY: pixels lo..hi of xe belong to this block.
        let xe = unsafe { std::slice::from_raw_parts_mut(self.xe.get().add(lo * c * dm), (hi - lo) * c * dm) };
        for (out, px) in xe.chunks_exact_mut(c * dm).zip(self.x[lo * c..hi * c].chunks_exact(c)) {
            for (o, &v) in out.chunks_exact_mut(dm).zip(px) {
                o.fill(v);
            }
        }
    }
}

/// Output rows `lo..hi` (over batch × output height).
pub(super) struct Forward<'a, T> {
    pub g: &'a Depthwise2d,
    pub tiles: Option<DwTiles<T>>,
    pub x: &'a [T],
    pub k: &'a [T],
    pub bias: Option<&'a [T]>,
    pub y: SendPtr<T>,
}

impl<T: Float> Body for Forward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let g = self.g;
        let (cw, ow, oh) = (g.wide(), g.w.output, g.h.output);
        let (inner, cv) = (interior(&g.w), tiled_channels(&self.tiles, cw));
        let (mut a_offs, mut k_offs) = (Vec::with_capacity(g.h.size * g.w.size), Vec::new());
        k_offs.reserve(g.h.size * g.w.size);
        // SAFETY: output rows lo..hi belong to this block.
        let y = unsafe { std::slice::from_raw_parts_mut(self.y.get().add(lo * ow * cw), (hi - lo) * ow * cw) };
        for (r, yrow) in (lo..hi).zip(y.chunks_exact_mut(ow * cw)) {
            let (b, oy) = (r / oh, r % oh);
            if let (Some(t), true) = (&self.tiles, cv > 0) {
                let tiles = RowGather { t, cv, cw, src: self.x, k: self.k, bias: self.bias };
                input_taps(g, b, oy, &mut a_offs, &mut k_offs);
                let first = |p0: usize| (p0 * g.w.stride - g.w.pad_before) * cw;
                // SAFETY: interior pixels' windows lie inside their input rows; border
                // pixels get only their valid taps; yrow holds the row's ow pixels.
                unsafe { tiles.interior(inner, g.w.stride * cw, first, (&a_offs, &k_offs), yrow) };
                for ox in border(inner, ow) {
                    pixel_taps(g, b, oy, ox, &mut a_offs, &mut k_offs);
                    unsafe { tiles.pixel(ox, (&a_offs, &k_offs), yrow) };
                }
            }
            if cv < cw {
                self.generic(r, cv, yrow);
            }
        }
    }
}

impl<T: Float> Forward<'_, T> {
    /// Channels `cv..` of every pixel of output row `r`, one pixel at a time.
    #[inline(always)]
    fn generic(&self, r: usize, cv: usize, yrow: &mut [T]) {
        let g = self.g;
        let (cw, kw, ih, iw) = (g.wide(), g.w.size, g.h.input, g.w.input);
        let (b, oy) = (r / g.h.output, r % g.h.output);
        for (ox, ypx) in yrow.chunks_exact_mut(cw).enumerate() {
            let ypx = &mut ypx[cv..];
            match self.bias {
                Some(bias) => ypx.copy_from_slice(&bias[cv..]),
                None => ypx.fill(T::ZERO),
            }
            for i in 0..g.h.size {
                let Some(iy) = g.h.source(oy, i) else { continue };
                let xrow = &self.x[(b * ih + iy) * iw * cw..(b * ih + iy + 1) * iw * cw];
                for j in 0..kw {
                    if let Some(ix) = g.w.source(ox, j) {
                        let ktap = &self.k[(i * kw + j) * cw + cv..(i * kw + j + 1) * cw];
                        mul_add(ypx, &xrow[ix * cw + cv..(ix + 1) * cw], ktap);
                    }
                }
            }
        }
    }
}

/// The output index `o` with `o·stride + t·dilation - pad == i`, if any.
#[inline(always)]
fn target(win: &Window, i: usize, t: usize) -> Option<usize> {
    let num = (i + win.pad_before) as isize - (t * win.dilation) as isize;
    if num < 0 || !(num as usize).is_multiple_of(win.stride) {
        return None;
    }
    let o = num as usize / win.stride;
    (o < win.output).then_some(o)
}

/// Input rows `lo..hi` of dx (over batch × input height), gathered from dy.
pub(super) struct InputGrad<'a, T> {
    pub g: &'a Depthwise2d,
    /// Tiles, only for a unit stride along the width.
    pub tiles: Option<DwTiles<T>>,
    pub dy: &'a [T],
    pub k: &'a [T],
    pub dx: SendPtr<T>,
}

impl<T: Float> Body for InputGrad<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let g = self.g;
        let (c, dm, cw) = (g.channels, g.multiplier, g.wide());
        let (ih, iw, oh, ow, kw) = (g.h.input, g.w.input, g.h.output, g.w.output, g.w.size);
        let tiles = if g.w.stride == 1 { self.tiles } else { None };
        let (inner, cv) = (interior_adjoint(&g.w), tiled_channels(&tiles, cw));
        let (mut a_offs, mut k_offs) = (Vec::with_capacity(g.h.size * kw), Vec::with_capacity(g.h.size * kw));
        // SAFETY: input rows lo..hi of dx belong to this block.
        let dx = unsafe { std::slice::from_raw_parts_mut(self.dx.get().add(lo * iw * c), (hi - lo) * iw * c) };
        let mut wide = vec![T::ZERO; if dm == 1 { 0 } else { iw * cw }];
        for (r, dxrow) in (lo..hi).zip(dx.chunks_exact_mut(iw * c)) {
            let (b, iy) = (r / ih, r % ih);
            let acc: &mut [T] = if dm == 1 { dxrow } else { &mut wide };
            if let (Some(t), true) = (&tiles, cv > 0) {
                let tiles = RowGather { t, cv, cw, src: self.dy, k: self.k, bias: None };
                let span = (kw - 1) * g.w.dilation;
                a_offs.clear();
                k_offs.clear();
                for i in 0..g.h.size {
                    let Some(oy) = target(&g.h, iy, i) else { continue };
                    for j in 0..kw {
                        a_offs.push((((b * oh + oy) * ow + span - j * g.w.dilation) * cw) as isize);
                        k_offs.push(((i * kw + j) * cw) as isize);
                    }
                }
                let first = |p0: usize| (p0 + g.w.pad_before - span) * cw;
                // SAFETY: interior inputs' windows lie inside their dy rows; border inputs get
                // only the outputs they reach; acc holds the row's iw pixels.
                unsafe { tiles.interior(inner, cw, first, (&a_offs, &k_offs), acc) };
                for ix in border(inner, iw) {
                    a_offs.clear();
                    k_offs.clear();
                    for i in 0..g.h.size {
                        let Some(oy) = target(&g.h, iy, i) else { continue };
                        for j in 0..kw {
                            if let Some(ox) = target(&g.w, ix, j) {
                                a_offs.push((((b * oh + oy) * ow + ox) * cw) as isize);
                                k_offs.push(((i * kw + j) * cw) as isize);
                            }
                        }
                    }
                    unsafe { tiles.pixel(ix, (&a_offs, &k_offs), acc) };
                }
            }
            if cv < cw {
                self.generic(r, cv, acc);
            }
            if dm > 1 {
                // The dm filters of one input channel sum into its gradient, in filter order.
                for (d, w) in dxrow.iter_mut().zip(wide.chunks_exact(dm)) {
                    *d = w.iter().fold(T::ZERO, |s, &v| s + v);
                }
            }
        }
    }
}

impl<T: Float> InputGrad<'_, T> {
    /// Channels `cv..` of every pixel of input row `r` (widened), one pixel at a time.
    #[inline(always)]
    fn generic(&self, r: usize, cv: usize, acc: &mut [T]) {
        let g = self.g;
        let (cw, kw, oh, ow) = (g.wide(), g.w.size, g.h.output, g.w.output);
        let (b, iy) = (r / g.h.input, r % g.h.input);
        for (ix, apx) in acc.chunks_exact_mut(cw).enumerate() {
            let apx = &mut apx[cv..];
            apx.fill(T::ZERO);
            for i in 0..g.h.size {
                let Some(oy) = target(&g.h, iy, i) else { continue };
                let dyrow = &self.dy[(b * oh + oy) * ow * cw..(b * oh + oy + 1) * ow * cw];
                for j in 0..kw {
                    if let Some(ox) = target(&g.w, ix, j) {
                        let ktap = &self.k[(i * kw + j) * cw + cv..(i * kw + j + 1) * cw];
                        mul_add(apx, &dyrow[ox * cw + cv..(ox + 1) * cw], ktap);
                    }
                }
            }
        }
    }
}

/// Chunks `lo..hi` of output rows, each summed into its own partial `[dk | db]`.
pub(super) struct ParamGrad<'a, T> {
    pub g: &'a Depthwise2d,
    pub tiles: Option<DwTiles<T>>,
    pub dy: &'a [T],
    pub x: &'a [T],
    pub chunk: usize,
    pub want_k: bool,
    pub parts: SendPtr<T>,
}

impl<T: Float> Body for ParamGrad<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let g = self.g;
        let cw = g.wide();
        let (ih, iw, oh, ow, kw) = (g.h.input, g.w.input, g.h.output, g.w.output, g.w.size);
        let taps = g.h.size * kw;
        let part = taps * cw + cw;
        let rows = g.batch * oh;
        let (inner, cv) = (interior(&g.w), tiled_channels(&self.tiles, cw));
        let (mut a_offs, mut k_offs) = (Vec::with_capacity(taps), Vec::with_capacity(taps));
        // SAFETY: partials lo..hi belong to this block.
        let parts = unsafe { std::slice::from_raw_parts_mut(self.parts.get().add(lo * part), (hi - lo) * part) };
        for (ch, p) in (lo..hi).zip(parts.chunks_exact_mut(part)) {
            let (dk, db) = p.split_at_mut(taps * cw);
            for r in ch * self.chunk..((ch + 1) * self.chunk).min(rows) {
                let (b, oy) = (r / oh, r % oh);
                let dyrow = &self.dy[r * ow * cw..(r + 1) * ow * cw];
                for px in dyrow.chunks_exact(cw) {
                    add_to(db, px);
                }
                if !self.want_k {
                    continue;
                }
                if let (Some(t), true) = (&self.tiles, cv > 0) {
                    input_taps(g, b, oy, &mut a_offs, &mut k_offs);
                    let first = (inner.0 * g.w.stride).saturating_sub(g.w.pad_before) * cw;
                    for c0 in (0..cv).step_by(t.w) {
                        // SAFETY: interior pixels read x inside their rows; W lanes of dy
                        // from c0 < cv; the tiles add into taps of dk.
                        unsafe {
                            kgrad_taps(
                                t,
                                inner.1 - inner.0,
                                self.x.as_ptr().add(first + c0),
                                (g.w.stride * cw) as isize,
                                (&a_offs, &k_offs),
                                dyrow.as_ptr().add(inner.0 * cw + c0),
                                cw,
                                dk.as_mut_ptr().add(c0),
                            )
                        }
                    }
                    for ox in border(inner, ow) {
                        pixel_taps(g, b, oy, ox, &mut a_offs, &mut k_offs);
                        for c0 in (0..cv).step_by(t.w) {
                            // SAFETY: the offsets are this pixel's taps inside x.
                            unsafe {
                                kgrad_taps(
                                    t,
                                    1,
                                    self.x.as_ptr().add(c0),
                                    0,
                                    (&a_offs, &k_offs),
                                    dyrow.as_ptr().add(ox * cw + c0),
                                    cw,
                                    dk.as_mut_ptr().add(c0),
                                )
                            }
                        }
                    }
                }
                if cv < cw {
                    for (ox, dpx) in dyrow.chunks_exact(cw).enumerate() {
                        for i in 0..g.h.size {
                            let Some(iy) = g.h.source(oy, i) else { continue };
                            let xrow = &self.x[(b * ih + iy) * iw * cw..(b * ih + iy + 1) * iw * cw];
                            for j in 0..kw {
                                if let Some(ix) = g.w.source(ox, j) {
                                    let ktap = &mut dk[(i * kw + j) * cw + cv..(i * kw + j + 1) * cw];
                                    mul_add(ktap, &xrow[ix * cw + cv..(ix + 1) * cw], &dpx[cv..]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adds the kernel gradient of `cols` pixels (`a_cs` apart from `a`, their
/// output gradients `dys` apart from `dy`) into the taps `offs` lists (each
/// one's offset from a pixel, and its kernel row), tile by tile.
///
/// # Safety
/// Every tap of every pixel, and `W` lanes of each, lie inside `x` and `dy`,
/// and every kernel row inside `dk`.
#[allow(clippy::too_many_arguments)]
unsafe fn kgrad_taps<T>(
    t: &DwTiles<T>,
    cols: usize,
    a: *const T,
    a_cs: isize,
    offs: (&[isize], &[isize]),
    dy: *const T,
    dys: usize,
    dk: *mut T,
) {
    let (a_offs, k_offs) = offs;
    let mut s = 0;
    while s < a_offs.len() && cols > 0 {
        let left = a_offs.len() - s;
        let (tile, m) = if left <= KGRAD_TAPS_SMALL { (t.kgrad_small, left) } else { (t.kgrad, left.min(KGRAD_TAPS)) };
        tile(cols, a, a_cs, a_offs.as_ptr().add(s), dy, dys, dk, k_offs.as_ptr().add(s), m);
        s += m;
    }
}

/// Elements `lo..hi` of the total: the partials added in chunk order.
pub(super) struct SumParts<'a, T> {
    pub parts: &'a [T],
    pub chunks: usize,
    pub part: usize,
    pub total: SendPtr<T>,
}

impl<T: Float> Body for SumParts<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: elements lo..hi of the total belong to this block.
        let total = unsafe { std::slice::from_raw_parts_mut(self.total.get().add(lo), hi - lo) };
        total.fill(T::ZERO);
        for c in 0..self.chunks {
            add_to(total, &self.parts[c * self.part + lo..c * self.part + hi]);
        }
    }
}
