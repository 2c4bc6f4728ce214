//! MacKinnon approximate p-values (1994) and finite-sample critical values
//! (2010) for unit-root and Engle-Granger cointegration tests, transcribed
//! from statsmodels' `tsa/adfvalues.py` (`mackinnonp`, `mackinnoncrit`).
//!
//! Coefficients are stored unscaled and multiplied by the same scaling
//! vectors statsmodels uses so the results agree bit for bit.

use super::error::{AnalyticsError, Result};
use super::stats::norm_cdf;

/// Deterministic terms of the test regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    /// No constant, no trend.
    N,
    /// Constant.
    C,
    /// Constant and linear trend.
    Ct,
    /// Constant, linear and quadratic trend.
    Ctt,
}

impl Trend {
    /// Number of deterministic regressors.
    pub fn k(self) -> usize {
        match self {
            Trend::N => 0,
            Trend::C => 1,
            Trend::Ct => 2,
            Trend::Ctt => 3,
        }
    }

    fn idx(self) -> usize {
        self.k()
    }
}

const INF: f64 = f64::INFINITY;
// Rows: n, c, ct, ctt; columns: N = 1..=6.
const TAU_STAR: [[f64; 6]; 4] = [
    [-1.04, -1.53, -2.68, -3.09, -3.07, -3.77],
    [-1.61, -2.62, -3.13, -3.47, -3.78, -3.93],
    [-2.89, -3.19, -3.50, -3.65, -3.80, -4.36],
    [-3.21, -3.51, -3.81, -3.83, -4.12, -4.63],
];
const TAU_MIN: [[f64; 6]; 4] = [
    [-19.04, -19.62, -21.21, -23.25, -21.63, -25.74],
    [-18.83, -18.86, -23.48, -28.07, -25.96, -23.27],
    [-16.18, -21.15, -25.37, -26.63, -26.53, -26.18],
    [-17.17, -21.1, -24.33, -24.03, -24.33, -28.22],
];
const TAU_MAX: [[f64; 6]; 4] = [
    [INF, 1.51, 0.86, 0.88, 1.05, 1.24],
    [2.74, 0.92, 0.55, 0.61, 0.79, 1.0],
    [0.7, 0.63, 0.71, 0.93, 1.19, 1.42],
    [0.54, 0.79, 1.08, 1.43, 3.49, 1.92],
];
const SMALL_SCALING: [f64; 3] = [1.0, 1.0, 1e-2];
const TAU_SMALLP: [[[f64; 3]; 6]; 4] = [
    [
        [0.6344, 1.2378, 3.2496],
        [1.9129, 1.3857, 3.5322],
        [2.7648, 1.4502, 3.4186],
        [3.4336, 1.4835, 3.19],
        [4.0999, 1.5533, 3.59],
        [4.5388, 1.5344, 2.9807],
    ],
    [
        [2.1659, 1.4412, 3.8269],
        [2.92, 1.5012, 3.9796],
        [3.4699, 1.4856, 3.164],
        [3.9673, 1.4777, 2.6315],
        [4.5509, 1.5338, 2.9545],
        [5.1399, 1.6036, 3.4445],
    ],
    [
        [3.2512, 1.6047, 4.9588],
        [3.6646, 1.5419, 3.6448],
        [4.0983, 1.5173, 2.9898],
        [4.5844, 1.5338, 2.8796],
        [5.0722, 1.5634, 2.9472],
        [5.53, 1.5914, 3.0392],
    ],
    [
        [4.0003, 1.658, 4.8288],
        [4.3534, 1.6016, 3.7947],
        [4.7343, 1.5768, 3.2396],
        [5.214, 1.6077, 3.3449],
        [5.6481, 1.6274, 3.3455],
        [5.9296, 1.5929, 2.8223],
    ],
];
const LARGE_SCALING: [f64; 4] = [1.0, 1e-1, 1e-1, 1e-2];
const TAU_LARGEP: [[[f64; 4]; 6]; 4] = [
    [
        [0.4797, 9.3557, -0.6999, 3.3066],
        [1.5578, 8.558, -2.083, -3.3549],
        [2.2268, 6.8093, -3.2362, -5.4448],
        [2.7654, 6.4502, -3.0811, -4.4946],
        [3.2684, 6.8051, -2.6778, -3.4972],
        [3.7268, 7.167, -2.3648, -2.8288],
    ],
    [
        [1.7339, 9.3202, -1.2745, -1.0368],
        [2.1945, 6.4695, -2.9198, -4.2377],
        [2.5893, 4.5168, -3.6529, -5.0074],
        [3.0387, 4.5452, -3.3666, -4.1921],
        [3.5049, 5.2098, -2.9158, -3.3468],
        [3.9489, 5.8933, -2.5359, -2.721],
    ],
    [
        [2.5261, 6.1654, -3.7956, -6.0285],
        [2.85, 5.272, -3.6622, -5.1695],
        [3.221, 5.255, -3.2685, -4.1501],
        [3.652, 5.9758, -2.7483, -3.2081],
        [4.0712, 6.6428, -2.3464, -2.546],
        [4.4735, 7.1757, -2.0681, -2.1196],
    ],
    [
        [3.0778, 4.9529, -4.1477, -5.9359],
        [3.4713, 5.967, -3.2507, -4.2286],
        [3.8637, 6.7852, -2.6286, -3.1381],
        [4.2736, 7.6199, -2.1534, -2.4026],
        [4.6679, 8.2618, -1.822, -1.9147],
        [5.0009, 8.3735, -1.6994, -1.6928],
    ],
];

