#!/usr/bin/env node
// Copies the ABI and bytecode of the contracts the Rust side uses from forge's `out/` into the
// committed `artifacts/` folder (stable key order, one file per contract). `--check` fails when
// the committed files differ from a fresh build instead of writing them.
import fs from 'node:fs';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const CONTRACTS = [
  ['l2/TaikoAnchor.sol', 'TaikoAnchor'],
  ['bench/BenchToken.sol', 'BenchToken'],
  ['l1/PreconfRegistry.sol', 'PreconfRegistry'],
  ['l1/PreconfServiceManager.sol', 'PreconfServiceManager'],
  ['l1/PreconfTaskManager.sol', 'PreconfTaskManager'],
  ['l1/TaikoInbox.sol', 'TaikoInbox'],
  ['l1/BeaconProofVerifier.sol', 'BeaconProofVerifier'],
  ['l1/restaking/NativeStaking.sol', 'NativeStaking'],
  ['l1/restaking/EigenLayerMVP.sol', 'EigenLayerMVP'],
  ['l1/restaking/EigenLayerAdapter.sol', 'EigenLayerAdapter'],
];
const check = process.argv.includes('--check');
let stale = [];
fs.mkdirSync(path.join(here, 'artifacts'), { recursive: true });
for (const [src, name] of CONTRACTS) {
  const built = JSON.parse(fs.readFileSync(path.join(here, 'out', path.basename(src), `${name}.json`), 'utf8'));
  const art = {
    contractName: name,
    source: `src/${src}`,
    abi: built.abi,
    bytecode: built.bytecode.object,
    deployedBytecode: built.deployedBytecode.object,
  };
  const text = JSON.stringify(art, null, 2) + '\n';
  const file = path.join(here, 'artifacts', `${name}.json`);
  if (check) {
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) stale.push(file);
  } else {
    fs.writeFileSync(file, text);
  }
}
if (stale.length) {
  console.error('stale contract artifacts (run `make contracts` and commit):\n  ' + stale.join('\n  '));
  process.exit(1);
}
