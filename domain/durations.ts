import ms from 'ms';
import { z } from 'zod';

/**
 * A duration as a human string ("30s", "5m", "1h") or milliseconds. Workflows take
 * every wait from input so tests run the real code with short durations.
 */
export const DurationSchema = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const millis = typeof value === 'number' ? value : ms(value as ms.StringValue);
  if (typeof millis !== 'number' || !Number.isFinite(millis) || millis <= 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a positive duration: ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return Math.round(millis);
});

export function boundedDuration(def: string, min: string, max: string) {
  const lo = ms(min as ms.StringValue);
  const hi = ms(max as ms.StringValue);
  return DurationSchema.default(def).refine((v) => v >= lo && v <= hi, { message: `must be between ${min} and ${max}` });
}