/// Horner evaluation of `c[0] + c[1] x + c[2] x^2 + ...` in the order
/// `numpy.polyval` uses on the reversed coefficients.
fn polyval_asc(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &ci| acc * x + ci)
}

fn check_n(n: usize, max: usize) -> Result<usize> {
    if (1..=max).contains(&n) {
        Ok(n - 1)
    } else {
        Err(AnalyticsError::InvalidParameter {
            name: "N",
            reason: format!("number of I(1) series must be in 1..={max}, got {n}"),
        })
    }
}

/// MacKinnon (1994) approximate asymptotic p-value of a Dickey-Fuller /
/// Engle-Granger tau statistic; `n` is the number of I(1) series (1..=6).
pub fn mackinnonp(stat: f64, trend: Trend, n: usize) -> Result<f64> {
    let j = check_n(n, 6)?;
    let r = trend.idx();
    if stat > TAU_MAX[r][j] {
        return Ok(1.0);
    }
    if stat < TAU_MIN[r][j] {
        return Ok(0.0);
    }
    let z = if stat <= TAU_STAR[r][j] {
        let mut c = TAU_SMALLP[r][j];
        for (ci, s) in c.iter_mut().zip(SMALL_SCALING) {
            *ci *= s;
        }
        polyval_asc(&c, stat)
    } else {
        let mut c = TAU_LARGEP[r][j];
        for (ci, s) in c.iter_mut().zip(LARGE_SCALING) {
            *ci *= s;
        }
        polyval_asc(&c, stat)
    };
    Ok(norm_cdf(z))
}

/// Critical values at 1%, 5% and 10%.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CriticalValues {
    #[serde(rename = "1%")]
    pub one: f64,
    #[serde(rename = "5%")]
    pub five: f64,
    #[serde(rename = "10%")]
    pub ten: f64,
}

