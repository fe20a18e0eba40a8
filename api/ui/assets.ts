import fs from 'node:fs';
import path from 'node:path';

/** The inbox page's files: plain HTML, one script, one stylesheet; no build step. */
const STATIC_DIR = path.join(__dirname, 'static');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * Scripts and styles only from the API's own origin, no inline script or style, no plugins,
 * no framing: a value the page renders cannot run, even if escaping were missed somewhere.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers for every file of the page. */
export const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  // The files are small; revalidating them means a restarted API serves its own version.
  'cache-control': 'no-cache',
};

export interface Asset {
  body: Buffer;
  contentType: string;
}

/**
 * Reads the page's files once, when the API is built. Only the names found here are ever
 * served, so a request path is never joined onto a folder.
 */
export function loadInboxAssets(dir: string = STATIC_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of fs.readdirSync(dir)) {
    const contentType = CONTENT_TYPES[path.extname(name)];
    if (contentType) assets.set(name, { body: fs.readFileSync(path.join(dir, name)), contentType });
  }
  if (!assets.has('index.html')) throw new Error(`the inbox page is missing: no index.html in ${dir}`);
  return assets;
}
