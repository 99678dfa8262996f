//! Becoming a preconfer: stake, register, bond, map validators — each step only if needed.
//!
//! [`register`] reads the current state first and sends a transaction only for what is missing,
//! so running it again changes nothing and says so. The steps:
//!
//! 1. **Stake** through the restaking adapter (the native staking adapter's `deposit`) up to the
//!    requested amount;
//! 2. **Register** in `PreconfRegistry` (the service manager checks the minimum stake);
//! 3. **Bond** in the inbox up to the requested amount (proposals lock a liveness bond);
//! 4. **Map validators**: for each BLS key, sign the registry's validator-operation message
//!    (bound to the L1 chain, the registry, the preconfer, an expiry and the key's nonce) and
//!    call `addValidator`. A key already mapped to this preconfer is kept; a key mapped to
//!    someone else is reported and left alone.

use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use taiko_contracts::{
    NativeStaking, PreconfRegistry,
    inbox::TaikoInbox,
    wire::{self, ValidatorOp},
};

use crate::{L1Client, L1Error};

/// The contracts registration touches.
#[derive(Clone, Copy, Debug)]
pub struct RegistrationTargets {
    /// `PreconfRegistry`.
    pub registry: Address,
    /// The restaking adapter (native staking).
    pub restaking: Address,
    /// `TaikoInbox` (bonds).
    pub inbox: Address,
}

/// What to reach.
#[derive(Debug)]
pub struct RegistrationPlan {
    /// Stake to hold in the restaking adapter, wei.
    pub stake: U256,
    /// Bond to hold in the inbox, wei.
    pub bond: U256,
    /// Validator keys to map onto the preconfer.
    pub validators: Vec<blst::min_pk::SecretKey>,
    /// How long each validator signature stays valid, seconds.
    pub signature_ttl_secs: u64,
}

/// What one step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Deposited this much stake (wei).
    Staked(U256),
    /// The stake (wei) was already enough.
    StakeKept(U256),
    /// Registered as a preconfer.
    Registered,
    /// Already registered.
    AlreadyRegistered,
    /// Deposited this much bond (wei).
    Bonded(U256),
    /// The bond (wei) was already enough.
    BondKept(U256),
    /// Mapped this validator (registry key hash).
    ValidatorAdded(B256),
    /// The validator was already mapped to us.
    ValidatorKept(B256),
    /// The validator is mapped to another preconfer; left alone.
    ValidatorTaken {
        /// The key hash.
        key_hash: B256,
        /// Its preconfer.
        preconfer: Address,
    },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let eth = |w: &U256| {
            let s = alloy::primitives::utils::format_ether(*w);
            format!("{} ETH", s.trim_end_matches('0').trim_end_matches('.'))
        };
        match self {
            Self::Staked(w) => write!(f, "staked {}", eth(w)),
            Self::StakeKept(w) => write!(f, "stake already {}", eth(w)),
            Self::Registered => write!(f, "registered as a preconfer"),
            Self::AlreadyRegistered => write!(f, "already registered"),
            Self::Bonded(w) => write!(f, "bonded {}", eth(w)),
            Self::BondKept(w) => write!(f, "bond already {}", eth(w)),
            Self::ValidatorAdded(k) => write!(f, "validator {k} mapped"),
            Self::ValidatorKept(k) => write!(f, "validator {k} already mapped"),
            Self::ValidatorTaken { key_hash, preconfer } => {
                write!(f, "validator {key_hash} is mapped to {preconfer}: left alone")
            }
        }
    }
}

/// Runs the missing steps for `signer`; returns what each step did.
pub async fn register(
    l1: &L1Client,
    signer: &PrivateKeySigner,
    targets: RegistrationTargets,
    plan: &RegistrationPlan,
) -> Result<Vec<Action>, L1Error> {
    let me = signer.address();
    let mut done = Vec::new();

    let stake = l1.call(targets.restaking, NativeStaking::stakeOfCall { operator: me }).await?;
    if stake < plan.stake {
        let top_up = plan.stake - stake;
        l1.transact(signer, targets.restaking, NativeStaking::depositCall {}, top_up).await?;
        done.push(Action::Staked(top_up));
    } else {
        done.push(Action::StakeKept(stake));
    }

    let p = l1.call(targets.registry, PreconfRegistry::preconfersCall { preconfer: me }).await?;
    if p.index == 0 {
        l1.transact(
            signer,
            targets.registry,
            PreconfRegistry::registerPreconferCall {},
            U256::ZERO,
        )
        .await?;
        done.push(Action::Registered);
    } else {
        done.push(Action::AlreadyRegistered);
    }

    let bond = l1.call(targets.inbox, TaikoInbox::bondBalanceCall { account: me }).await?;
    if bond < plan.bond {
        let top_up = plan.bond - bond;
        l1.transact(signer, targets.inbox, TaikoInbox::depositBondCall {}, top_up).await?;
        done.push(Action::Bonded(top_up));
    } else {
        done.push(Action::BondKept(bond));
    }

    let now = l1.latest().await?.timestamp;
    for sk in &plan.validators {
        let pubkey = sk.sk_to_pk().compress();
        let key_hash = wire::validator_key_hash(&pubkey);
        let v = l1
            .call(targets.registry, PreconfRegistry::validatorsCall { keyHash: key_hash })
            .await?;
        let removed = v.inactiveSince != 0 && v.inactiveSince <= now;
        if v.preconfer == me && !removed {
            done.push(Action::ValidatorKept(key_hash));
            continue;
        }
        if v.preconfer != Address::ZERO && !removed {
            done.push(Action::ValidatorTaken { key_hash, preconfer: v.preconfer });
            continue;
        }
        let nonce = l1
            .call(targets.registry, PreconfRegistry::validatorNonceCall { keyHash: key_hash })
            .await?;
        let expiry = now + plan.signature_ttl_secs;
        let message = wire::validator_op_message(
            l1.chain_id(),
            targets.registry,
            ValidatorOp::Add,
            me,
            expiry,
            nonce,
        );
        let signature = sk.sign(&message, wire::BLS_DST, &[]).serialize();
        l1.transact(
            signer,
            targets.registry,
            PreconfRegistry::addValidatorCall {
                pubkey: sk.sk_to_pk().serialize().to_vec().into(),
                signature: signature.to_vec().into(),
                preconfer: me,
                expiry,
            },
            U256::ZERO,
        )
        .await?;
        done.push(Action::ValidatorAdded(key_hash));
    }
    Ok(done)
}
