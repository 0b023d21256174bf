//! Direct convolution: register tiles that read each tap straight from the
//! (zero-padded, if needed) input at a fixed offset from the pixel, with the
//! output tile (forward) or the weight-gradient tile (backward) held in
//! registers, and no patch matrix. It takes layers with few taps per output
//! (a first layer on 1–3 channels: `K = KH·KW·C ≤` [`MAX_K`]), layers with
//! few filters (one vector of them, a narrow tile), and the forward pass of
//! others whose image rows fill the pixel tiles (see [`forward_usable`]); the
//! input gradient of a unit-stride convolution is such a forward pass too.

mod rows;
mod tiles;
pub(crate) mod transpose;

use rows::WGRAD_ROWS_CB;
pub use tiles::ConvFloat;
use tiles::ConvTiles;

use crate::gemm::{pack_b_panel, MatPtr};
use crate::ops::activation::{self, Activation};
use crate::ops::conv2d::{sum_parts, Conv2d};
use crate::parallel::{self, SendPtr};
use crate::simd;
use crate::workspace::{with_scratch, Slot};

/// Most taps per output pixel the direct paths take.
pub(crate) const MAX_K: usize = 32;
/// Most taps per output the wide direct forward takes (a 3x3 kernel on 128 channels).
pub(crate) const MAX_WIDE_K: usize = 1152;
/// Output values per forward task.
pub(crate) const FWD_TASK: usize = 1 << 14;
/// Most partial sums of the weight gradient, and fewest output pixels in one.
const WGRAD_PARTS: usize = 16;
const WGRAD_MIN_PIXELS: usize = 2048;

/// The input as the kernels read it: zero-padded when the windows reach past
/// its edges, with each tap's offset from a pixel's window corner.
struct Layout<'a, T> {
    x: &'a [T],
    /// Padded height and width.
    hp: usize,
    wp: usize,
    /// Offset of tap `(th, tw, c)` (HWIO order) from the window corner.
    offs: Vec<isize>,
}

impl<T: ConvFloat> Layout<'_, T> {
    /// Element offset of output pixel `(n, oh, ow)`'s window corner.
    fn corner(&self, g: &Conv2d, n: usize, oh: usize, ow: usize) -> usize {
        ((n * self.hp + oh * g.h.stride) * self.wp + ow * g.w.stride) * g.channels
    }

    /// Offset of kernel row `kh`'s first tap from the window corner.
    fn row_offset(&self, g: &Conv2d, kh: usize) -> isize {
        self.offs[kh * g.w.size * g.channels]
    }
}

/// Padded rows and columns of the layout the direct kernels read.
fn padded(g: &Conv2d) -> (usize, usize) {
    let reach = |w: &crate::shape::Window| (w.output.max(1) - 1) * w.stride + (w.size - 1) * w.dilation + 1;
    (reach(&g.h).max(g.h.pad_before + g.h.input), reach(&g.w).max(g.w.pad_before + g.w.input))
}

/// Whether the direct paths take this geometry: few taps, and a padded copy
/// of the input not much larger than the input (a huge dilation with "same"
/// padding would pad a small image to gigabytes; im2col reads taps in place).
pub(crate) fn usable(g: &Conv2d) -> bool {
    g.k() <= MAX_K && small_padding(g)
}

/// Whether the direct forward takes this geometry: always for few filters
/// (one vector of them), where the im2col GEMM would spend as long building
/// and packing patch rows as multiplying them and compute a register tile of
/// padding; for more filters when the image rows fill the pixel tiles well
/// (at least 85 %: measured faster on 14-, 28- and 32-wide images, slower on
/// 11-wide ones) and the kernel panel stays in L2.
pub(crate) fn forward_usable<T: ConvFloat>(g: &Conv2d) -> bool {
    let t = T::conv_tiles(simd::active());
    if !small_padding(g) {
        return false;
    }
    let ow = g.w.output;
    // NOTE: judged with the default wide tile: rows of 13 pixels, which 7-pixel tiles would
    // cover well, still ran faster through the GEMM (measured on the input gradient of a
    // 13x13x32 -> 64 layer).
    g.filters <= t.nr1 || (g.k() <= MAX_WIDE_K && ow * 100 >= ow.next_multiple_of(t.mr) * 85)
}

