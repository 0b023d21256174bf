//! One mapping from kernel errors (and panics) to ferronet's Python exceptions,
//! which live in `ferronet.errors` so they can inherit from ValueError/TypeError.

use ferronet_core::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static SHAPE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DTYPE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static ARGUMENT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static FERRONET_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn class<'py>(py: Python<'py>, cell: &'static PyOnceLock<Py<PyType>>, name: &str) -> PyResult<Bound<'py, PyType>> {
    let ty = cell.get_or_try_init(py, || -> PyResult<Py<PyType>> {
        Ok(py.import("ferronet.errors")?.getattr(name)?.cast_into::<PyType>()?.unbind())
    })?;
    Ok(ty.bind(py).clone())
}

fn raise(py: Python<'_>, cell: &'static PyOnceLock<Py<PyType>>, name: &str, msg: String) -> PyErr {
    match class(py, cell, name) {
        Ok(ty) => PyErr::from_type(ty, msg),
        Err(e) => e,
    }
}

pub fn shape_error(py: Python<'_>, msg: String) -> PyErr {
    raise(py, &SHAPE_ERROR, "ShapeError", msg)
}

pub fn dtype_error(py: Python<'_>, msg: String) -> PyErr {
    raise(py, &DTYPE_ERROR, "DTypeError", msg)
}

pub fn argument_error(py: Python<'_>, msg: String) -> PyErr {
    raise(py, &ARGUMENT_ERROR, "ArgumentError", msg)
}

pub fn internal_error(py: Python<'_>, msg: String) -> PyErr {
    raise(py, &FERRONET_ERROR, "FerronetError", msg)
}

pub fn to_py(py: Python<'_>, e: Error) -> PyErr {
    match e {
        Error::Shape { .. } => shape_error(py, e.to_string()),
        Error::Value { .. } => argument_error(py, e.to_string()),
    }
}

/// Run a kernel with the GIL released (denormals flushed, see
/// `ferronet_core::fpenv`); kernel errors become ferronet
/// exceptions, a workspace that cannot be allocated a MemoryError, and a
/// panic a FerronetError instead of aborting.
pub fn guarded<R: Send>(py: Python<'_>, f: impl FnOnce() -> ferronet_core::Result<R> + Send) -> PyResult<R> {
    let r = py.detach(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ferronet_core::fpenv::with_flush_to_zero(f)))
    });
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_py(py, e)),
        Err(payload) => {
            if let Some(oom) = payload.downcast_ref::<ferronet_core::OutOfMemory>() {
                let size = if oom.bytes == usize::MAX {
                    "more than the address space".into()
                } else {
                    format!("{} bytes", oom.bytes)
                };
                return Err(pyo3::exceptions::PyMemoryError::new_err(format!(
                    "a ferronet kernel could not allocate its workspace ({size})"
                )));
            }
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(internal_error(py, format!("internal error in a ferronet kernel: {what}")))
        }
    }
}
