// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "../utils/TestBase.sol";
import {Deploy} from "../../script/Deploy.s.sol";
import {PreconfRegistry} from "../../src/l1/PreconfRegistry.sol";
import {PreconfServiceManager} from "../../src/l1/PreconfServiceManager.sol";
import {PreconfTaskManager} from "../../src/l1/PreconfTaskManager.sol";
import {TaikoInbox} from "../../src/l1/TaikoInbox.sol";
import {EigenLayerAdapter} from "../../src/l1/restaking/EigenLayerAdapter.sol";
import {EigenLayerMVP} from "../../src/l1/restaking/EigenLayerMVP.sol";

/// @notice The deploy script with the EigenLayer-shaped back end (the native one runs in the
/// Rust cross-language test against anvil): everything is wired, and an operator can go
/// through EigenLayer's flow into the registry.
contract DeployTest is TestBase {
    function test_deploy_eigenLayerWiring() public {
        vm.setEnv("PRIVATE_KEY", "0x2a");
        vm.setEnv("RESTAKING", "eigenlayer");
        vm.setEnv("SLOT_DURATION", "2");
        vm.setEnv("SLOTS_PER_EPOCH", "4");
        vm.setEnv("DEPLOYMENT_OUT", "deployments/forge-test-eigen.json");
        new Deploy().run();
        Deploy.Deployment memory x = _readDeployment("deployments/forge-test-eigen.json");
        PreconfServiceManager sm = x.sm;
        assertEq(address(sm.restaking()), address(x.restaking), "service manager -> adapter");
        assertEq(sm.registry(), address(x.registry), "service manager -> registry");
        assertEq(sm.taskManager(), address(x.tm), "service manager -> task manager");
        assertEq(x.inbox.router(), address(x.tm), "inbox routed through the task manager");
        assertEq(x.inbox.verifier(), vm.addr(0x2a), "deployer verifies by default");
        assertEq(uint256(x.tm.epochDuration()), 8, "devnet epochs");
        EigenLayerAdapter adapter = EigenLayerAdapter(address(x.restaking));
        assertEq(adapter.service(), address(sm), "adapter bound to the service");

        // EigenLayer flow: deposit, opt in to slashing by the AVS, register as a preconfer.
        address op = address(0xE1);
        vm.deal(op, 2 ether);
        EigenLayerMVP el = EigenLayerMVP(x.eigenLayer);
        vm.startPrank(op);
        el.depositIntoStrategy{value: 1 ether}();
        el.optIntoSlashing(address(adapter));
        x.registry.registerPreconfer();
        vm.stopPrank();
        assertTrue(el.avsOperatorStatus(address(adapter), op), "registered in the AVS directory");
        assertTrue(sm.isEligible(op), "eligible");
        vm.removeFile("deployments/forge-test-eigen.json");
    }

    /// @dev The addresses as the node reads them: from the JSON file the script wrote.
    function _readDeployment(string memory path)
        internal
        view
        returns (Deploy.Deployment memory x)
    {
        string memory json = vm.readFile(path);
        x.registry = PreconfRegistry(vm.parseJsonAddress(json, ".registry"));
        x.sm = PreconfServiceManager(vm.parseJsonAddress(json, ".serviceManager"));
        x.tm = PreconfTaskManager(vm.parseJsonAddress(json, ".taskManager"));
        x.inbox = TaikoInbox(vm.parseJsonAddress(json, ".inbox"));
        x.restaking = EigenLayerAdapter(vm.parseJsonAddress(json, ".restaking"));
        x.eigenLayer = vm.parseJsonAddress(json, ".eigenLayer");
    }
}
