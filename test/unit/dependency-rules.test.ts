/**
 * The lint rules that keep the dependency direction (eslint.config.mjs) refuse
 * what they should and let through what they should: linted here on probe
 * files that exist only in memory.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const ESLINT = path.join(ROOT, 'node_modules', '.bin', 'eslint');

/** What `eslint` says of `source` as if it were the file `file` (the CLI, as `npm run lint` runs it). */
function refusals(file: string, source: string): string[] {
  const run = spawnSync(ESLINT, ['--format', 'json', '--stdin', '--stdin-filename', file], { cwd: ROOT, input: source, encoding: 'utf8' });
  const [result] = JSON.parse(run.stdout) as { messages: { message: string }[] }[];
  return result!.messages.map((m) => m.message);
}

test.each([
  ['domain/probe.ts', "import { startLab } from '../lab';\nexport const x = startLab;\n", 'domain may not depend on lab/'],
  [
    'runbooks/probe/workflow.ts',
    "import { createGpuActivities } from '../../capabilities/gpu/gpu-activities';\nexport const x = createGpuActivities;\n",
    'runbooks may not depend on capabilities/',
  ],
  [
    'api/routes/probe.ts',
    "import { createRunbookWorker } from '../../workers/worker';\nexport const x = createRunbookWorker;\n",
    'api may not depend on workers/',
  ],
  ['capabilities/probe.ts', "import { findFreePort } from '../infra/free-port';\nexport const x = findFreePort;\n", 'capabilities may not depend on infra/'],
  ['workers/probe.ts', "import type { RunningLab } from '../lab';\nexport type X = RunningLab;\n", 'workers may not depend on lab/'],
  ['engine/probe.ts', "import { RUNBOOKS } from '../runbooks/registry';\nexport const x = RUNBOOKS;\n", 'engine may not depend on runbooks/'],
])('%s: a forbidden import is refused', (file, source, why) => {
  const messages = refusals(file, source);
  expect(messages).toHaveLength(1);
  expect(messages[0]).toContain(why);
});

test.each([
  ['runbooks/probe/workflow.ts', "import type { GpuActivities } from '../../capabilities/gpu/gpu-activities';\nexport type X = GpuActivities;\n"],
  ['engine/probe.ts', "import type { EngineActivities } from '../capabilities/evidence/engine-activities';\nexport type X = EngineActivities;\n"],
  ['api/probe.ts', "import { RUNBOOKS } from '../runbooks/registry';\nexport const x = RUNBOOKS;\n"],
  ['runbooks/probe/test/probe.test.ts', "import { startLab } from '../../../lab';\nexport const x = startLab;\n"],
  ['domain/probe.ts', "import { z } from 'zod';\nexport const x = z;\n"],
  // Wire formats: the plan shows the very argv and requests the activities send.
  ['runbooks/probe/plan.ts', "import { resetGpuCommand } from '../../capabilities/gpu/commands';\nexport const x = resetGpuCommand;\n"],
  ['runbooks/probe/plan.ts', "import { platformRequests } from '../../capabilities/platform/requests';\nexport const x = platformRequests;\n"],
])('%s: an allowed import passes', (file, source) => {
  expect(refusals(file, source)).toEqual([]);
});
