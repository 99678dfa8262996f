// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LibBLS} from "./libs/LibBLS.sol";
import {PreconfServiceManager} from "./PreconfServiceManager.sol";

/// @title PreconfRegistry
/// @notice Who may preconfirm. A preconfer is an ECDSA address with stake in the service; L1
/// validators map their BLS keys onto a preconfer, so that when the beacon chain elects one of
/// those validators to propose an L1 slot, that preconfer owns the slot's preconfirmation
/// window. Mapping a key needs the validator's BLS signature, verified on chain with the
/// EIP-2537 precompiles (see `docs/protocol.md` for why not optimistic registration).
///
/// The signed message binds the L1 chain id, this contract, the operation, the preconfer, an
/// expiry and the key's nonce (`validatorOpMessage`), so a signature works once, here, before
/// its expiry. Every change takes effect `activationDelay` seconds later (2 epochs by default),
/// so a lookahead posted for the next epoch sees a stable set.
contract PreconfRegistry {
    /// @notice What a validator signature authorises. Numbered as in the reference PoC.
    enum ValidatorOp {
        Remove,
        Add
    }

    /// @notice A registered preconfer.
    struct Preconfer {
        uint64 activeSince;
        uint64 inactiveSince; // 0 while not deregistering
        uint32 index; // 1 + position in the preconfer list
    }

    /// @notice A validator key's mapping onto a preconfer.
    struct Validator {
        address preconfer;
        uint64 activeSince;
        uint64 inactiveSince; // 0 while not being removed
    }

    /// @notice Domain tag of the validator-operation message.
    bytes32 public constant VALIDATOR_OP_DOMAIN =
        keccak256("taiko-preconf/registry/validator-op/v1");

    /// @notice The service manager holding the preconfers' stake.
    PreconfServiceManager public immutable serviceManager;
    /// @notice Seconds between a change and its effect.
    uint64 public immutable activationDelay;

    address[] internal _preconferList;
    /// @notice Registered preconfers.
    mapping(address preconfer => Preconfer) public preconfers;
    /// @notice Validator mappings by key hash (`keyHashOf`).
    mapping(bytes32 keyHash => Validator) public validators;
    /// @notice The nonce the next signature over a key must carry.
    mapping(bytes32 keyHash => uint64) public validatorNonce;

    /// @notice A preconfer registered; it becomes active at `activeSince`.
    event PreconferRegistered(address indexed preconfer, uint64 activeSince);
    /// @notice A preconfer deregistered; it stops being active at `inactiveSince`.
    event PreconferDeregistered(address indexed preconfer, uint64 inactiveSince);
    /// @notice A deregistered preconfer was removed from the set and from the service.
    event PreconferRemoved(address indexed preconfer);
    /// @notice A validator key was mapped onto `preconfer`, effective at `activeSince`.
    event ValidatorAdded(
        bytes32 indexed keyHash, address indexed preconfer, bytes pubkey, uint64 activeSince
    );
    /// @notice A validator key's mapping ends at `inactiveSince`.
    event ValidatorRemoved(
        bytes32 indexed keyHash, address indexed preconfer, uint64 inactiveSince
    );

    /// @notice The caller is already a registered preconfer.
    error PreconferAlreadyRegistered();
    /// @notice The preconfer is not registered, or is deregistering.
    error PreconferNotRegistered(address preconfer);
    /// @notice The preconfer's deregistration has not taken effect yet.
    error PreconferStillActive(uint64 inactiveSince);
    /// @notice The signature's expiry has passed.
    error SignatureExpired(uint64 expiry);
    /// @notice The BLS signature does not verify for this key and message.
    error InvalidBLSSignature();
    /// @notice The key is already mapped onto a preconfer.
    error ValidatorAlreadyMapped(address preconfer);
    /// @notice The key is not mapped, or its removal is already under way.
    error ValidatorNotMapped();

    constructor(PreconfServiceManager serviceManager_, uint64 activationDelay_) {
        serviceManager = serviceManager_;
        activationDelay = activationDelay_;
    }

    // ---------------------------------------------------------------- preconfers

    /// @notice Registers the caller as a preconfer; it must hold the minimum stake in the
    /// service. Active after `activationDelay`.
    function registerPreconfer() external {
        if (preconfers[msg.sender].index != 0) revert PreconferAlreadyRegistered();
        serviceManager.registerOperator(msg.sender);
        _preconferList.push(msg.sender);
        uint64 activeSince = uint64(block.timestamp) + activationDelay;
        preconfers[msg.sender] = Preconfer(activeSince, 0, uint32(_preconferList.length));
        emit PreconferRegistered(msg.sender, activeSince);
    }

    /// @notice Starts the caller's deregistration; it stays active for `activationDelay`.
    function deregisterPreconfer() external {
        Preconfer storage p = preconfers[msg.sender];
        if (p.index == 0 || p.inactiveSince != 0) revert PreconferNotRegistered(msg.sender);
        uint64 inactiveSince = uint64(block.timestamp) + activationDelay;
        p.inactiveSince = inactiveSince;
        emit PreconferDeregistered(msg.sender, inactiveSince);
    }

    /// @notice Removes a preconfer whose deregistration took effect, and deregisters it from
    /// the service (its stake then follows the restaking withdrawal delay). Anyone may call.
    function removePreconfer(address preconfer) external {
        Preconfer memory p = preconfers[preconfer];
        if (p.index == 0 || p.inactiveSince == 0) revert PreconferNotRegistered(preconfer);
        if (block.timestamp < p.inactiveSince) revert PreconferStillActive(p.inactiveSince);
        address last = _preconferList[_preconferList.length - 1];
        _preconferList[p.index - 1] = last;
        preconfers[last].index = p.index;
        _preconferList.pop();
        delete preconfers[preconfer];
        serviceManager.deregisterOperator(preconfer);
        emit PreconferRemoved(preconfer);
    }

    // ---------------------------------------------------------------- validators

    /// @notice The exact bytes a validator signs (with its BLS key) to authorise `op`.
    function validatorOpMessage(ValidatorOp op, address preconfer, uint64 expiry, uint64 nonce)
        public
        view
        returns (bytes memory)
    {
        return abi.encode(
            VALIDATOR_OP_DOMAIN, block.chainid, address(this), uint8(op), preconfer, expiry, nonce
        );
    }

    /// @notice The key hash of a compressed 48-byte G1 public key:
    /// `keccak256(16 zero bytes ‖ pubkey)`.
    function keyHashOf(bytes memory compressedPubkey) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes16(0), compressedPubkey));
    }

    /// @notice Maps a validator key onto `preconfer`, authorised by the validator's signature.
    /// Anyone may submit it. Effective after `activationDelay`.
    /// @param pubkey The uncompressed G1 key (96 bytes, as `blst` serialises it).
    /// @param signature The uncompressed G2 signature (192 bytes) over
    /// `validatorOpMessage(Add, preconfer, expiry, validatorNonce[keyHash])`.
    /// @return keyHash The key hash the mapping is stored under.
    function addValidator(
        bytes calldata pubkey,
        bytes calldata signature,
        address preconfer,
        uint64 expiry
    ) external returns (bytes32 keyHash) {
        Preconfer memory p = preconfers[preconfer];
        if (p.index == 0 || p.inactiveSince != 0) revert PreconferNotRegistered(preconfer);
        (bytes memory point, bytes memory compressed) = LibBLS.decodePublicKey(pubkey);
        keyHash = keyHashOf(compressed);
        Validator memory v = validators[keyHash];
        if (
            v.preconfer != address(0) && (v.inactiveSince == 0 || block.timestamp < v.inactiveSince)
        ) {
            revert ValidatorAlreadyMapped(v.preconfer);
        }
        _authorise(point, keyHash, signature, ValidatorOp.Add, preconfer, expiry);
        uint64 activeSince = uint64(block.timestamp) + activationDelay;
        validators[keyHash] = Validator(preconfer, activeSince, 0);
        emit ValidatorAdded(keyHash, preconfer, compressed, activeSince);
    }

    /// @notice Ends a validator key's mapping, authorised by the validator's signature over
    /// `validatorOpMessage(Remove, currentPreconfer, expiry, nonce)`. Effective after
    /// `activationDelay`.
    function removeValidator(bytes calldata pubkey, bytes calldata signature, uint64 expiry)
        external
        returns (bytes32 keyHash)
    {
        (bytes memory point, bytes memory compressed) = LibBLS.decodePublicKey(pubkey);
        keyHash = keyHashOf(compressed);
        Validator storage v = validators[keyHash];
        address preconfer = v.preconfer;
        if (preconfer == address(0) || v.inactiveSince != 0) revert ValidatorNotMapped();
        _authorise(point, keyHash, signature, ValidatorOp.Remove, preconfer, expiry);
        uint64 inactiveSince = uint64(block.timestamp) + activationDelay;
        v.inactiveSince = inactiveSince;
        emit ValidatorRemoved(keyHash, preconfer, inactiveSince);
    }

    // ---------------------------------------------------------------- views

    /// @notice Whether `preconfer` is active at `timestamp` and holds the minimum stake now.
    function isActivePreconfer(address preconfer, uint256 timestamp) public view returns (bool) {
        Preconfer memory p = preconfers[preconfer];
        return p.index != 0 && p.activeSince <= timestamp
            && (p.inactiveSince == 0 || timestamp < p.inactiveSince)
            && serviceManager.isEligible(preconfer);
    }

    /// @notice The preconfer a validator key maps onto at `timestamp`, or zero if none (or if
    /// that preconfer is not active then).
    function preconferOf(bytes32 keyHash, uint256 timestamp) external view returns (address) {
        Validator memory v = validators[keyHash];
        if (
            v.preconfer == address(0) || timestamp < v.activeSince
                || (v.inactiveSince != 0 && timestamp >= v.inactiveSince)
        ) return address(0);
        return isActivePreconfer(v.preconfer, timestamp) ? v.preconfer : address(0);
    }

    /// @notice The preconfers active at `timestamp`, in registry order. O(registered).
    function activePreconfers(uint256 timestamp) external view returns (address[] memory out) {
        uint256 n = _preconferList.length;
        out = new address[](n);
        uint256 k;
        for (uint256 i; i < n; ++i) {
            address p = _preconferList[i];
            if (isActivePreconfer(p, timestamp)) out[k++] = p;
        }
        assembly ("memory-safe") {
            mstore(out, k)
        }
    }

    /// @notice Number of registered preconfers (active or not).
    function preconferCount() external view returns (uint256) {
        return _preconferList.length;
    }

    /// @dev Checks the expiry and the validator's signature over the operation, and uses up
    /// the key's nonce.
    function _authorise(
        bytes memory point,
        bytes32 keyHash,
        bytes calldata signature,
        ValidatorOp op,
        address preconfer,
        uint64 expiry
    ) private {
        if (block.timestamp > expiry) revert SignatureExpired(expiry);
        uint64 nonce = validatorNonce[keyHash];
        bytes memory message = validatorOpMessage(op, preconfer, expiry, nonce);
        if (!LibBLS.verify(point, message, LibBLS.decodeSignature(signature))) {
            revert InvalidBLSSignature();
        }
        validatorNonce[keyHash] = nonce + 1;
    }
}
