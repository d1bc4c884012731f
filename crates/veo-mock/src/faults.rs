//! Fault injection: the platform's bad days, seeded and scoped to submit, query or download.
//!
//! A [`FaultRule`] says where ([`Scope`]), what ([`Fault`]) and when ([`Trigger`]): on the next
//! N requests of that scope, at a seeded random rate, or always. Rules are checked in order;
//! `Next` rules come before rate rules. The hot path costs one atomic load while no rule is set
//! for the scope.

use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// Which requests a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `POST /v3/async/<model>` (all three submit endpoints).
    Submit,
    /// `GET /v3/async/task-result`.
    Query,
    /// `GET /files/...` (result downloads).
    Download,
    /// Every one of the above.
    Any,
}

impl Scope {
    fn mask(self) -> u8 {
        match self {
            Scope::Submit => 1,
            Scope::Query => 2,
            Scope::Download => 4,
            Scope::Any => 7,
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "submit" => Ok(Scope::Submit),
            "query" => Ok(Scope::Query),
            "download" => Ok(Scope::Download),
            "any" => Ok(Scope::Any),
            _ => Err(format!(
                "unknown scope `{s}`; use submit, query, download or any"
            )),
        }
    }
}

/// What goes wrong.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// 500 with the platform's JSON error body (downloads: an XML storage error). Nothing is done.
    Http500,
    /// 502 with an HTML page from a proxy. Nothing is done.
    Http502Html,
    /// 429 with a `Retry-After` header and the platform's JSON error body. Nothing is done.
    RateLimited {
        /// Value of `Retry-After`, in seconds.
        #[serde(default = "one")]
        retry_after_s: u64,
    },
    /// The TCP connection is closed without any HTTP response. Nothing is done.
    ConnectionReset,
    /// The reply is delayed by `delay_ms`, then the request is handled normally.
    Slow {
        /// Delay before handling, in milliseconds.
        delay_ms: u64,
    },
    /// The request is handled (a submit creates its task) but the 200 body is cut-off JSON
    /// (downloads: a truncated file).
    MalformedJson,
    /// The request is handled (a submit creates its task) but the reply is a 500.
    CreatedThen500,
    /// The request is handled (a submit creates its task) but the connection is closed
    /// without a response.
    CreatedThenReset,
    /// The request is handled and the reply starts (status, headers, the first 16 bytes of the
    /// body), then nothing more is sent and the connection stays open.
    Stall,
}

fn one() -> u64 {
    1
}

impl Fault {
    /// The kind's name as used in JSON and on the command line.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Fault::Http500 => "http_500",
            Fault::Http502Html => "http_502_html",
            Fault::RateLimited { .. } => "rate_limited",
            Fault::ConnectionReset => "connection_reset",
            Fault::Slow { .. } => "slow",
            Fault::MalformedJson => "malformed_json",
            Fault::CreatedThen500 => "created_then_500",
            Fault::CreatedThenReset => "created_then_reset",
            Fault::Stall => "stall",
        }
    }

    /// Parses `KIND[=PARAM]`, e.g. `http_500`, `rate_limited=2`, `slow=1500`.
    pub fn parse(spec: &str) -> Result<Fault, String> {
        let (kind, param) = match spec.split_once('=') {
            Some((k, p)) => (k, Some(p)),
            None => (spec, None),
        };
        let number = |default: Option<u64>| -> Result<u64, String> {
            match (param, default) {
                (Some(p), _) => p
                    .parse()
                    .map_err(|_| format!("`{p}` is not a non-negative integer")),
                (None, Some(d)) => Ok(d),
                (None, None) => Err(format!("fault `{kind}` needs a value, e.g. {kind}=1000")),
            }
        };
        let fault = match kind {
            "http_500" => Fault::Http500,
            "http_502_html" => Fault::Http502Html,
            "rate_limited" => Fault::RateLimited {
                retry_after_s: number(Some(1))?,
            },
            "connection_reset" => Fault::ConnectionReset,
            "slow" => Fault::Slow {
                delay_ms: number(None)?,
            },
            "malformed_json" => Fault::MalformedJson,
            "created_then_500" => Fault::CreatedThen500,
            "created_then_reset" => Fault::CreatedThenReset,
            "stall" => Fault::Stall,
            _ => {
                return Err(format!(
                    "unknown fault `{kind}`; use http_500, http_502_html, rate_limited[=S], connection_reset, slow=MS, malformed_json, created_then_500, created_then_reset or stall"
                ));
            }
        };
        if param.is_some() && !matches!(fault, Fault::RateLimited { .. } | Fault::Slow { .. }) {
            return Err(format!("fault `{kind}` takes no value"));
        }
        Ok(fault)
    }
}

/// When a rule fires.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trigger {
    /// On each of the next N requests of the scope, then the rule is gone.
    Next(u64),
    /// On each request with this probability (0.0..=1.0), drawn from the seeded generator.
    Rate(f64),
    /// On every request of the scope until the rule is removed.
    Always,
}

