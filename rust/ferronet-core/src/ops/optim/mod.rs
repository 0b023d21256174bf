//! Fused in-place optimizer updates with Keras 3's formulas and defaults.
//!
//! Each update reads the gradient once and rewrites the parameter and its
//! optimizer state in one pass, in the order Keras' `update_step` assigns
//! them. Hyper-parameters arrive as `f64`; derived scalars (Adam's bias
//! correction) are computed in `f64` and rounded once to the element type.
//! Sorted in order of increasing complexity.

use crate::error::{shape_err, value_err, Result};
use crate::parallel::SendPtr;

mod adagrad;
mod adam;
mod adam_gemm;
mod rmsprop;
mod sgd;
#[cfg(test)]
mod tests;

pub use adagrad::{adagrad_update, Adagrad};
pub use adam::{adam_update, adamw_update, Adam};
pub(crate) use adam_gemm::gemm_adam;
pub use rmsprop::{rmsprop_update, RmsProp};
pub use sgd::{sgd_update, Sgd};
#[cfg(test)]
use {adagrad::adagrad_update_on, adam::adam_update_on, rmsprop::rmsprop_update_on, sgd::sgd_update_on};

/// Elements per parallel block of an update.
pub(super) const BLOCK: usize = 1 << 14;

/// Checks that every optional state buffer has as many elements as `param`.
pub(super) fn check_len(op: &'static str, param: usize, others: &[(&str, Option<usize>)]) -> Result<()> {
    for &(name, len) in others {
        if let Some(len) = len {
            if len != param {
                return shape_err(
                    op,
                    format!(
                        "{name} must have as many elements as param. Received: param has {param}, {name} has {len}"
                    ),
                );
            }
        }
    }
    Ok(())
}

pub(super) fn check_finite(op: &'static str, args: &[(&str, f64)]) -> Result<()> {
    for &(name, v) in args {
        if !v.is_finite() {
            return value_err(op, format!("{name} must be finite. Received: {name}={v}"));
        }
    }
    Ok(())
}

pub(super) fn check_unit(op: &'static str, name: &str, v: f64, open_top: bool) -> Result<()> {
    let ok = v >= 0.0 && if open_top { v < 1.0 } else { v <= 1.0 };
    if !ok {
        let range = if open_top { "[0, 1)" } else { "[0, 1]" };
        return value_err(op, format!("{name} must be in {range}. Received: {name}={v}"));
    }
    Ok(())
}

/// `(ptr, offset)` → the block `lo..hi` of a buffer as a slice.
///
/// # Safety
/// The pointer must address at least `hi` elements, and no other block may
/// touch `lo..hi` while the slice lives.
#[inline(always)]
pub(super) unsafe fn part<'a, T>(p: SendPtr<T>, lo: usize, hi: usize) -> &'a mut [T] {
    std::slice::from_raw_parts_mut(p.get().add(lo), hi - lo)
}
