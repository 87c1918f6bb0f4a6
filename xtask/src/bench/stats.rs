//! Medians and spread of measured samples.

use serde::Serialize;

/// A sample set reduced to its median and spread.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    pub n: usize,
    pub median: f64,
    /// First and third quartiles (linear interpolation between samples).
    pub q1: f64,
    pub q3: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// `None` for an empty sample set, or one with a NaN.
    pub fn of(samples: &[f64]) -> Option<Spread> {
        if samples.is_empty() || samples.iter().any(|s| s.is_nan()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Spread {
            n: sorted.len(),
            median: quantile(&sorted, 0.5),
            q1: quantile(&sorted, 0.25),
            q3: quantile(&sorted, 0.75),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }

    /// Every statistic multiplied by `factor` (a change of unit).
    pub fn scaled(&self, factor: f64) -> Spread {
        Spread {
            n: self.n,
            median: self.median * factor,
            q1: self.q1 * factor,
            q3: self.q3 * factor,
            min: self.min * factor,
            max: self.max * factor,
        }
    }
}

/// The `q` quantile of sorted samples, interpolating between neighbours.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    // 0..=len-1, whole numbers after floor/ceil.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (below, above) = (position.floor() as usize, position.ceil() as usize);
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_quartiles_of_odd_and_even_sets() {
        let odd = Spread::of(&[5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!(
            (odd.median, odd.q1, odd.q3, odd.min, odd.max, odd.n),
            (3.0, 2.0, 4.0, 1.0, 5.0, 5)
        );
        let even = Spread::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((even.median, even.q1, even.q3), (2.5, 1.75, 3.25));
        assert_eq!(Spread::of(&[7.0]).unwrap().median, 7.0);
    }

    #[test]
    fn empty_or_nan_sets_have_no_spread() {
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(Spread::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn scaling_changes_every_statistic() {
        let spread = Spread::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let ms = spread.scaled(1e3);
        assert_eq!((ms.median, ms.q1, ms.max), (3000.0, 2000.0, 5000.0));
    }
}
