/**
 * JSON text PostgreSQL's json/jsonb accept for any value: JSON.stringify writes a NUL as
 * \u0000 and a lone surrogate (half of an emoji, sent on purpose) as \udXXX, and
 * PostgreSQL refuses both. They become U+2400 (␀) and U+FFFD (�); everything else is
 * kept. An escape is real only after an even run of backslashes ("\\u0000" is the text
 * \u0000, not a NUL).
 */
export function pgSafeJson(value: unknown): string {
  return JSON.stringify(value ?? null)
    .replace(/(?<!\\)((?:\\\\)*)\\u0000/g, '$1\\u2400')
    .replace(/(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/gi, '$1\\ufffd');
}
