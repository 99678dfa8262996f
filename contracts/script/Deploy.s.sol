// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Vm} from "../test/utils/TestBase.sol";
import {BeaconProofVerifier} from "../src/l1/BeaconProofVerifier.sol";
import {PreconfRegistry} from "../src/l1/PreconfRegistry.sol";
import {PreconfServiceManager} from "../src/l1/PreconfServiceManager.sol";
import {PreconfTaskManager} from "../src/l1/PreconfTaskManager.sol";
import {TaikoInbox} from "../src/l1/TaikoInbox.sol";
import {EigenLayerAdapter} from "../src/l1/restaking/EigenLayerAdapter.sol";
import {EigenLayerMVP} from "../src/l1/restaking/EigenLayerMVP.sol";
import {IRestaking} from "../src/l1/restaking/IRestaking.sol";
import {NativeStaking} from "../src/l1/restaking/NativeStaking.sol";

/// @title Deploy
/// @notice Deploys and wires the L1 contracts on any chain and writes their addresses to a JSON
/// file the node reads (`--l1.deployment`). Parameters come from the environment:
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `PRIVATE_KEY` | (required) | the deployer; also the batch verifier unless `VERIFIER` |
/// | `L2_CHAIN_ID` | 167010 | the Taiko L2 chain id |
/// | `BEACON_GENESIS` | now | beacon genesis timestamp (slot 0) |
/// | `SLOT_DURATION` / `SLOTS_PER_EPOCH` | 12 / 32 | beacon timing (devnets use short slots) |
/// | `RESTAKING` | `native` | `native` or `eigenlayer` |
/// | `MIN_STAKE` | 1 ether | stake a preconfer needs |
/// | `LIVENESS_BOND` | 0.1 ether | bond per batch |
/// | `DEPLOYMENT_OUT` | `deployments/l1.json` | where the addresses go |
contract Deploy {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    struct Config {
        uint256 key;
        address verifier;
        uint64 l2ChainId;
        uint64 genesis;
        uint64 slot;
        uint64 slotsPerEpoch;
        uint256 minStake;
        uint256 bond;
        bool eigen;
        string out;
    }

    struct Deployment {
        address eigenLayer;
        IRestaking restaking;
        PreconfServiceManager sm;
        PreconfRegistry registry;
        TaikoInbox inbox;
        PreconfTaskManager tm;
        BeaconProofVerifier beaconProofs;
    }

    /// @notice Deploys everything; returns the JSON written.
    function run() external returns (string memory) {
        Config memory c = _config();
        Deployment memory d = _deploy(c);
        return _write(c, d);
    }

    function _config() internal view returns (Config memory c) {
        c.key = vm.envOr("PRIVATE_KEY", uint256(0));
        require(c.key != 0, "PRIVATE_KEY is required");
        c.verifier = address(uint160(vm.envOr("VERIFIER", uint256(uint160(vm.addr(c.key))))));
        c.l2ChainId = uint64(vm.envOr("L2_CHAIN_ID", uint256(167010)));
        c.genesis = uint64(vm.envOr("BEACON_GENESIS", block.timestamp));
        c.slot = uint64(vm.envOr("SLOT_DURATION", uint256(12)));
        c.slotsPerEpoch = uint64(vm.envOr("SLOTS_PER_EPOCH", uint256(32)));
        c.minStake = vm.envOr("MIN_STAKE", uint256(1 ether));
        c.bond = vm.envOr("LIVENESS_BOND", uint256(0.1 ether));
        c.eigen =
            keccak256(bytes(vm.envOr("RESTAKING", string("native")))) == keccak256("eigenlayer");
        c.out = vm.envOr("DEPLOYMENT_OUT", string("deployments/l1.json"));
    }

    function _deploy(Config memory c) internal returns (Deployment memory d) {
        uint64 epoch = c.slot * c.slotsPerEpoch;
        vm.startBroadcast(c.key);
        if (c.eigen) {
            EigenLayerMVP el = new EigenLayerMVP(4 * epoch);
            d.eigenLayer = address(el);
            d.restaking = IRestaking(address(new EigenLayerAdapter(el)));
        } else {
            d.restaking = IRestaking(address(new NativeStaking(4 * epoch)));
        }
        d.sm = new PreconfServiceManager(d.restaking, c.minStake);
        d.registry = new PreconfRegistry(d.sm, 2 * epoch);
        d.inbox = new TaikoInbox(c.l2ChainId, c.bond, 768, 64);
        d.tm = new PreconfTaskManager(
            d.registry,
            d.inbox,
            d.sm,
            c.genesis,
            c.slot,
            c.slotsPerEpoch,
            2 * epoch,
            c.minStake,
            5000
        );
        d.beaconProofs = new BeaconProofVerifier();
        // NativeStaking and EigenLayerAdapter share ServiceBound.initialize.
        NativeStaking(address(d.restaking)).initialize(address(d.sm));
        d.sm.initialize(address(d.registry), address(d.tm));
        d.inbox.initialize(address(d.tm), c.verifier);
        vm.stopBroadcast();
    }

    function _write(Config memory c, Deployment memory d) internal returns (string memory json) {
        string memory o = "deployment";
        vm.serializeUint(o, "l1ChainId", block.chainid);
        vm.serializeUint(o, "l2ChainId", c.l2ChainId);
        vm.serializeUint(o, "beaconGenesis", c.genesis);
        vm.serializeUint(o, "slotDuration", c.slot);
        vm.serializeUint(o, "slotsPerEpoch", c.slotsPerEpoch);
        vm.serializeUint(o, "disputeWindow", d.tm.disputeWindow());
        vm.serializeUint(o, "deployedAtBlock", block.number);
        vm.serializeAddress(o, "restaking", address(d.restaking));
        vm.serializeAddress(o, "eigenLayer", d.eigenLayer);
        vm.serializeAddress(o, "serviceManager", address(d.sm));
        vm.serializeAddress(o, "registry", address(d.registry));
        vm.serializeAddress(o, "inbox", address(d.inbox));
        vm.serializeAddress(o, "beaconProofVerifier", address(d.beaconProofs));
        json = vm.serializeAddress(o, "taskManager", address(d.tm));
        vm.writeJson(json, c.out);
    }
}
