//! Alert rules: what a rule says, the pure test of whether it fires, and
//! (in the store) how rules and fired events are kept.
//!
//! A rule watches one metric of a pair or a basket and compares it with a
//! value: `{"pair": {"x": "BTCUSDT", "y": "ETHUSDT"}, "metric": "zscore",
//! "op": "crosses", "value": 2.0, "webhook": "http://127.0.0.1:9000/hook"}`,
//! or `{"basket": ["BTCUSDT", "ETHUSDT", "SOLUSDT"], "metric": "zscore",
//! "op": "above", "value": 2.0}`.
//! Rules are stored as their JSON in `alert_rules.body`; evaluation against
//! live values belongs to the alert engine ([`crate::services::alerts`]),
//! which calls [`evaluate`] on each new value and stores what fired.

use serde::{Deserialize, Serialize};

/// The two legs of the watched pair (x independent, y dependent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PairRef {
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^[A-Za-z0-9]{2,20}$", example = "BTCUSDT")
    )]
    pub x: String,
    #[cfg_attr(
        feature = "ssr",
        schema(pattern = "^[A-Za-z0-9]{2,20}$", example = "ETHUSDT")
    )]
    pub y: String,
}

/// What is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Metric {
    /// Latest z-score of the spread (a basket's: of its rolling-hedge
    /// spread, the one its backtest trades).
    Zscore,
    /// Latest spread value (a basket's: the Johansen-weighted spread).
    Spread,
    /// Last price of the dependent leg `y` (a basket's first leg).
    Price,
    /// Rolling return correlation of the legs (pairs only).
    Correlation,
    /// Engle-Granger cointegration p-value (a basket's with N = legs).
    Pvalue,
}

/// How the metric is compared with the rule's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Op {
    /// Fires when the metric moves from at-or-below the value to above it
    /// (or is first seen above it).
    Above,
    /// Fires when the metric moves from at-or-above the value to below it
    /// (or is first seen below it).
    Below,
    /// Fires when the metric moves from one side of the value to the other,
    /// in either direction; needs a previous value.
    Crosses,
}

/// A rule as clients send it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// The watched pair, or
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<PairRef>,
    /// a basket of 2 to 12 stored symbols, the first the leg the others
    /// hedge (exactly one of the two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(example = json!(["BTCUSDT", "ETHUSDT", "SOLUSDT"])))]
    pub basket: Option<Vec<String>>,
    pub metric: Metric,
    pub op: Op,
    pub value: f64,
    /// URL to POST the event to when the rule fires (http or https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StoredRule {
    pub id: i64,
    /// Creation time, epoch ms.
    pub created_ts: i64,
    pub rule: AlertRule,
}

/// A fired alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertEvent {
    pub id: i64,
    pub rule_id: i64,
    /// When it fired, epoch ms.
    pub fired_ts: i64,
    pub message: String,
}

/// Why a rule is not acceptable; `field` names the offending JSON field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid `{field}`: {reason}")]
pub struct RuleError {
    pub field: &'static str,
    pub reason: String,
}

/// Most legs a basket rule watches.
pub const MAX_BASKET_LEGS: usize = 12;

impl AlertRule {
    /// What the rule watches, as messages name it: `ETHUSDT/BTCUSDT` (y/x)
    /// or `BTCUSDT+ETHUSDT+SOLUSDT`.
    pub fn subject(&self) -> String {
        match (&self.pair, &self.basket) {
            (Some(p), _) => format!("{}/{}", p.y, p.x),
            (None, Some(b)) => b.join("+"),
            (None, None) => String::new(),
        }
    }

    /// The symbol whose price a `price` rule watches: the pair's `y`, the
    /// basket's first leg.
    pub fn price_symbol(&self) -> Option<&str> {
        match (&self.pair, &self.basket) {
            (Some(p), _) => Some(&p.y),
            (None, Some(b)) => b.first().map(String::as_str),
            (None, None) => None,
        }
    }

