//! ferronet-core: the numeric kernels behind ferronet.
//!
//! Pure Rust, no Python. Every kernel works on plain slices (or raw strided
//! pointers where a view without copies matters), is generic over `f32`/`f64`
//! through [`Float`], picks its SIMD path once at run time ([`simd`]) and runs
//! its parallel parts on ferronet's own fork-safe thread pool ([`parallel`]).
//! Bulk independent work (Monte Carlo chains in [`ising`], the sorts of
//! [`ranking`]) runs on a rayon pool of the same size ([`rayon_pool`]).
//!
//! Results never depend on the number of threads: work is split over output
//! blocks only, and every reduction runs in one fixed order.

pub mod error;
pub mod float;
pub mod fpenv;
pub mod gemm;
pub mod ising;
pub mod ops;
pub mod parallel;
pub mod ranking;
pub mod rayon_pool;
pub mod shape;
pub mod simd;
#[cfg(test)]
mod testing;
mod workspace;

pub use error::{Error, Result};
pub use float::Float;
pub use workspace::OutOfMemory;
