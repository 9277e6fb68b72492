// The AWS SDK for JavaScript v3 against wosd, with the SDK's defaults: since 2025 it sends
// x-amz-checksum-crc32 (as a header, or as a trailer of an aws-chunked body) on every upload
// and asks for checksums back. Each check throws on a wrong answer; the exit status says.
//   ENDPOINT=http://127.0.0.1:PORT AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… BUCKET=… node sdk_test.mjs
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand, DeleteObjectsCommand,
  ListObjectsV2Command, CopyObjectCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const bucket = process.env.BUCKET;
const s3 = new S3Client({
  endpoint: process.env.ENDPOINT,
  region: process.env.AWS_REGION || "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
});

const md5 = (b) => createHash("md5").update(b).digest("hex");
let checks = 0;
function expect(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
  checks++;
}
async function body(out) {
  const chunks = [];
  for await (const c of out.Body) chunks.push(c);
  return Buffer.concat(chunks);
}

// 1. A buffer body with the default CRC32 checksum; read back with checksum mode.
const small = randomBytes(100 * 1024);
let r = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "js/buffer", Body: small }));
expect(r.ETag === `"${md5(small)}"`, "buffer PUT ETag");
let g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "js/buffer", ChecksumMode: "ENABLED" }));
expect(md5(await body(g)) === md5(small), "buffer GET bytes");
expect(!r.ChecksumCRC32 || g.ChecksumCRC32 === r.ChecksumCRC32, "CRC32 returned on GET equals PUT's");

// 2. A stream body: the SDK frames it as aws-chunked with the checksum in a trailer.
const streamed = randomBytes(3 * 1024 * 1024 + 17);
r = await s3.send(new PutObjectCommand({
  Bucket: bucket, Key: "js/stream", Body: Readable.from([streamed.subarray(0, 1 << 20), streamed.subarray(1 << 20)]),
  ContentLength: streamed.length,
}));
expect(r.ETag === `"${md5(streamed)}"`, "stream PUT ETag");
g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "js/stream" }));
expect(md5(await body(g)) === md5(streamed), "stream GET bytes");

// 3. Every checksum algorithm the SDK offers.
for (const alg of ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"]) {
  const data = randomBytes(4096);
  try {
    r = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `js/alg-${alg}`, Body: data, ChecksumAlgorithm: alg }));
  } catch (e) {
    if (alg === "CRC64NVME" && /crt|CRC64/i.test(String(e))) continue;   // needs the optional CRT add-on
    throw e;
  }
  const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `js/alg-${alg}`, ChecksumMode: "ENABLED" }));
  expect(h[`Checksum${alg}`] === r[`Checksum${alg}`] && r[`Checksum${alg}`], `${alg} checksum stored and returned`);
}

// 4. Multipart through lib-storage (5 MiB parts, 3 at a time).
const big = randomBytes(12 * 1024 * 1024 + 5);
const up = new Upload({ client: s3, params: { Bucket: bucket, Key: "js/multipart", Body: big }, partSize: 5 * 1024 * 1024, queueSize: 3 });
const done = await up.done();
expect(/-3"$/.test(done.ETag), "multipart ETag has -3: " + done.ETag);
g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "js/multipart" }));
expect(md5(await body(g)) === md5(big), "multipart GET bytes");
g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "js/multipart", Range: "bytes=5242870-5242890" }));
expect((await body(g)).equals(big.subarray(5242870, 5242891)), "range across a part boundary");

// 5. Copy, list, and DeleteObjects (which the SDK protects with a CRC32, not Content-MD5).
await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "js/copy", CopySource: `${bucket}/js/buffer` }));
const l = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "js/" }));
expect(l.KeyCount >= 5, "list sees the objects");
const keys = l.Contents.map((c) => ({ Key: c.Key }));
const d = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
expect((d.Deleted || []).length === keys.length && !(d.Errors || []).length, "DeleteObjects deleted all");
const l2 = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "js/" }));
expect(!l2.KeyCount, "bucket prefix empty after DeleteObjects");

console.log(JSON.stringify({ ok: true, checks }));
