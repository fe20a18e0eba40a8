import { z } from 'zod';

/**
 * Free text that people and alerting systems send (actor, reason, source, correlation id).
 * It ends up in log lines, search attributes, evidence rows and approval prompts, so
 * characters that can forge or hide content there are refused rather than cleaned:
 *   - C0 controls (U+0000–U+001F), DEL and C1 controls (U+007F–U+009F): NUL truncates in
 *     C code and PostgreSQL text, CR/LF/ESC forge log lines and terminal output;
 *   - lone UTF-16 surrogates: not text; they cannot be encoded as UTF-8 or stored faithfully;
 *   - U+FFFD: what a decoder writes for invalid UTF-8, so its presence means the sender's
 *     bytes were not the text they meant.
 * Multi-line text (a reason) may also hold tab and line feed.
 */
const CONTROL_SINGLE_LINE = /[\u0000-\u001F\u007F-\u009F]/u;
const CONTROL_MULTI_LINE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/u;
// With the u flag a paired surrogate is one code point above U+FFFF, so only lone halves match.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const REPLACEMENT_CHARACTER = /\uFFFD/u;

function codePoint(ch: string): string {
  return `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Why `value` is not acceptable text, or undefined when it is. */
export function textProblem(value: string, opts: { multiline?: boolean } = {}): string | undefined {
  const control = (opts.multiline ? CONTROL_MULTI_LINE : CONTROL_SINGLE_LINE).exec(value);
  if (control) {
    return `must not contain control characters (${codePoint(control[0])} at index ${control.index}${opts.multiline ? '; only tab and line feed are allowed' : ''})`;
  }
  const surrogate = LONE_SURROGATE.exec(value);
  if (surrogate) return `must be valid Unicode (lone surrogate ${codePoint(surrogate[0])} at index ${surrogate.index})`;
  const replacement = REPLACEMENT_CHARACTER.exec(value);
  if (replacement) return `must be valid UTF-8 (U+FFFD, the mark of undecodable bytes, at index ${replacement.index})`;
  return undefined;
}

/**
 * A non-empty string of at most `max` characters after trimming, with no character
 * `textProblem` refuses. The characters are checked before trimming, so a control
 * character at either end is refused too, not silently cut off.
 */
export function safeText(max: number, opts: { multiline?: boolean } = {}) {
  return z
    .string()
    .superRefine((value, ctx) => {
      const problem = textProblem(value, opts);
      if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    })
    .pipe(z.string().trim().min(1).max(max));
}
