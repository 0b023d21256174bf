//! Thread count and SIMD path selection.

use crate::errors::argument_error;
use ferronet_core::parallel;
use ferronet_core::simd as isa;
use pyo3::prelude::*;

/// Number of threads ferronet's kernels use.
#[pyfunction]
fn get_num_threads() -> usize {
    parallel::num_threads()
}

/// Set the number of threads ferronet's kernels use (1 ≤ n ≤ 256) and start
/// them; if the system refuses, the previous setting stays in use.
#[pyfunction]
fn set_num_threads(py: Python<'_>, n: &Bound<'_, PyAny>) -> PyResult<()> {
    let received = || n.repr().map(|r| r.to_string()).unwrap_or_default();
    let Ok(k) = n.extract::<i64>() else {
        return Err(argument_error(
            py,
            format!(
                "number of threads must be an int between 1 and {}. Received: n={}",
                parallel::MAX_THREADS,
                received()
            ),
        ));
    };
    if k < 1 || k as u64 > parallel::MAX_THREADS as u64 {
        return Err(argument_error(
            py,
            format!("number of threads must be between 1 and {}. Received: n={k}", parallel::MAX_THREADS),
        ));
    }
    py.detach(|| parallel::try_set_num_threads(k as usize)).map_err(|e| crate::errors::to_py(py, e))
}

/// Name of the SIMD path in use: "avx512", "avx2", "neon" or "scalar".
#[pyfunction]
fn simd() -> &'static str {
    isa::active().name()
}

/// Names of the SIMD paths this machine supports, least capable first.
#[pyfunction]
fn supported_simd() -> Vec<&'static str> {
    isa::supported().into_iter().map(|i| i.name()).collect()
}

/// Select a SIMD path (clamped to what the machine supports); returns the
/// name of the path selected. "amx" selects the best vector path plus AMX
/// tiles for bfloat16 products (returns "amx" when they are in use); naming
/// a vector path turns AMX off.
#[pyfunction]
fn set_simd(py: Python<'_>, name: &str) -> PyResult<&'static str> {
    if name.trim().eq_ignore_ascii_case("amx") {
        return Ok(if isa::set_amx() { "amx" } else { isa::active().name() });
    }
    let isa = isa::Isa::parse(name).ok_or_else(|| {
        argument_error(
            py,
            format!("unknown SIMD path; expected one of scalar, neon, avx2, avx512, amx. Received: {name:?}"),
        )
    })?;
    Ok(isa::set_active(isa).name())
}

/// The measured float32 FMA peak of one core, in GFLOP/s, on the active SIMD
/// path (12 independent register chains, no loads; best of `reps` runs of a
/// few milliseconds each); None on the scalar paths.
#[pyfunction]
#[pyo3(signature = (reps=20))]
fn fma_peak(py: Python<'_>, reps: usize) -> Option<f64> {
    py.detach(|| ferronet_core::simd::peak::fma_gflops(isa::active(), reps))
}

/// Whether bfloat16 products run on AMX tiles (the CPU has them, the OS
/// allows them, and FERRONET_SIMD / set_simd named no vector path).
#[pyfunction]
fn amx() -> bool {
    isa::amx_enabled()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(simd, m)?)?;
    m.add_function(wrap_pyfunction!(supported_simd, m)?)?;
    m.add_function(wrap_pyfunction!(set_simd, m)?)?;
    m.add_function(wrap_pyfunction!(amx, m)?)?;
    m.add_function(wrap_pyfunction!(fma_peak, m)?)?;
    Ok(())
}
