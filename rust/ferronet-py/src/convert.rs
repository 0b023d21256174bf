//! NumPy arrays ⇄ kernel views, the one helper layer of the bindings: dtype
//! dispatch ([`by_dtype!`]), dtype checks, zero-copy strided views, output
//! allocation, `out=` and in-place buffer validation, overlap checks. No
//! arithmetic here.
//!
//! Operands that are only read are taken as NumPy takes them: an unaligned or
//! byte-swapped float array is copied into a native one first. Arrays the
//! kernels write (`out=`, in-place parameters and state) are never copied, so
//! they must already be native, aligned and writeable.

use crate::errors::{argument_error, dtype_error, shape_error};
use ferronet_core::shape::{fmt_shape, Strided};
use numpy::npyffi::{self, PY_ARRAY_API};
use numpy::prelude::*;
use numpy::{Element, PyArrayDyn, PyUntypedArray};
use pyo3::prelude::*;

/// A float array of either supported dtype.
pub enum Floats<'py> {
    F32(Bound<'py, PyArrayDyn<f32>>),
    F64(Bound<'py, PyArrayDyn<f64>>),
}

/// `$body` with `$a` bound to the typed array `$floats` (a [`Floats`]) holds:
/// the one place a runtime dtype becomes the type parameter of a generic
/// binding function, e.g. `by_dtype!(floats("x", x)?, x => forward_t(py, x, out))`.
macro_rules! by_dtype {
    ($floats:expr, $a:ident => $body:expr) => {
        match $floats {
            $crate::convert::Floats::F32($a) => $body,
            $crate::convert::Floats::F64($a) => $body,
        }
    };
}
pub(crate) use by_dtype;

/// What `ob` is, for messages: `dtype=float32` for an array, else `type=list`.
pub fn described(ob: &Bound<'_, PyAny>) -> String {
    match ob.cast::<PyUntypedArray>() {
        Ok(a) => format!("dtype={}", a.dtype()),
        Err(_) => format!("type={}", ob.get_type().name().map(|n| n.to_string()).unwrap_or_default()),
    }
}

/// The name NumPy gives the element type `T`.
pub fn dtype_name<T>() -> &'static str {
    match std::any::type_name::<T>() {
        "f32" => "float32",
        "f64" => "float64",
        "u8" => "uint8",
        other => other,
    }
}

/// Whether NumPy lets us write into `ob`.
pub fn is_writeable(ob: &Bound<'_, PyAny>) -> bool {
    ob.getattr("flags").and_then(|f| f.getattr("writeable")).and_then(|w| w.extract::<bool>()).unwrap_or(false)
}

/// A numeric ndarray the kernels cannot read in place (unaligned, or in
/// non-native byte order) as a native, aligned, C-ordered copy; anything else as is.
pub fn readable<'py>(ob: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(a) = ob.cast::<PyUntypedArray>() {
        let d = a.dtype();
        if matches!(d.kind(), b'f' | b'i' | b'u') && (!a.is_aligned() || d.is_native_byteorder() == Some(false)) {
            let native = d.call_method1("newbyteorder", ("=",))?;
            let order = pyo3::types::PyDict::new(ob.py());
            order.set_item("order", "C")?;
            return ob.call_method("astype", (native,), Some(&order));
        }
    }
    Ok(ob.clone())
}

/// `ob` (an operand the kernel only reads) as a float32/float64 ndarray, or a
/// DTypeError naming what it is.
pub fn floats<'py>(name: &str, ob: &Bound<'py, PyAny>) -> PyResult<Floats<'py>> {
    // Fast path: a native aligned array, as nearly every call passes.
    if let Ok(a) = ob.cast::<PyArrayDyn<f32>>() {
        if a.is_aligned() {
            return Ok(Floats::F32(a.clone()));
        }
    } else if let Ok(a) = ob.cast::<PyArrayDyn<f64>>() {
        if a.is_aligned() {
            return Ok(Floats::F64(a.clone()));
        }
    }
    floats_inplace(name, &readable(ob)?)
}

/// `ob` (an array the kernel writes) as a float32/float64 ndarray, never copied.
pub fn floats_inplace<'py>(name: &str, ob: &Bound<'py, PyAny>) -> PyResult<Floats<'py>> {
    if let Ok(a) = ob.cast::<PyArrayDyn<f32>>() {
        return Ok(Floats::F32(a.clone()));
    }
    if let Ok(a) = ob.cast::<PyArrayDyn<f64>>() {
        return Ok(Floats::F64(a.clone()));
    }
    Err(dtype_error(ob.py(), format!("{name} must be a float32 or float64 array. Received: {name}.{}", described(ob))))
}

