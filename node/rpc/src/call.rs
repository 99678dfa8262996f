//! `eth_call`, `eth_estimateGas` and `eth_createAccessList`: a transaction request executed
//! against the state at `latest`, with optional state overrides, nothing committed.

use alloy::{
    consensus::Header,
    primitives::{Address, B256, Bytes, TxKind, U256, keccak256},
    rpc::types::eth::{TransactionRequest, state::StateOverride},
};
use alloy_evm::{Evm, EvmEnv, EvmFactory, eth::EthEvmFactory};
use revm::{
    DatabaseRef,
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::result::{ExecutionResult, HaltReason},
    database::CacheDB,
    primitives::hardfork::SpecId,
    state::Bytecode,
};
use taiko_chainspec::ChainSpec;
use taiko_store::StateProvider;

/// Why a call did not produce output.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The call reverted, with the revert data.
    Revert(Bytes),
    /// The call halted (out of gas, invalid opcode, …).
    Halt(HaltReason),
    /// The request itself is invalid (or the state failed).
    Invalid(String),
}

/// The result of a successful call.
pub(crate) struct CallOutput {
    pub(crate) output: Bytes,
    pub(crate) gas_used: u64,
}

fn block_env(spec: &ChainSpec, header: &Header) -> BlockEnv {
    BlockEnv {
        number: U256::from(header.number + 1),
        beneficiary: header.beneficiary,
        timestamp: U256::from(header.timestamp),
        gas_limit: spec.block_gas_limit(),
        basefee: header.base_fee_per_gas.unwrap_or_default(),
        difficulty: U256::ZERO,
        prevrandao: Some(ChainSpec::difficulty(header.number + 1)),
        blob_excess_gas_and_price: Some(
            revm::context_interface::block::BlobExcessGasAndPrice::new(
                0,
                revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
            ),
        ),
        ..Default::default()
    }
}

fn apply_overrides(
    db: &mut CacheDB<&StateProvider>,
    overrides: &StateOverride,
) -> Result<(), CallError> {
    for (address, o) in overrides {
        let mut info = db
            .basic_ref(*address)
            .map_err(|e| CallError::Invalid(e.to_string()))?
            .unwrap_or_default();
        if let Some(b) = o.balance {
            info.balance = b;
        }
        if let Some(n) = o.nonce {
            info.nonce = n;
        }
        if let Some(code) = &o.code {
            info.code_hash = keccak256(code);
            info.code = Some(Bytecode::new_raw(code.clone()));
        }
        db.insert_account_info(*address, info);
        if o.state.is_some() && o.state_diff.is_some() {
            return Err(CallError::Invalid(
                "both state and stateDiff overrides for one account".into(),
            ));
        }
        if let Some(state) = &o.state {
            db.replace_account_storage(
                *address,
                state
                    .iter()
                    .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
                    .collect(),
            )
            .map_err(|e| CallError::Invalid(e.to_string()))?;
        }
        if let Some(diff) = &o.state_diff {
            for (k, v) in diff {
                db.insert_account_storage(
                    *address,
                    U256::from_be_bytes(k.0),
                    U256::from_be_bytes(v.0),
                )
                .map_err(|e| CallError::Invalid(e.to_string()))?;
            }
        }
    }
    Ok(())
}

/// Executes `req` on top of `header`'s state with `gas_limit`.
pub(crate) fn call(
    spec: &ChainSpec,
    state: &StateProvider,
    header: &Header,
    req: &TransactionRequest,
    overrides: Option<&StateOverride>,
    gas_limit: Option<u64>,
) -> Result<CallOutput, CallError> {
    let mut db = CacheDB::new(state);
    if let Some(o) = overrides {
        apply_overrides(&mut db, o)?;
    }
    let mut cfg = CfgEnv::new_with_spec(SpecId::PRAGUE).with_chain_id(spec.chain_id);
    cfg.disable_nonce_check = true;
    cfg.disable_base_fee = true;
    cfg.disable_balance_check = true;
    let block = block_env(spec, header);
    let gas = gas_limit.or(req.gas).unwrap_or(spec.block_gas_limit()).min(spec.block_gas_limit());
    let gas_price = req.gas_price.or(req.max_fee_per_gas).unwrap_or(0);
    let tx = TxEnv {
        tx_type: if req.max_fee_per_gas.is_some() || req.gas_price.is_none() { 2 } else { 0 },
        caller: req.from.unwrap_or(Address::ZERO),
        gas_limit: gas,
        gas_price,
        kind: req.to.unwrap_or(TxKind::Create),
        value: req.value.unwrap_or_default(),
        data: req.input.input().cloned().unwrap_or_default(),
        nonce: req.nonce.unwrap_or_default(),
        chain_id: Some(spec.chain_id),
        access_list: req.access_list.clone().unwrap_or_default(),
        gas_priority_fee: req.max_priority_fee_per_gas.map(|t| t.min(gas_price)),
        ..Default::default()
    };
    let mut evm = EthEvmFactory::default().create_evm(db, EvmEnv::new(cfg, block));
    let result = evm.transact(tx).map_err(|e| CallError::Invalid(e.to_string()))?.result;
    match result {
        ExecutionResult::Success { output, gas, .. } => {
            Ok(CallOutput { output: output.into_data(), gas_used: gas.tx_gas_used() })
        }
        ExecutionResult::Revert { output, .. } => Err(CallError::Revert(output)),
        ExecutionResult::Halt { reason, .. } => Err(CallError::Halt(reason)),
    }
}

