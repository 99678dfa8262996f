// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {LibBatch} from "./libs/LibBatch.sol";
import {PreconfRegistry} from "./PreconfRegistry.sol";
import {PreconfServiceManager} from "./PreconfServiceManager.sol";
import {TaikoInbox} from "./TaikoInbox.sol";

/// @title PreconfTaskManager
/// @notice Decides who may propose when, forwards their batches to the inbox, and slashes broken
/// preconfirmations.
///
/// **Lookahead.** Each epoch has a lookahead: the slots whose L1 proposer maps (in the registry)
/// onto a preconfer, in slot order. Entry i owns the window `(entry[i-1].timestamp,
/// entry[i].timestamp]`; slots before an entry with no registered proposer fall to it. The first
/// proposal of epoch E must post the lookahead of E+1; if nobody has, any active preconfer may
/// force-push it. An epoch with no registered proposer at all gets one fallback entry covering
/// the whole epoch, chosen as `beaconRoot % activePreconfers` from the EIP-4788 root of the
/// previous epoch's first slot. Entries are checked against the registry when posted; whether
/// the named validators really propose those slots is left to the lookahead fraud proof (each
/// epoch's posted lookahead is hashed for it).
///
/// **Preconfirmations** are EIP-712 typed data under the domain ("TaikoPreconf", "1", L1 chain
/// id, this contract). Within the dispute window anyone may prove:
/// - equivocation: two signed commitments for one L2 height on the same parent digest that
///   differ;
/// - a wrong preconfirmation: the block proposed at that height on the committed parent digest
///   differs from the signed one, or was proposed by someone else;
/// - a missed proposal: the signer's window ended, the parent was proposed, the block was not.
/// A commitment whose parent digest is not the proposed chain's is void (its parent changed, so
/// its author had to rebuild), which is what keeps an honest preconfer unslashable through L2
/// reorgs caused by others. One slash per signer and height.
contract PreconfTaskManager is EIP712 {
    /// @notice A lookahead entry as posted.
    struct LookaheadParam {
        uint64 slotTimestamp;
        address preconfer;
        bytes32 validatorKeyHash;
    }

    /// @notice A stored lookahead entry: the preconfer owns `(prevTimestamp, timestamp]`. One
    /// storage slot, so checking a proposer's window costs one read.
    struct LookaheadEntry {
        uint40 timestamp;
        uint40 prevTimestamp;
        address preconfer;
        bool isFallback;
    }

    /// @notice A preconfirmation: the preconfer's signed promise about one L2 block.
    struct Preconfirmation {
        uint64 l2ChainId;
        uint64 blockNumber;
        bytes32 parentHash;
        bytes32 blockHash;
        bytes32 parentDigest;
        bytes32 txListHash;
        uint64 timestamp;
        uint64 anchorBlockId;
        address coinbase;
        uint64 windowEnd;
        bool endOfSequencing;
    }

    /// @notice The kinds of slashable faults.
    enum Fault {
        Equivocation,
        WrongPreconfirmation,
        MissedProposal
    }

    /// @notice The EIP-712 type hash of `Preconfirmation`.
    bytes32 public constant PRECONFIRMATION_TYPEHASH = keccak256(
        "Preconfirmation(uint64 l2ChainId,uint64 blockNumber,bytes32 parentHash,bytes32 blockHash,bytes32 parentDigest,bytes32 txListHash,uint64 timestamp,uint64 anchorBlockId,address coinbase,uint64 windowEnd,bool endOfSequencing)"
    );
    /// @notice The EIP-4788 beacon roots contract.
    address public constant BEACON_ROOTS = 0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02;

    /// @notice The preconfer registry.
    PreconfRegistry public immutable registry;
    /// @notice The inbox batches are forwarded to.
    TaikoInbox public immutable inbox;
    /// @notice The service manager slashes go through.
    PreconfServiceManager public immutable serviceManager;
    /// @notice The beacon chain genesis time (slot 0's timestamp).
    uint64 public immutable genesisTimestamp;
    /// @notice Seconds per slot.
    uint64 public immutable slotDuration;
    /// @notice Slots per epoch.
    uint64 public immutable slotsPerEpoch;
    /// @notice Seconds during which a fault can be proven.
    uint64 public immutable disputeWindow;
    /// @notice Wei slashed per fault.
    uint256 public immutable slashAmount;
    /// @notice Share of a slash paid to the challenger, in basis points.
    uint256 public immutable challengerRewardBps;

    /// @notice Posted lookahead entries by epoch number and position.
    mapping(uint256 epoch => mapping(uint256 index => LookaheadEntry)) internal _entries;
    /// @notice Number of entries posted per epoch (at least 1 once posted).
    mapping(uint256 epoch => uint256) public lookaheadCount;
    /// @notice keccak256 of the posted `LookaheadParam[]` per epoch (zero hash of an empty
    /// array for a fallback epoch), for the lookahead fraud proof.
    mapping(uint256 epoch => bytes32) public lookaheadHash;
    /// @notice Whether a signer was slashed at an L2 height.
    mapping(address signer => mapping(uint64 blockNumber => bool)) public slashedAt;

    /// @notice A lookahead was posted for `epoch`.
    event LookaheadPosted(uint256 indexed epoch, LookaheadEntry[] entries, address poster);
    /// @notice A preconfer was slashed.
    event PreconferSlashed(
        address indexed preconfer,
        Fault fault,
        uint64 indexed blockNumber,
        address indexed challenger,
        uint256 amount
    );

    /// @notice The restaking withdrawal delay is shorter than the dispute horizon.
    error WithdrawalDelayTooShort(uint256 delay, uint256 required);
    /// @notice The lookahead of `epoch` has not been posted.
    error LookaheadNotPosted(uint256 epoch);
    /// @notice The lookahead of `epoch` is already posted.
    error LookaheadAlreadyPosted(uint256 epoch);
    /// @notice Only the current or the next epoch's lookahead may be force-pushed.
    error EpochNotPushable(uint256 epoch);
    /// @notice A lookahead entry is not a slot of the epoch, or entries are out of order.
    error InvalidLookaheadSlot(uint64 slotTimestamp);
    /// @notice A lookahead entry names a preconfer the key does not map onto at that slot.
    error InvalidLookaheadPreconfer(uint64 slotTimestamp, address preconfer);
    /// @notice No preconfer is active, so no fallback can be chosen.
    error NoActivePreconfer();
    /// @notice The caller is not an active preconfer.
    error NotAPreconfer();
    /// @notice The lookahead index does not point at the window containing this block.
    error NotInWindow(uint64 windowStart, uint64 windowEnd);
    /// @notice The window belongs to another preconfer.
    error NotTheCurrentPreconfer(address expected);
    /// @notice The batch's calldata points into the call's head.
    error MalformedCalldata();
    /// @notice The batch names a proposer other than the caller.
    error ProposerMismatch();
    /// @notice A commitment is for another L2 chain.
    error WrongL2ChainId(uint64 chainId);
    /// @notice A signature does not recover (malformed or malleable).
    error InvalidSignature();
    /// @notice Two commitments are not at the same height on the same parent.
    error NotSameSlot();
    /// @notice Two commitments are identical, or signed by different preconfers.
    error NotConflicting();
    /// @notice The dispute window for this fault has closed.
    error DisputeWindowClosed();
    /// @notice The batch metadata does not match the inbox.
    error BatchMismatch();
    /// @notice The committed block is not in the given batch.
    error BlockNotInBatch();
    /// @notice The commitment's parent is not the proposed chain's: it is void.
    error CommitmentVoid();
    /// @notice The proposed block matches the commitment.
    error NoFault();
    /// @notice The signer's window has not ended yet.
    error WindowNotOver();
    /// @notice The block was proposed: prove a wrong preconfirmation instead.
    error BlockWasProposed();
    /// @notice The signer was already slashed at this height.
    error AlreadySlashed();
    /// @notice The signer has no stake left to slash.
    error NothingToSlash();

    constructor(
        PreconfRegistry registry_,
        TaikoInbox inbox_,
        PreconfServiceManager serviceManager_,
        uint64 genesisTimestamp_,
        uint64 slotDuration_,
        uint64 slotsPerEpoch_,
        uint64 disputeWindow_,
        uint256 slashAmount_,
        uint256 challengerRewardBps_
    ) EIP712("TaikoPreconf", "1") {
        registry = registry_;
        inbox = inbox_;
        serviceManager = serviceManager_;
        genesisTimestamp = genesisTimestamp_;
        slotDuration = slotDuration_;
        slotsPerEpoch = slotsPerEpoch_;
        disputeWindow = disputeWindow_;
        slashAmount = slashAmount_;
        challengerRewardBps = challengerRewardBps_;
        // A preconfer may sign until the end of the epoch after it leaves; its stake must stay
        // slashable for the dispute window after that.
        uint256 required = uint256(disputeWindow_) + 2 * uint256(slotDuration_) * slotsPerEpoch_;
        uint256 delay = serviceManager_.restaking().withdrawalDelay();
        if (delay < required) revert WithdrawalDelayTooShort(delay, required);
    }

    // ---------------------------------------------------------------- epochs

    /// @notice Seconds per epoch.
    function epochDuration() public view returns (uint64) {
        return slotDuration * slotsPerEpoch;
    }

    /// @notice The epoch containing `timestamp`.
    function epochOf(uint256 timestamp) public view returns (uint256) {
        return (timestamp - genesisTimestamp) / epochDuration();
    }

    /// @notice The timestamp of the first slot of `epoch`.
    function epochStart(uint256 epoch) public view returns (uint64) {
        return uint64(genesisTimestamp + epoch * epochDuration());
    }

    /// @notice The lookahead posted for `epoch` (empty if not posted).
    function lookahead(uint256 epoch) public view returns (LookaheadEntry[] memory out) {
        uint256 n = lookaheadCount[epoch];
        out = new LookaheadEntry[](n);
        for (uint256 i; i < n; ++i) {
            out[i] = _entries[epoch][i];
        }
    }

    /// @notice The preconfer whose window contains `timestamp`, and the lookahead index to
    /// pass to `proposeBatch` then; zero address if the lookahead is not posted.
    function preconferAt(uint256 timestamp)
        external
        view
        returns (address preconfer, uint256 lookaheadIndex)
    {
        uint256 e = epochOf(timestamp);
        uint256 n = lookaheadCount[e];
        for (uint256 i; i < n; ++i) {
            LookaheadEntry memory entry = _entries[e][i];
            if (timestamp <= entry.timestamp) return (entry.preconfer, i);
        }
        if (n == 0 || lookaheadCount[e + 1] == 0) return (address(0), 0);
        return (_entries[e + 1][0].preconfer, n);
    }

    // ---------------------------------------------------------------- proposing

    /// @notice Proposes a batch during the caller's window and forwards it to the inbox.
    /// @dev The batch is forwarded as the caller's own calldata bytes, re-headed for the inbox
    /// (`_forwardToInbox`), so routing costs the same for 1 or 100 blocks: no decoding and
    /// re-encoding of the blocks, no return data. Nodes read the metadata from the inbox's event.
    /// @param params The batch; `params.proposer` must be the caller.
    /// @param txList The calldata tx list (empty for blobs).
    /// @param lookaheadIndex The caller's entry in the current epoch's lookahead, or its length
    /// when the window is the next epoch's first entry (see `preconferAt`).
    /// @param nextLookahead The next epoch's lookahead, required (possibly empty, meaning
    /// fallback) when it is not posted yet, and otherwise empty.
    function proposeBatch(
        LibBatch.BatchParams calldata params,
        bytes calldata txList,
        uint256 lookaheadIndex,
        LookaheadParam[] calldata nextLookahead
    ) external {
        uint256 e = epochOf(block.timestamp);
        if (lookaheadHash[e + 1] == 0) {
            _postLookahead(e + 1, nextLookahead);
        } else if (nextLookahead.length != 0) {
            revert LookaheadAlreadyPosted(e + 1);
        }
        _checkWindow(e, lookaheadIndex);
        if (params.proposer != msg.sender) revert ProposerMismatch();
        txList; // forwarded as bytes below
        _forwardToInbox();
    }

    /// @notice Posts a missing lookahead for the current or the next epoch. Any active
    /// preconfer may call it.
    function forcePushLookahead(uint256 epoch, LookaheadParam[] calldata entries) external {
        uint256 e = epochOf(block.timestamp);
        if (epoch != e && epoch != e + 1) revert EpochNotPushable(epoch);
        if (lookaheadHash[epoch] != 0) revert LookaheadAlreadyPosted(epoch);
        if (!registry.isActivePreconfer(msg.sender, block.timestamp)) revert NotAPreconfer();
        _postLookahead(epoch, entries);
    }

    // ---------------------------------------------------------------- disputes

    /// @notice The EIP-712 digest a preconfer signs for `c`.
    function hashPreconfirmation(Preconfirmation calldata c) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(PRECONFIRMATION_TYPEHASH, c)));
    }

    /// @notice The signer of a commitment; reverts on a malformed signature.
    function signerOf(Preconfirmation calldata c, bytes calldata signature)
        public
        view
        returns (address signer)
    {
        (address s, ECDSA.RecoverError err,) = ECDSA.tryRecover(hashPreconfirmation(c), signature);
        if (err != ECDSA.RecoverError.NoError) revert InvalidSignature();
        return s;
    }

    /// @notice Proves that one preconfer signed two different blocks at one height on the same
    /// parent.
    function proveEquivocation(
        Preconfirmation calldata a,
        bytes calldata sigA,
        Preconfirmation calldata b,
        bytes calldata sigB
    ) external {
        _checkChain(a);
        _checkChain(b);
        if (a.blockNumber != b.blockNumber || a.parentDigest != b.parentDigest) {
            revert NotSameSlot();
        }
        uint64 end = a.windowEnd > b.windowEnd ? a.windowEnd : b.windowEnd;
        if (block.timestamp > uint256(end) + disputeWindow) revert DisputeWindowClosed();
        address signer = signerOf(a, sigA);
        if (hashPreconfirmation(a) == hashPreconfirmation(b) || signerOf(b, sigB) != signer) {
            revert NotConflicting();
        }
        _slash(signer, a.blockNumber, Fault.Equivocation);
    }

    /// @notice Proves that the block proposed at a commitment's height, on its parent, is not
    /// the committed one or was proposed by someone else.
    /// @param info The metadata of the batch holding the block, as the inbox emitted it.
    function proveWrongPreconfirmation(
        Preconfirmation calldata c,
        bytes calldata signature,
        LibBatch.BatchInfo calldata info
    ) external {
        _checkChain(c);
        if (keccak256(abi.encode(info)) != inbox.metaHashOf(info.batchId)) revert BatchMismatch();
        if (c.blockNumber < info.firstBlockId || c.blockNumber > info.lastBlockId) {
            revert BlockNotInBatch();
        }
        if (block.timestamp > uint256(info.proposedAt) + disputeWindow) {
            revert DisputeWindowClosed();
        }
        address signer = signerOf(c, signature);
        LibBatch.BlockParams[] memory blocks = info.blocks;
        uint256 idx = c.blockNumber - info.firstBlockId;
        bytes32 parentDigest = info.parentDigest;
        for (uint256 i; i < idx; ++i) {
            parentDigest = LibBatch.digest(
                parentDigest,
                info.firstBlockId + uint64(i),
                blocks[i].txListHash,
                LibBatch.blockTimestamp(blocks, info.lastBlockTimestamp, i),
                blocks[i].anchorBlockId,
                info.coinbase
            );
        }
        if (parentDigest != c.parentDigest) revert CommitmentVoid();
        LibBatch.BlockParams memory proposed = blocks[idx];
        if (
            info.proposer == signer && proposed.txListHash == c.txListHash
                && LibBatch.blockTimestamp(blocks, info.lastBlockTimestamp, idx) == c.timestamp
                && proposed.anchorBlockId == c.anchorBlockId && info.coinbase == c.coinbase
        ) revert NoFault();
        _slash(signer, c.blockNumber, Fault.WrongPreconfirmation);
    }

    /// @notice Proves that a commitment's window ended with its parent proposed and the block
    /// not.
    function proveMissedProposal(Preconfirmation calldata c, bytes calldata signature) external {
        _checkChain(c);
        if (block.timestamp <= c.windowEnd) revert WindowNotOver();
        if (block.timestamp > uint256(c.windowEnd) + disputeWindow) revert DisputeWindowClosed();
        uint64 next = inbox.nextBlockId();
        if (next > c.blockNumber) revert BlockWasProposed();
        if (next < c.blockNumber || inbox.lastDigest() != c.parentDigest) revert CommitmentVoid();
        _slash(signerOf(c, signature), c.blockNumber, Fault.MissedProposal);
    }

    // ---------------------------------------------------------------- internals

    function _checkChain(Preconfirmation calldata c) private view {
        if (c.l2ChainId != inbox.l2ChainId()) revert WrongL2ChainId(c.l2ChainId);
    }

    function _slash(address signer, uint64 blockNumber, Fault fault) private {
        if (slashedAt[signer][blockNumber]) revert AlreadySlashed();
        slashedAt[signer][blockNumber] = true;
        uint256 amount = serviceManager.slash(
            signer, slashAmount, msg.sender, slashAmount * challengerRewardBps / 10_000
        );
        if (amount == 0) revert NothingToSlash();
        emit PreconferSlashed(signer, fault, blockNumber, msg.sender, amount);
    }

    /// @dev Calls `inbox.proposeBatch(params, txList)` with the bytes of this call: the two
    /// head words become the inbox's head (offsets moved by the two words dropped) and
    /// everything after this call's four-word head is copied as is. Every byte the inbox decodes
    /// is a byte this contract's decoder saw at the same place relative to `params` / `txList`
    /// (offsets into the dropped head are refused), so the inbox sees exactly the checked batch.
    function _forwardToInbox() private {
        address target = address(inbox);
        bytes4 selector = TaikoInbox.proposeBatch.selector;
        bytes4 bad = MalformedCalldata.selector;
        assembly ("memory-safe") {
            let offParams := calldataload(0x04)
            let offTxList := calldataload(0x24)
            if or(lt(offParams, 0x80), lt(offTxList, 0x80)) {
                mstore(0, bad)
                revert(0, 4)
            }
            let tail := sub(calldatasize(), 0x84)
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 0x04), sub(offParams, 0x40))
            mstore(add(ptr, 0x24), sub(offTxList, 0x40))
            calldatacopy(add(ptr, 0x44), 0x84, tail)
            if iszero(call(gas(), target, 0, ptr, add(0x44, tail), 0, 0)) {
                returndatacopy(0, 0, returndatasize())
                revert(0, returndatasize())
            }
        }
    }

    /// @dev Checks that the caller owns the lookahead window containing `block.timestamp`:
    /// entry `index` of epoch `e`, or, past the epoch's last entry, the next epoch's first.
    function _checkWindow(uint256 e, uint256 index) private view {
        LookaheadEntry memory entry = _entries[e][index];
        if (entry.timestamp == 0) {
            entry = _entries[e + 1][0];
            if (entry.timestamp == 0) revert LookaheadNotPosted(e + 1);
        }
        if (block.timestamp <= entry.prevTimestamp || block.timestamp > entry.timestamp) {
            revert NotInWindow(uint64(entry.prevTimestamp), uint64(entry.timestamp));
        }
        if (entry.preconfer != msg.sender) revert NotTheCurrentPreconfer(entry.preconfer);
    }

    /// @dev Validates and stores a lookahead. The epoch before must be posted (so each entry
    /// can record where its window starts), except for the current epoch, which may be
    /// bootstrapped on its own.
    function _postLookahead(uint256 epoch, LookaheadParam[] calldata entries) private {
        uint64 first = epochStart(epoch);
        uint64 last = first + epochDuration() - slotDuration;
        uint256 prevCount = epoch == 0 ? 0 : lookaheadCount[epoch - 1];
        if (prevCount == 0 && epoch > epochOf(block.timestamp)) {
            revert LookaheadNotPosted(epoch - 1);
        }
        uint64 prevTs = prevCount == 0 ? first - 1 : _entries[epoch - 1][prevCount - 1].timestamp;
        mapping(uint256 => LookaheadEntry) storage stored = _entries[epoch];
        for (uint256 i; i < entries.length; ++i) {
            LookaheadParam calldata p = entries[i];
            uint64 ts = p.slotTimestamp;
            if (ts < first || ts > last || (ts - first) % slotDuration != 0 || ts <= prevTs) {
                revert InvalidLookaheadSlot(ts);
            }
            if (
                p.preconfer == address(0)
                    || registry.preconferOf(p.validatorKeyHash, ts) != p.preconfer
            ) revert InvalidLookaheadPreconfer(ts, p.preconfer);
            stored[i] = LookaheadEntry(uint40(ts), uint40(prevTs), p.preconfer, false);
            prevTs = ts;
        }
        uint256 n = entries.length;
        if (n == 0) {
            stored[0] =
                LookaheadEntry(uint40(last), uint40(prevTs), _fallbackPreconfer(epoch), true);
            n = 1;
        }
        lookaheadCount[epoch] = n;
        lookaheadHash[epoch] = keccak256(abi.encode(entries));
        emit LookaheadPosted(epoch, lookahead(epoch), msg.sender);
    }

    /// @dev `beaconRoot % active` over the preconfers active at the epoch's start, the root
    /// being the EIP-4788 root of the previous epoch's first slot (read at the next slots'
    /// timestamps, stepping over missed slots); the latest L1 block hash if none is available.
    function _fallbackPreconfer(uint256 epoch) private view returns (address) {
        address[] memory active = registry.activePreconfers(epochStart(epoch));
        if (active.length == 0) revert NoActivePreconfer();
        uint256 seed = uint256(blockhash(block.number - 1));
        if (epoch != 0) {
            uint64 t = epochStart(epoch - 1);
            for (uint256 i = 1; i <= slotsPerEpoch; ++i) {
                (bool ok, bytes memory root) =
                    BEACON_ROOTS.staticcall(abi.encode(uint256(t + i * slotDuration)));
                if (ok && root.length == 32) {
                    seed = uint256(bytes32(root));
                    break;
                }
            }
        }
        return active[seed % active.length];
    }
}