/// `ob` (read only) as an ndarray of exactly `T` (the dtype of the op's first operand).
pub fn same<'py, T: Element>(name: &str, first: &str, ob: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    match ob.cast::<PyArrayDyn<T>>() {
        Ok(a) if a.is_aligned() => Ok(a.clone()),
        _ => same_inplace(name, first, &readable(ob)?),
    }
}

/// `ob` (written by the kernel) as an ndarray of exactly `T`, never copied.
pub fn same_inplace<'py, T: Element>(
    name: &str,
    first: &str,
    ob: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    ob.cast::<PyArrayDyn<T>>().map(|a| a.clone()).map_err(|_| {
        dtype_error(
            ob.py(),
            format!(
                "{name} must have the same dtype as {first} ({}). Received: {name}.{}",
                dtype_name::<T>(),
                described(ob)
            ),
        )
    })
}

/// A zero-copy view of any ndarray of `T` (strides converted to elements).
pub fn view<T: Element>(name: &str, a: &Bound<'_, PyArrayDyn<T>>) -> PyResult<Strided<T>> {
    let size = std::mem::size_of::<T>() as isize;
    let ptr = a.data();
    let aligned = (ptr as usize) % std::mem::align_of::<T>() == 0 && a.strides().iter().all(|s| s % size == 0);
    if !aligned && a.len() > 0 {
        return Err(argument_error(
            a.py(),
            format!("{name} is written in place, so it must be aligned in memory (allocate it with np.empty)"),
        ));
    }
    Ok(Strided { ptr, shape: a.shape().to_vec(), strides: a.strides().iter().map(|s| s / size).collect() })
}

/// A view of a C-contiguous ndarray (the element-wise kernels need one).
pub fn contiguous<T: Element>(name: &str, a: &Bound<'_, PyArrayDyn<T>>) -> PyResult<Strided<T>> {
    let v = view(name, a)?;
    if !v.is_c_contiguous() {
        return Err(argument_error(a.py(), format!("{name} must be C-contiguous")));
    }
    Ok(v)
}

/// The `out=` array if given (checked for dtype, shape and writeability),
/// else a new uninitialized C-contiguous array of `shape`.
pub fn output<'py, T: Element>(
    py: Python<'py>,
    out: Option<&Bound<'py, PyAny>>,
    shape: &[usize],
    first: &str,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    match out {
        None => empty::<T>(py, shape),
        Some(o) => {
            let arr = same_inplace::<T>("out", first, o)?;
            if arr.shape() != shape {
                return Err(shape_error(
                    py,
                    format!("out has shape {} but the result has shape {}", fmt_shape(arr.shape()), fmt_shape(shape)),
                ));
            }
            if !is_writeable(arr.as_any()) {
                return Err(argument_error(py, "out is read-only".into()));
            }
            Ok(arr)
        }
    }
}

/// A C-contiguous `out=` (or a new array) for the element-wise kernels.
pub fn contiguous_output<'py, T: Element>(
    py: Python<'py>,
    out: Option<&Bound<'py, PyAny>>,
    shape: &[usize],
    first: &str,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let arr = output::<T>(py, out, shape, first)?;
    if !arr.is_c_contiguous() {
        return Err(argument_error(py, "out must be C-contiguous".into()));
    }
    Ok(arr)
}

/// The byte range `[lo, hi)` a view can touch.
fn extent<T>(v: &Strided<T>) -> (usize, usize) {
    if v.is_empty() {
        return (0, 0);
    }
    let (mut lo, mut hi) = (v.ptr as isize, v.ptr as isize);
    let size = std::mem::size_of::<T>() as isize;
    for (&n, &s) in v.shape.iter().zip(&v.strides) {
        let span = (n as isize - 1) * s * size;
        if span < 0 {
            lo += span
        } else {
            hi += span
        }
    }
    (lo as usize, hi as usize + size as usize)
}

/// Whether two views (of any element types) may touch the same memory.
pub fn overlaps<A, B>(a: &Strided<A>, b: &Strided<B>) -> bool {
    let ((a0, a1), (b0, b1)) = (extent(a), extent(b));
    a0 < b1 && b0 < a1
}

