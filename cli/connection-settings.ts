import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CliError, UsageError } from './errors';
import { EXIT } from './exit-codes';

/** `npm start` serves the API here. */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

const ConfigFileSchema = z
  .object({
    api_url: z.string().min(1).optional(),
    token: z.string().min(1).optional(),
    /** A file holding the token (relative to the config file), e.g. a path to .data/lab-admin-token. */
    token_file: z.string().min(1).optional(),
  })
  .strict()
  .refine((c) => !(c.token && c.token_file), 'give token or token_file, not both');
type ConfigFile = z.infer<typeof ConfigFileSchema>;

export interface ConnectionFlags {
  apiUrl?: string;
  token?: string;
  tokenFile?: string;
}

export interface Connection {
  apiUrl: string;
  token: string;
  /** Where each came from, for `config` and for error messages. */
  apiUrlFrom: string;
  tokenFrom: string;
}

/** Problems worth telling a person that do not stop the command. */
export type Warn = (message: string) => void;

/**
 * The API URL and token, first found wins: flags (`--api-url`, `--token`, `--token-file`),
 * then the environment (`GPUAAS_API_URL`, `GPUAAS_TOKEN`, `GPUAAS_TOKEN_FILE`), then the
 * config file (`GPUAAS_CONFIG`, else `$XDG_CONFIG_HOME/gpuaas-runbooks/config.json`,
 * else `~/.config/gpuaas-runbooks/config.json`). The URL defaults to the lab's; a token
 * never has a default.
 */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env, warn: Warn = () => {}): Connection {
  if (flags.token && flags.tokenFile) throw new UsageError('give --token or --token-file, not both');
  const file = readConfigFile(env, warn);
  const url = first([
    [() => flags.apiUrl, '--api-url'],
    [() => env['GPUAAS_API_URL'], 'GPUAAS_API_URL'],
    [() => file?.config.api_url, file?.path],
  ]) ?? { value: DEFAULT_API_URL, from: 'default' };
  const apiUrl = checkUrl(url.value, url.from, warn);

  // Lazy: a token file is read only when nothing before it gave a token.
  const token =
    first([
      [() => flags.token, '--token'],
      [() => flags.tokenFile && readTokenFile(flags.tokenFile), `--token-file ${flags.tokenFile}`],
      [() => env['GPUAAS_TOKEN'], 'GPUAAS_TOKEN'],
      [() => env['GPUAAS_TOKEN_FILE'] && readTokenFile(env['GPUAAS_TOKEN_FILE']), `GPUAAS_TOKEN_FILE ${env['GPUAAS_TOKEN_FILE']}`],
      [() => file?.config.token, file?.path],
      [() => file?.config.token_file && readTokenFile(path.resolve(path.dirname(file.path), file.config.token_file)), `${file?.path} (token_file)`],
    ]) ?? noToken(file?.path);
  return { apiUrl, token: token.value, apiUrlFrom: url.from, tokenFrom: token.from };
}

/** The config file's path: GPUAAS_CONFIG, else the XDG location. */
export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env['GPUAAS_CONFIG']) return env['GPUAAS_CONFIG'];
  const base = env['XDG_CONFIG_HOME'] || path.join(env['HOME'] || os.homedir(), '.config');
  return path.join(base, 'gpuaas-runbooks', 'config.json');
}

function first(candidates: [() => string | undefined, string | undefined][]): { value: string; from: string } | undefined {
  for (const [read, from] of candidates) {
    const value = read();
    if (value) return { value, from: from ?? '?' };
  }
  return undefined;
}

function readConfigFile(env: NodeJS.ProcessEnv, warn: Warn): { path: string; config: ConfigFile } | undefined {
  const file = configFilePath(env);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    // The default location is optional; a file named on purpose must exist.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !env['GPUAAS_CONFIG']) return undefined;
    throw new UsageError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`config file ${file} is not JSON: ${(err as Error).message}`);
  }
  const parsed = ConfigFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new UsageError(
      `config file ${file} is not {api_url, token | token_file}`,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  if (parsed.data.token && (fs.statSync(file).mode & 0o077) !== 0) warn(`${file} holds a token and others can read it: chmod 600 ${file}`);
  return { path: file, config: parsed.data };
}

function readTokenFile(file: string): string {
  let token: string;
  try {
    token = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`cannot read token file ${file}: ${(err as Error).message}`);
  }
  if (!token) throw new UsageError(`token file ${file} is empty`);
  return token;
}

function checkUrl(value: string, from: string, warn: Warn): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`API URL ${JSON.stringify(value)} (from ${from}) is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`API URL ${value} (from ${from}) is not http(s)`);
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'http:' && !loopback) warn(`the token goes to ${url.host} unencrypted (http); use https beyond this machine`);
  return value;
}

function noToken(configFile: string | undefined): never {
  throw new CliError('no_token', 'no API token', EXIT.auth, [
    'pass --token or --token-file, set GPUAAS_TOKEN or GPUAAS_TOKEN_FILE,',
    `or put {"api_url": "...", "token": "..."} in ${configFile ?? configFilePath()}`,
    'in the lab: --token-file .data/lab-admin-token',
  ]);
}
