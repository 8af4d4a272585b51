// Writes NAME.gz and NAME.br beside every compressible file of the built bundle, so the
// server sends pre-compressed bytes (no compression work per request). Deterministic: gzip
// without a timestamp or file name, fixed levels, so CI can diff the committed dist/.
import { readdirSync, readFileSync, statSync, writeFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";

const root = process.argv[2] ?? "dist";
const compressible = /\.(html|js|css|svg|json|txt|map)$/;
// Below this, the headers cost more than compression saves.
const MIN_BYTES = 512;

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

for (const path of walk(root)) {
  if (/\.(gz|br)$/.test(path)) {
    unlinkSync(path);
    continue;
  }
  if (!compressible.test(path)) continue;
  const bytes = readFileSync(path);
  if (bytes.length < MIN_BYTES) continue;
  // gzip's header holds an mtime only when one is given: none is, so output is stable.
  writeFileSync(`${path}.gz`, gzipSync(bytes, { level: 9 }));
  writeFileSync(
    `${path}.br`,
    brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }),
  );
}
