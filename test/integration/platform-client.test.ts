import { PlatformClient } from '../../capabilities/platform/platform-client';
import { LabAdmin } from '../../lab/admin-client';
import { applicationFailureOf as failureOf } from '../support/failures';
import { testEnv } from '../support/test-env';

const NODE = 'dev-gpu-4';
const client = (token = testEnv('platformToken')) => new PlatformClient({ baseUrl: testEnv('platformUrl'), token, timeoutMs: 5000 });
const lab = () => new LabAdmin(testEnv('platformUrl'), testEnv('platformToken'));

beforeEach(async () => {
  await lab().reset();
});

test('cordon with the same idempotency key twice is applied once', async () => {
  const first = await client().cordon(NODE, 'test', 'key-cordon-1');
  const again = await client().cordon(NODE, 'test', 'key-cordon-1');
  expect(first).toMatchObject({ node_id: NODE, schedulable: false });
  expect(again).toEqual(first);
  expect(await lab().applied(NODE, 'cordon')).toBe(1);
  expect((await client().getNode(NODE)).schedulable).toBe(false);
});

test('an RMA ticket retried with its key is the same ticket', async () => {
  const req = { node_id: NODE, summary: 'diag failed', evidence: { diag: 'fail' } };
  const a = await client().openRmaTicket(req, 'key-rma-1');
  const b = await client().openRmaTicket(req, 'key-rma-1');
  expect(b.ticket_id).toBe(a.ticket_id);
  expect(await lab().applied(NODE, 'rma_ticket')).toBe(1);
});

test('allocations are listed and typed', async () => {
  const allocations = await client().listAllocations(NODE);
  expect(allocations.length).toBeGreaterThan(0);
  expect(allocations[0]).toEqual({ id: expect.any(String), tenant: expect.any(String), gpu_indexes: expect.any(Array), started_at: expect.any(String) });
});

test('an unknown node is NotFound and not retried', async () => {
  const f = await failureOf(client().getNode('no-such-node'));
  expect(f.type).toBe('NotFound');
  expect(f.nonRetryable).toBe(true);
});

test('a wrong token is a non-retryable PlatformApiError', async () => {
  const f = await failureOf(client('wrong-token').cordon(NODE, 'x', 'key-bad-token'));
  expect(f.type).toBe('PlatformApiError');
  expect(f.nonRetryable).toBe(true);
  expect(f.message).toMatch(/401/);
  expect(await lab().applied(NODE, 'cordon')).toBe(0);
});

test('an unreachable platform is a retryable PlatformApiError', async () => {
  const f = await failureOf(new PlatformClient({ baseUrl: 'http://127.0.0.1:1', token: 't', timeoutMs: 2000 }).getNode(NODE));
  expect(f.type).toBe('PlatformApiError');
  expect(f.nonRetryable).toBe(false);
});
