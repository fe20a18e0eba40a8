/** Time placeholders in a drill's input: filled relative to the run's start, malformed ones reported and left as written. */
import { drillOf, fillTimePlaceholders } from '../../domain/drills';
import { drainAndRollingUpgradeRunbook } from '../../runbooks/drain-and-rolling-upgrade/definition';

const NOW = Date.parse('2026-12-07T03:00:00.000Z');

test('{now}, {now+DURATION} and {now-DURATION} become instants relative to now, in the project duration syntax', () => {
  const { value, problems } = fillTimePlaceholders(
    { start: '{now}', end: '{now+2h}', backup: '{now-10m}', week: '{now+7d}', ms: '{now-1500}', fractional: '{now+1.5h}' },
    NOW,
  );
  expect(problems).toEqual([]);
  expect(value).toEqual({
    start: '2026-12-07T03:00:00.000Z',
    end: '2026-12-07T05:00:00.000Z',
    backup: '2026-12-07T02:50:00.000Z',
    week: '2026-12-14T03:00:00.000Z',
    ms: '2026-12-07T02:59:58.500Z',
    fractional: '2026-12-07T04:30:00.000Z',
  });
});

test('placeholders inside text, arrays and nested objects are filled; everything else is left as it is', () => {
  const input = { note: 'window {now} to {now+1h}, node {node}', list: ['{now-1m}', 3, true, null], nested: { at: '{now+30s}' }, n: 5 };
  const { value, problems } = fillTimePlaceholders(input, NOW);
  expect(problems).toEqual([]);
  expect(value).toEqual({
    note: 'window 2026-12-07T03:00:00.000Z to 2026-12-07T04:00:00.000Z, node {node}',
    list: ['2026-12-07T02:59:00.000Z', 3, true, null],
    nested: { at: '2026-12-07T03:00:30.000Z' },
    n: 5,
  });
  // The input itself is not changed: the schedule keeps its placeholders for the next run.
  expect(input.list[0]).toBe('{now-1m}');
});

test('a string without any placeholder comes back unchanged, with no problem', () => {
  expect(fillTimePlaceholders('2026-01-01T00:00:00Z', NOW)).toEqual({ value: '2026-01-01T00:00:00Z', problems: [] });
  expect(fillTimePlaceholders({ cluster: 'lab', text: 'now is {not} a placeholder, nor is {Now}' }, NOW)).toEqual({
    value: { cluster: 'lab', text: 'now is {not} a placeholder, nor is {Now}' },
    problems: [],
  });
});

test.each([
  ['{now+2x}', 'not a duration'],
  ['{now+}', 'no duration'],
  ['{now 2h}', 'no sign'],
  ['{now*2}', 'not + or -'],
  ['{now+-2h}', 'a negative duration'],
  ['{now+0s}', 'a zero duration'],
  ['{nowish}', 'another word'],
  ['{now+99999999999y}', "beyond Date's range"],
])('malformed %s (%s): reported with its path and left as written', (placeholder) => {
  const { value, problems } = fillTimePlaceholders({ ok: '{now}', window: { end: `until ${placeholder}` } }, NOW);
  expect(value).toEqual({ ok: '2026-12-07T03:00:00.000Z', window: { end: `until ${placeholder}` } });
  expect(problems).toEqual([{ path: 'window.end', placeholder, message: expect.stringMatching(/^malformed time placeholder .*\{now\+2h\}/) }]);
});

test("the rolling-upgrade drill's input is valid once filled, and a drill's own input overrides the scenario's", () => {
  const entry = drainAndRollingUpgradeRunbook;
  const { runInput } = drillOf(entry, entry.drills![0]!, 'dev-control-1', { cluster: 'staging', db_backup_at: '{now-3h}' });
  expect(runInput).toMatchObject({ cluster: 'staging', window_end: '{now+2h}', db_backup_at: '{now-3h}' });
  expect(runInput).not.toHaveProperty('node_id');
  const { value, problems } = fillTimePlaceholders(runInput, NOW);
  expect(problems).toEqual([]);
  const parsed = entry.schema.parse({ ...value, run_mode: 'drill' });
  expect(parsed).toMatchObject({ window_start: '2026-12-07T02:55:00.000Z', window_end: '2026-12-07T05:00:00.000Z', db_backup_at: '2026-12-07T00:00:00.000Z' });
});