// MacKinnon (2010) response surfaces: [level][tau_inf, 1/T, 1/T^2, 1/T^3].
type Surface = [[f64; 4]; 3];
const CRIT_N: [Surface; 1] = [[
    [-2.56574, -2.2358, -3.627, 0.0],
    [-1.94100, -0.2686, -3.365, 31.223],
    [-1.61682, 0.2656, -2.714, 25.364],
]];
// N = 7's 10% row repeats N = 6's last two coefficients in statsmodels'
// table; kept as it is there, since its values are the oracle.
const CRIT_C: [Surface; 12] = [
    [
        [-3.43035, -6.5393, -16.786, -79.433],
        [-2.86154, -2.8903, -4.234, -40.040],
        [-2.56677, -1.5384, -2.809, 0.0],
    ],
    [
        [-3.89644, -10.9519, -33.527, 0.0],
        [-3.33613, -6.1101, -6.823, 0.0],
        [-3.04445, -4.2412, -2.720, 0.0],
    ],
    [
        [-4.29374, -14.4354, -33.195, 47.433],
        [-3.74066, -8.5632, -10.852, 27.982],
        [-3.45218, -6.2143, -3.718, 0.0],
    ],
    [
        [-4.64332, -18.1031, -37.972, 0.0],
        [-4.09600, -11.2349, -11.175, 0.0],
        [-3.81020, -8.3931, -4.137, 0.0],
    ],
    [
        [-4.95756, -21.8883, -45.142, 0.0],
        [-4.41519, -14.0405, -12.575, 0.0],
        [-4.13157, -10.7417, -3.784, 0.0],
    ],
    [
        [-5.24568, -25.6688, -57.737, 88.639],
        [-4.70693, -16.9178, -17.492, 60.007],
        [-4.42501, -13.1875, -5.104, 27.877],
    ],
    [
        [-5.51233, -29.5760, -69.398, 164.295],
        [-4.97684, -19.9021, -22.045, 110.761],
        [-4.69648, -15.7315, -5.104, 27.877],
    ],
    [
        [-5.76202, -33.5258, -82.189, 256.289],
        [-5.22924, -23.0023, -24.646, 144.479],
        [-4.95007, -18.3959, -7.344, 94.872],
    ],
    [
        [-5.99742, -37.6572, -87.365, 248.316],
        [-5.46697, -26.2057, -26.627, 176.382],
        [-5.18897, -21.1377, -9.484, 172.704],
    ],
    [
        [-6.22103, -41.7154, -102.680, 389.33],
        [-5.69244, -29.4521, -30.994, 251.016],
        [-5.41533, -24.0006, -7.514, 163.049],
    ],
    [
        [-6.43377, -46.0084, -106.809, 352.752],
        [-5.90714, -32.8336, -30.275, 249.994],
        [-5.63086, -26.9693, -4.083, 151.427],
    ],
    [
        [-6.63790, -50.2095, -124.156, 579.622],
        [-6.11279, -36.2681, -32.505, 314.802],
        [-5.83724, -29.9864, -2.686, 184.116],
    ],
];
const CRIT_CT: [Surface; 2] = [
    [
        [-3.95877, -9.0531, -28.428, -134.155],
        [-3.41049, -4.3904, -9.036, -45.374],
        [-3.12705, -2.5856, -3.925, -22.380],
    ],
    [
        [-4.32762, -15.4387, -35.679, 0.0],
        [-3.78057, -9.5106, -12.074, 0.0],
        [-3.49631, -7.0815, -7.538, 21.892],
    ],
];
const CRIT_CTT: [Surface; 2] = [
    [
        [-4.37113, -11.5882, -35.819, -334.047],
        [-3.83239, -5.9057, -12.490, -118.284],
        [-3.55326, -3.6596, -5.293, -63.559],
    ],
    [
        [-4.69276, -20.2284, -64.919, 88.884],
        [-4.15387, -13.3114, -28.402, 72.741],
        [-3.87346, -10.4637, -17.408, 66.313],
    ],
];

/// MacKinnon (2010) critical values for sample size `nobs` (`None` gives
/// the asymptotic values). Tables cover N = 1 for "n", N = 1..=12 for "c"
/// (the Engle-Granger test of a basket) and N = 1, 2 for "ct" and "ctt".
pub fn mackinnoncrit(n: usize, trend: Trend, nobs: Option<usize>) -> Result<CriticalValues> {
    let table: &[Surface] = match trend {
        Trend::N => &CRIT_N,
        Trend::C => &CRIT_C,
        Trend::Ct => &CRIT_CT,
        Trend::Ctt => &CRIT_CTT,
    };
    let s = &table[check_n(n, table.len())?];
    let eval = |c: &[f64; 4]| match nobs {
        None => c[0],
        Some(t) => polyval_asc(c, 1.0 / t as f64),
    };
    Ok(CriticalValues {
        one: eval(&s[0]),
        five: eval(&s[1]),
        ten: eval(&s[2]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_value_bounds() {
        assert_eq!(mackinnonp(5.0, Trend::C, 1).unwrap(), 1.0);
        assert_eq!(mackinnonp(-30.0, Trend::C, 1).unwrap(), 0.0);
        assert!(mackinnonp(-2.0, Trend::C, 7).is_err());
        assert!(mackinnoncrit(12, Trend::C, Some(100)).is_ok());
        assert!(mackinnoncrit(13, Trend::C, Some(100)).is_err());
        assert!(mackinnoncrit(3, Trend::Ct, Some(100)).is_err());
    }
}
