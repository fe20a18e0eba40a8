import type { Command } from 'commander';
import { ApiClient } from './api-client';
import { resolveConnection } from './connection-settings';
import { Output, type OutputFormat } from './output';

/** The options every command takes (declared once on the program). */
export interface GlobalOptions {
  apiUrl?: string;
  token?: string;
  tokenFile?: string;
  output: OutputFormat;
  timeout: number;
}

export interface CommandContext {
  api: ApiClient;
  out: Output;
}

/** The API client and output of a command, from its own and the program's options. */
export function contextOf(cmd: Command): CommandContext {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  const out = new Output(opts.output);
  const connection = resolveConnection(opts, process.env, (m) => out.note(`warning: ${m}`));
  return { api: new ApiClient({ baseUrl: connection.apiUrl, token: connection.token, timeoutMs: opts.timeout }), out };
}

/** A workflow id as one path segment: `gpu-fault/dev-gpu-1` → `gpu-fault%2Fdev-gpu-1`. */
export function runPath(workflowId: string): string {
  return `/api/v1/runs/${encodeURIComponent(workflowId)}`;
}
