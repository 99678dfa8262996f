//! Fork schedule: every Ethereum fork through Prague is active from genesis.

use crate::ChainSpec;
use alloy_hardforks::{EthereumHardfork, EthereumHardforks, ForkCondition};

impl EthereumHardforks for ChainSpec {
    fn ethereum_fork_activation(&self, fork: EthereumHardfork) -> ForkCondition {
        match fork {
            EthereumHardfork::Frontier
            | EthereumHardfork::Homestead
            | EthereumHardfork::Tangerine
            | EthereumHardfork::SpuriousDragon
            | EthereumHardfork::Byzantium
            | EthereumHardfork::Constantinople
            | EthereumHardfork::Petersburg
            | EthereumHardfork::Istanbul
            | EthereumHardfork::MuirGlacier
            | EthereumHardfork::Berlin
            | EthereumHardfork::London
            | EthereumHardfork::ArrowGlacier
            | EthereumHardfork::GrayGlacier => ForkCondition::Block(0),
            EthereumHardfork::Paris => ForkCondition::TTD {
                activation_block_number: 0,
                fork_block: Some(0),
                total_difficulty: alloy::primitives::U256::ZERO,
            },
            EthereumHardfork::Shanghai | EthereumHardfork::Cancun | EthereumHardfork::Prague => {
                ForkCondition::Timestamp(0)
            }
            _ => ForkCondition::Never,
        }
    }
}
