import type { Connection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType, type SearchAttributeKey } from '@temporalio/common/lib/search-attributes';
import { ALL_SEARCH_ATTRIBUTES } from '../domain/search-attributes';

type AnyKey = SearchAttributeKey<SearchAttributeType>;

/** SearchAttributeType → the type names `temporal … --search-attribute Name=Type` accepts. */
export const CLI_SEARCH_ATTRIBUTE_TYPE: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** ["Runbook=Keyword", "AwaitingApproval=Bool", ...] */
export function searchAttributeCliPairs(keys: readonly AnyKey[] = ALL_SEARCH_ATTRIBUTES): string[] {
  return keys.map((k) => `${k.name}=${CLI_SEARCH_ATTRIBUTE_TYPE[k.type]}`);
}

function typeName(indexed: unknown): string {
  const code = encodeSearchAttributeIndexedValueType(indexed as never);
  const hit = (Object.keys(CLI_SEARCH_ATTRIBUTE_TYPE) as SearchAttributeType[]).find((t) => encodeSearchAttributeIndexedValueType(t) === code);
  return hit ?? String(indexed);
}

function isAlreadyExists(err: unknown): boolean {
  const e = err as { code?: unknown; details?: unknown; message?: unknown };
  // gRPC status 6 = ALREADY_EXISTS
  return e?.code === 6 || /already exists/i.test(`${e?.details ?? ''} ${e?.message ?? ''}`);
}

/**
 * Makes sure every custom search attribute the engine uses is registered in `namespace`.
 * Lists what exists, adds what is missing (one at a time, so one "already exists" from a
 * concurrent starter does not hide the others), and fails loudly when a name is registered
 * with a different type. Returns the names it added.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  opts: { keys?: readonly AnyKey[]; log?: (line: string) => void } = {},
): Promise<string[]> {
  const keys = opts.keys ?? ALL_SEARCH_ATTRIBUTES;
  const log = opts.log ?? (() => undefined);
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const existing = listed.customAttributes ?? {};
  const added: string[] = [];
  const conflicts: string[] = [];
  for (const key of keys) {
    const wanted = encodeSearchAttributeIndexedValueType(key.type);
    if (wanted === undefined) throw new Error(`unknown search attribute type ${key.type} for ${key.name}`);
    if (key.name in existing) {
      const have = encodeSearchAttributeIndexedValueType(existing[key.name]);
      if (have !== wanted) conflicts.push(`${key.name} is registered as ${typeName(existing[key.name])}, expected ${key.type}`);
      continue;
    }
    try {
      await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: { [key.name]: wanted } });
      added.push(key.name);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }
  if (conflicts.length > 0) {
    throw new Error(`custom search attributes in namespace ${namespace} have the wrong type:\n  ${conflicts.join('\n  ')}`);
  }
  if (added.length > 0) log(`registered search attributes in namespace ${namespace}: ${added.join(', ')}`);
  return added;
}