fn small_padding(g: &Conv2d) -> bool {
    let (hp, wp) = padded(g);
    let image = g.h.input * g.w.input;
    hp.checked_mul(wp).is_some_and(|p| p <= 4 * image + (1 << 16))
}

/// Calls `f` with the input laid out for the direct kernels (copied into
/// scratch with zero borders only when padding is needed).
fn with_layout<T: ConvFloat, R>(g: &Conv2d, x: &[T], f: impl FnOnce(&Layout<'_, T>) -> R) -> R {
    let c = g.channels;
    let (hp, wp) = padded(g);
    let offs = (0..g.h.size)
        .flat_map(|th| {
            (0..g.w.size).flat_map(move |tw| {
                (0..c).map(move |ch| ((th * g.h.dilation * wp + tw * g.w.dilation) * c + ch) as isize)
            })
        })
        .collect();
    if g.h.pad_before == 0 && g.w.pad_before == 0 && hp == g.h.input && wp == g.w.input {
        return f(&Layout { x, hp, wp, offs });
    }
    with_scratch(Slot::Partial, |s| {
        let xp = s.slice::<T>(g.batch * hp * wp * c);
        let (row, image) = (g.w.input * c, hp * wp * c);
        let (top, left) = (g.h.pad_before, g.w.pad_before * c);
        let out = SendPtr(xp.as_mut_ptr());
        // One image at a time, in parallel: only the border is cleared, and
        // each padded row is its left border, the input row, its right border.
        let copy = |n: usize| {
            // SAFETY: image n owns its `image` values of the buffer.
            let dst = unsafe { std::slice::from_raw_parts_mut(out.get().add(n * image), image) };
            let (head, rest) = dst.split_at_mut(top * wp * c);
            head.fill(T::ZERO);
            let (body, tail) = rest.split_at_mut(g.h.input * wp * c);
            tail.fill(T::ZERO);
            for (h, prow) in body.chunks_exact_mut(wp * c).enumerate() {
                let (l, r) = prow.split_at_mut(left);
                l.fill(T::ZERO);
                let (mid, r) = r.split_at_mut(row);
                let src = (n * g.h.input + h) * row;
                mid.copy_from_slice(&x[src..src + row]);
                r.fill(T::ZERO);
            }
        };
        if parallel::worth_parallel(xp.len(), 1 << 16) {
            parallel::for_each(g.batch, copy);
        } else {
            (0..g.batch).for_each(copy);
        }
        f(&Layout { x: xp, hp, wp, offs })
    })
}

/// `y = act(conv(x, w) + bias)` for `g.k() ≤ MAX_K` or one vector of filters.
pub(crate) fn forward<T: ConvFloat>(
    g: &Conv2d,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    act: Option<Activation>,
    y: &mut [T],
) {
    let tiles: ConvTiles<T> = T::conv_tiles(simd::active());
    let (k, f) = (g.k(), g.filters);
    let [_, oh_n, ow_n, _] = g.output_shape();
    let (nr, (mr, fwd)) =
        if f <= tiles.nr1 { (tiles.nr1, tiles.narrow_fwd(ow_n)) } else { (tiles.nr, tiles.wide_fwd(ow_n)) };
    let panels = f.div_ceil(nr);
    // Full narrow tiles of a unit-stride 3-wide kernel run input-stationary where the ISA has such a tile.
    let rows = if f <= tiles.nr1 && rows::fits(g) { (tiles.rows1)(mr, g.channels) } else { None };
    let y_ptr = SendPtr(y.as_mut_ptr());
    with_layout(g, x, |lay| {
        let row_offs: Vec<isize> = match rows {
            Some(_) => (0..g.h.size).map(|kh| lay.row_offset(g, kh)).collect(),
            None => Vec::new(),
        };
        with_scratch(Slot::PackB, |s| {
            // The kernel as zero-padded nr-wide panels, then the bias padded likewise.
            let buf = s.slice::<T>(panels * nr * (k + 1));
            let wm = MatPtr { ptr: w.as_ptr(), rs: f as isize, cs: 1 };
            for q in 0..panels {
                // SAFETY: panel q lands at q·k·nr, inside `buf`.
                unsafe { pack_b_panel(buf.as_mut_ptr(), wm, 0, k, 0, f, nr, q) };
            }
            let (wp, bp) = buf.split_at_mut(panels * nr * k);
            if let Some(b) = bias {
                bp[..f].copy_from_slice(b);
                bp[f..].fill(T::ZERO);
            }
            let (wp, bp) = (&*wp, &*bp);
            let rows_per_task = (FWD_TASK / (ow_n * f).max(1)).max(1);
            let total = g.batch * oh_n;
            let task = |t: usize| {
                for r in t * rows_per_task..((t + 1) * rows_per_task).min(total) {
                    let (n, oh) = (r / oh_n, r % oh_n);
                    let out = r * ow_n * f;
                    for q in 0..panels {
                        let cols = nr.min(f - q * nr);
                        for ow0 in (0..ow_n).step_by(mr) {
                            // The last tile of a row ends at the row's end, over pixels the one before
                            // it computed (tiles write without reading, and a pixel's sum does not
                            // depend on where its tile starts), so every tile is whole.
                            let ow0 = if ow0 + mr > ow_n && ow_n >= mr { ow_n - mr } else { ow0 };
                            let m = mr.min(ow_n - ow0);
                            if let (Some(tile), true) = (rows, m == mr) {
                                // SAFETY: as below; the tile is full and reads the same taps.
                                unsafe {
                                    tile(
                                        g.h.size,
                                        lay.x.as_ptr().add(lay.corner(g, n, oh, ow0)),
                                        row_offs.as_ptr(),
                                        wp.as_ptr(),
                                        if bias.is_some() { bp.as_ptr() } else { std::ptr::null() },
                                        y_ptr.get().add(out + ow0 * f),
                                        f as isize,
                                        cols,
                                    )
                                };
                                continue;
                            }
                            // SAFETY: every tap of these pixels lies inside the laid-out input,
                            // and the tile writes only output row r.
                            unsafe {
                                fwd(
                                    k,
                                    lay.x.as_ptr().add(lay.corner(g, n, oh, ow0)),
                                    (g.w.stride * g.channels) as isize,
                                    lay.offs.as_ptr(),
                                    wp.as_ptr().add(q * k * nr),
                                    if bias.is_some() { bp.as_ptr().add(q * nr) } else { std::ptr::null() },
                                    y_ptr.get().add(out + ow0 * f + q * nr),
                                    f as isize,
                                    m,
                                    cols,
                                );
                            }
                        }
                    }
                    if let Some(a) = act {
                        // SAFETY: output row r belongs to this task.
                        activation::apply_in_place(a, unsafe {
                            std::slice::from_raw_parts_mut(y_ptr.get().add(out), ow_n * f)
                        });
                    }
                }
            };
            let tasks = total.div_ceil(rows_per_task);
            if parallel::worth_parallel(g.m() * k * f, 1 << 18) {
                parallel::for_each(tasks, task);
            } else {
                (0..tasks).for_each(task);
            }
        })
    })
}

/// Whether [`weight_grad`] takes this geometry: few taps and filters in whole
/// register panels, or exactly one vector of filters (the narrow tile).
pub(crate) fn weight_grad_usable<T: ConvFloat>(g: &Conv2d) -> bool {
    let tiles = T::conv_tiles(simd::active());
    (usable(g) && g.filters.is_multiple_of(tiles.nr)) || (g.filters == tiles.nr1 && small_padding(g))
}

/// dW (K×F) and db (F) for the geometries of [`weight_grad_usable`]: fixed
/// parts of the output rows accumulate their own partial sums in parallel,
/// added in part order afterwards (the same arithmetic on any number of threads).
pub(crate) fn weight_grad<T: ConvFloat>(g: &Conv2d, dy: &[T], x: &[T], dw: &mut [T], db: Option<&mut [T]>) {
    let tiles: ConvTiles<T> = T::conv_tiles(simd::active());
    let (k, f) = (g.k(), g.filters);
    let (nr, mr, wgrad) = if f == tiles.nr1 && f != tiles.nr {
        (tiles.nr1, tiles.mr1, tiles.wgrad1)
    } else {
        (tiles.nr, tiles.mr, tiles.wgrad)
    };
    let [_, oh_n, ow_n, _] = g.output_shape();
    // One vector of filters, a unit-stride 3-wide kernel: the input-stationary tile, where the ISA has one.
    let rows_tile = tiles
        .wgrad_rows1
        .filter(|_| f == tiles.nr1 && rows::fits(g) && g.channels.is_multiple_of(WGRAD_ROWS_CB) && ow_n >= 2);
    let total = g.batch * oh_n;
    let parts = (g.m() / WGRAD_MIN_PIXELS).clamp(1, WGRAD_PARTS).min(total.max(1));
    let per_part = total.div_ceil(parts);
    let stride = k * f + f;
    with_layout(g, x, |lay| {
        with_scratch(Slot::Im2col, |s| {
            let partial = s.slice::<T>(parts * stride);
            let pp = SendPtr(partial.as_mut_ptr());
            let part = |p: usize| {
                // SAFETY: part p owns its slice of the partial sums.
                let out = unsafe { std::slice::from_raw_parts_mut(pp.get().add(p * stride), stride) };
                out.fill(T::ZERO);
                let (dw_p, db_p) = out.split_at_mut(k * f);
                let (lo, hi) = (p * per_part, ((p + 1) * per_part).min(total));
                let mut r = lo;
                while r < hi {
                    // A run of output rows inside one image.
                    let (n, oh0) = (r / oh_n, r % oh_n);
                    let rows = (oh_n - oh0).min(hi - r);
                    let dy_run = &dy[r * ow_n * f..(r + rows) * ow_n * f];
                    let corner = lay.x.as_ptr().wrapping_add(lay.corner(g, n, oh0, 0));
                    let a_rs = (g.h.stride * lay.wp * g.channels) as isize;
                    if let Some(tile) = rows_tile {
                        let c = g.channels;
                        for kh in 0..g.h.size {
                            for c0 in (0..c).step_by(WGRAD_ROWS_CB) {
                                // SAFETY: the taps of kernel row kh lie inside the laid-out input; the tile
                                // adds into the rows (kh, 0..3, c0..c0+CB) of this part's dW.
                                unsafe {
                                    tile(
                                        rows,
                                        ow_n,
                                        corner.offset(lay.row_offset(g, kh)).add(c0),
                                        a_rs,
                                        c,
                                        dy_run.as_ptr(),
                                        f,
                                        dw_p.as_mut_ptr().add((kh * 3 * c + c0) * f),
                                        f,
                                        c,
                                    )
                                };
                            }
                        }
                    } else {
                        for t0 in (0..k).step_by(mr) {
                            for q in 0..f / nr {
                                // SAFETY: taps of these pixels lie inside the laid-out input; the tile
                                // adds into rows t0.. of this part's dW.
                                unsafe {
                                    wgrad(
                                        rows,
                                        ow_n,
                                        corner,
                                        a_rs,
                                        (g.w.stride * g.channels) as isize,
                                        lay.offs.as_ptr().add(t0),
                                        dy_run.as_ptr().add(q * nr),
                                        f,
                                        dw_p.as_mut_ptr().add(t0 * f + q * nr),
                                        f as isize,
                                        mr.min(k - t0),
                                    );
                                }
                            }
                        }
                    }
                    for row in dy_run.chunks_exact(f) {
                        for (a, &v) in db_p.iter_mut().zip(row) {
                            *a += v;
                        }
                    }
                    r += rows;
                }
            };
            let par = parallel::worth_parallel(g.m() * k * f, 1 << 18);
            if par {
                parallel::for_each(parts, part);
            } else {
                (0..parts).for_each(part);
            }
            sum_parts(partial, parts, stride, dw, db, par);
        })
    })
}
