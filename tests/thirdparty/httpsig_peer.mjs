// A partner API on loopback that takes only requests signed with RFC 9421 HTTP Message
// Signatures, checked by dhensby's `http-message-signatures` (npm): the interop peer of
// apilink's `sign: {type: http_message_signature}` (tests/flows/test_api_sync_httpsig.py).
//
//   GET  /records?page=N   a page of plain JSON records (the sync's source)
//   POST /put              verifies Signature-Input/Signature (label sig1, keyid APILINK_KEY_ID,
//                          alg APILINK_ALG, covering @method, @target-uri and content-digest,
//                          created at most 5 minutes old) with APILINK_PUBLIC_JWK, then the
//                          RFC 9530 Content-Digest (sha-256) against the body as received, then
//                          decrypts an application/jose body with PEER_PRIVATE_JWK (panva's
//                          `jose`); 201, or 400 naming the check that failed
//   GET  /received         what /put accepted, and what it rejected
//
// It prints its port on the first line of stdout.
import { createHash, createPublicKey } from "node:crypto";
import http from "node:http";
import * as jose from "jose";
import { createVerifier, httpbis } from "http-message-signatures";

const keyId = process.env.APILINK_KEY_ID;
const alg = process.env.APILINK_ALG;
const apilinkKey = createPublicKey({ key: JSON.parse(process.env.APILINK_PUBLIC_JWK), format: "jwk" });
const peerDecrypt = await jose.importJWK(JSON.parse(process.env.PEER_PRIVATE_JWK), "RSA-OAEP-256");
const received = [];
const rejected = [];

async function verified(req, raw) {
  const request = { method: req.method, url: `http://${req.headers.host}${req.url}`, headers: req.headers };
  let ok;
  try {
    ok = await httpbis.verifyMessage(
      {
        keyLookup: async (params) =>
          params.keyid === keyId ? { id: keyId, algs: [alg], verify: createVerifier(apilinkKey, alg) } : null,
        requiredParams: ["created", "keyid", "alg"],
        requiredFields: ["@method", "@target-uri", "content-digest"],
        maxAge: 300,
        all: true,
      },
      request,
    );
  } catch (e) {
    return `signature: ${e.name}`;
  }
  if (ok !== true) return `signature: ${ok === null ? "none" : "does not verify"}`;
  // The signature covers the Content-Digest field; the digest must match the body itself.
  const match = /(?:^|,\s*)sha-256=:([A-Za-z0-9+/=]+):/.exec(req.headers["content-digest"] || "");
  const digest = createHash("sha256").update(raw).digest("base64");
  if (!match || match[1] !== digest) return "digest: does not match the body";
  return null;
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const raw = Buffer.concat(chunks);
  try {
    if (req.method === "GET" && url.pathname === "/records") {
      const n = Number(url.searchParams.get("page") || "1");
      const rows = [];
      for (let id = (n - 1) * 5 + 1; id <= Math.min(n * 5, 12); id++) rows.push({ id, email: `p${id}@example.com` });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ data: rows, more: n * 5 < 12 }));
    } else if (req.method === "POST" && url.pathname === "/put") {
      const why = await verified(req, raw);
      if (why) {
        rejected.push(why);
        res.writeHead(400, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: why }));
      }
      let plaintext = raw;
      if (req.headers["content-type"] === "application/jose") {
        ({ plaintext } = await jose.compactDecrypt(raw.toString(), peerDecrypt, {
          keyManagementAlgorithms: ["RSA-OAEP-256"],
          contentEncryptionAlgorithms: ["A256GCM"],
        }));
      }
      received.push({
        contentType: req.headers["content-type"],
        signatureInput: req.headers["signature-input"],
        body: JSON.parse(new TextDecoder().decode(plaintext)),
      });
      res.writeHead(201, { "content-type": "application/json" });
      res.end("{}");
    } else if (req.method === "GET" && url.pathname === "/received") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ received, rejected }));
    } else {
      res.writeHead(404);
      res.end();
    }
  } catch (e) {
    res.writeHead(500);
    console.error(e);
    res.end(String(e && e.code));
  }
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