    /// Check and normalise (upper-case symbols) a rule.
    pub fn validate(&mut self) -> Result<(), RuleError> {
        let bad = |field: &'static str, reason: String| RuleError { field, reason };
        match (&mut self.pair, &mut self.basket) {
            (Some(pair), None) => {
                pair.x = crate::domain::validate_symbol(&pair.x).map_err(|r| bad("pair.x", r))?;
                pair.y = crate::domain::validate_symbol(&pair.y).map_err(|r| bad("pair.y", r))?;
                if pair.x == pair.y {
                    return Err(bad(
                        "pair.y",
                        "the two legs must be different symbols".into(),
                    ));
                }
            }
            (None, Some(legs)) => {
                if !(2..=MAX_BASKET_LEGS).contains(&legs.len()) {
                    return Err(bad(
                        "basket",
                        format!(
                            "expected 2 to {MAX_BASKET_LEGS} symbols, got {}",
                            legs.len()
                        ),
                    ));
                }
                for s in legs.iter_mut() {
                    *s = crate::domain::validate_symbol(s).map_err(|r| bad("basket", r))?;
                }
                let mut seen = legs.clone();
                seen.sort();
                if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
                    return Err(bad("basket", format!("{} is listed twice", w[0])));
                }
                if self.metric == Metric::Correlation {
                    return Err(bad(
                        "metric",
                        "correlation is a pair's (two legs); a basket watches zscore, spread, price or pvalue".into(),
                    ));
                }
            }
            (Some(_), Some(_)) => {
                return Err(bad(
                    "basket",
                    "a rule watches a pair or a basket, not both".into(),
                ))
            }
            (None, None) => return Err(bad("pair", "a pair or a basket is required".into())),
        }
        if !self.value.is_finite() {
            return Err(bad("value", "expected a finite number".into()));
        }
        let v = self.value;
        match self.metric {
            Metric::Pvalue if !(0.0..=1.0).contains(&v) => {
                return Err(bad("value", format!("a p-value is in [0, 1], got {v}")))
            }
            Metric::Correlation if !(-1.0..=1.0).contains(&v) => {
                return Err(bad(
                    "value",
                    format!("a correlation is in [-1, 1], got {v}"),
                ))
            }
            Metric::Price if v <= 0.0 => {
                return Err(bad("value", format!("a price is positive, got {v}")))
            }
            _ => {}
        }
        if let Some(w) = &self.webhook {
            let ok_scheme = w.starts_with("http://") || w.starts_with("https://");
            if !ok_scheme || w.len() > 512 || w.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(bad(
                    "webhook",
                    "expected an http:// or https:// URL of at most 512 characters".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Does `rule` fire when its metric goes from `prev` to `cur`?
///
/// Edge-triggered, so a metric that stays beyond the value fires once per
/// excursion, not on every update: `above` fires on entering `> value`,
/// `below` on entering `< value`, `crosses` when `prev` and `cur` lie on
/// strictly different sides (touching the value is not a cross until the
/// metric leaves it on the other side). An undefined (`None` or
/// non-finite) current value never fires; an undefined previous value
/// counts as "outside" for `above`/`below` and blocks `crosses`.
pub fn evaluate(rule: &AlertRule, prev: Option<f64>, cur: Option<f64>) -> bool {
    let v = rule.value;
    let Some(cur) = cur.filter(|c| c.is_finite()) else {
        return false;
    };
    let prev = prev.filter(|p| p.is_finite());
    match rule.op {
        Op::Above => cur > v && prev.is_none_or(|p| p <= v),
        Op::Below => cur < v && prev.is_none_or(|p| p >= v),
        Op::Crosses => match prev {
            Some(p) => (p < v && cur > v) || (p > v && cur < v),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(op: Op, value: f64) -> AlertRule {
        AlertRule {
            pair: Some(PairRef {
                x: "btcusdt".into(),
                y: "ETHUSDT".into(),
            }),
            basket: None,
            metric: Metric::Zscore,
            op,
            value,
            webhook: None,
        }
    }

    #[test]
    fn above_fires_once_on_entering() {
        let r = rule(Op::Above, 2.0);
        assert!(evaluate(&r, Some(1.9), Some(2.1)));
        assert!(evaluate(&r, Some(2.0), Some(2.1)));
        assert!(evaluate(&r, None, Some(2.1)), "first value already beyond");
        assert!(
            !evaluate(&r, Some(2.1), Some(2.5)),
            "still above: no repeat"
        );
        assert!(!evaluate(&r, Some(1.0), Some(2.0)), "touching is not above");
        assert!(!evaluate(&r, Some(1.0), None));
        assert!(!evaluate(&r, Some(1.0), Some(f64::NAN)));
    }

    #[test]
    fn below_mirrors_above() {
        let r = rule(Op::Below, -2.0);
        assert!(evaluate(&r, Some(-1.0), Some(-2.5)));
        assert!(!evaluate(&r, Some(-2.1), Some(-2.5)));
        assert!(!evaluate(&r, Some(-3.0), Some(-1.0)));
        assert!(
            evaluate(&r, Some(f64::NAN), Some(-3.0)),
            "undefined prev counts as outside"
        );
    }

    #[test]
    fn crosses_needs_both_sides() {
        let r = rule(Op::Crosses, 0.0);
        assert!(evaluate(&r, Some(-0.1), Some(0.1)));
        assert!(evaluate(&r, Some(0.1), Some(-0.1)));
        assert!(!evaluate(&r, Some(0.1), Some(0.2)));
        assert!(!evaluate(&r, None, Some(0.2)));
        assert!(
            !evaluate(&r, Some(-0.1), Some(0.0)),
            "touching is not crossing"
        );
        assert!(
            !evaluate(&r, Some(0.0), Some(0.1)),
            "leaving from the value is not crossing"
        );
    }

    #[test]
    fn validation_names_the_field_and_normalises() {
        let mut r = rule(Op::Above, 2.0);
        r.validate().unwrap();
        assert_eq!(r.pair.as_ref().unwrap().x, "BTCUSDT");
        assert_eq!(r.subject(), "ETHUSDT/BTCUSDT");
        assert_eq!(r.price_symbol(), Some("ETHUSDT"));
        let mut r = rule(Op::Above, 2.0);
        r.pair.as_mut().unwrap().y = "BTCUSDT".into();
        assert_eq!(r.validate().unwrap_err().field, "pair.y");
        let mut r = rule(Op::Above, 1.5);
        r.metric = Metric::Pvalue;
        assert_eq!(r.validate().unwrap_err().field, "value");
        let mut r = rule(Op::Above, 1.0);
        r.webhook = Some("file:///etc/passwd".into());
        assert_eq!(r.validate().unwrap_err().field, "webhook");
        r.webhook = Some("http://127.0.0.1:9/hook".into());
        r.validate().unwrap();
    }

    #[test]
    fn basket_rules_name_what_is_wrong() {
        let basket = |legs: &[&str], metric| AlertRule {
            pair: None,
            basket: Some(legs.iter().map(|s| s.to_string()).collect()),
            metric,
            ..rule(Op::Above, 2.0)
        };
        let mut ok = basket(&["btcusdt", "ETHUSDT", "SOLUSDT"], Metric::Zscore);
        ok.validate().unwrap();
        assert_eq!(ok.basket.as_ref().unwrap()[0], "BTCUSDT");
        assert_eq!(ok.subject(), "BTCUSDT+ETHUSDT+SOLUSDT");
        assert_eq!(ok.price_symbol(), Some("BTCUSDT"));
        let field = |mut r: AlertRule| r.validate().unwrap_err().field;
        assert_eq!(field(basket(&["BTCUSDT"], Metric::Zscore)), "basket");
        assert_eq!(
            field(basket(&["BTCUSDT", "btcusdt"], Metric::Zscore)),
            "basket"
        );
        assert_eq!(
            field(basket(&["BTCUSDT", "E-TH"], Metric::Zscore)),
            "basket"
        );
        assert_eq!(
            field(basket(&["BTCUSDT", "ETHUSDT"], Metric::Correlation)),
            "metric"
        );
        let both = AlertRule {
            pair: rule(Op::Above, 1.0).pair,
            ..basket(&["BTCUSDT", "ETHUSDT"], Metric::Zscore)
        };
        assert_eq!(field(both), "basket");
        let neither = AlertRule {
            pair: None,
            ..rule(Op::Above, 1.0)
        };
        assert_eq!(field(neither), "pair");
        let j = r#"{"basket":["BTCUSDT","ETHUSDT","SOLUSDT"],"metric":"zscore","op":"above","value":2.0}"#;
        let r: AlertRule = serde_json::from_str(j).unwrap();
        assert_eq!(serde_json::to_string(&r).unwrap(), j);
    }

    #[test]
    fn wire_names_agree_with_serde() {
        for m in [
            Metric::Zscore,
            Metric::Spread,
            Metric::Price,
            Metric::Correlation,
            Metric::Pvalue,
        ] {
            let name: &str = m.into();
            assert_eq!(serde_json::to_value(m).unwrap(), name);
        }
        for o in [Op::Above, Op::Below, Op::Crosses] {
            let name: &str = o.into();
            assert_eq!(serde_json::to_value(o).unwrap(), name);
        }
    }

    #[test]
    fn rule_json_round_trips_in_the_documented_shape() {
        let j = r#"{"pair":{"x":"BTCUSDT","y":"ETHUSDT"},"metric":"zscore","op":"crosses","value":2.0}"#;
        let r: AlertRule = serde_json::from_str(j).unwrap();
        assert_eq!(r.op, Op::Crosses);
        assert_eq!(serde_json::to_string(&r).unwrap(), j);
        assert!(serde_json::from_str::<AlertRule>(
            r#"{"pair":{"x":"A","y":"B"},"metric":"vol","op":"above","value":1}"#
        )
        .is_err());
    }
}
