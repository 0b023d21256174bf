//! The AMX micro-kernel: a 32 × 32 block of C held in four tiles while packed
//! bfloat16 panels of A and B stream through `tdpbf16ps`.
//!
//! Tile registers (palette 1, each 16 rows × 64 bytes):
//! tmm0..tmm3 hold C (rows 0–15 / 16–31 × columns 0–15 / 16–31, float32),
//! tmm4, tmm5 the two 16-row halves of A's 32-wide k step, tmm6, tmm7 the two
//! 16-column halves of B's (VNNI pairs). Each k step loads four tiles and
//! issues four tile products: every loaded tile is used twice.
//!
//! The tile registers are invisible to the compiler, so the micro-kernel's
//! steps are separate `asm!` blocks that rely on the tiles keeping their
//! contents in between; nothing else in the process touches them.

use std::arch::asm;

/// A 64-byte `ldtilecfg` operand: palette 1 with tiles 0–7 of 16 rows × 64
/// bytes. A `static`, so the configuration always lives in memory.
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    colsb: [u16; 16],
    rows: [u8; 16],
}

static CONFIG: TileConfig = TileConfig {
    palette: 1,
    start_row: 0,
    reserved: [0; 14],
    colsb: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
    rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
};

/// bfloat16 values per packed k step of one 16-row tile (16 rows × 32).
pub(super) const TILE: usize = 512;
/// bfloat16 values per packed k step of a 32-row (or 32-column) panel.
pub(super) const STEP: usize = 2 * TILE;

/// Tile registers configured for the kernel on this thread; released
/// (`tilerelease`, so the OS stops saving them) when dropped.
pub(super) struct Tiles(());

impl Tiles {
    /// # Safety
    /// AMX must be available and permitted ([`crate::simd::amx::available`]).
    pub unsafe fn configure() -> Tiles {
        asm!("ldtilecfg [{cfg}]", cfg = in(reg) &CONFIG as *const TileConfig, options(nostack, readonly, preserves_flags));
        Tiles(())
    }

    /// `C (+)= A·B` for a 32 × 32 float32 block of C at `c` (rows `ldc` bytes
    /// apart) over `steps` packed k steps of 32 (see [`Tiles::run`]). With
    /// `load_c` the sums continue from C's values, else from zero.
    ///
    /// # Safety
    /// The panels must hold `steps · STEP` values each and C 32 rows of 32
    /// writable floats.
    #[inline]
    pub unsafe fn kernel(&self, steps: usize, a: *const u16, b: *const u16, c: *mut f32, ldc: usize, load_c: bool) {
        self.start(if load_c { Some((c as *const f32, ldc)) } else { None });
        self.run(steps, a, b);
        self.finish(c, ldc);
    }

    /// Set the four C tiles to the 32 × 32 block at `src` (rows `ldc` bytes
    /// apart), or to zero.
    ///
    /// # Safety
    /// `src` must hold 32 rows of 32 floats.
    #[inline(always)]
    pub unsafe fn start(&self, src: Option<(*const f32, usize)>) {
        match src {
            Some((c, ldc)) => asm!(
                "tileloadd tmm0, [{c} + {ldc}*1]",
                "tileloadd tmm1, [{c} + {ldc}*1 + 64]",
                "tileloadd tmm2, [{cl} + {ldc}*1]",
                "tileloadd tmm3, [{cl} + {ldc}*1 + 64]",
                c = in(reg) c, cl = in(reg) c.cast::<u8>().add(16 * ldc), ldc = in(reg) ldc,
                options(nostack, readonly, preserves_flags)
            ),
            None => asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                options(nostack, nomem, preserves_flags)
            ),
        }
    }

    /// Add the products of `steps` packed k steps of 32 to the C tiles: A's
    /// panel at `a` (per step, two 16 × 32 tiles, [`STEP`] values), B's at `b`
    /// (per step, two 16-pair × 16-column VNNI tiles).
    ///
    /// # Safety
    /// The panels must hold `steps · STEP` values each.
    #[inline(always)]
    pub unsafe fn run(&self, steps: usize, a: *const u16, b: *const u16) {
        if steps > 0 {
            asm!(
                "2:",
                "tileloadd tmm4, [{a} + {s}*1]",
                "tileloadd tmm6, [{b} + {s}*1]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tileloadd tmm7, [{b} + {s}*1 + 1024]",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tileloadd tmm5, [{a} + {s}*1 + 1024]",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "add {a}, 2048",
                "add {b}, 2048",
                "dec {n}",
                "jnz 2b",
                a = inout(reg) a => _, b = inout(reg) b => _, n = inout(reg) steps => _, s = in(reg) 64usize,
                options(nostack, readonly)
            );
        }
    }

    /// Store the C tiles to the 32 × 32 block at `dst` (rows `ldc` bytes apart).
    ///
    /// # Safety
    /// `dst` must hold 32 rows of 32 writable floats.
    #[inline(always)]
    pub unsafe fn finish(&self, dst: *mut f32, ldc: usize) {
        asm!(
            "tilestored [{c} + {ldc}*1], tmm0",
            "tilestored [{c} + {ldc}*1 + 64], tmm1",
            "tilestored [{cl} + {ldc}*1], tmm2",
            "tilestored [{cl} + {ldc}*1 + 64], tmm3",
            c = in(reg) dst, cl = in(reg) dst.cast::<u8>().add(16 * ldc), ldc = in(reg) ldc,
            options(nostack, preserves_flags)
        );
    }
}

impl Drop for Tiles {
    fn drop(&mut self) {
        // SAFETY: the tiles were configured by this value.
        unsafe { asm!("tilerelease", options(nostack, nomem, preserves_flags)) };
    }
}