/// One fault rule. In JSON: `{"scope":"submit","kind":"http_500","next":2}`, with `"rate":0.1`
/// instead of `next`, or neither for always; `retry_after_s` / `delay_ms` sit beside `kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RuleWire", into = "RuleWire")]
pub struct FaultRule {
    /// Which requests it applies to.
    pub scope: Scope,
    /// What goes wrong.
    pub fault: Fault,
    /// When it fires.
    pub trigger: Trigger,
}

impl FaultRule {
    /// Fires on the next `n` requests of `scope`.
    pub fn next(scope: Scope, fault: Fault, n: u64) -> FaultRule {
        FaultRule {
            scope,
            fault,
            trigger: Trigger::Next(n),
        }
    }

    /// Fires on requests of `scope` with probability `rate`.
    pub fn rate(scope: Scope, fault: Fault, rate: f64) -> FaultRule {
        FaultRule {
            scope,
            fault,
            trigger: Trigger::Rate(rate),
        }
    }

    /// Fires on every request of `scope`.
    pub fn always(scope: Scope, fault: Fault) -> FaultRule {
        FaultRule {
            scope,
            fault,
            trigger: Trigger::Always,
        }
    }

    /// Checks the rate's range.
    pub fn check(&self) -> Result<(), String> {
        match self.trigger {
            Trigger::Rate(r) if !(0.0..=1.0).contains(&r) => {
                Err(format!("fault rate must be within 0.0..=1.0, got {r}"))
            }
            _ => Ok(()),
        }
    }
}

impl FromStr for FaultRule {
    type Err = String;
    /// Parses `SCOPE:KIND[=PARAM][:rate=P|:next=N]`, e.g. `submit:http_500:rate=0.1`,
    /// `query:rate_limited=2:next=3`, `download:slow=500`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split(':');
        let scope: Scope = parts.next().unwrap_or("").parse()?;
        let fault = Fault::parse(parts.next().ok_or("missing fault kind after the scope")?)?;
        let trigger = match parts.next() {
            None => Trigger::Always,
            Some(t) => match t.split_once('=') {
                Some(("rate", p)) => Trigger::Rate(
                    p.parse()
                        .map_err(|_| format!("`{p}` is not a rate between 0 and 1"))?,
                ),
                Some(("next", n)) => Trigger::Next(
                    n.parse()
                        .map_err(|_| format!("`{n}` is not a request count"))?,
                ),
                _ => return Err(format!("`{t}` is not rate=P or next=N")),
            },
        };
        if parts.next().is_some() {
            return Err("too many `:` parts; use SCOPE:KIND[=PARAM][:rate=P|:next=N]".to_owned());
        }
        let rule = FaultRule {
            scope,
            fault,
            trigger,
        };
        rule.check()?;
        Ok(rule)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleWire {
    scope: Scope,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<u64>,
}

impl TryFrom<RuleWire> for FaultRule {
    type Error = String;
    fn try_from(w: RuleWire) -> Result<Self, Self::Error> {
        let fault = match (w.kind.as_str(), w.retry_after_s, w.delay_ms) {
            ("rate_limited", r, None) => Fault::RateLimited {
                retry_after_s: r.unwrap_or(1),
            },
            ("slow", None, Some(d)) => Fault::Slow { delay_ms: d },
            ("slow", None, None) => return Err("fault `slow` needs `delay_ms`".to_owned()),
            (kind, None, None) => Fault::parse(kind)?,
            (kind, _, _) => {
                return Err(format!(
                    "fault `{kind}` does not take that parameter (retry_after_s goes with rate_limited, delay_ms with slow)"
                ));
            }
        };
        let trigger = match (w.rate, w.next) {
            (Some(_), Some(_)) => return Err("give `rate` or `next`, not both".to_owned()),
            (Some(r), None) => Trigger::Rate(r),
            (None, Some(n)) => Trigger::Next(n),
            (None, None) => Trigger::Always,
        };
        let rule = FaultRule {
            scope: w.scope,
            fault,
            trigger,
        };
        rule.check()?;
        Ok(rule)
    }
}

impl From<FaultRule> for RuleWire {
    fn from(r: FaultRule) -> Self {
        let (retry_after_s, delay_ms) = match r.fault {
            Fault::RateLimited { retry_after_s } => (Some(retry_after_s), None),
            Fault::Slow { delay_ms } => (None, Some(delay_ms)),
            _ => (None, None),
        };
        let (rate, next) = match r.trigger {
            Trigger::Next(n) => (None, Some(n)),
            Trigger::Rate(p) => (Some(p), None),
            Trigger::Always => (None, None),
        };
        RuleWire {
            scope: r.scope,
            kind: r.fault.kind_name().to_owned(),
            retry_after_s,
            delay_ms,
            rate,
            next,
        }
    }
}

/// The live rule set and its generator.
pub(crate) struct Faults {
    active: AtomicU8,
    inner: Mutex<FaultState>,
}

struct FaultState {
    rules: Vec<FaultRule>,
    rng: StdRng,
}

impl Faults {
    pub(crate) fn new(rules: Vec<FaultRule>, seed: u64) -> Faults {
        let faults = Faults {
            active: AtomicU8::new(0),
            inner: Mutex::new(FaultState {
                rules: Vec::new(),
                rng: StdRng::seed_from_u64(seed ^ 0x6661_756c_7473),
            }),
        };
        faults.set(rules, Some(seed));
        faults
    }

