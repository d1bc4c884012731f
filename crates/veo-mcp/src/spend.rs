//! Spending: the limits the person who runs veo sets (seconds of video per call and per rolling
//! day), the prices that turn seconds into an estimated cost, and the confirmation asked for
//! before an unusually expensive call.

use std::time::{Duration, SystemTime};

use veo_core::{EffectiveParameters, Model};

use crate::journal::Budget;

/// The rolling period of the daily limit.
pub const DAY: Duration = Duration::from_secs(24 * 3600);

/// Limits and prices; all off by default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpendLimits {
    /// Most seconds of video (duration × samples) per rolling 24 hours, over every submit that
    /// may have been paid.
    pub per_day: Option<u64>,
    /// Most seconds of video one call may ask for.
    pub per_call: Option<u64>,
    /// Calls above this many seconds of video need the person's confirmation.
    pub confirm_above: Option<u64>,
    /// Prices per model, for estimates.
    pub prices: Vec<Price>,
}

impl SpendLimits {
    /// The daily budget, if there is one.
    pub fn daily_budget(&self) -> Option<Budget> {
        self.per_day.map(|limit_seconds| Budget {
            limit_seconds,
            period: DAY,
        })
    }

    /// The estimated cost of a task with `parameters`, when its model has a price.
    pub fn estimate(&self, parameters: &EffectiveParameters) -> Option<f64> {
        let price = self.prices.iter().find(|p| p.model == parameters.model)?;
        let per_second = match (parameters.generate_audio, price.with_audio_per_second) {
            (true, Some(with_audio)) => with_audio,
            _ => price.per_second,
        };
        Some(round_cents(per_second * parameters.video_seconds() as f64))
    }
}

/// What one second of video costs with a model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    /// The model.
    pub model: Model,
    /// Per second of video.
    pub per_second: f64,
    /// Per second of video with an audio track, if that costs differently.
    pub with_audio_per_second: Option<f64>,
}

impl std::str::FromStr for Price {
    type Err = String;

    /// `MODEL=PER_SECOND[,audio=PER_SECOND]`, e.g. `veo-3.1=0.40,audio=0.75`.
    fn from_str(text: &str) -> Result<Price, String> {
        let usage = "must be MODEL=PER_SECOND[,audio=PER_SECOND], e.g. veo-3.1=0.40,audio=0.75";
        let (model, rest) = text.split_once('=').ok_or(usage)?;
        let model = Model::from_name(model.trim())
            .ok_or_else(|| format!("{usage} (models: veo-3.1, veo-3.1-fast, veo-3.1-lite)"))?;
        let amount = |s: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("{usage} (prices are numbers, 0 or more)"))
        };
        let (per_second, audio) = match rest.split_once(',') {
            None => (amount(rest)?, None),
            Some((base, audio)) => {
                let audio = audio
                    .trim()
                    .strip_prefix("audio=")
                    .ok_or_else(|| usage.to_string())?;
                (amount(base)?, Some(amount(audio)?))
            }
        };
        Ok(Price {
            model,
            per_second,
            with_audio_per_second: audio,
        })
    }
}

fn round_cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}

/// What a call would make, for the person asked to confirm it.
#[derive(Clone, Debug)]
pub struct ConfirmRequest {
    /// The question, in a sentence or two.
    pub message: String,
    /// Seconds of video the call makes.
    pub video_seconds: u64,
    /// Its estimated cost, when prices are known.
    pub estimated_cost: Option<f64>,
    /// The request's fingerprint: an answer given for another request does not count.
    pub fingerprint: String,
}

/// The person's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// Go ahead.
    Accepted,
    /// Declined or cancelled: send nothing.
    Declined,
    /// There is no way to ask (the client cannot): send nothing.
    Unavailable,
    /// The question goes back to the caller, who asks the person and calls again with the
    /// answer (MCP's `input_required`): send nothing now.
    AskInAnotherRound,
}

/// Asks the person whether to go ahead with an expensive call: an MCP form elicitation, a
/// prompt at a terminal, …
#[async_trait::async_trait]
pub trait Confirm: Send + Sync {
    /// The person's answer to `request`.
    async fn confirm(&self, request: &ConfirmRequest) -> Confirmation;
}

/// For callers that cannot ask anyone: every confirmation is [`Confirmation::Unavailable`].
pub struct CannotAsk;

#[async_trait::async_trait]
impl Confirm for CannotAsk {
    async fn confirm(&self, _request: &ConfirmRequest) -> Confirmation {
        Confirmation::Unavailable
    }
}

/// Which limit a call would pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// `--max-video-seconds-per-call`.
    PerCall,
    /// `--max-video-seconds-per-day`.
    PerDay,
}

/// A call refused by a limit, with what a person (or agent) needs to know about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitReached {
    /// Which limit.
    pub kind: LimitKind,
    /// The limit, in seconds of video.
    pub limit_seconds: u64,
    /// Seconds already used in the window (0 for the per-call limit).
    pub used_seconds: u64,
    /// Seconds the call asked for.
    pub requested_seconds: u64,
    /// When a call of this size fits again (daily limit); `None` if never.
    pub fits_at: Option<SystemTime>,
}

/// The question put to the person before an expensive call.
pub fn confirmation_question(parameters: &EffectiveParameters, estimate: Option<f64>) -> String {
    let cost = estimate
        .map(|c| format!(", estimated cost {c:.2}"))
        .unwrap_or_default();
    format!(
        "Make {} s of video with {} ({} video{} of {} s, {}{}){cost}? It is paid per second of video.",
        parameters.video_seconds(),
        parameters.model,
        parameters.sample_count,
        if parameters.sample_count == 1 {
            ""
        } else {
            "s"
        },
        parameters.duration_seconds.seconds(),
        parameters.resolution,
        if parameters.generate_audio {
            ", with audio"
        } else {
            ""
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_and_estimate_with_and_without_audio() {
        let price: Price = "veo-3.1-fast=0.25,audio=0.5".parse().unwrap();
        assert_eq!(price.model, Model::Veo31Fast);
        assert_eq!(price.with_audio_per_second, Some(0.5));
        for bad in [
            "veo-2=1",
            "veo-3.1",
            "veo-3.1=-1",
            "veo-3.1=1,video=2",
            "veo-3.1=x",
        ] {
            assert!(bad.parse::<Price>().is_err(), "{bad}");
        }
        let limits = SpendLimits {
            prices: vec![price],
            ..SpendLimits::default()
        };
        let mut request = veo_core::TransitionRequest::new("a", "b", "p");
        request.model = Model::Veo31Fast;
        request.sample_count = 2;
        let mut parameters = EffectiveParameters::from(&request);
        assert_eq!(parameters.video_seconds(), 16);
        assert_eq!(limits.estimate(&parameters), Some(4.0));
        parameters.generate_audio = true;
        assert_eq!(limits.estimate(&parameters), Some(8.0));
        parameters.model = Model::Veo31;
        assert_eq!(
            limits.estimate(&parameters),
            None,
            "no price for this model"
        );
    }
}
