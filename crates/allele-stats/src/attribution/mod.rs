//! Multi-touch attribution as pure functions over per-user touchpoint paths.
//!
//! Every model hands out each converting user's conversion (1) and value
//! across the channels of that user's path, so a report's channel credits sum
//! to the attributed conversions and value. Only touches inside the
//! conversion window count: at or before the conversion and no more than
//! `window_seconds` before it. A converting user left without touches is
//! counted as unattributed rather than credited to nobody in particular.
//!
//! Models: [`AttributionModel::LastTouch`], [`AttributionModel::FirstTouch`],
//! [`AttributionModel::Linear`] (equal share per touch),
//! [`AttributionModel::TimeDecay`] (share halves every half-life before the
//! conversion), [`AttributionModel::Markov`] (removal effect of a first-order
//! Markov chain, see [`markov`]) and [`AttributionModel::Shapley`] (see
//! [`shapley`]).

pub mod markov;
pub mod shapley;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::StatsError;

/// One touchpoint: a channel at a time (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Touch {
    pub channel: String,
    pub at: i64,
}

/// One user's touches and outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPath {
    /// In any order; sorted by time (stably) before use.
    pub touches: Vec<Touch>,
    pub converted: bool,
    /// When the user converted; `None` takes the last touch.
    #[serde(default)]
    pub conversion_at: Option<i64>,
    /// Value of the conversion (revenue); ignored when not converted.
    #[serde(default)]
    pub value: f64,
}

/// Which attribution model to run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "model")]
pub enum AttributionModel {
    LastTouch,
    FirstTouch,
    Linear,
    TimeDecay { half_life_seconds: f64 },
    Markov,
    Shapley,
}

impl AttributionModel {
    fn name(&self) -> &'static str {
        match self {
            Self::LastTouch => "last",
            Self::FirstTouch => "first",
            Self::Linear => "linear",
            Self::TimeDecay { .. } => "time_decay",
            Self::Markov => "markov",
            Self::Shapley => "shapley",
        }
    }
}

/// Conversion window and other shared settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttributionOptions {
    /// Touches more than this many seconds before the conversion (or, for
    /// users who did not convert, before their last touch) are ignored;
    /// `None` keeps every touch.
    pub window_seconds: Option<i64>,
}

/// Credit given to one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelCredit {
    pub channel: String,
    pub conversions: f64,
    pub value: f64,
    /// Markov only: the relative drop in conversion probability when the
    /// channel is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal_effect: Option<f64>,
}

/// An attribution report; channels sorted by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    pub model: String,
    pub total_conversions: u64,
    pub total_value: f64,
    /// Converting users with no touch inside the window.
    pub unattributed_conversions: u64,
    pub unattributed_value: f64,
    pub channels: Vec<ChannelCredit>,
}

/// A path reduced to its in-window touches, anchored at its conversion.
#[derive(Debug, Clone)]
pub(crate) struct PreparedPath {
    /// Channel index per touch, in time order.
    pub channels: Vec<usize>,
    /// Seconds from each touch to the anchor (conversion or last touch).
    pub ages: Vec<f64>,
    pub converted: bool,
    pub value: f64,
}

