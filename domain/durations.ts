import ms from 'ms';
import { z } from 'zod';

/**
 * A duration as a human string ("30s", "5m", "1h") or milliseconds. Workflows take
 * every wait from input so tests run the real code with short durations.
 */
export const DurationSchema = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const millis = typeof value === 'number' ? value : parseDuration(value);
  if (typeof millis !== 'number' || !Number.isFinite(millis) || millis <= 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a positive duration: ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return Math.round(millis);
});

/** `ms` throws on some input (the empty string) and returns undefined on other; both mean "not a duration". */
function parseDuration(text: string): number | undefined {
  try {
    return ms(text as ms.StringValue);
  } catch {
    return undefined;
  }
}

export function boundedDuration(def: string, min: string, max: string) {
  const lo = ms(min as ms.StringValue);
  const hi = ms(max as ms.StringValue);
  // A value that is no duration at all already has its issue; the range says nothing more about it.
  return DurationSchema.default(def).refine((v) => typeof v !== 'number' || (v >= lo && v <= hi), { message: `must be between ${min} and ${max}` });
}
