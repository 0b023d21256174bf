//! Instruction-set selection: detect the CPU once, let `FERRONET_SIMD` force a
//! lower path, and hand every kernel the same answer.
//!
//! Each ISA module (`scalar`, `avx2`, `avx512`) implements [`Vector`] for the
//! element types it accelerates; kernels are written once, generic over
//! `Vector`, and instantiated inside thin `#[target_feature]` wrappers. The
//! scalar path is plain portable Rust and always available (on aarch64, where
//! NEON is part of the baseline, it is compiled to NEON code by LLVM).
//!
//! AMX tiles ([`amx`]) are a matrix unit beside the vector paths, used by
//! bfloat16 products only: on when the machine has them and no vector path
//! was named ([`amx_enabled`]), so `FERRONET_SIMD=avx512` runs the same
//! products on the float32 kernels instead.

use std::sync::atomic::{AtomicU8, Ordering};

pub mod amx;
#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
pub mod peak;
pub mod scalar;

/// A SIMD instruction set, ordered from least to most capable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Isa {
    Scalar = 0,
    Neon = 1,
    Avx2 = 2,
    Avx512 = 3,
}

impl Isa {
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Neon, Isa::Avx2, Isa::Avx512];

    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Neon => "neon",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    pub fn parse(s: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|isa| isa.name().eq_ignore_ascii_case(s.trim()))
    }

    fn from_u8(v: u8) -> Isa {
        Isa::ALL[v as usize]
    }

    /// Whether this machine can run the path.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512dq")
                    && is_x86_feature_detected!("avx512vl")
            }
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// Every path this machine supports, least capable first.
pub fn supported() -> Vec<Isa> {
    Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
}

/// The most capable path this machine supports.
pub fn best() -> Isa {
    *supported().last().unwrap_or(&Isa::Scalar)
}

const UNSET: u8 = u8::MAX;
static ACTIVE: AtomicU8 = AtomicU8::new(UNSET);

/// The path in use: the best the machine supports, or the one named by
/// `FERRONET_SIMD` when that is lower (a request above what the machine
/// supports falls back to the best supported path below it).
#[inline]
pub fn active() -> Isa {
    let v = ACTIVE.load(Ordering::Relaxed);
    if v != UNSET {
        return Isa::from_u8(v);
    }
    let requested = std::env::var("FERRONET_SIMD").ok().and_then(|s| Isa::parse(&s)).unwrap_or(Isa::Avx512);
    let isa = clamp(requested);
    ACTIVE.store(isa as u8, Ordering::Relaxed);
    isa
}

/// Select a path for the rest of the process (clamped to what the machine
/// supports); returns the path actually selected. AMX is turned off.
pub fn set_active(requested: Isa) -> Isa {
    let isa = clamp(requested);
    ACTIVE.store(isa as u8, Ordering::Relaxed);
    AMX.store(0, Ordering::Relaxed);
    isa
}

static AMX: AtomicU8 = AtomicU8::new(UNSET);

/// Whether bfloat16 products run on AMX tiles: the machine and OS allow it,
/// the AVX-512 path is active, and `FERRONET_SIMD` names no vector path
/// (unset, or `amx`).
#[inline]
pub fn amx_enabled() -> bool {
    let v = AMX.load(Ordering::Relaxed);
    if v != UNSET {
        return v == 1;
    }
    let named = std::env::var("FERRONET_SIMD").ok().and_then(|s| Isa::parse(&s)).is_some();
    let on = !named && active() == Isa::Avx512 && amx::available();
    AMX.store(on as u8, Ordering::Relaxed);
    on
}

/// Select the best vector path and AMX tiles (when the machine has them) for
/// the rest of the process; returns whether AMX is now in use.
pub fn set_amx() -> bool {
    let isa = clamp(Isa::Avx512);
    ACTIVE.store(isa as u8, Ordering::Relaxed);
    let on = isa == Isa::Avx512 && amx::available();
    AMX.store(on as u8, Ordering::Relaxed);
    on
}

fn clamp(requested: Isa) -> Isa {
    supported().into_iter().filter(|&i| i <= requested).next_back().unwrap_or(Isa::Scalar)
}

/// A SIMD register of `W` lanes of `T`, the vocabulary kernels are written in.
///
/// # Safety
/// The methods use instructions of one ISA: call them only from code running
/// under that ISA's `#[target_feature]` (or the scalar path).
pub trait Vector<T>: Copy {
    const W: usize;
    unsafe fn zero() -> Self;
    unsafe fn splat(v: T) -> Self;
    unsafe fn load(p: *const T) -> Self;
    unsafe fn store(self, p: *mut T);
    /// `self * b + c`, fused where the ISA has FMA.
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    unsafe fn add(self, b: Self) -> Self;
    unsafe fn mul(self, b: Self) -> Self;
    /// Lane `l` = `*base.offset(idx[l])` for the `W` offsets at `idx` (a gather).
    unsafe fn gather(base: *const T, idx: *const i32) -> Self;
}

/// The registers each x86 path holds a float type in, for kernels generic
/// over the element type that pick their [`Vector`] by path.
pub trait Registers: crate::float::Float {
    #[cfg(target_arch = "x86_64")]
    type Avx512: Vector<Self>;
    #[cfg(target_arch = "x86_64")]
    type Avx2: Vector<Self>;
}

impl Registers for f32 {
    #[cfg(target_arch = "x86_64")]
    type Avx512 = avx512::F32x16;
    #[cfg(target_arch = "x86_64")]
    type Avx2 = avx2::F32x8;
}

impl Registers for f64 {
    #[cfg(target_arch = "x86_64")]
    type Avx512 = avx512::F64x8;
    #[cfg(target_arch = "x86_64")]
    type Avx2 = avx2::F64x4;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for isa in Isa::ALL {
            assert_eq!(Isa::parse(isa.name()), Some(isa));
        }
        assert_eq!(Isa::parse("AVX2"), Some(Isa::Avx2));
        assert_eq!(Isa::parse("sse9"), None);
    }

    #[test]
    fn clamp_never_exceeds_support() {
        for isa in Isa::ALL {
            let got = clamp(isa);
            assert!(got <= isa && got.is_supported());
        }
        assert!(Isa::Scalar.is_supported());
    }
}