/// Run `model` over `paths`.
///
/// # Errors
/// A non-positive or non-finite half-life, a negative window or a
/// non-finite conversion value.
pub fn attribute(
    paths: &[UserPath],
    model: AttributionModel,
    options: &AttributionOptions,
) -> Result<Attribution, StatsError> {
    if let AttributionModel::TimeDecay { half_life_seconds } = model
        && !(half_life_seconds.is_finite() && half_life_seconds > 0.0)
    {
        return Err(StatsError::InvalidParameter {
            name: "half_life_seconds",
            reason: "must be positive and finite".to_owned(),
        });
    }
    if options.window_seconds.is_some_and(|window| window < 0) {
        return Err(StatsError::InvalidParameter {
            name: "window_seconds",
            reason: "must not be negative".to_owned(),
        });
    }
    let (channel_names, prepared) = prepare(paths, options)?;
    let mut credit_conversions = vec![0.0; channel_names.len()];
    let mut credit_value = vec![0.0; channel_names.len()];
    let mut removal_effects = None;
    let mut report = Attribution {
        model: model.name().to_owned(),
        total_conversions: 0,
        total_value: 0.0,
        unattributed_conversions: 0,
        unattributed_value: 0.0,
        channels: Vec::new(),
    };
    for path in prepared.iter().filter(|path| path.converted) {
        report.total_conversions += 1;
        report.total_value += path.value;
        if path.channels.is_empty() {
            report.unattributed_conversions += 1;
            report.unattributed_value += path.value;
        }
    }
    match model {
        AttributionModel::Markov => {
            let effects = markov::removal_effects(channel_names.len(), &prepared);
            let effect_sum: f64 = effects.iter().sum();
            let attributed_conversions =
                (report.total_conversions - report.unattributed_conversions) as f64;
            let attributed_value = report.total_value - report.unattributed_value;
            if effect_sum > 0.0 {
                for (channel, effect) in effects.iter().enumerate() {
                    credit_conversions[channel] = attributed_conversions * effect / effect_sum;
                    credit_value[channel] = attributed_value * effect / effect_sum;
                }
            } else {
                report.unattributed_conversions = report.total_conversions;
                report.unattributed_value = report.total_value;
            }
            removal_effects = Some(effects);
        }
        AttributionModel::Shapley => {
            let shares = shapley::path_shapley(channel_names.len(), &prepared);
            credit_conversions = shares.conversions;
            credit_value = shares.value;
        }
        _ => {
            for path in prepared.iter().filter(|path| path.converted) {
                let weights = touch_weights(model, path);
                let weight_sum: f64 = weights.iter().sum();
                if !(weight_sum > 0.0) {
                    continue;
                }
                for (channel, weight) in path.channels.iter().zip(&weights) {
                    credit_conversions[*channel] += weight / weight_sum;
                    credit_value[*channel] += path.value * weight / weight_sum;
                }
            }
        }
    }
    report.channels = channel_names
        .into_iter()
        .enumerate()
        .map(|(index, channel)| ChannelCredit {
            channel,
            conversions: credit_conversions[index],
            value: credit_value[index],
            removal_effect: removal_effects.as_ref().map(|effects| effects[index]),
        })
        .collect();
    Ok(report)
}

/// Unnormalized weight of each touch of a converting path.
fn touch_weights(model: AttributionModel, path: &PreparedPath) -> Vec<f64> {
    let touches = path.channels.len();
    let mut weights = vec![0.0; touches];
    match model {
        AttributionModel::LastTouch => {
            if let Some(last) = weights.last_mut() {
                *last = 1.0;
            }
        }
        AttributionModel::FirstTouch => {
            if let Some(first) = weights.first_mut() {
                *first = 1.0;
            }
        }
        AttributionModel::Linear => weights.fill(1.0),
        AttributionModel::TimeDecay { half_life_seconds } => {
            // relative to the newest touch so that long half-life ratios do
            // not underflow to an all-zero path
            let newest = path.ages.iter().copied().fold(f64::INFINITY, f64::min);
            for (weight, age) in weights.iter_mut().zip(&path.ages) {
                *weight = (-(age - newest) / half_life_seconds).exp2();
            }
        }
        AttributionModel::Markov | AttributionModel::Shapley => {}
    }
    weights
}

/// Sort, window and index the paths; channel names come back sorted.
fn prepare<'a>(
    paths: &'a [UserPath],
    options: &AttributionOptions,
) -> Result<(Vec<String>, Vec<PreparedPath>), StatsError> {
    let mut kept: Vec<(Vec<&'a Touch>, i64, &'a UserPath)> = Vec::with_capacity(paths.len());
    let mut names: BTreeMap<&'a str, usize> = BTreeMap::new();
    for (index, path) in paths.iter().enumerate() {
        if path.converted && !path.value.is_finite() {
            return Err(StatsError::NonFinite {
                field: "value",
                group: "paths".to_owned(),
                index,
            });
        }
        let mut touches: Vec<&Touch> = path.touches.iter().collect();
        touches.sort_by_key(|touch| touch.at);
        let last_touch = touches.last().map_or(0, |touch| touch.at);
        let anchor = match (path.converted, path.conversion_at) {
            (true, Some(at)) => at,
            _ => last_touch,
        };
        touches.retain(|touch| {
            let age = i128::from(anchor) - i128::from(touch.at);
            let inside = options
                .window_seconds
                .is_none_or(|window| age <= i128::from(window));
            age >= 0 && inside
        });
        for touch in &touches {
            names.insert(touch.channel.as_str(), 0);
        }
        kept.push((touches, anchor, path));
    }
    for (index, slot) in names.values_mut().enumerate() {
        *slot = index;
    }
    let prepared = kept
        .into_iter()
        .map(|(touches, anchor, path)| PreparedPath {
            channels: touches
                .iter()
                .map(|touch| names.get(touch.channel.as_str()).copied().unwrap_or(0))
                .collect(),
            ages: touches
                .iter()
                .map(|touch| (i128::from(anchor) - i128::from(touch.at)) as f64)
                .collect(),
            converted: path.converted,
            value: if path.converted { path.value } else { 0.0 },
        })
        .collect();
    let channel_names = names.keys().map(|name| (*name).to_owned()).collect();
    Ok((channel_names, prepared))
}