/// The lowest gas limit with which `req` succeeds (binary search over successful runs).
pub(crate) fn estimate_gas(
    spec: &ChainSpec,
    state: &StateProvider,
    header: &Header,
    req: &TransactionRequest,
    overrides: Option<&StateOverride>,
) -> Result<u64, CallError> {
    let cap = req.gas.unwrap_or(spec.block_gas_limit()).min(spec.block_gas_limit());
    let first = call(spec, state, header, req, overrides, Some(cap))?;
    // Plain transfers to accounts without code cost exactly 21,000.
    let mut lo = first.gas_used.saturating_sub(1).max(20_999);
    let mut hi = cap;
    if call(spec, state, header, req, overrides, Some(first.gas_used)).is_ok() {
        return Ok(first.gas_used);
    }
    lo = lo.max(first.gas_used);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match call(spec, state, header, req, overrides, Some(mid)) {
            Ok(_) => hi = mid,
            Err(CallError::Invalid(e)) => return Err(CallError::Invalid(e)),
            Err(_) => lo = mid,
        }
    }
    Ok(hi)
}

/// Addresses with the storage slots read or written.
pub(crate) type TouchedKeys = Vec<(Address, Vec<B256>)>;

/// Keys a transaction would touch, for `eth_createAccessList` (addresses with their slots).
pub(crate) fn access_list_of(
    spec: &ChainSpec,
    state: &StateProvider,
    header: &Header,
    req: &TransactionRequest,
) -> Result<(TouchedKeys, u64), CallError> {
    let db = CacheDB::new(state);
    let mut cfg = CfgEnv::new_with_spec(SpecId::PRAGUE).with_chain_id(spec.chain_id);
    cfg.disable_nonce_check = true;
    cfg.disable_base_fee = true;
    cfg.disable_balance_check = true;
    let block = block_env(spec, header);
    let tx = TxEnv {
        tx_type: 2,
        caller: req.from.unwrap_or(Address::ZERO),
        gas_limit: req.gas.unwrap_or(spec.block_gas_limit()),
        kind: req.to.unwrap_or(TxKind::Create),
        value: req.value.unwrap_or_default(),
        data: req.input.input().cloned().unwrap_or_default(),
        chain_id: Some(spec.chain_id),
        ..Default::default()
    };
    let mut evm = EthEvmFactory::default().create_evm(db, EvmEnv::new(cfg, block));
    let res = evm.transact(tx).map_err(|e| CallError::Invalid(e.to_string()))?;
    let gas = res.result.gas().tx_gas_used();
    let from = req.from.unwrap_or(Address::ZERO);
    let to = req.to.and_then(|k| k.to().copied());
    let mut list: Vec<(Address, Vec<B256>)> = res
        .state
        .iter()
        .filter(|(a, _)| **a != from && Some(**a) != to && !is_precompile(a))
        .map(|(a, acc)| {
            let mut slots: Vec<B256> = acc.storage.keys().map(|k| B256::from(*k)).collect();
            slots.sort();
            (*a, slots)
        })
        .collect();
    if let Some(to) = to
        && let Some(acc) = res.state.get(&to)
    {
        let mut slots: Vec<B256> = acc.storage.keys().map(|k| B256::from(*k)).collect();
        slots.sort();
        if !slots.is_empty() {
            list.push((to, slots));
        }
    }
    list.retain(|(a, slots)| !slots.is_empty() || *a != header.beneficiary);
    list.sort_by_key(|(a, _)| *a);
    Ok((list, gas))
}

fn is_precompile(a: &Address) -> bool {
    a.0[..19].iter().all(|b| *b == 0) && a.0[19] != 0 && a.0[19] <= 0x11
}
