//! The stored form of a block's receipts: without their logs blooms.
//!
//! A bloom is 256 bytes, derived from the receipt's logs, and for a block of plain transfers it
//! is most of the receipt's RLP. The block log and the receipts table keep, per receipt, the
//! transaction type, the status, the cumulative gas and the RLP of the logs; reading rebuilds
//! the bloom. This roughly halves the bytes a block of 2,000 transfers writes.

use crate::{
    StoreError,
    codec::{take, take_part, take_u32},
    corrupt,
};
use alloy::{
    consensus::{Eip658Value, Receipt, ReceiptEnvelope, TxType},
    primitives::{B256, Log},
    rlp::{Decodable, Encodable},
};

const STATUS_FAILED: u8 = 0;
const STATUS_SUCCESS: u8 = 1;
const STATUS_POST_STATE: u8 = 2;

/// Encodes receipts for storage.
pub(crate) fn encode(receipts: &[ReceiptEnvelope]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + receipts.len() * 16);
    out.extend_from_slice(&(receipts.len() as u32).to_le_bytes());
    for r in receipts {
        let receipt = r.as_receipt().expect("every receipt envelope holds a receipt");
        out.push(r.tx_type() as u8);
        match receipt.status {
            Eip658Value::Eip658(ok) => out.push(if ok { STATUS_SUCCESS } else { STATUS_FAILED }),
            Eip658Value::PostState(root) => {
                out.push(STATUS_POST_STATE);
                out.extend_from_slice(root.as_slice());
            }
        }
        out.extend_from_slice(&receipt.cumulative_gas_used.to_le_bytes());
        let start = out.len();
        out.extend_from_slice(&[0u8; 4]);
        receipt.logs.encode(&mut out);
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }
    out
}

/// Decodes [`encode`]'s output, rebuilding each bloom.
pub(crate) fn decode(mut b: &[u8]) -> Result<Vec<ReceiptEnvelope>, StoreError> {
    let count = take_u32(&mut b)?;
    let mut out = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let tx_type = match take(&mut b, 1)?[0] {
            0 => TxType::Legacy,
            1 => TxType::Eip2930,
            2 => TxType::Eip1559,
            3 => TxType::Eip4844,
            4 => TxType::Eip7702,
            t => return Err(corrupt(format!("stored receipt of unknown type {t}"))),
        };
        let status = match take(&mut b, 1)?[0] {
            STATUS_FAILED => Eip658Value::Eip658(false),
            STATUS_SUCCESS => Eip658Value::Eip658(true),
            STATUS_POST_STATE => Eip658Value::PostState(B256::from_slice(take(&mut b, 32)?)),
            s => return Err(corrupt(format!("stored receipt with status tag {s}"))),
        };
        let cumulative_gas_used = u64::from_le_bytes(take(&mut b, 8)?.try_into().expect("8"));
        let mut logs_rlp = take_part(&mut b)?;
        let logs = Vec::<Log>::decode(&mut logs_rlp)
            .map_err(|e| corrupt(format!("stored receipt logs: {e}")))?;
        let receipt = Receipt { status, cumulative_gas_used, logs };
        out.push(ReceiptEnvelope::from_typed(tx_type, receipt.with_bloom()));
    }
    if !b.is_empty() {
        return Err(corrupt("stored receipts: trailing bytes"));
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloy::primitives::{Address, Bytes, LogData};

    /// Receipts of three types, with and without logs, each status kind.
    pub(crate) fn sample() -> Vec<ReceiptEnvelope> {
        let log = Log {
            address: Address::repeat_byte(9),
            data: LogData::new_unchecked(vec![B256::repeat_byte(1)], Bytes::from_static(b"hi")),
        };
        vec![
            ReceiptEnvelope::from_typed(
                TxType::Eip1559,
                Receipt {
                    status: Eip658Value::Eip658(true),
                    cumulative_gas_used: 21_000,
                    logs: vec![],
                }
                .with_bloom(),
            ),
            ReceiptEnvelope::from_typed(
                TxType::Legacy,
                Receipt {
                    status: Eip658Value::Eip658(false),
                    cumulative_gas_used: 80_000,
                    logs: vec![log.clone(), log],
                }
                .with_bloom(),
            ),
            ReceiptEnvelope::from_typed(
                TxType::Eip7702,
                Receipt {
                    status: Eip658Value::PostState(B256::repeat_byte(3)),
                    cumulative_gas_used: u64::MAX,
                    logs: vec![],
                }
                .with_bloom(),
            ),
        ]
    }

    #[test]
    fn receipts_round_trip_with_their_blooms() {
        let receipts = sample();
        let bytes = encode(&receipts);
        assert_eq!(decode(&bytes).unwrap(), receipts);
        assert!(bytes.len() < alloy::rlp::encode(&receipts).len() / 3);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err(), "truncation is detected");
        assert!(decode(&[]).is_err());
    }
}
