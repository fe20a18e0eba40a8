import fs from 'node:fs';

interface Stoppable {
  stop(): Promise<void>;
}

export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as Record<string, unknown>).__gpuaasTestStack as (Record<string, Stoppable> & { dir?: string }) | undefined;
  if (!stack) return;
  for (const part of ['lab', 'db', 'temporal']) {
    await stack[part]?.stop().catch((e: Error) => process.stderr.write(`[test teardown] ${part}: ${e.message}\n`));
  }
  if (stack.dir && !process.env.KEEP_TEST_DATA) fs.rmSync(stack.dir, { recursive: true, force: true });
}
