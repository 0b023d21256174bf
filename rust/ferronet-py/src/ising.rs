//! Binding of the Ising Monte Carlo sampler.

use crate::convert::{contiguous, empty};
use crate::errors::guarded;
use ferronet_core::ising::{self, IsingRun};
use numpy::PyArrayDyn;
use pyo3::prelude::*;

/// Spins of `len(betas)` independent chains on an `l x l` lattice, int8
/// array `(chains, samples, l, l)`: checkerboard Metropolis sweeps (plus one
/// Wolff cluster flip per sweep with `wolff`), `n_equilibrate` sweeps before
/// the first sample and `n_between` between samples. Chains run in parallel
/// (`set_num_threads`); the result depends on `seed` only.
#[pyfunction]
#[pyo3(signature = (betas, l, n_equilibrate, n_between, samples, wolff, ordered, seed))]
#[allow(clippy::too_many_arguments)]
fn ising_sample<'py>(
    py: Python<'py>,
    betas: Bound<'py, PyArrayDyn<f64>>,
    l: usize,
    n_equilibrate: usize,
    n_between: usize,
    samples: usize,
    wolff: bool,
    ordered: bool,
    seed: u64,
) -> PyResult<Bound<'py, PyArrayDyn<i8>>> {
    let vb = contiguous("betas", &betas)?;
    let out = empty::<i8>(py, &[vb.len(), samples, l, l])?;
    let vo = contiguous("out", &out)?;
    let run = IsingRun { l, n_equilibrate, n_between, samples, wolff, ordered, seed };
    guarded(py, || unsafe {
        ising::ising_sample(&run, vb.as_slice().unwrap_or(&[]), vo.as_mut_slice().unwrap_or(&mut []))
    })?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ising_sample, m)?)?;
    Ok(())
}
