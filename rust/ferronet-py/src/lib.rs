//! `ferronet._core`: the thin PyO3 layer over ferronet-core. Each function
//! checks its arguments, views the NumPy buffers without copying, releases
//! the GIL, calls one kernel and maps errors. No arithmetic lives here.

mod activation;
mod attention;
mod conv;
mod convert;
mod errors;
mod image;
mod ising;
mod linalg;
mod loss;
mod metric;
mod norm;
mod optim;
mod pool;
mod ranking;
mod recurrent;
mod runtime;
mod taylor;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtime::register(m)?;
    linalg::register(m)?;
    conv::register(m)?;
    image::register(m)?;
    pool::register(m)?;
    optim::register(m)?;
    norm::register(m)?;
    activation::register(m)?;
    attention::register(m)?;
    loss::register(m)?;
    metric::register(m)?;
    taylor::register(m)?;
    recurrent::register(m)?;
    ising::register(m)?;
    ranking::register(m)?;
    Ok(())
}