/// A buffer the kernel updates in place (an optimizer's parameter or state):
/// exactly `T` and of `shape` (both those of the array named `like`),
/// C-contiguous and writeable; never copied.
pub fn inplace<'py, T: Element>(
    py: Python<'py>,
    op: &str,
    name: &str,
    ob: &Bound<'py, PyAny>,
    (like, shape): (&str, &[usize]),
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let Ok(a) = ob.cast::<PyArrayDyn<T>>() else {
        return Err(dtype_error(
            py,
            format!(
                "{op}: {name} is updated in place, so it must be a NumPy array of {like}'s dtype ({}). Received: {name}.{}",
                dtype_name::<T>(),
                described(ob)
            ),
        ));
    };
    if a.shape() != shape {
        return Err(shape_error(
            py,
            format!(
                "{op}: {name} must have {like}'s shape {}. Received: {name}.shape={}",
                fmt_shape(shape),
                fmt_shape(a.shape())
            ),
        ));
    }
    if !a.is_c_contiguous() {
        return Err(argument_error(py, format!("{op}: {name} is updated in place and must be C-contiguous")));
    }
    if !is_writeable(ob) {
        return Err(argument_error(py, format!("{op}: {name} is updated in place but is read-only")));
    }
    Ok(a.clone())
}

/// ShapeError unless the two views have the same shape.
/// The common tail of a kernel writing one output from `x`, a kernel `w` and
/// an optional bias `b` (the convolutions): the output is `out` (checked) or a
/// new array of `shape`, it must not share memory with the inputs, and
/// `kernel` runs on their slices with the GIL released.
#[allow(clippy::too_many_arguments)]
pub fn kernel_output<'py, T: Element>(
    py: Python<'py>,
    op: &str,
    x: &Bound<'py, PyArrayDyn<T>>,
    w: &Bound<'py, PyArrayDyn<T>>,
    b: Option<&Bound<'py, PyArrayDyn<T>>>,
    shape: &[usize],
    out: Option<&Bound<'py, PyAny>>,
    kernel: impl FnOnce(&[T], &[T], Option<&[T]>, &mut [T]) -> ferronet_core::Result<()> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let y = contiguous_output::<T>(py, out, shape, "x")?;
    let (vx, vw, vy) = (contiguous("x", x)?, contiguous("kernel", w)?, contiguous("out", &y)?);
    let vb = b.map(|b| contiguous("bias", b)).transpose()?;
    match &vb {
        Some(vb) => disjoint(py, op, &[("out", &vy)], &[&vx, &vw, vb])?,
        None => disjoint(py, op, &[("out", &vy)], &[&vx, &vw])?,
    }
    crate::errors::guarded(py, || unsafe {
        let bias = vb.as_ref().map(|v| v.as_slice().unwrap_or(&[]));
        kernel(vx.as_slice().unwrap_or(&[]), vw.as_slice().unwrap_or(&[]), bias, vy.as_mut_slice().unwrap_or(&mut []))
    })?;
    Ok(y.into_any())
}

/// A read-only array's values as an owned vector (the kernel runs without the GIL).
pub fn owned<T: Element + Copy>(py: Python<'_>, a: &numpy::PyReadonlyArrayDyn<'_, T>) -> PyResult<Vec<T>> {
    Ok(a.as_slice().map_err(|e| argument_error(py, e.to_string()))?.to_vec())
}

/// A shape error unless the output gradient `dy` has `want` (`what` names it).
pub fn dy_shape(py: Python<'_>, op: &str, what: &str, want: &[usize], got: &[usize]) -> PyResult<()> {
    if got == want {
        return Ok(());
    }
    Err(shape_error(py, format!("{op}: dy must have {what} {want:?}. Received: dy.shape={got:?}")))
}

pub fn same_shape<T>(py: Python<'_>, op: &str, a: (&str, &Strided<T>), b: (&str, &Strided<T>)) -> PyResult<()> {
    if a.1.shape != b.1.shape {
        return Err(shape_error(
            py,
            format!(
                "{op}: {} and {} must have the same shape. Received: {}.shape={}, {}.shape={}",
                a.0,
                b.0,
                a.0,
                fmt_shape(&a.1.shape),
                b.0,
                fmt_shape(&b.1.shape)
            ),
        ));
    }
    Ok(())
}

/// A C-contiguous view as a slice (empty views never touch their pointer).
///
/// # Safety
/// The view must be C-contiguous and outlive the slice.
pub unsafe fn slice<'a, T>(v: &Strided<T>) -> &'a [T] {
    if v.is_empty() {
        &[]
    } else {
        std::slice::from_raw_parts(v.ptr, v.len())
    }
}

/// # Safety
/// As for [`slice`], and nothing else may access the memory meanwhile.
pub unsafe fn slice_mut<'a, T>(v: &Strided<T>) -> &'a mut [T] {
    if v.is_empty() {
        &mut []
    } else {
        std::slice::from_raw_parts_mut(v.ptr, v.len())
    }
}

