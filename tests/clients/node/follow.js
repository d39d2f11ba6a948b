// ioredis following a Sentinel failover; driven by tests/clients/test_ioredis.py.
//   node follow.js <master name> <password> <sentinel port>...
// Connects through the Sentinels, writes ids 1..20 (RPUSH ioredis:ids), prints
// {"ready": <port of the master it writes to>} and waits for "go" on stdin (the test has killed
// that master by then). Then it keeps writing new ids, each as MULTI / CONFIG GET port / RPUSH /
// EXEC so an acknowledgement names the server that gave it, until 50 writes are acknowledged
// by another server or 40 s pass, and prints {"acked": [[id, port]...], "errors": n}.
"use strict";
const Redis = require("ioredis");
const readline = require("readline");

const [name, password, ...sentinelPorts] = process.argv.slice(2);
const KEY = "ioredis:ids";
const r = new Redis({
  sentinels: sentinelPorts.map((p) => ({ host: "127.0.0.1", port: Number(p) })),
  name,
  password,
  connectTimeout: 2000,
  commandTimeout: 2000,
  maxRetriesPerRequest: 1,
  retryStrategy: () => 50,
  sentinelRetryStrategy: () => 50,
  // A demoted master answers READONLY: reconnect, which asks the Sentinels again.
  reconnectOnError: (err) => (err.message.startsWith("READONLY") ? 1 : false),
});
r.on("error", () => {}); // reported through the failed commands

function line() {
  const rl = readline.createInterface({ input: process.stdin });
  return new Promise((resolve) => rl.once("line", (l) => { rl.close(); resolve(l); }));
}

// One write; resolves to the port that acknowledged it.
async function write(id) {
  const res = await r.multi().config("GET", "port").rpush(KEY, String(id)).exec();
  for (const [err] of res) {
    if (err) throw err;
  }
  return Number(res[0][1][1]);
}

(async () => {
  let id = 0;
  let first = 0;
  for (let i = 0; i < 20; i++) first = await write(++id);
  process.stdout.write(JSON.stringify({ ready: first }) + "\n");
  await line();
  const acked = [];
  let errors = 0;
  let onNew = 0;
  const deadline = Date.now() + 40000;
  while (Date.now() < deadline && onNew < 50) {
    const mine = ++id;
    try {
      const port = await write(mine);
      acked.push([mine, port]);
      if (port !== first) onNew++;
    } catch (e) {
      errors++;
      await new Promise((res) => setTimeout(res, 20));
    }
  }
  process.stdout.write(JSON.stringify({ acked, errors }) + "\n");
  r.disconnect();
})().catch((e) => {
  process.stdout.write(JSON.stringify({ fatal: String(e) }) + "\n");
  process.exit(1);
});
