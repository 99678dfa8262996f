// A wallet-style client written with viem (a library nobody here wrote): it sends a transfer and a
// contract deployment, waits for receipts, reads balances and logs, and follows newHeads over
// WebSocket. Prints one JSON line with what it saw; exits non-zero on any failure.
// Usage: node wallet.mjs <http-url> <ws-url> <private-key> <token-bytecode-hex>
import { createPublicClient, createWalletClient, http, webSocket, parseEther, parseAbi, encodeAbiParameters, concatHex, getAddress } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

const [httpUrl, wsUrl, key, tokenCode] = process.argv.slice(2);
const chainId = Number(await (await fetch(httpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }) })).json().then((r) => r.result));
const chain = { id: chainId, name: 'taiko-preconf-devnet', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [httpUrl], webSocket: [wsUrl] } } };
const account = privateKeyToAccount(key);
const pub = createPublicClient({ chain, transport: http(httpUrl) });
const wallet = createWalletClient({ account, chain, transport: http(httpUrl) });
const wsClient = createPublicClient({ chain, transport: webSocket(wsUrl) });

const timeout = setTimeout(() => { console.error('timed out'); process.exit(2); }, 60_000);

// Follow newHeads over WebSocket from the start.
const heads = [];
const sub = await wsClient.transport.subscribe({
  params: ['newHeads'],
  onData: (data) => { const h = data.params?.result ?? data.result; if (h?.number) heads.push(Number(BigInt(h.number))); },
  onError: (e) => { console.error('ws error', e); process.exit(3); },
});

const to = '0x000000000000000000000000000000000000bEEF';
const before = await pub.getBalance({ address: to });
const transferHash = await wallet.sendTransaction({ to, value: parseEther('0.25') });
const transfer = await pub.waitForTransactionReceipt({ hash: transferHash, pollingInterval: 100 });
const after = await pub.getBalance({ address: to });

const supply = 1_000_000n;
const deployHash = await wallet.sendTransaction({ data: concatHex([tokenCode, encodeAbiParameters([{ type: 'uint256' }], [supply])]) });
const deploy = await pub.waitForTransactionReceipt({ hash: deployHash, pollingInterval: 100 });
const abi = parseAbi(['function balanceOf(address) view returns (uint256)', 'function transfer(address,uint256) returns (bool)', 'event Transfer(address indexed from, address indexed to, uint256 value)']);
const token = deploy.contractAddress;
const tHash = await wallet.writeContract({ address: token, abi, functionName: 'transfer', args: [to, 1234n] });
const tReceipt = await pub.waitForTransactionReceipt({ hash: tHash, pollingInterval: 100 });
const tokenBalance = await pub.readContract({ address: token, abi, functionName: 'balanceOf', args: [to] });
const logs = await pub.getLogs({ address: token, event: abi[2], fromBlock: 0n, toBlock: 'latest' });

// Wait until the WebSocket saw the blocks of our three transactions.
const last = Number(tReceipt.blockNumber);
for (let i = 0; i < 100 && !heads.includes(last); i++) await new Promise((r) => setTimeout(r, 100));
await sub.unsubscribe();
await wsClient.transport.getRpcClient().then((c) => c.close()).catch(() => {});
clearTimeout(timeout);
console.log(JSON.stringify({
  transferStatus: transfer.status,
  transferBlock: Number(transfer.blockNumber),
  balanceDelta: (after - before).toString(),
  deployStatus: deploy.status,
  token: getAddress(token),
  tokenBalance: tokenBalance.toString(),
  transferLogs: logs.map((l) => ({ from: l.args.from, to: l.args.to, value: l.args.value.toString() })),
  headsSeen: heads,
  lastBlock: last,
}));
process.exit(0);
