//! Which optimizer a run uses; [`super::TrainConfig::optimizer`] builds it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The optimizer of a run. Each gets FreezeOut's per-unit rates, and a frozen unit gets no
/// update from any of them: no step, no weight decay, no moment or momentum update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// SGD, Nesterov momentum, dampening 0, coupled weight decay (the paper's).
    #[default]
    Sgd,
    /// Burn's Adam (default betas and epsilon), coupled L2 weight decay.
    Adam,
    /// Burn's AdamW, decoupled weight decay.
    AdamW,
}

impl OptimizerKind {
    /// Every optimizer.
    pub const ALL: [OptimizerKind; 3] = [OptimizerKind::Sgd, OptimizerKind::Adam, OptimizerKind::AdamW];

    /// The name in configs and on the command line (`sgd`, `adam`, `adamw`).
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An optimizer name that is not one of ours.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown optimizer `{0}`: expected sgd, adam or adamw")]
pub struct UnknownOptimizer(pub String);

impl FromStr for OptimizerKind {
    type Err = UnknownOptimizer;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| UnknownOptimizer(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_display_fromstr_and_serde() {
        for k in OptimizerKind::ALL {
            assert_eq!(k.to_string().parse::<OptimizerKind>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        assert!("rmsprop".parse::<OptimizerKind>().unwrap_err().to_string().contains("sgd, adam or adamw"));
    }
}
