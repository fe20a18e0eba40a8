import fs from 'node:fs';
import type { Stack } from '../../scripts/stack';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__gpuaasTestStack as { stack: Stack; dir: string } | undefined;
  if (!state) return;
  await state.stack.stop();
  if (!process.env.KEEP_TEST_DATA) fs.rmSync(state.dir, { recursive: true, force: true });
}
