/**
 * Lab SSH keys: one ed25519 host key per host and one client key pair, generated
 * once and kept under <dataDir>/keys so the inventory stays stable across restarts.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { utils } from 'ssh2';

export interface KeyPair {
  /** OpenSSH private key (PEM-like "BEGIN OPENSSH PRIVATE KEY"). */
  privateKey: string;
  /** OpenSSH public key line without comment: "ssh-ed25519 AAAA...". */
  publicKey: string;
  /** The SSH wire-format public key blob, for comparisons. */
  publicBlob: Buffer;
  privateKeyPath: string;
}

function publicOf(privateKey: string, path: string): { line: string; blob: Buffer } {
  const parsed = utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new Error(`cannot parse SSH key ${path}: ${key instanceof Error ? key.message : 'empty'}`);
  const blob = key.getPublicSSH();
  return { line: `${key.type} ${blob.toString('base64')}`, blob };
}

export function loadOrCreateKeyPair(dir: string, name: string, comment: string): KeyPair {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privateKeyPath = join(dir, name);
  if (!existsSync(privateKeyPath)) {
    const generated = generateParseableEd25519(comment);
    writeFileSync(privateKeyPath, generated.private, { mode: 0o600 });
    writeFileSync(`${privateKeyPath}.pub`, `${generated.public}\n`, { mode: 0o644 });
  }
  chmodSync(privateKeyPath, 0o600);
  const privateKey = readFileSync(privateKeyPath, 'utf8');
  const { line, blob } = publicOf(privateKey, privateKeyPath);
  return { privateKey, publicKey: line, publicBlob: blob, privateKeyPath };
}

/**
 * ssh2 1.17 sometimes generates an ed25519 key its own parser rejects as
 * "Malformed OpenSSH private key" (2 in 300 when measured); draw again until it round-trips.
 */
function generateParseableEd25519(comment: string): { private: string; public: string } {
  for (let attempt = 0; attempt < 20; attempt++) {
    const generated = utils.generateKeyPairSync('ed25519', { comment });
    if (!(utils.parseKey(generated.private) instanceof Error)) return generated;
  }
  throw new Error('ssh2 could not generate a parseable ed25519 key in 20 attempts');
}

export interface LabKeys {
  client: KeyPair;
  hosts: Map<string, KeyPair>;
}

export function loadLabKeys(dataDir: string, nodeIds: readonly string[]): LabKeys {
  const dir = join(dataDir, 'keys');
  const client = loadOrCreateKeyPair(dir, 'client_ed25519', 'gpuaas-runbooks-lab-client');
  const hosts = new Map(nodeIds.map((id) => [id, loadOrCreateKeyPair(dir, `host_${id}_ed25519`, `root@${id}`)]));
  return { client, hosts };
}
