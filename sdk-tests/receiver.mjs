// The local receiver standing in for the providers (Slack webhooks, the push webhook) while the
// SDK suite runs: an HTTP server on 127.0.0.1 that records every request and answers 200 `ok`,
// or the answers a test scripted for that path. Herald reaches it because run.sh starts Herald
// with `--outbound-allow 127.0.0.1`. One process serves both suites (Node and Python), so its
// control API is plain HTTP under `/_rx/`:
//
//   GET  /_rx/requests?path=/slack/x     requests received at exactly that path (oldest first)
//   GET  /_rx/requests?prefix=/slack/    ... at every path starting with that prefix
//   POST /_rx/script?path=/slack/x       body [{status, body?, headers?}, ...]: the next answers
//                                        at that path, in order (then 200 `ok` again)
//   GET  /_rx/health                     200 once listening
//
// A recorded request is {seq, method, path, query, headers, body} (body as received, UTF-8).
// Tests give every subscriber and integration their own path, so they never read each other's.
//
//   node receiver.mjs PORT_FILE          listens on a free port and writes it to PORT_FILE

import { createServer } from "node:http";
import { writeFileSync, renameSync } from "node:fs";

const portFile = process.argv[2];
if (!portFile) {
  console.error("usage: node receiver.mjs PORT_FILE");
  process.exit(2);
}

/** Requests per path; a bounded total so a runaway sender cannot exhaust memory. */
const byPath = new Map();
const MAX_RECORDED = 100_000;
let recorded = 0;
let seq = 0;
/** Scripted answers per path, consumed in order. */
const scripts = new Map();

const MAX_BODY = 1024 * 1024;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error("body over 1 MB"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function json(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

async function control(url, req, res) {
  const path = url.searchParams.get("path");
  const prefix = url.searchParams.get("prefix");
  if (url.pathname === "/_rx/health") return json(res, 200, { ok: true });
  if (url.pathname === "/_rx/requests" && req.method === "GET") {
    if (path !== null) return json(res, 200, { data: byPath.get(path) ?? [] });
    if (prefix !== null) {
      const out = [];
      for (const [p, list] of byPath) if (p.startsWith(prefix)) out.push(...list);
      out.sort((a, b) => a.seq - b.seq);
      return json(res, 200, { data: out });
    }
    return json(res, 400, { message: "give path or prefix" });
  }
  if (url.pathname === "/_rx/script" && req.method === "POST" && path !== null) {
    const answers = JSON.parse(await readBody(req));
    if (!Array.isArray(answers)) return json(res, 400, { message: "body must be an array" });
    scripts.set(path, [...(scripts.get(path) ?? []), ...answers]);
    return json(res, 200, { scripted: scripts.get(path).length });
  }
  return json(res, 404, { message: "unknown control route" });
}

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, "http://127.0.0.1");
    if (url.pathname.startsWith("/_rx/")) return await control(url, req, res);
    const body = await readBody(req);
    if (recorded < MAX_RECORDED) {
      recorded++;
      const entry = {
        seq: ++seq,
        method: req.method,
        path: url.pathname,
        query: url.search ? url.search.slice(1) : null,
        headers: req.headers,
        body,
      };
      if (!byPath.has(url.pathname)) byPath.set(url.pathname, []);
      byPath.get(url.pathname).push(entry);
    }
    const answer = scripts.get(url.pathname)?.shift();
    if (answer) {
      const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? "");
      res.writeHead(answer.status ?? 200, { "content-type": "text/plain", ...(answer.headers ?? {}) });
      res.end(text);
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  } catch (e) {
    if (!res.headersSent) json(res, 500, { message: String(e?.message ?? e) });
    else res.destroy();
  }
});

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  // Written atomically: run.sh polls for the file.
  writeFileSync(`${portFile}.tmp`, String(port));
  renameSync(`${portFile}.tmp`, portFile);
  console.log(`receiver listening on 127.0.0.1:${port}`);
});

// Nothing to flush: the recordings die with the run.
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
