// A partner API on loopback that protects its messages with panva's `jose`: the interop peer
// of apilink's message protection (tests/flows/test_api_sync_protection.py).
//
//   GET  /records?page=N   a page of records, as a compact JWE (RSA-OAEP-256, A256GCM) to
//                          APILINK_PUBLIC_JWK, signed (detached JWS, b64=false, PS256) with
//                          PEER_PRIVATE_JWK in x-jws-signature; ?tamper=1 changes a byte after
//                          signing
//   POST /put              verifies x-jws-signature with APILINK_PUBLIC_JWK over the body as
//                          received, decrypts it with PEER_PRIVATE_JWK; 201, or 400 naming why
//   GET  /received         what /put accepted (plaintext JSON), and what it rejected
//
// It prints its port on the first line of stdout.
import http from "node:http";
import * as jose from "jose";

const peer = await jose.importJWK(JSON.parse(process.env.PEER_PRIVATE_JWK), "PS256");
const peerDecrypt = await jose.importJWK(JSON.parse(process.env.PEER_PRIVATE_JWK), "RSA-OAEP-256");
const apilinkVerify = await jose.importJWK(JSON.parse(process.env.APILINK_PUBLIC_JWK), "PS256");
const apilinkEncrypt = await jose.importJWK(
  JSON.parse(process.env.APILINK_PUBLIC_JWK),
  "RSA-OAEP-256",
);
const received = [];
const rejected = [];
const encoder = new TextEncoder();

async function page(n, tamper) {
  const rows = [];
  for (let id = (n - 1) * 5 + 1; id <= Math.min(n * 5, 12); id++) rows.push({ id, email: `p${id}@example.com` });
  const plaintext = JSON.stringify({ data: rows, more: n * 5 < 12 });
  const jwe = await new jose.CompactEncrypt(encoder.encode(plaintext))
    .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM", cty: "application/json" })
    .encrypt(apilinkEncrypt);
  let body = Buffer.from(jwe);
  const jws = await new jose.FlattenedSign(body)
    .setProtectedHeader({ alg: "PS256", b64: false, crit: ["b64"] })
    .sign(peer);
  const { protected: header, signature } = jws;
  if (tamper) {
    // Swap one character of the ciphertext segment for another base64url character.
    const parts = jwe.split(".");
    const c = parts[3];
    parts[3] = (c[0] === "A" ? "B" : "A") + c.slice(1);
    body = Buffer.from(parts.join("."));
  }
  return { body, signature: `${header}..${signature}` };
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const raw = Buffer.concat(chunks);
  try {
    if (req.method === "GET" && url.pathname === "/records") {
      const { body, signature } = await page(Number(url.searchParams.get("page") || "1"), url.searchParams.get("tamper") === "1");
      res.writeHead(200, { "content-type": "application/jose", "x-jws-signature": signature });
      res.end(body);
    } else if (req.method === "POST" && url.pathname === "/put") {
      const signature = req.headers["x-jws-signature"] || "";
      const [header, , sig] = signature.split(".");
      try {
        await jose.flattenedVerify({ protected: header, payload: raw, signature: sig }, apilinkVerify, {
          algorithms: ["PS256"],
        });
      } catch (e) {
        rejected.push(`verify: ${e.code}`);
        res.writeHead(400, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: "signature" }));
      }
      let plaintext;
      try {
        ({ plaintext } = await jose.compactDecrypt(raw.toString(), peerDecrypt, {
          keyManagementAlgorithms: ["RSA-OAEP-256"],
          contentEncryptionAlgorithms: ["A256GCM"],
        }));
      } catch (e) {
        rejected.push(`decrypt: ${e.code}`);
        res.writeHead(400, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: "decrypt" }));
      }
      received.push({ contentType: req.headers["content-type"], body: JSON.parse(new TextDecoder().decode(plaintext)) });
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
