import { ApplicationFailure } from '@temporalio/common';

/** The ApplicationFailure a promise rejects with; fails the test if it resolves or rejects otherwise. */
export async function applicationFailureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}