    /// Replaces every rule; with `reseed`, restarts the generator from that seed.
    pub(crate) fn set(&self, rules: Vec<FaultRule>, reseed: Option<u64>) {
        let mut state = self.lock();
        state.rules = rules;
        if let Some(seed) = reseed {
            state.rng = StdRng::seed_from_u64(seed ^ 0x6661_756c_7473);
        }
        self.active.store(mask_of(&state.rules), Ordering::Release);
    }

    /// Appends rules.
    pub(crate) fn add(&self, rules: Vec<FaultRule>) {
        let mut state = self.lock();
        state.rules.extend(rules);
        self.active.store(mask_of(&state.rules), Ordering::Release);
    }

    /// The current rules (`Next` counts show what is left).
    pub(crate) fn rules(&self) -> Vec<FaultRule> {
        self.lock().rules.clone()
    }

    /// The fault to apply to this request of `scope`, if any.
    pub(crate) fn pick(&self, scope: Scope) -> Option<Fault> {
        if self.active.load(Ordering::Acquire) & scope.mask() == 0 {
            return None;
        }
        let mut state = self.lock();
        let applies = |r: &FaultRule| r.scope.mask() & scope.mask() != 0;
        if let Some(i) = state
            .rules
            .iter()
            .position(|r| applies(r) && matches!(r.trigger, Trigger::Next(n) if n > 0))
        {
            let rule = &mut state.rules[i];
            let fault = rule.fault.clone();
            if let Trigger::Next(n) = &mut rule.trigger {
                *n -= 1;
                if *n == 0 {
                    state.rules.remove(i);
                    self.active.store(mask_of(&state.rules), Ordering::Release);
                }
            }
            return Some(fault);
        }
        let FaultState { rules, rng } = &mut *state;
        for rule in rules.iter().filter(|r| applies(r)) {
            match rule.trigger {
                Trigger::Always => return Some(rule.fault.clone()),
                Trigger::Rate(p) if rng.random::<f64>() < p => return Some(rule.fault.clone()),
                _ => {}
            }
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn mask_of(rules: &[FaultRule]) -> u8 {
    rules
        .iter()
        .filter(|r| !matches!(r.trigger, Trigger::Next(0)))
        .fold(0, |m, r| m | r.scope.mask())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cli_specs() {
        let r: FaultRule = "submit:http_500:rate=0.25".parse().unwrap();
        assert_eq!(r, FaultRule::rate(Scope::Submit, Fault::Http500, 0.25));
        let r: FaultRule = "query:rate_limited=3:next=2".parse().unwrap();
        assert_eq!(
            r,
            FaultRule::next(Scope::Query, Fault::RateLimited { retry_after_s: 3 }, 2)
        );
        let r: FaultRule = "download:slow=500".parse().unwrap();
        assert_eq!(
            r,
            FaultRule::always(Scope::Download, Fault::Slow { delay_ms: 500 })
        );
        assert!("submit:slow".parse::<FaultRule>().is_err());
        assert!("submit:http_500:rate=2".parse::<FaultRule>().is_err());
        assert!("nowhere:http_500".parse::<FaultRule>().is_err());
    }

    #[test]
    fn json_round_trip() {
        let r = FaultRule::next(Scope::Submit, Fault::Slow { delay_ms: 10 }, 2);
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"scope":"submit","kind":"slow","delay_ms":10,"next":2})
        );
        assert_eq!(serde_json::from_value::<FaultRule>(j).unwrap(), r);
        assert!(
            serde_json::from_value::<FaultRule>(
                serde_json::json!({"scope":"submit","kind":"http_500","delay_ms":1})
            )
            .is_err()
        );
    }

    #[test]
    fn next_rules_run_out_and_rates_are_seeded() {
        let f = Faults::new(vec![FaultRule::next(Scope::Submit, Fault::Http500, 2)], 1);
        assert_eq!(f.pick(Scope::Query), None);
        assert_eq!(f.pick(Scope::Submit), Some(Fault::Http500));
        assert_eq!(f.pick(Scope::Submit), Some(Fault::Http500));
        assert_eq!(f.pick(Scope::Submit), None);
        assert!(f.rules().is_empty());

        let draw = |seed| {
            let f = Faults::new(vec![FaultRule::rate(Scope::Any, Fault::Http500, 0.5)], seed);
            (0..64)
                .map(|_| f.pick(Scope::Query).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        let hits = draw(7).iter().filter(|h| **h).count();
        assert!((10..54).contains(&hits), "{hits}");
    }
}
