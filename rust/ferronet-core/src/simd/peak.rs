//! The float32 FMA peak of one core, measured: 12 independent register
//! chains of fused multiply-adds and no memory traffic (enough chains to
//! cover the FMA latency on two FMA ports), timed for a few milliseconds.
//! Benchmarks report each kernel's GFLOP/s as a share of this figure.

use super::Isa;
use std::time::Instant;

/// FMAs per chain per timed call.
const STEPS: usize = 1 << 16;

/// Best float32 GFLOP/s of the FMA loop on the calling thread with `isa`'s
/// widest registers, over `reps` timed calls; `None` for the scalar paths.
pub fn fma_gflops(isa: Isa, reps: usize) -> Option<f64> {
    let (run, lanes): (fn(f32) -> f32, usize) = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.is_supported() => (|v| unsafe { x86::chains512(v) }, 16),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if isa.is_supported() => (|v| unsafe { x86::chains256(v) }, 8),
        _ => return None,
    };
    let mut best = f64::MAX;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        std::hint::black_box(run(std::hint::black_box(1.0)));
        best = best.min(t.elapsed().as_secs_f64());
    }
    Some((STEPS * 12 * lanes * 2) as f64 / best / 1e9)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::STEPS;
    use std::arch::x86_64::*;

    macro_rules! chains {
        ($name:ident, $feat:literal, $set1:ident, $fmadd:ident, $add:ident, $cvt:ident) => {
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn $name(seed: f32) -> f32 {
                // x ← x·m + a with m just below 1 stays near a/(1-m): no
                // overflow, no subnormals, whatever the step count.
                let m = $set1(std::hint::black_box(0.999_9));
                let a = $set1(std::hint::black_box(1e-4));
                let mut x = [$set1(seed); 12];
                for _ in 0..STEPS {
                    for v in x.iter_mut() {
                        *v = $fmadd(*v, m, a);
                    }
                }
                let s = x.iter().fold($set1(0.0), |s, &v| $add(s, v));
                $cvt(s)
            }
        };
    }

    chains!(chains512, "avx512f", _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, first512);
    chains!(chains256, "avx2,fma", _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, first256);

    #[inline(always)]
    unsafe fn first512(v: __m512) -> f32 {
        _mm512_cvtss_f32(v)
    }

    #[inline(always)]
    unsafe fn first256(v: __m256) -> f32 {
        _mm256_cvtss_f32(v)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn peak_is_positive_where_measurable() {
        for isa in super::super::supported() {
            if let Some(g) = super::fma_gflops(isa, 1) {
                assert!(g > 0.0 && g.is_finite());
            }
        }
    }
}
