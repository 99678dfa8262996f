//! From stored blocks and receipts to the RPC types wallets read.

use alloy::{
    consensus::{ReceiptEnvelope, Transaction as _, TxEnvelope, TxReceipt, transaction::Recovered},
    primitives::{Address, U256},
    rpc::types::eth::{Block, BlockTransactions, Header, Log, Transaction, TransactionReceipt},
};
use taiko_store::ExecutedBlock;

/// A block as `eth_getBlockBy*` returns it.
pub(crate) fn rpc_block(b: &ExecutedBlock, full: bool) -> Block {
    let block = &b.block;
    let header = Header {
        hash: block.hash(),
        inner: block.header().clone(),
        total_difficulty: Some(U256::ZERO),
        size: Some(U256::from(alloy::rlp::Encodable::length(block.block()))),
    };
    let transactions = if full {
        BlockTransactions::Full(
            (0..block.transactions().len()).map(|i| rpc_transaction(b, i)).collect(),
        )
    } else {
        BlockTransactions::Hashes(block.transactions().iter().map(|t| *t.tx_hash()).collect())
    };
    Block { header, uncles: vec![], transactions, withdrawals: Some(Default::default()) }
}

/// Transaction `index` of a mined block.
pub(crate) fn rpc_transaction(b: &ExecutedBlock, index: usize) -> Transaction {
    let tx = b.block.transactions()[index].clone();
    let base_fee = b.block.header().base_fee_per_gas.unwrap_or_default();
    let effective_gas_price = tx.effective_gas_price(Some(base_fee));
    Transaction {
        inner: Recovered::new_unchecked(tx, b.senders[index]),
        block_hash: Some(b.block.hash()),
        block_number: Some(b.block.number()),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(effective_gas_price),
        block_timestamp: Some(b.block.header().timestamp),
    }
}

/// A pool transaction (not yet mined).
pub(crate) fn rpc_pending_transaction(tx: &Recovered<TxEnvelope>) -> Transaction {
    Transaction {
        inner: tx.clone(),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: None,
        block_timestamp: None,
    }
}

/// A log of transaction `tx_index` of a block, at position `log_index` in the block.
fn rpc_log(
    b: &ExecutedBlock,
    tx_index: usize,
    log_index: usize,
    log: &alloy::primitives::Log,
) -> Log {
    Log {
        inner: log.clone(),
        block_hash: Some(b.block.hash()),
        block_number: Some(b.block.number()),
        block_timestamp: Some(b.block.header().timestamp),
        transaction_hash: Some(*b.block.transactions()[tx_index].tx_hash()),
        transaction_index: Some(tx_index as u64),
        log_index: Some(log_index as u64),
        removed: false,
    }
}

/// The logs of a block with their positions.
pub(crate) fn block_logs(b: &ExecutedBlock) -> Vec<Log> {
    let mut out = Vec::new();
    for (i, r) in b.receipts.iter().enumerate() {
        for l in r.logs() {
            let at = out.len();
            out.push(rpc_log(b, i, at, l));
        }
    }
    out
}

/// Receipt `index` of a block.
pub(crate) fn rpc_receipt(b: &ExecutedBlock, index: usize) -> TransactionReceipt {
    let receipts = &b.receipts;
    let tx = &b.block.transactions()[index];
    let sender = b.senders[index];
    let cumulative = receipts[index].cumulative_gas_used();
    let prev = if index == 0 { 0 } else { receipts[index - 1].cumulative_gas_used() };
    let first_log: usize = receipts[..index].iter().map(|r| r.logs().len()).sum();
    let logs: Vec<Log> = receipts[index]
        .logs()
        .iter()
        .enumerate()
        .map(|(k, l)| rpc_log(b, index, first_log + k, l))
        .collect();
    let receipt = alloy::consensus::Receipt {
        status: receipts[index].status_or_post_state(),
        cumulative_gas_used: cumulative,
        logs,
    };
    let with_bloom =
        alloy::consensus::ReceiptWithBloom { receipt, logs_bloom: *receipts[index].logs_bloom() };
    let inner = match &receipts[index] {
        ReceiptEnvelope::Legacy(_) => ReceiptEnvelope::Legacy(with_bloom),
        ReceiptEnvelope::Eip2930(_) => ReceiptEnvelope::Eip2930(with_bloom),
        ReceiptEnvelope::Eip1559(_) => ReceiptEnvelope::Eip1559(with_bloom),
        ReceiptEnvelope::Eip4844(_) => ReceiptEnvelope::Eip4844(with_bloom),
        ReceiptEnvelope::Eip7702(_) => ReceiptEnvelope::Eip7702(with_bloom),
    };
    let base_fee = b.block.header().base_fee_per_gas.unwrap_or_default();
    let contract_address: Option<Address> = tx.is_create().then(|| sender.create(tx.nonce()));
    TransactionReceipt {
        inner,
        transaction_hash: *tx.tx_hash(),
        transaction_index: Some(index as u64),
        block_hash: Some(b.block.hash()),
        block_number: Some(b.block.number()),
        gas_used: cumulative - prev,
        effective_gas_price: tx.effective_gas_price(Some(base_fee)),
        blob_gas_used: None,
        blob_gas_price: None,
        from: sender,
        to: tx.to(),
        contract_address,
    }
}
