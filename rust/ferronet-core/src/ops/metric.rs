//! Counting kernels behind the accuracy metrics: how many rows of scores
//! pick the right class, without materialising the argmax of each row.

use crate::error::{shape_err, value_err, Result};
use crate::float::Float;

/// Index of the first maximum of `row`, a NaN counting as the maximum (as
/// `np.argmax` does). `row` must not be empty.
#[inline]
pub fn argmax<T: Float>(row: &[T]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v.is_nan() {
            return j;
        }
        if v > row[best] {
            best = j;
        }
    }
    best
}

fn check_rows(op: &'static str, len: usize, classes: usize, rows: usize) -> Result<()> {
    if classes == 0 || len != rows * classes {
        return shape_err(
            op,
            format!(
                "expected scores of shape ({rows}, classes) with classes >= 1. Received: {len} scores for {rows} rows"
            ),
        );
    }
    Ok(())
}

/// How many rows of `scores` (`labels.len() × classes`, row-major) have
/// their first maximum at the row's class id.
pub fn argmax_hits<T: Float>(scores: &[T], classes: usize, labels: &[i64]) -> Result<usize> {
    const OP: &str = "argmax_hits";
    check_rows(OP, scores.len(), classes, labels.len())?;
    if let Some((i, &v)) = labels.iter().enumerate().find(|(_, &v)| v < 0 || v as u64 >= classes as u64) {
        return value_err(
            OP,
            format!("labels[{i}]={v} is not a class id: ids must be in [0, {classes}). Received: labels[{i}]={v}"),
        );
    }
    Ok(scores.chunks_exact(classes).zip(labels).filter(|(row, &y)| argmax(row) == y as usize).count())
}

/// How many rows of `scores` and `targets` (both `rows × classes`) have their
/// first maximum in the same column.
pub fn argmax_agree<T: Float>(scores: &[T], targets: &[T], classes: usize) -> Result<usize> {
    const OP: &str = "argmax_agree";
    if classes == 0 || scores.len() != targets.len() || scores.len() % classes != 0 {
        return shape_err(
            OP,
            format!(
                "expected scores and targets of one shape (rows, {classes}). Received: {} scores, {} targets",
                scores.len(),
                targets.len()
            ),
        );
    }
    Ok(scores.chunks_exact(classes).zip(targets.chunks_exact(classes)).filter(|(s, t)| argmax(s) == argmax(t)).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_maximum_and_nan_wins() {
        assert_eq!(argmax(&[1.0f32, 3.0, 3.0, 2.0]), 1);
        assert_eq!(argmax(&[1.0f64, f64::NAN, 5.0, f64::NAN]), 1);
        assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
    }

    #[test]
    fn hits_count_rows_and_reject_bad_ids() {
        let s = [0.1f32, 0.7, 0.2, 0.5, 0.4, 0.1];
        assert_eq!(argmax_hits(&s, 3, &[1, 0]).unwrap(), 2);
        assert_eq!(argmax_hits(&s, 3, &[2, 0]).unwrap(), 1);
        assert!(argmax_hits(&s, 3, &[3, 0]).is_err());
        assert!(argmax_hits(&s, 3, &[-1, 0]).is_err());
        assert!(argmax_hits(&s, 2, &[0, 0]).is_err());
        let t = [0.0f32, 1.0, 0.0, 0.0, 0.0, 1.0];
        assert_eq!(argmax_agree(&s, &t, 3).unwrap(), 1);
    }
}