/// A new uninitialized C-contiguous array; a MemoryError (not a panic) when
/// NumPy cannot allocate it.
pub fn empty<'py, T: Element>(py: Python<'py>, shape: &[usize]) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let mut dims: Vec<npyffi::npy_intp> = Vec::with_capacity(shape.len());
    for &d in shape {
        match npyffi::npy_intp::try_from(d) {
            Ok(d) => dims.push(d),
            Err(_) => {
                return Err(pyo3::exceptions::PyMemoryError::new_err(format!(
                    "cannot allocate an array of shape {}",
                    fmt_shape(shape)
                )))
            }
        }
    }
    // SAFETY: the descriptor reference is stolen by NumPy, dims outlives the
    // call, and a null result (allocation failure) is turned into the pending
    // Python error before anything uses the pointer.
    unsafe {
        let ptr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            npyffi::get_type_object(py, npyffi::NpyTypes::PyArray_Type),
            T::get_dtype(py).into_dtype_ptr(),
            dims.len() as std::os::raw::c_int,
            dims.as_mut_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
        );
        Ok(Bound::from_owned_ptr_or_err(py, ptr)?.cast_into_unchecked())
    }
}

/// ArgumentError unless every array the kernel writes is disjoint from every
/// array it reads and from the other written ones (overlapping slices are
/// undefined behaviour in Rust, and would give wrong values).
pub fn disjoint<T>(py: Python<'_>, op: &str, written: &[(&str, &Strided<T>)], read: &[&Strided<T>]) -> PyResult<()> {
    for (i, (name, w)) in written.iter().enumerate() {
        if read.iter().any(|r| overlaps(w, r)) {
            return Err(argument_error(py, format!("{op}: {name} must not share memory with the inputs")));
        }
        if let Some((other, _)) = written[i + 1..].iter().find(|(_, o)| overlaps(w, o)) {
            return Err(argument_error(
                py,
                format!("{op}: {name} and {other} must not share memory (pass separate arrays)"),
            ));
        }
    }
    Ok(())
}

/// The `precision=` argument of `op` for operands of type `T` (the dtype of
/// `first`): an ArgumentError for an unknown name, a DTypeError for bfloat16
/// products of a type that has none.
pub fn precision<T: ferronet_core::gemm::GemmFloat>(
    py: Python<'_>,
    op: &'static str,
    first: &str,
    name: &str,
) -> PyResult<ferronet_core::gemm::Precision> {
    use ferronet_core::gemm::Precision;
    let p = Precision::parse(op, name).map_err(|e| crate::errors::to_py(py, e))?;
    if p == Precision::Bfloat16 && T::BF16.is_none() {
        return Err(dtype_error(
            py,
            format!(
                "{op}: precision='bfloat16' needs float32 inputs. Received: {first}.dtype={}",
                std::any::type_name::<T>().replace("f64", "float64")
            ),
        ));
    }
    Ok(p)
}

/// The three optional gradient arrays of a backward kernel (None where not asked for).
pub type Grads<'py> = (Option<Bound<'py, PyAny>>, Option<Bound<'py, PyAny>>, Option<Bound<'py, PyAny>>);

/// Runs a backward kernel that writes up to three gradients: each one in
/// `need` goes into `outs[i]` (checked like any `out=`) or a new C-contiguous
/// array of `shapes[i]`; none may share memory with `read` or with another;
/// `kernel` fills their slices with the GIL released.
#[allow(clippy::type_complexity)]
pub fn three_gradients<'py, T: Element>(
    py: Python<'py>,
    op: &str,
    outs: [Option<&Bound<'py, PyAny>>; 3],
    need: [bool; 3],
    shapes: &[Vec<usize>; 3],
    read: &[&Strided<T>],
    kernel: impl FnOnce(Option<&mut [T]>, Option<&mut [T]>, Option<&mut [T]>) -> ferronet_core::Result<()> + Send,
) -> PyResult<Grads<'py>> {
    let mut arrays = Vec::with_capacity(3);
    for i in 0..3 {
        arrays.push(if need[i] { Some(contiguous_output::<T>(py, outs[i], &shapes[i], "dy")?) } else { None });
    }
    let views = arrays
        .iter()
        .map(|a| a.as_ref().map(|a| contiguous("gradient", a)).transpose())
        .collect::<PyResult<Vec<_>>>()?;
    let written: Vec<_> = ["dx_out", "dw_out", "db_out"]
        .into_iter()
        .zip(&views)
        .filter_map(|(n, v)| v.as_ref().map(|v| (n, v)))
        .collect();
    disjoint(py, op, &written, read)?;
    crate::errors::guarded(py, || unsafe {
        let mut it = views.iter().map(|v| v.as_ref().map(|v| v.as_mut_slice().unwrap_or(&mut [])));
        kernel(it.next().flatten(), it.next().flatten(), it.next().flatten())
    })?;
    let mut it = arrays.into_iter().map(|a| a.map(|a| a.into_any()));
    Ok((it.next().flatten(), it.next().flatten(), it.next().flatten()))
}
