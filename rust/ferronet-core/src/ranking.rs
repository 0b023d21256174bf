//! Scores sorted for ranking metrics (ROC curves, AUC): highest first, each
//! carrying its sample's label, in parallel on ferronet's rayon pool.
//!
//! Each score becomes an integer key that orders like the float (`-0.0` and
//! `+0.0` equal, as the metrics need them to tie). A float32 score and its
//! label fit together in 33 bits of a `u64`, sorted by a parallel LSD radix
//! sort (three passes of 11 bits: per-chunk digit counts, then each chunk
//! scatters its keys to its own slots), measured about 10-20% faster here
//! than rayon's comparison sort (`par_sort_unstable`) of the same keys. float64 scores are
//! sorted as `(key, label)` pairs by `par_sort_unstable`. Equal elements are
//! identical, so either result is unique: the same for any thread count. NaN
//! must be excluded by the caller.

use rayon::prelude::*;

use crate::error::value_err;

/// Below this many scores a sort is not worth waking the pool's threads.
const PARALLEL_FROM: usize = 1 << 15;

/// Unsigned key that orders like the float32 `x` (NaN excluded), `-0.0 == +0.0`.
#[inline]
fn key32(x: f32) -> u32 {
    let b = (x + 0.0).to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 1 << 31
    }
}

#[inline]
fn from_key32(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & 0x7FFF_FFFF } else { !k })
}

#[inline]
fn key64(x: f64) -> u64 {
    let b = (x + 0.0).to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | 1 << 63
    }
}

#[inline]
fn from_key64(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & 0x7FFF_FFFF_FFFF_FFFF } else { !k })
}

fn check(op: &'static str, n: usize, lens: [usize; 3]) -> crate::Result<()> {
    if lens.iter().any(|&l| l != n) {
        return value_err(
            op,
            format!("scores, labels and outputs need one entry per sample. Received: {n} scores, {lens:?}"),
        );
    }
    Ok(())
}

fn sort_desc<T: Ord + Send>(v: &mut [T], parallel: bool) {
    if parallel {
        v.par_sort_unstable_by(|a, b| b.cmp(a));
    } else {
        v.sort_unstable_by(|a, b| b.cmp(a));
    }
}

/// A raw pointer the scatter's tasks share; each writes only its own slots.
#[derive(Clone, Copy)]
struct Slots(*mut u64);
unsafe impl Send for Slots {}
unsafe impl Sync for Slots {}

const RADIX_BITS: u32 = 11;
const DIGITS: usize = 1 << RADIX_BITS;

/// Sort `keys` (values below 2^33) ascending: LSD radix, three passes of 11 bits
/// (measured faster here than five passes of 8).
fn radix_sort33(keys: &mut Vec<u64>, parallel: bool) {
    let n = keys.len();
    let chunks = if parallel { rayon::current_num_threads() * 4 } else { 1 };
    let chunk = n.div_ceil(chunks).max(1);
    let mut other = vec![0u64; n];
    for pass in 0..3 {
        let shift = pass * RADIX_BITS;
        let digit = |k: u64| (k >> shift) as usize & (DIGITS - 1);
        // LOOP 1: each chunk counts its digits
        let count = |c: &[u64]| {
            let mut h = vec![0usize; DIGITS];
            for &k in c {
                h[digit(k)] += 1;
            }
            h
        };
        let mut hist: Vec<Vec<usize>> = if parallel {
            keys.par_chunks(chunk).map(count).collect()
        } else {
            keys.chunks(chunk).map(count).collect()
        };
        // LOOP 2: first slot of (digit, chunk): all smaller digits, then this digit in earlier chunks
        let mut next = 0;
        for d in 0..DIGITS {
            for h in hist.iter_mut() {
                let c = h[d];
                h[d] = next;
                next += c;
            }
        }
        // LOOP 3: each chunk scatters its keys, in order, to its own slots (stable, so LSD passes compose)
        let out = Slots(other.as_mut_ptr());
        let scatter = |(c, mut slot): (&[u64], Vec<usize>)| {
            let out = out;
            for &k in c {
                let d = digit(k);
                // SAFETY: the slots of (digit, chunk) are disjoint across chunks and below n.
                unsafe { *out.0.add(slot[d]) = k };
                slot[d] += 1;
            }
        };
        if parallel {
            keys.par_chunks(chunk).zip(hist).for_each(scatter);
        } else {
            keys.chunks(chunk).zip(hist).for_each(scatter);
        }
        std::mem::swap(keys, &mut other);
    }
}

