import { capOf, enqueue, grantWaiting, release, scopesOf, type LedgerState, type SlotRequest } from '../../domain/disruption';
import { InventorySchema } from '../../domain/inventory';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const host = (node_id: string, labels: Record<string, string> = {}) => ({
  node_id,
  hostname: node_id,
  role: 'worker_compute',
  host: '10.0.0.1',
  host_key: KEY,
  labels,
});
const inventory = InventorySchema.parse({
  hosts: [
    host('a1', { rack: 'r1', pool: 'p' }),
    host('a2', { rack: 'r1', pool: 'p' }),
    host('a3', { rack: 'r1', pool: 'p' }),
    host('b1', { rack: 'r2', pool: 'p' }),
    host('c1'),
  ],
});

const T = '2026-12-02T10:00:00.000Z';
const empty = (cap: number, scope = 'rack/r1'): LedgerState => ({ scope, size: 10, cap, holders: [], waiters: [], unavailable_elsewhere: [] });
const req = (holder: string, node_id: string, unavailable_elsewhere: string[] = []): SlotRequest => ({
  holder,
  node_id,
  runbook: 'gpu-fault-remediation',
  requested_at: T,
  cap: 0,
  size: 10,
  unavailable_elsewhere,
});
/** enqueue overwrites cap/size with the request's: keep the ledger's. */
const ask = (s: LedgerState, r: SlotRequest) => enqueue(s, { ...r, cap: s.cap, size: s.size });
const holders = (s: LedgerState) => s.holders.map((h) => h.holder);

describe('capOf', () => {
  test.each([
    [{ max: 2 }, 10, 2],
    [{ max_percent: 10 }, 200, 20],
    [{ max: 5, max_percent: 10 }, 200, 5],
    [{ max: 5, max_percent: 10 }, 20, 2],
    // a percentage never rounds below one node
    [{ max_percent: 10 }, 3, 1],
  ])('%j of %i nodes → %i', (caps, size, cap) => {
    expect(capOf(caps, size)).toBe(cap);
  });
});

describe('scopesOf', () => {
  test('the node itself first, then every labelled scope with a budget, in key order, with sizes from the inventory', () => {
    const scopes = scopesOf(inventory, inventory.hosts[1]!, { rack: { max: 1 }, pool: { max_percent: 50 } });
    expect(scopes.map((s) => [s.key, s.size, s.cap])).toEqual([
      ['node/a2', 1, 1],
      ['pool/p', 4, 2],
      ['rack/r1', 3, 1],
    ]);
    expect(scopes.find((s) => s.key === 'rack/r1')!.nodes).toEqual(['a1', 'a2', 'a3']);
  });

  test('labels without a budget, and unlabelled nodes, give the node lease only', () => {
    expect(scopesOf(inventory, inventory.hosts[0]!, { zone: { max: 1 } }).map((s) => s.key)).toEqual(['node/a1']);
    expect(scopesOf(inventory, inventory.hosts[4]!, { rack: { max: 1 } }).map((s) => s.key)).toEqual(['node/c1']);
  });
});

describe('the ledger', () => {
  test('grants first come, first served up to the cap; a release lets the next in', () => {
    const s = empty(2);
    for (const [h, n] of [
      ['run-a', 'a1'],
      ['run-b', 'a2'],
      ['run-c', 'a3'],
    ] as const)
      ask(s, req(h, n));
    expect(grantWaiting(s, T).map((l) => l.holder)).toEqual(['run-a', 'run-b']);
    expect(s.waiters.map((w) => w.holder)).toEqual(['run-c']);
    expect(grantWaiting(s, T)).toEqual([]);
    expect(release(s, 'run-a', 'a1')).toBe(true);
    expect(grantWaiting(s, T).map((l) => l.holder)).toEqual(['run-c']);
    expect(holders(s)).toEqual(['run-b', 'run-c']);
  });

  test('nodes out of service for other reasons count against the cap', () => {
    const s = empty(2);
    ask(s, req('run-a', 'a1', ['a2', 'a3']));
    expect(s.unavailable_elsewhere).toEqual(['a2', 'a3']);
    expect(grantWaiting(s, T)).toEqual([]);
    ask(s, req('run-a', 'a1', ['a2']));
    expect(grantWaiting(s, T).map((l) => l.holder)).toEqual(['run-a']);
  });

  test("the requester's own node, already cordoned by someone else, does not count twice", () => {
    const s = empty(1);
    ask(s, req('run-a', 'a1', ['a1']));
    expect(grantWaiting(s, T).map((l) => l.node_id)).toEqual(['a1']);
  });

  test('a node lease: a second holder of the same node waits for the first, whatever the cap', () => {
    const s = empty(5, 'node/a1');
    ask(s, req('gpu-fault/a1', 'a1'));
    ask(s, req('rolling-upgrade/p', 'a1'));
    expect(grantWaiting(s, T).map((l) => l.holder)).toEqual(['gpu-fault/a1']);
    expect(s.waiters.map((w) => w.holder)).toEqual(['rolling-upgrade/p']);
    release(s, 'gpu-fault/a1', 'a1');
    expect(grantWaiting(s, T).map((l) => l.holder)).toEqual(['rolling-upgrade/p']);
  });

  test('a request waiting only for its node does not block the queue behind it', () => {
    const s = empty(3);
    ask(s, req('run-a', 'a1'));
    grantWaiting(s, T);
    ask(s, req('run-b', 'a1'));
    ask(s, req('run-c', 'a2'));
    expect(grantWaiting(s, T).map((l) => l.holder)).toEqual(['run-c']);
  });

  test('a full scope keeps strict order: a later request does not jump a waiting one', () => {
    const s = empty(1);
    ask(s, req('run-a', 'a1'));
    grantWaiting(s, T);
    ask(s, req('run-b', 'a2'));
    ask(s, req('run-c', 'a3'));
    expect(grantWaiting(s, T)).toEqual([]);
    release(s, 'run-a', 'a1');
    expect(grantWaiting(s, T).map((l) => l.holder)).toEqual(['run-b']);
  });

  test('a holder that asks again is granted again, and counted once', () => {
    const s = empty(1);
    ask(s, req('run-a', 'a1'));
    grantWaiting(s, T);
    ask(s, req('run-a', 'a1'));
    expect(grantWaiting(s, T).map((l) => l.holder)).toEqual(['run-a']);
    expect(holders(s)).toEqual(['run-a']);
  });

  test('releasing what is not held changes nothing; releasing a waiter withdraws it', () => {
    const s = empty(1);
    ask(s, req('run-a', 'a1'));
    grantWaiting(s, T);
    ask(s, req('run-b', 'a2'));
    expect(release(s, 'run-x', 'a9')).toBe(false);
    expect(release(s, 'run-b', 'a2')).toBe(true);
    expect(s.waiters).toEqual([]);
  });
});
