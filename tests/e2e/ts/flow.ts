// The whole flow through a client generated from the server's schema (openapi-typescript's types
// with openapi-fetch), as a React Native or web SPA team would write it: type-checked by
// `tsc --noEmit`, bundled by esbuild and run by Node against a live server
// (tests/test_generated_client.py). Only the PUTs to S3 use plain fetch. Prints what it saw as JSON.
import createClient from "openapi-fetch";
import { createHash } from "node:crypto";
import type { components, paths } from "./api";

type Upload = components["schemas"]["UploadOutput"];
type Signed = components["schemas"]["SignedPart"];

const [base, username, password, otherName, otherPassword] = process.argv.slice(2);
const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array<ArrayBuffer>): string => createHash("sha256").update(data).digest("base64");
const seen: Record<string, unknown> = {};

async function put(url: string, headers: Record<string, string>, data: Uint8Array<ArrayBuffer>): Promise<number> {
  return (await fetch(url, { method: "PUT", headers, body: data })).status;
}

async function main(): Promise<void> {
  const anonymous = createClient<paths>({ baseUrl: base });
  const pair = await anonymous.POST("/api/v1/auth/token/", { body: { username, password } });
  if (!pair.data) throw new Error(`token: ${JSON.stringify(pair.error)}`);
  const refreshed = await anonymous.POST("/api/v1/auth/token/refresh/", { body: { refresh: pair.data.refresh } });
  if (!refreshed.data) throw new Error(`refresh: ${JSON.stringify(refreshed.error)}`);
  const me = createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${refreshed.data.access}` } });

  // A small file: one PUT.
  const small = new TextEncoder().encode("A note, sent in one PUT.\n".repeat(8)) as Uint8Array<ArrayBuffer>;
  const one = await me.POST("/api/v1/uploads/", {
    body: { filename: "note.txt", content_type: "text/plain", size: small.length, checksum_sha256: sha256(small) },
  });
  if (!one.data?.upload) throw new Error(`start: ${JSON.stringify(one.error)}`);
  seen.single_put = await put(one.data.upload.url, one.data.upload.headers as Record<string, string>, small);

  // 20 MiB in pinned parts: the first now, the rest after asking which parts S3 holds.
  const body = new Uint8Array(20 * MiB);
  body.set([0x50, 0x4b, 0x03, 0x04]);
  const big = await me.POST("/api/v1/uploads/", { body: { filename: "big.zip", content_type: "application/zip", size: body.length } });
  if (!big.data?.multipart) throw new Error(`multipart: ${JSON.stringify(big.error)}`);
  const { part_size: partSize, part_count: partCount } = big.data.multipart;
  const chunk = (n: number) => body.subarray((n - 1) * partSize, Math.min(n * partSize, body.length));
  const id = big.data.id;
  const sign = async (numbers: number[]): Promise<Signed[]> => {
    const signed = await me.POST("/api/v1/uploads/{upload_id}/parts/", {
      params: { path: { upload_id: id } },
      body: { parts: numbers.map((n) => ({ part_number: n, checksum_sha256: sha256(chunk(n)) })) },
    });
    if (!signed.data) throw new Error(`parts: ${JSON.stringify(signed.error)}`);
    return signed.data.parts;
  };
  for (const part of await sign([1])) await put(part.url, part.headers as Record<string, string>, chunk(part.part_number));
  const held = await me.GET("/api/v1/uploads/{upload_id}/parts/", { params: { path: { upload_id: id } } });
  seen.held_after_first = held.data?.parts.map((p) => p.part_number);
  const rest = Array.from({ length: partCount - 1 }, (_, i) => i + 2);
  for (const part of await sign(rest)) await put(part.url, part.headers as Record<string, string>, chunk(part.part_number));
  for (const upload of [one.data.id, id]) {
    const done = await me.POST("/api/v1/uploads/{upload_id}/complete/", { params: { path: { upload_id: upload } }, body: {} });
    (seen.complete as number[] | undefined) ?? (seen.complete = []);
    (seen.complete as number[]).push(done.response.status);
  }

  let detail: Upload | undefined;
  for (let i = 0; i < 200; i++) {
    detail = (await me.GET("/api/v1/uploads/{upload_id}/", { params: { path: { upload_id: id } } })).data;
    if (detail?.status === "available") break;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  seen.status = detail?.status;
  seen.outcome = detail?.outcome;
  seen.size = detail?.size;
  const listed = await me.GET("/api/v1/uploads/", { params: { query: { outcome: "available", search: "big" } } });
  seen.listed = listed.data?.results.map((u) => u.id);
  seen.id = id;
  const download = await me.GET("/api/v1/uploads/{upload_id}/download/", { params: { path: { upload_id: id } }, redirect: "manual" });
  seen.download = [download.response.status, download.response.headers.get("location")?.includes("X-Amz-Signature=")];

  // Errors: the schema's Error, with its code.
  const refused = await me.POST("/api/v1/uploads/", { body: { filename: "x.exe", content_type: "application/x-msdownload", size: 10 } });
  seen.refused = [refused.response.status, refused.error?.code];
  const other = await anonymous.POST("/api/v1/auth/token/", { body: { username: otherName, password: otherPassword } });
  const stranger = createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${other.data?.access}` } });
  seen.strangers = (await stranger.GET("/api/v1/uploads/{upload_id}/", { params: { path: { upload_id: id } } })).response.status;
  for (let i = 0; i < 200; i++) {
    const answer = await me.GET("/api/v1/uploads/{upload_id}/parts/", { params: { path: { upload_id: id } } });
    if (answer.response.status === 429) {
      seen.throttled = [answer.error?.code, Number(answer.response.headers.get("Retry-After"))];
      break;
    }
  }
  console.log(JSON.stringify(seen));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