/// `scores` (float32) in decreasing order into `out_scores`, each sample's
/// `positive` flag (0 or 1) carried along into `out_positive`.
pub fn sort_scores_f32(
    scores: &[f32],
    positive: &[u8],
    out_scores: &mut [f32],
    out_positive: &mut [u8],
) -> crate::Result<()> {
    check("sort_scores", scores.len(), [positive.len(), out_scores.len(), out_positive.len()])?;
    // Descending order of (key << 1 | label) is ascending order of its complement in 33 bits.
    const MAX: u64 = (1 << 33) - 1;
    let mut keys: Vec<u64> = Vec::new();
    crate::rayon_pool::install(|parallel| {
        let parallel = parallel && scores.len() >= PARALLEL_FROM;
        let pack = |(&s, &p): (&f32, &u8)| MAX - ((key32(s) as u64) << 1 | (p != 0) as u64);
        if parallel {
            scores.par_iter().zip(positive).map(pack).collect_into_vec(&mut keys);
        } else {
            keys = scores.iter().zip(positive).map(pack).collect();
        }
        radix_sort33(&mut keys, parallel);
        let unpack = |((&k, s), p): ((&u64, &mut f32), &mut u8)| {
            let k = MAX - k;
            *s = from_key32((k >> 1) as u32);
            *p = (k & 1) as u8;
        };
        if parallel {
            keys.par_iter().zip(out_scores.par_iter_mut()).zip(out_positive.par_iter_mut()).for_each(unpack);
        } else {
            keys.iter().zip(out_scores.iter_mut()).zip(out_positive.iter_mut()).for_each(unpack);
        }
    });
    Ok(())
}

/// [`sort_scores_f32`] for float64 scores.
pub fn sort_scores_f64(
    scores: &[f64],
    positive: &[u8],
    out_scores: &mut [f64],
    out_positive: &mut [u8],
) -> crate::Result<()> {
    check("sort_scores", scores.len(), [positive.len(), out_scores.len(), out_positive.len()])?;
    let mut pairs: Vec<(u64, bool)> = Vec::new();
    crate::rayon_pool::install(|parallel| {
        let parallel = parallel && scores.len() >= PARALLEL_FROM;
        let pack = |(&s, &p): (&f64, &u8)| (key64(s), p != 0);
        if parallel {
            scores.par_iter().zip(positive).map(pack).collect_into_vec(&mut pairs);
        } else {
            pairs = scores.iter().zip(positive).map(pack).collect();
        }
        sort_desc(&mut pairs, parallel);
        let unpack = |((&(k, b), s), p): ((&(u64, bool), &mut f64), &mut u8)| {
            *s = from_key64(k);
            *p = b as u8;
        };
        if parallel {
            pairs.par_iter().zip(out_scores.par_iter_mut()).zip(out_positive.par_iter_mut()).for_each(unpack);
        } else {
            pairs.iter().zip(out_scores.iter_mut()).zip(out_positive.iter_mut()).for_each(unpack);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(n: usize, seed: u64) -> Vec<u64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                x >> 33
            })
            .collect()
    }

    #[test]
    fn sorts_descending_with_labels_for_any_thread_count() {
        for n in [0, 1, 7, 1000, 100_000] {
            let r = lcg(n, n as u64);
            // few distinct values: many ties; signed zeros tie
            let s32: Vec<f32> =
                r.iter().map(|&v| ((v % 200) as f32 - 100.0) * 0.25 + if v % 7 == 0 { -0.0 } else { 0.0 }).collect();
            let s64: Vec<f64> = r.iter().map(|&v| (v as f64 - 1e9) * 1e-3).collect();
            let pos: Vec<u8> = r.iter().map(|&v| (v >> 5 & 1) as u8).collect();
            let n0 = crate::parallel::num_threads();
            let mut first: Option<(Vec<f32>, Vec<u8>, Vec<f64>, Vec<u8>)> = None;
            for t in [1, 2, 5] {
                crate::parallel::set_num_threads(t);
                let (mut a, mut pa, mut b, mut pb) = (vec![0f32; n], vec![0u8; n], vec![0f64; n], vec![0u8; n]);
                sort_scores_f32(&s32, &pos, &mut a, &mut pa).unwrap();
                sort_scores_f64(&s64, &pos, &mut b, &mut pb).unwrap();
                assert!(a.windows(2).all(|w| w[0] >= w[1]) && b.windows(2).all(|w| w[0] >= w[1]));
                // the multiset of (score, label) pairs is kept
                let mut want: Vec<(u64, u8)> = s32.iter().zip(&pos).map(|(&s, &p)| (key32(s) as u64, p)).collect();
                let mut got: Vec<(u64, u8)> = a.iter().zip(&pa).map(|(&s, &p)| (key32(s) as u64, p)).collect();
                want.sort_unstable();
                got.sort_unstable();
                assert_eq!(got, want);
                assert_eq!(
                    pb.iter().map(|&p| p as usize).sum::<usize>(),
                    pos.iter().map(|&p| p as usize).sum::<usize>()
                );
                match &first {
                    None => first = Some((a, pa, b, pb)),
                    Some(f) => assert!(f.0 == a && f.1 == pa && f.2 == b && f.3 == pb, "{t} threads"),
                }
            }
            crate::parallel::set_num_threads(n0);
        }
    }

    #[test]
    fn extremes_round_trip() {
        for x in [f32::MIN, -1.0, -f32::MIN_POSITIVE, -0.0, 0.0, 1e-45, 3.0, f32::MAX, f32::INFINITY, f32::NEG_INFINITY]
        {
            assert_eq!(from_key32(key32(x)), x + 0.0);
        }
        assert!(key32(-0.0) == key32(0.0) && key32(-1.0) < key32(-0.5) && key32(0.5) < key32(1.0));
        assert!(key64(-2.0) < key64(-0.0) && key64(0.0) == key64(-0.0) && from_key64(key64(-7.5)) == -7.5);
    }
}
