/**
 * The set-up the orchestrator runbooks' suites share: the test stack, a lab of the
 * suite's own running the orchestrator (startOrchestratorLab), and a worker on a task
 * queue of the suite's own acting on that lab; the lab reset before each test.
 *
 * `orchestratorSuite` registers the jest hooks itself, in the describe block it is
 * called in (or at the top of the file). Hooks of one block run in the order they were
 * registered, afterAll too (jest-circus, Jest's default runner, as of Jest 29; jasmine2
 * ran after-hooks in reverse). So a file's own beforeAll and beforeEach registered after
 * this call run after the suite's (the lab, the worker and the reset are there), but a
 * file's own afterAll would run only once the worker stopped and the lab was gone:
 * clean-up that needs them (an API on the worker's queue, a SQL handle on the lab's
 * database) goes to `suite.beforeTeardown`, which the suite's afterAll runs first.
 */
import type { Worker } from '@temporalio/worker';
import { connectStack, eventually, uniqueTaskQueue, type Stack } from './harness';
import { startOrchestratorLab, type OrchestratorLabOptions, type TestOrchestratorLab } from './orchestrator-lab';

export interface OrchestratorSuiteOptions extends OrchestratorLabOptions {
  /** Names the worker's task queue; `suite.taskQueue` is that name made unique. */
  queueName: string;
  /** Before each test, after the reset (which lets the replicas elect again): wait until the lab's state shows a leader. */
  waitForLeader?: boolean;
}

export interface OrchestratorSuite {
  /** The worker's task queue, known at once. */
  readonly taskQueue: string;
  /** From the suite's beforeAll on; reading it earlier (while the file is collected, so never destructure the suite) throws. */
  readonly stack: Stack;
  /** From the suite's beforeAll on; reading it earlier throws, as for `stack`. */
  readonly orch: TestOrchestratorLab;
  /** Runs `fn` in the suite's afterAll, in the order given, before the worker shuts down and the lab stops. */
  beforeTeardown(fn: () => Promise<void>): void;
}

export function orchestratorSuite(opts: OrchestratorSuiteOptions): OrchestratorSuite {
  const { queueName, waitForLeader, ...labOptions } = opts;
  const taskQueue = uniqueTaskQueue(queueName);
  const teardowns: (() => Promise<void>)[] = [];
  let stack: Stack | undefined;
  let orch: TestOrchestratorLab | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;

  beforeAll(async () => {
    stack = await connectStack();
    orch = await startOrchestratorLab(labOptions);
    worker = await stack.worker(taskQueue, { fleet: orch.fleet });
    running = worker.run();
  });

  afterAll(async () => {
    try {
      for (const fn of teardowns) await fn();
    } finally {
      // Each part may be missing when beforeAll failed half-way.
      worker?.shutdown();
      await running;
      await orch?.stop();
      await stack?.close();
    }
  });

  beforeEach(async () => {
    const lab = ready(orch, 'orch');
    await lab.admin.reset();
    if (waitForLeader) await eventually(async () => ((await lab.state()).replicas.some((r) => r.is_leader) ? true : undefined), 'a leader');
  });

  return {
    taskQueue,
    get stack() {
      return ready(stack, 'stack');
    },
    get orch() {
      return ready(orch, 'orch');
    },
    beforeTeardown(fn) {
      teardowns.push(fn);
    },
  };
}

function ready<T>(value: T | undefined, name: string): T {
  if (value === undefined) {
    throw new Error(
      `orchestratorSuite: no suite.${name} yet: the suite's beforeAll has not run (read it in a hook or a test, not while the file is collected) or it failed`,
    );
  }
  return value;
}
