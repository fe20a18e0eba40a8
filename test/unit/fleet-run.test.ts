import { countByState, errorLimit, thresholdReached } from '../../domain/fleet-run';

test.each([
  [{ count: 3 }, 100, 3],
  [{ percent: 10 }, 50, 5],
  [{ count: 3, percent: 10 }, 50, 3],
  [{ percent: 10 }, 5, 0],
])('errorLimit(%j, %i targets) = %i', (threshold, total, limit) => {
  expect(errorLimit(threshold, total)).toBe(limit);
});

test('as SSM MaxErrors: a limit of 3 stops dispatch at the fourth failure; 0 at the first', () => {
  expect(thresholdReached(3, { count: 3 }, 100)).toBe(false);
  expect(thresholdReached(4, { count: 3 }, 100)).toBe(true);
  expect(thresholdReached(0, { count: 0 }, 100)).toBe(false);
  expect(thresholdReached(1, { count: 0 }, 100)).toBe(true);
});

test('countByState counts every state, zeros included', () => {
  expect(
    countByState([
      { node_id: 'a', workflow_id: 'x/a', state: 'completed' },
      { node_id: 'b', workflow_id: 'x/b', state: 'failed' },
      { node_id: 'c', workflow_id: 'x/c', state: 'completed' },
    ]),
  ).toEqual({ pending: 0, running: 0, completed: 2, failed: 1, not_started: 0 });
});
